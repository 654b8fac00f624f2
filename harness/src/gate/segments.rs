//! The worst segments: where the canary fails calls more than stable, by
//! accent, noise band and intent. Many segments are tested at once, so
//! their p-values are adjusted for the false-discovery rate
//! (Benjamini-Hochberg) before a segment is called worse.

use std::collections::BTreeMap;

use serde::Serialize;
use voicegate_agent::call_metrics::CallMetrics;

use crate::canary::{Count, harm_p_value_exact};

/// A call failed for the caller: its task was not done, or it noticed an
/// error.
pub fn call_failed(call: &CallMetrics) -> bool {
    call.error || call.task_completed == Some(false)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRow {
    /// `accent`, `noise` or `intent`.
    pub dimension: String,
    pub value: String,
    pub stable: Count,
    pub canary: Count,
    /// Canary's failure rate minus stable's.
    pub difference: f64,
    pub p_value: f64,
    /// Benjamini-Hochberg adjusted across every segment compared.
    pub q_value: f64,
}

/// Benjamini-Hochberg adjusted p-values, in input order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let n = p_values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p_values[b].total_cmp(&p_values[a]));
    let mut adjusted = vec![1.0; n];
    let mut running = 1.0f64;
    for (k, &i) in order.iter().enumerate() {
        let rank = (n - k) as f64;
        running = running.min(p_values[i] * n as f64 / rank);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

fn segment_of(call: &CallMetrics, dimension: &str) -> Option<String> {
    let s = &call.segment;
    match dimension {
        "accent" => s.accent.clone(),
        "noise" => s.noise.clone(),
        "intent" => s.intent.clone(),
        _ => None,
    }
}

/// Every segment with calls in both arms, worst first (by difference).
pub fn worst_segments(stable: &[CallMetrics], canary: &[CallMetrics]) -> Vec<SegmentRow> {
    let mut rows = Vec::new();
    for dimension in ["accent", "noise", "intent"] {
        let mut counts: BTreeMap<String, (Count, Count)> = BTreeMap::new();
        for (arm, calls) in [(0, stable), (1, canary)] {
            for call in calls {
                let Some(value) = segment_of(call, dimension) else { continue };
                let entry =
                    counts.entry(value).or_insert((Count { events: 0, calls: 0 }, Count { events: 0, calls: 0 }));
                let count = if arm == 0 { &mut entry.0 } else { &mut entry.1 };
                count.calls += 1;
                count.events += u64::from(call_failed(call));
            }
        }
        for (value, (s, c)) in counts {
            if s.calls == 0 || c.calls == 0 {
                continue;
            }
            rows.push(SegmentRow {
                dimension: dimension.into(),
                value,
                stable: s,
                canary: c,
                difference: c.rate() - s.rate(),
                p_value: harm_p_value_exact(s, c),
                q_value: 1.0,
            });
        }
    }
    let q = benjamini_hochberg(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
    for (row, q) in rows.iter_mut().zip(q) {
        row.q_value = q;
    }
    rows.sort_by(|a, b| b.difference.total_cmp(&a.difference).then_with(|| a.value.cmp(&b.value)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benjamini_hochberg_matches_statsmodels() {
        // statsmodels 0.15.0:
        // multipletests([0.01, 0.04, 0.03, 0.2, 0.005], method="fdr_bh")[1]
        // -> [0.025, 0.05, 0.05, 0.2, 0.025]
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2, 0.005]);
        for (got, want) in adjusted.iter().zip([0.025, 0.05, 0.05, 0.2, 0.025]) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
