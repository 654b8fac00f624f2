//! The table printed at the end of `voicegate run`.

use super::Totals;
use super::junit::failure_details;
use super::markdown::{latency_columns, status_word};
use crate::scenario::{ScenarioResult, Status};

pub fn terminal_table(results: &[ScenarioResult]) -> String {
    let header = ["scenario", "status", "worst turn", "barge-ins", "worst stop"];
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            let (turn, stop, barge_ins) = latency_columns(r);
            let name = format!("{} / {}", r.scenario.feature, r.scenario.name);
            [name, status_word(r.status).to_string(), turn, barge_ins.to_string(), stop]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    for r in results.iter().filter(|r| r.status != Status::Passed) {
        out.push_str(&format!("\n{} {} ({}):\n", status_word(r.status), r.scenario.name, r.scenario.location()));
        for detail in failure_details(r) {
            out.push_str(&format!("  - {}\n", detail.replace('\n', "\n    ")));
        }
    }
    let t = Totals::of(results);
    if t.errors > 0 {
        out.push_str(&format!("\n{} scenario(s) could not run as written", t.errors));
    }
    // The closing line CI systems read.
    out.push_str(&format!("\n{} passed, {} failed\n", t.passed, t.failed + t.errors));
    out
}
