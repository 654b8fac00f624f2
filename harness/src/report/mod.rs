//! Reports of a run: `report.json`, `junit.xml`, `summary.md`, per-call
//! records under `records/`, and the table on the terminal. All are
//! computed from the scenario results; none holds wall-clock times, so the
//! same seed gives the same files.

mod json;
mod junit;
mod markdown;
mod terminal;

use std::path::{Path, PathBuf};

pub use json::{REPORT_SCHEMA, report_json};
pub use junit::{escape, junit_xml};
pub use markdown::summary_markdown;
pub use terminal::terminal_table;

use crate::scenario::{ScenarioResult, Status};

/// Counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub scenarios: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Totals {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a ScenarioResult>) -> Self {
        let statuses: Vec<Status> = results.into_iter().map(|r| r.status).collect();
        let count = |s: Status| statuses.iter().filter(|&&status| status == s).count();
        Self {
            scenarios: statuses.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            errors: count(Status::Error),
        }
    }
}

/// A file-name-safe, readable name for a scenario's call record; the
/// `call` number is added when a scenario made several calls.
pub fn record_name(result: &ScenarioResult, index: usize, call: usize) -> String {
    let name = format!("{index:03}-{}", scenario_slug(&result.scenario));
    if result.calls.len() > 1 { format!("{name}-call{}", call + 1) } else { name }
}

/// `<file stem>-<scenario name>`, lower case, `-` between words, at most
/// 60 characters of the name, then a digest of the feature, the whole
/// name and its line: safe as a file or folder name, and two scenarios whose names
/// share their first 60 characters still get folders of their own.
pub fn scenario_slug(scenario: &crate::scenario::Scenario) -> String {
    let stem = scenario.file.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let slug: String = scenario
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let digest = crate::seed::fnv1a(format!("{}\n{}\n{}", scenario.feature, scenario.name, scenario.line).as_bytes());
    format!("{stem}-{}-{:08x}", slug.chars().take(60).collect::<String>().trim_end_matches('-'), digest as u32)
}

/// An I/O error that names the file or folder it is about.
fn at(path: &Path) -> impl Fn(std::io::Error) -> std::io::Error + '_ {
    move |e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Write every report file under `out`; returns the paths written.
/// The `records/` folder is replaced, so it holds this run's calls only.
pub fn write_reports(out: &Path, seed: u64, results: &[ScenarioResult]) -> std::io::Result<Vec<PathBuf>> {
    let records = out.join("records");
    if records.is_dir() {
        std::fs::remove_dir_all(&records).map_err(at(&records))?;
    }
    std::fs::create_dir_all(&records).map_err(at(&records))?;
    let mut written = Vec::new();
    for (i, result) in results.iter().enumerate() {
        for (c, call) in result.calls.iter().enumerate() {
            let path = out.join("records").join(format!("{}.jsonl", record_name(result, i, c)));
            std::fs::write(&path, call.outcome.record.to_jsonl()).map_err(at(&path))?;
        }
    }
    // A scenario may place several calls: each is numbered after its scenario.
    let calls: Vec<String> = results
        .iter()
        .flat_map(|r| r.calls.iter().enumerate())
        .map(|(c, call)| {
            let version = call.plan.agent.definition().id();
            let mut metrics = crate::metrics::call_metrics(&call.outcome.record, &call.report, &version, 0);
            metrics.call_id = format!("{}/{}", metrics.call_id, c + 1);
            serde_json::to_string(&metrics).expect("call metrics always serialise") + "\n"
        })
        .collect();
    let files = [
        (crate::metrics::CALLS_FILE, calls.concat()),
        ("report.json", report_json(seed, results)),
        ("junit.xml", junit_xml(results)),
        ("summary.md", summary_markdown(seed, results)),
    ];
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(at(&path))?;
        written.push(path);
    }
    Ok(written)
}
