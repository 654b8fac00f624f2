//! Reads `.feature` files into flat scenarios: backgrounds prepended,
//! rules flattened, outlines expanded once per Examples row.

use std::path::{Path, PathBuf};

use gherkin::{GherkinEnv, ParseFileError, StepType};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    /// `Given`, `When`, `Then`, `And` or `But`, as written.
    pub keyword: String,
    pub text: String,
    pub line: usize,
    /// The step's doc string (`"""` block), if any.
    pub docstring: Option<String>,
    /// The step's data table, if any: no step takes one yet, so binding
    /// refuses it with the file and line rather than dropping it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Vec<Vec<String>>>,
}

/// Serialisable, so that a fixture carries the scenario it replays.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub feature: String,
    pub name: String,
    /// The file, as given on the command line or found under the folder.
    pub file: PathBuf,
    pub line: usize,
    /// Tags without `@`: the feature's, the rule's, the scenario's and the examples'.
    pub tags: Vec<String>,
    pub steps: Vec<ScenarioStep>,
}

impl Scenario {
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// One or more problems with the feature files, each naming file and line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct LoadError {
    pub problems: Vec<String>,
}

impl LoadError {
    fn one(problem: String) -> Self {
        Self { problems: vec![problem] }
    }
}

/// Every `.feature` file under `path` (or `path` itself), in name order.
pub fn load_features(path: &Path) -> Result<Vec<Scenario>, LoadError> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        collect(path, &mut files)
            .map_err(|e| LoadError::one(format!("{}: cannot read the folder: {e}", path.display())))?;
        files.sort();
        if files.is_empty() {
            return Err(LoadError::one(format!("{}: no .feature files here", path.display())));
        }
        files
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        return Err(LoadError::one(format!("{}: no such file or folder", path.display())));
    };
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match load_file(&file) {
            Ok(found) => scenarios.extend(found),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(scenarios) } else { Err(LoadError { problems }) }
}

const KEYWORDS: [&str; 5] = ["Given", "When", "Then", "And", "But"];

/// A line between a scenario's title and its first step that starts with a
/// near miss of a step keyword ("Whenn", "Gievn"): Gherkin reads it as the
/// scenario's description, so the step silently never runs.
fn misspelt_keyword(text: &str) -> Option<(usize, String, &'static str)> {
    let mut in_header = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let first = trimmed.split_whitespace().next().unwrap_or_default();
        if ["Scenario:", "Scenario", "Example:", "Background:"].contains(&first) {
            in_header = true;
            continue;
        }
        if KEYWORDS.contains(&first) || first == "*" || first.starts_with('|') || first.starts_with('@') {
            in_header = false;
            continue;
        }
        if !in_header || first.len() < 3 {
            continue;
        }
        // "And" and "But" are too short to tell a typo from a word.
        let near = KEYWORDS
            .iter()
            .filter(|k| k.len() >= 4)
            .find(|k| edit_distance(&first.to_lowercase(), &k.to_lowercase()) <= 2);
        if let Some(keyword) = near {
            return Some((i + 1, first.to_string(), keyword));
        }
    }
    None
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            files.push(path);
        }
    }
    Ok(())
}

fn load_file(file: &Path) -> Result<Vec<Scenario>, String> {
    if let Ok(text) = std::fs::read_to_string(file) {
        // The parser's own message for a file with no feature is a token dump.
        if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            return Err(format!(
                "{}: the file has no feature (it should start with a `Feature:` line)",
                file.display()
            ));
        }
        if let Some((line, word, keyword)) = misspelt_keyword(&text) {
            return Err(format!(
                "{}:{line}: `{word}` is not a step keyword (did you mean `{keyword}`?); the line would be read as \
                 description and never run",
                file.display()
            ));
        }
    }
    let feature = gherkin::Feature::parse_path(file, GherkinEnv::default()).map_err(|error| match error {
        ParseFileError::Reading { source, .. } => format!("{}: cannot read: {source}", file.display()),
        ParseFileError::Parsing { source, .. } => {
            // The parser says "Error at LINE:COL: {expected tokens}".
            let text = source.to_string();
            let place = text.strip_prefix("Error at ").and_then(|rest| rest.split(':').next()).unwrap_or("?");
            let hint = if text.contains("unknown keyword") {
                "; a step starts with Given, When, Then, And, But or *, and a file with `Feature:`"
            } else {
                ""
            };
            format!("{}:{place}: not valid Gherkin ({text}){hint}", file.display())
        }
    })?;
    let mut scenarios = Vec::new();
    let feature_tags = strip(&feature.tags);
    let background = steps_of(feature.background.as_ref().map(|b| b.steps.as_slice()).unwrap_or_default());
    for scenario in &feature.scenarios {
        expand(file, &feature.name, &feature_tags, &background, scenario, &mut scenarios)?;
    }
    for rule in &feature.rules {
        let mut tags = feature_tags.clone();
        tags.extend(strip(&rule.tags));
        let mut steps = background.clone();
        steps.extend(steps_of(rule.background.as_ref().map(|b| b.steps.as_slice()).unwrap_or_default()));
        for scenario in &rule.scenarios {
            expand(file, &feature.name, &tags, &steps, scenario, &mut scenarios)?;
        }
    }
    Ok(scenarios)
}

fn strip(tags: &[String]) -> Vec<String> {
    tags.iter().map(|t| t.trim_start_matches('@').to_string()).collect()
}

fn steps_of(steps: &[gherkin::Step]) -> Vec<ScenarioStep> {
    steps
        .iter()
        .map(|s| ScenarioStep {
            keyword: match s.keyword.trim() {
                "" => match s.ty {
                    StepType::Given => "Given".into(),
                    StepType::When => "When".into(),
                    StepType::Then => "Then".into(),
                },
                k => k.to_string(),
            },
            text: s.value.clone(),
            line: s.position.line,
            docstring: s.docstring.clone(),
            table: s.table.as_ref().map(|t| t.rows.clone()),
        })
        .collect()
}

fn expand(
    file: &Path,
    feature: &str,
    tags: &[String],
    background: &[ScenarioStep],
    scenario: &gherkin::Scenario,
    out: &mut Vec<Scenario>,
) -> Result<(), String> {
    if scenario.steps.is_empty() {
        // A first step with a misspelt keyword ("Whenn") reads as the
        // scenario's description: an empty scenario would pass unseen.
        return Err(format!(
            "{}:{}: scenario {:?} has no steps (is a keyword misspelt? a line that is not a step reads as its \
             description)",
            file.display(),
            scenario.position.line,
            scenario.name
        ));
    }
    let mut all_tags = tags.to_vec();
    all_tags.extend(strip(&scenario.tags));
    let mut steps = background.to_vec();
    steps.extend(steps_of(&scenario.steps));
    if scenario.examples.is_empty() {
        out.push(Scenario {
            feature: feature.into(),
            name: scenario.name.clone(),
            file: file.into(),
            line: scenario.position.line,
            tags: all_tags,
            steps,
        });
        return Ok(());
    }
    for examples in &scenario.examples {
        let Some(table) = &examples.table else {
            return Err(format!("{}:{}: Examples without a table", file.display(), examples.position.line));
        };
        let Some((header, rows)) = table.rows.split_first() else { continue };
        let mut example_tags = all_tags.clone();
        example_tags.extend(strip(&examples.tags));
        for (i, row) in rows.iter().enumerate() {
            let substitute = |text: &str| {
                header
                    .iter()
                    .zip(row)
                    .fold(text.to_string(), |acc, (name, value)| acc.replace(&format!("<{name}>"), value))
            };
            let mut name = substitute(&scenario.name);
            if name == scenario.name {
                let values: Vec<String> = header.iter().zip(row).map(|(h, v)| format!("{h}={v}")).collect();
                name = format!("{} [{}]", scenario.name, values.join(", "));
            }
            let steps = steps
                .iter()
                .map(|s| ScenarioStep {
                    text: substitute(&s.text),
                    docstring: s.docstring.as_deref().map(substitute),
                    ..s.clone()
                })
                .collect();
            out.push(Scenario {
                feature: feature.into(),
                name,
                file: file.into(),
                // The Examples row this scenario comes from.
                line: table.position.line + i + 1,
                tags: example_tags.clone(),
                steps,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write feature");
        path
    }

    #[test]
    fn expands_backgrounds_and_outlines_with_tags() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(
            dir.path(),
            "a.feature",
            "@calls\nFeature: Calls\n  Background:\n    Given the caller has a British accent\n\n  @outline\n  Scenario Outline: interrupt at <t>\n    When the caller interrupts <t> seconds into the agent's reply saying \"yes please\"\n\n    Examples:\n      | t   |\n      | 0.5 |\n      | 1.5 |\n",
        );
        let scenarios = load_features(&path).expect("loads");
        assert_eq!(scenarios.len(), 2);
        assert_eq!(scenarios[1].name, "interrupt at 1.5");
        assert_eq!(scenarios[1].tags, vec!["calls", "outline"]);
        assert_eq!(scenarios[1].steps[0].text, "the caller has a British accent");
        assert!(scenarios[1].steps[1].text.contains("1.5 seconds"));
        assert_eq!(scenarios[0].line, 12, "the Examples row");
    }

    #[test]
    fn malformed_features_are_reported_with_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            "bad.feature",
            "Feature: Broken\n  Scenario: one\n    Given the caller says \"hi\"\n  This line is not Gherkin\n    | a |\n",
        );
        let error = load_features(dir.path()).expect_err("malformed").to_string();
        assert!(error.contains("bad.feature:") && error.contains("not valid Gherkin"), "{error}");
        write(
            dir.path(),
            "bad.feature",
            "Feature: x\n  Scenario: y\n    Whenn the caller says \"hello\"\n    Then the caller hears \"hello\"\n",
        );
        let error = load_features(dir.path()).expect_err("misspelt").to_string();
        assert!(error.contains("bad.feature:3: `Whenn` is not a step keyword (did you mean `When`?)"), "{error}");
        write(dir.path(), "bad.feature", "Feature: x\n  Scenario: y\n    A caller who only listens.\n");
        let error = load_features(dir.path()).expect_err("no steps").to_string();
        assert!(error.contains("bad.feature:2: scenario \"y\" has no steps"), "{error}");
        write(dir.path(), "bad.feature", "# only a comment\n\n");
        let error = load_features(dir.path()).expect_err("empty").to_string();
        assert!(error.contains("bad.feature: the file has no feature"), "{error}");
    }
}
