//! A rollout for people: the verdict timeline (evidence against each
//! boundary, look by look), time to detect, time to roll back and the
//! calls the canary took.

use super::config::Metric;
use super::rollout::{DecidedBy, LookRecord, RolloutOutcome};

/// `z / boundary` of one metric at one look, `-` when unknown.
fn evidence(look: &LookRecord, metric: Metric) -> String {
    look.metrics
        .iter()
        .find(|m| m.metric == metric)
        .map(|m| {
            // A p-value of about 1 (no sign of harm at all) has no useful z.
            let z = m.z.map(|z| if z <= -8.0 { "<-8".to_string() } else { format!("{z:+.2}") });
            match z {
                Some(z) if m.boundary_z.is_finite() => format!("{z} / {:.2}", m.boundary_z),
                Some(z) => format!("{z} / inf"),
                None => "-".into(),
            }
        })
        .unwrap_or_else(|| "-".into())
}

/// A look's minute: whole for the minute looks, two decimals for a guard
/// decision between them (1.07 is not a second minute 1).
fn minute_text(minute: f64) -> String {
    if minute.fract() == 0.0 { format!("{minute:.0}") } else { format!("{minute:.2}") }
}

pub(super) fn metrics_of(outcome: &RolloutOutcome) -> Vec<Metric> {
    outcome
        .looks
        .iter()
        .find(|l| !l.metrics.is_empty())
        .map(|l| l.metrics.iter().map(|m| m.metric).collect())
        .unwrap_or_default()
}

pub(super) fn timeline_rows(outcome: &RolloutOutcome) -> (Vec<String>, Vec<Vec<String>>) {
    let metrics = metrics_of(outcome);
    let mut header = vec!["minute".to_string(), "canary calls".into(), "info".into()];
    header.extend(metrics.iter().map(|m| format!("{} z / bound", m.name())));
    header.extend(["guard p".to_string(), "look says".into()]);
    let rows = outcome
        .looks
        .iter()
        .map(|look| {
            let mut row =
                vec![minute_text(look.minute), look.canary_calls.to_string(), format!("{:.2}", look.fraction)];
            row.extend(metrics.iter().map(|m| evidence(look, *m)));
            row.extend([format!("{:.3}", look.guard_p), look.verdict.name().to_string()]);
            row
        })
        .collect();
    (header, rows)
}

/// The decision's timing, in words.
pub(super) fn timing(outcome: &RolloutOutcome) -> Vec<String> {
    let mut lines = vec![format!(
        "verdict: {} by {}{}",
        outcome.verdict.name(),
        outcome.decided_by,
        outcome.decided_at_minute.map(|m| format!(" at minute {m:.2}")).unwrap_or_default()
    )];
    if let Some(at) = outcome.decided_at_minute.filter(|_| outcome.verdict == super::Verdict::Rollback) {
        lines.push(format!("time to detect: {at:.2} min from the start of the bake"));
        {
            let last = outcome.last_canary_call_minute.unwrap_or(0.0);
            lines.push(format!(
                "time to roll back: every new call went to stable from minute {:.2} ({:.2} min after the decision); \
                 the last canary call started at minute {last:.2}",
                at.max(last),
                (last - at).max(0.0)
            ));
        }
    }
    lines.push(format!(
        "calls exposed to the canary: {} (of {} planned in the bake)",
        outcome.canary_exposed,
        outcome.plan.planned_canary_calls().round()
    ));
    if !outcome.broken.is_empty() {
        lines.push(format!("{} calls could not be placed (see the errors)", outcome.broken.len()));
    }
    if let Some(judgement) = &outcome.judgement {
        if let Some(look) =
            outcome.looks.last().filter(|_| !matches!(outcome.decided_by, DecidedBy::Sequential | DecidedBy::EndOfBake))
        {
            let minute = minute_text(look.minute);
            lines.push(format!("the last look (minute {minute}) said {}:", look.verdict.name()));
        }
        lines.extend(judgement.reasons.iter().map(|r| format!("  - {r}")));
    }
    lines
}

/// What `voicegate canary run` prints.
pub fn rollout_summary(outcome: &RolloutOutcome) -> String {
    let (header, rows) = timeline_rows(outcome);
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(header);
    for row in rows {
        builder.push_record(row);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::sharp());
    format!("canary rollout: {}\n{table}\n{}\n", outcome.plan.headline(), timing(outcome).join("\n"))
}

/// `canary.md`.
pub fn rollout_markdown(outcome: &RolloutOutcome) -> String {
    let (header, rows) = timeline_rows(outcome);
    let mut md = format!("# Canary rollout: {}\n\n{}\n\n", outcome.verdict.name(), outcome.plan.headline());
    for line in timing(outcome) {
        md.push_str(&format!("{line}\n"));
    }
    md.push_str(&format!("\n## Verdict timeline\n\n| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len())));
    for row in rows {
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    md.push_str(
        "\nEvidence is each guarded metric's harm z at the look against its group-sequential boundary \
                 (O'Brien-Fleming-type spending of that metric's share of alpha); the guard is an always-valid \
                 p-value checked on every call. The metric comparison of the last look is in compare.md.\n",
    );
    md
}
