//! The comparison as the release manager reads it: a terminal table,
//! `compare.json` (everything, for tools), `compare.md` (for a release
//! ticket) and the data `compare.html` draws.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use tabled::settings::Style;
use voicegate_agent::call_metrics::CallMetrics;

use super::config::{GateConfig, Metric};
use super::evaluate::{Judgement, MetricResult, Status};
use super::segments::{SegmentRow, call_failed, worst_segments};

/// The version of `compare.json`.
pub const COMPARE_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmInfo {
    /// The file or folder the arm was read from.
    pub source: String,
    pub agent_versions: Vec<String>,
    pub calls: usize,
}

impl ArmInfo {
    pub fn of(source: &Path, calls: &[CallMetrics]) -> Self {
        let versions: BTreeSet<String> = calls.iter().map(|c| c.agent_version.clone()).collect();
        Self {
            source: source.display().to_string(),
            agent_versions: versions.into_iter().collect(),
            calls: calls.len(),
        }
    }
}

/// A canary call that failed for its caller, with where to look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub call_id: String,
    pub why: String,
    /// The call's record (an absolute path), when the run kept it.
    pub record: Option<String>,
}

/// Sorted samples of one arm for a latency CDF.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cdf {
    pub stable: Vec<f64>,
    pub canary: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonReport {
    pub schema: u32,
    pub stable: ArmInfo,
    pub canary: ArmInfo,
    pub seed: u64,
    pub config: GateConfig,
    pub judgement: Judgement,
    pub segments: Vec<SegmentRow>,
    pub examples: Vec<Example>,
    pub turn_latency: Cdf,
    pub stop_latency: Cdf,
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

/// Failing canary calls (up to `limit`), linked to their records when
/// `records` (a folder beside the canary's calls) holds them.
pub fn examples(canary: &[CallMetrics], records: Option<&Path>, limit: usize) -> Vec<Example> {
    canary
        .iter()
        .filter(|c| call_failed(c))
        .take(limit)
        .map(|c| {
            let mut why: Vec<String> = c.error_kinds.clone();
            if c.task_completed == Some(false) {
                why.insert(0, "task not completed".into());
            }
            // Each finding kind once, with how many times it was found.
            let mut kinds: Vec<(&str, usize)> = Vec::new();
            for finding in &c.findings {
                match kinds.iter_mut().find(|(k, _)| *k == finding) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((finding, 1)),
                }
            }
            why.extend(kinds.into_iter().map(|(k, n)| if n == 1 { k.to_string() } else { format!("{k} x{n}") }));
            let record = records
                .map(|dir| dir.join(format!("{}.jsonl", c.call_id)))
                .filter(|path| path.is_file())
                .map(|path| std::path::absolute(&path).unwrap_or(path).display().to_string());
            Example { call_id: c.call_id.clone(), why: why.join(", "), record }
        })
        .collect()
}

impl ComparisonReport {
    pub fn new(
        stable: (ArmInfo, &[CallMetrics]),
        canary: (ArmInfo, &[CallMetrics], Vec<Example>),
        config: &GateConfig,
        judgement: Judgement,
        seed: u64,
    ) -> Self {
        // As the gate reads them: positive latencies only.
        let turns = |calls: &[CallMetrics]| {
            sorted(calls.iter().flat_map(|c| c.turns.iter().filter_map(|t| t.latency_ms)).filter(|&ms| ms > 0.0))
        };
        let stops = |calls: &[CallMetrics]| {
            sorted(calls.iter().flat_map(|c| c.barge_ins.iter().map(|b| b.stop_latency_ms)).filter(|&ms| ms > 0.0))
        };
        Self {
            schema: COMPARE_SCHEMA,
            segments: worst_segments(stable.1, canary.1),
            turn_latency: Cdf { stable: turns(stable.1), canary: turns(canary.1) },
            stop_latency: Cdf { stable: stops(stable.1), canary: stops(canary.1) },
            stable: stable.0,
            canary: canary.0,
            seed,
            config: config.clone(),
            judgement,
            examples: canary.2,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report always serialises")
    }
}

/// A metric's value in its unit.
pub fn value(metric: Metric, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if metric.is_rate() => format!("{:.2}%", v * 100.0),
        Some(v) => format!("{v:.0} ms"),
    }
}

/// A difference (or margin) in its unit: points or percent.
pub fn difference(metric: Metric, v: f64) -> String {
    if metric.is_rate() { format!("{:+.2} pt", v * 100.0) } else { format!("{:+.1}%", v * 100.0) }
}

pub fn status_name(m: &MetricResult) -> &'static str {
    match m.status {
        Status::Harm => "HARM",
        Status::WithinMargin => "ok",
        Status::Inconclusive => "inconclusive",
        Status::InsufficientData => "insufficient data",
        Status::Unguarded => "unguarded",
    }
}

/// Rows of the metric table: metric, stable, canary, difference with its
/// interval, margin, adjusted p, status.
fn rows(report: &ComparisonReport) -> Vec<[String; 7]> {
    report
        .judgement
        .metrics
        .iter()
        .map(|m| {
            let diff = match (m.difference, m.interval) {
                (Some(d), Some((low, high))) => {
                    format!(
                        "{} [{}, {}]",
                        difference(m.metric, d),
                        difference(m.metric, low),
                        difference(m.metric, high)
                    )
                }
                _ if m.status == Status::InsufficientData => match m.more_needed {
                    Some(more) => format!("too few samples ({more} more an arm)"),
                    None => "too few samples".into(),
                },
                _ => "-".into(),
            };
            let n = |v: Option<f64>, n: u64| format!("{} (n={n})", value(m.metric, v));
            [
                m.name.clone(),
                n(m.stable, m.stable_n),
                n(m.canary, m.canary_n),
                diff,
                difference(m.metric, m.margin),
                m.adjusted_p.map_or("-".into(), |p| format!("{p:.3}")),
                status_name(m).into(),
            ]
        })
        .collect()
}

/// The table's header; the interval's level follows the promotion level.
fn header(config: &GateConfig) -> Vec<String> {
    let level = format!("difference [{:.0}% CI]", 100.0 * (1.0 - 2.0 * config.promote_alpha));
    ["metric", "stable", "canary", &level, "margin", "adj. p", "status"].map(String::from).to_vec()
}

/// The table printed on the terminal.
pub fn terminal_table(report: &ComparisonReport) -> String {
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(header(&report.config));
    for row in rows(report) {
        builder.push_record(row);
    }
    let mut table = builder.build();
    table.with(Style::sharp());
    format!(
        "{}\n{table}\nverdict: {}\n{}",
        title(report),
        report.judgement.verdict.name(),
        report.judgement.reasons.iter().map(|r| format!("  - {r}\n")).collect::<String>()
    )
}

fn title(report: &ComparisonReport) -> String {
    format!(
        "canary {} ({} calls) against stable {} ({} calls)",
        report.canary.agent_versions.join(", "),
        report.canary.calls,
        report.stable.agent_versions.join(", "),
        report.stable.calls
    )
}

/// `compare.md`: for a release ticket.
pub fn markdown(report: &ComparisonReport) -> String {
    let mut md = format!("# Canary comparison: {}\n\n", report.judgement.verdict.name());
    md.push_str(&format!("{}.\n\n", title(report)));
    md.push_str(&format!(
        "Stable: `{}`. Canary: `{}`. Seed {}; rollback alpha {} (one-sided, weighted Holm), promotion at the \
         one-sided {:.0}% bound of harm, power {:.0}%.\n\n",
        report.stable.source,
        report.canary.source,
        report.seed,
        report.config.alpha,
        100.0 * (1.0 - report.config.promote_alpha),
        100.0 * report.config.power
    ));
    md.push_str("## Why\n\n");
    for reason in &report.judgement.reasons {
        md.push_str(&format!("- {reason}\n"));
    }
    let header = header(&report.config);
    md.push_str(&format!("\n## Metrics\n\n| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len())));
    for row in rows(report) {
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    md.push_str("\n## Worst segments (failed calls: task not done or an error noticed)\n\n");
    md.push_str("| segment | stable | canary | difference | q (BH) |\n|---|---|---|---|---|\n");
    for s in report.segments.iter().take(super::html::SEGMENT_ROWS) {
        md.push_str(&format!(
            "| {} {} | {}/{} | {}/{} | {:+.1} pt | {:.3} |\n",
            s.dimension,
            s.value,
            s.stable.events,
            s.stable.calls,
            s.canary.events,
            s.canary.calls,
            s.difference * 100.0,
            s.q_value
        ));
    }
    if report.segments.len() > super::html::SEGMENT_ROWS {
        md.push_str(&format!("\n{} more in compare.json.\n", report.segments.len() - super::html::SEGMENT_ROWS));
    }
    if !report.examples.is_empty() {
        md.push_str("\n## Example failing canary calls\n\n");
        for e in &report.examples {
            let record = e.record.as_ref().map(|r| format!(" ([record]({r}))")).unwrap_or_default();
            md.push_str(&format!("- `{}`: {}{record}\n", e.call_id, e.why));
        }
    }
    md
}
