//! `summary.md`: a table for humans, then the details of what failed.

use std::fmt::Write;

use super::Totals;
use super::junit::failure_details;
use crate::scenario::{ScenarioResult, Status};

pub(super) fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Error => "ERROR",
    }
}

/// (worst turn latency, worst stop latency, barge-in count) of a scenario.
pub(super) fn latency_columns(result: &ScenarioResult) -> (String, String, usize) {
    let worst = |values: &mut dyn Iterator<Item = f64>| {
        values.reduce(f64::max).map_or("-".to_string(), |v| format!("{v:.0} ms"))
    };
    let reports = || result.calls.iter().map(|c| &c.report);
    let turn = worst(&mut reports().flat_map(|r| r.turns.iter()).filter_map(|t| t.latency_ms));
    let stop = worst(&mut reports().flat_map(|r| r.barge_ins.iter()).map(|b| b.stop_latency_ms));
    (turn, stop, reports().map(|r| r.barge_ins.len()).sum())
}

pub fn summary_markdown(seed: u64, results: &[ScenarioResult]) -> String {
    let t = Totals::of(results);
    let mut out = String::new();
    let _ = writeln!(out, "# voicegate run\n");
    let _ = writeln!(
        out,
        "{} scenarios: **{} passed**, {} failed, {} errors (seed {seed}).\n",
        t.scenarios, t.passed, t.failed, t.errors
    );
    let _ = writeln!(out, "| Scenario | Status | Worst turn latency | Barge-ins | Worst stop latency |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for r in results {
        let (turn, stop, barge_ins) = latency_columns(r);
        let _ = writeln!(
            out,
            "| {} / {} | {} | {turn} | {barge_ins} | {stop} |",
            r.scenario.feature.replace('|', "\\|"),
            r.scenario.name.replace('|', "\\|"),
            status_word(r.status)
        );
    }
    let failed: Vec<&ScenarioResult> = results.iter().filter(|r| r.status != Status::Passed).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\n## What failed\n");
        for r in failed {
            let _ = writeln!(out, "### {} / {} ({})\n", r.scenario.feature, r.scenario.name, r.scenario.location());
            for line in failure_details(r) {
                let _ = writeln!(out, "- {}", line.replace('\n', "\n  "));
            }
            let _ = writeln!(out);
        }
    }
    out
}
