//! `junit.xml`: one testsuite per feature, one testcase per scenario.

use super::Totals;
use crate::scenario::{ScenarioResult, Status, StepStatus};

/// Text escaped for XML, HTML and SVG alike (element content and quoted
/// attributes); control characters XML cannot hold are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Why a scenario did not pass: failed steps, then unexpected findings.
pub(super) fn failure_details(result: &ScenarioResult) -> Vec<String> {
    let mut details: Vec<String> = result
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Error))
        .map(|s| format!("{} {} (line {}): {}", s.keyword, s.text, s.line, s.message.as_deref().unwrap_or("")))
        .collect();
    details.extend(result.unexpected.iter().map(|f| format!("{:?}: {}", f.kind, f.message)));
    details
}

pub fn junit_xml(results: &[ScenarioResult]) -> String {
    let totals = Totals::of(results);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"voicegate\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
        totals.scenarios, totals.failed, totals.errors
    ));
    let mut features: Vec<&str> = Vec::new();
    for r in results {
        if !features.contains(&r.scenario.feature.as_str()) {
            features.push(&r.scenario.feature);
        }
    }
    for feature in features {
        let cases: Vec<&ScenarioResult> = results.iter().filter(|r| r.scenario.feature == feature).collect();
        let t = Totals::of(cases.iter().copied());
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
            escape(feature),
            t.scenarios,
            t.failed,
            t.errors
        ));
        for r in cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
                escape(feature),
                escape(&r.scenario.name),
                escape(&r.scenario.file.display().to_string()),
                r.scenario.line
            ));
            let details = failure_details(r).join("\n");
            match r.status {
                Status::Passed => out.push_str("/>\n"),
                Status::Failed | Status::Error => {
                    let tag = if r.status == Status::Failed { "failure" } else { "error" };
                    let first = details.lines().next().unwrap_or("failed");
                    out.push_str(&format!(
                        ">\n      <{tag} message=\"{}\">{}</{tag}>\n    </testcase>\n",
                        escape(first),
                        escape(&details)
                    ));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
