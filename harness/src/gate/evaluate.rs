//! The gate's judgement of canary against stable, metric by metric, from
//! per-call metrics. Rates are compared call by call (two proportions);
//! latency quantiles with a bootstrap that resamples whole calls. The
//! verdict: Rollback when a guarded metric is significantly worse (each
//! against its share of alpha, or its group-sequential boundary); Promote
//! only when every guarded metric's one-sided bound of harm is inside its
//! margin; Hold otherwise, always with the reason.

use serde::Serialize;
use voicegate_agent::call_metrics::CallMetrics;

use super::config::{GateConfig, Metric};
use crate::canary::{
    BootstrapConfig, Count, QuantileComparison, calls_needed, compare_quantiles, harm_p_value_exact,
    newcombe_difference, quantile, weighted_holm,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Promote,
    Hold,
    Rollback,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Self::Promote => "PROMOTE",
            Self::Hold => "HOLD",
            Self::Rollback => "ROLLBACK",
        }
    }
}

/// One metric's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Significantly worse than stable: roll back.
    Harm,
    /// The bound of harm is inside the margin.
    WithinMargin,
    /// Neither: the bound of harm crosses the margin.
    Inconclusive,
    /// Too few samples to judge (a latency tail, or no call with a goal).
    InsufficientData,
    /// Reported only.
    Unguarded,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub metric: Metric,
    pub name: String,
    pub guarded: bool,
    /// Stable's and the canary's value: a rate (0 to 1) or a latency (ms).
    pub stable: Option<f64>,
    pub canary: Option<f64>,
    /// Samples behind each: calls for rates, turns or barge-ins for latencies.
    pub stable_n: u64,
    pub canary_n: u64,
    /// Canary worse by: points (rates, 0.01 = 1 point) or a relative rise
    /// (latencies, 0.10 = +10%).
    pub difference: Option<f64>,
    /// Two-sided interval of the difference at `1 - 2 * promote_alpha`: its
    /// upper end is the one-sided bound of harm promotion checks.
    pub interval: Option<(f64, f64)>,
    pub margin: f64,
    /// One-sided p-value of harm (canary worse than stable at all).
    pub p_value: Option<f64>,
    /// Weighted-Holm adjusted p-value across the guarded metrics.
    pub adjusted_p: Option<f64>,
    /// The metric's share of the rollback alpha, and the p-value at or under
    /// which it rolls back at this look.
    pub alpha: f64,
    pub critical_p: f64,
    pub status: Status,
    /// Why, in words.
    pub note: String,
    /// More canary calls (rates) or samples (latencies) needed to show
    /// the margin holds with the configured power; `None` when enough.
    pub more_needed: Option<u64>,
}

/// Per-call samples of one arm, as the metrics need them.
struct Arm<'a> {
    calls: &'a [CallMetrics],
}

impl Arm<'_> {
    fn count(&self, metric: Metric) -> Count {
        let (events, calls) = match metric {
            Metric::ErrorRate => (self.calls.iter().filter(|c| c.error).count(), self.calls.len()),
            Metric::TaskFailure => {
                let judged: Vec<bool> = self.calls.iter().filter_map(|c| c.task_completed).collect();
                (judged.iter().filter(|done| !**done).count(), judged.len())
            }
            Metric::TruncationFailure => {
                (self.calls.iter().filter(|c| c.truncation_failed()).count(), self.calls.len())
            }
            Metric::P95TurnLatency | Metric::P99StopLatency => (0, 0),
        };
        Count { events: events as u64, calls: calls as u64 }
    }

    /// Calls whose outcome for a rate the count cannot judge yet would
    /// count as a pass: a barge-in with no truncation check (a call the
    /// agent logged itself cannot know what its caller heard). A call with
    /// no task goal is simply left out of task failures instead.
    fn unmeasured(&self, metric: Metric) -> usize {
        match metric {
            Metric::TruncationFailure => {
                self.calls.iter().filter(|c| c.barge_ins.iter().any(|b| b.truncation_ok.is_none())).count()
            }
            _ => 0,
        }
    }

    /// Each call's samples of a latency metric.
    fn samples(&self, metric: Metric) -> Vec<Vec<f64>> {
        self.calls
            .iter()
            .map(|c| match metric {
                Metric::P95TurnLatency => c.turns.iter().filter_map(|t| t.latency_ms).filter(|&ms| ms > 0.0).collect(),
                _ => c.barge_ins.iter().map(|b| b.stop_latency_ms).filter(|&ms| ms > 0.0).collect(),
            })
            .collect()
    }
}

fn rate_result(metric: Metric, stable: &Arm, canary: &Arm, config: &GateConfig) -> MetricResult {
    let guard = config.guard(metric);
    let (s, c) = (stable.count(metric), canary.count(metric));
    let mut result = blank(metric, config);
    (result.stable_n, result.canary_n) = (s.calls, c.calls);
    let (stable_unmeasured, canary_unmeasured) = (stable.unmeasured(metric), canary.unmeasured(metric));
    if stable_unmeasured + canary_unmeasured > 0 {
        result.status = Status::InsufficientData;
        result.note = format!(
            "insufficient data: the barge-ins of {stable_unmeasured} stable and {canary_unmeasured} canary calls carry \
             no truncation check (calls the agent logged itself cannot see what the caller heard)",
        );
        return result;
    }
    if s.calls == 0 || c.calls == 0 {
        result.status = Status::InsufficientData;
        let empty = if canary.calls.is_empty() { "the canary" } else { "stable" };
        result.note = if stable.calls.is_empty() || canary.calls.is_empty() {
            format!("insufficient data: {empty} has no calls")
        } else {
            "no call of one arm has a task goal to judge (task completion needs traffic calls)".into()
        };
        return result;
    }
    let tail = config.promote_alpha;
    let (low, high) = newcombe_difference(s, c, tail);
    let difference = c.rate() - s.rate();
    result.stable = Some(s.rate());
    result.canary = Some(c.rate());
    result.difference = Some(difference);
    result.interval = Some((low, high));
    result.p_value = Some(harm_p_value_exact(s, c));
    if high < guard.margin {
        result.status = Status::WithinMargin;
    } else {
        let ratio = s.calls as f64 / c.calls as f64;
        let needed = calls_needed(s.rate().max(0.005), guard.margin, tail, config.power, ratio);
        result.more_needed = (needed > c.calls).then(|| needed - c.calls);
        result.status = Status::Inconclusive;
    }
    result
}

fn quantile_result(metric: Metric, stable: &Arm, canary: &Arm, config: &GateConfig, seed: u64) -> MetricResult {
    let q = metric.quantile().expect("a latency metric");
    let guard = config.guard(metric);
    let mut result = blank(metric, config);
    let (s, c) = (stable.samples(metric), canary.samples(metric));
    let count = |calls: &[Vec<f64>]| calls.iter().map(Vec::len).sum::<usize>() as u64;
    (result.stable_n, result.canary_n) = (count(&s), count(&c));
    let pooled = |calls: &[Vec<f64>]| quantile(&calls.concat(), q);
    if !guard.guarded {
        // Reported, not judged: the point values only (no bootstrap).
        (result.stable, result.canary) = (pooled(&s), pooled(&c));
        return result;
    }
    // Level 1 - 2a: the interval's upper end is the one-sided bound at a.
    let bootstrap = BootstrapConfig {
        level: 1.0 - 2.0 * config.promote_alpha,
        resamples: config.resamples,
        tail_turns: config.tail_samples,
        ..BootstrapConfig::new(q, seed)
    };
    match compare_quantiles(&s, &c, &bootstrap) {
        Ok(QuantileComparison::Estimated(r)) => {
            result.stable = Some(r.stable);
            result.canary = Some(r.canary);
            result.difference = Some(r.ratio - 1.0);
            result.interval = Some((r.interval.0 - 1.0, r.interval.1 - 1.0));
            result.p_value = Some(r.harm_p);
            result.status = if r.interval.1 - 1.0 < guard.margin { Status::WithinMargin } else { Status::Inconclusive };
        }
        Ok(QuantileComparison::InsufficientData { stable, canary, turns_needed, .. }) => {
            result.status = Status::InsufficientData;
            // The point values still say where the tail is; only the test waits.
            (result.stable, result.canary) = (pooled(&s), pooled(&c));
            let short = turns_needed.saturating_sub(canary.turns.min(stable.turns) as u64);
            result.more_needed = Some(short);
            result.note = format!(
                "insufficient data: {} needs {turns_needed} {} an arm (stable has {}, the canary {})",
                metric.name(),
                if metric == Metric::P95TurnLatency { "turns" } else { "barge-ins" },
                stable.turns,
                canary.turns
            );
        }
        Err(error) => {
            result.status = Status::InsufficientData;
            result.note = format!("cannot be judged: {error}");
        }
    }
    result
}

fn blank(metric: Metric, config: &GateConfig) -> MetricResult {
    let guard = config.guard(metric);
    MetricResult {
        metric,
        name: metric.name().into(),
        guarded: guard.guarded,
        stable: None,
        canary: None,
        stable_n: 0,
        canary_n: 0,
        difference: None,
        interval: None,
        margin: guard.margin,
        p_value: None,
        adjusted_p: None,
        alpha: config.alpha_of(metric),
        critical_p: config.alpha_of(metric),
        status: Status::Unguarded,
        note: String::new(),
        more_needed: None,
    }
}

/// What the gate concluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Why: the rule that fired, or what keeps it from a promotion.
    pub reasons: Vec<String>,
    pub metrics: Vec<MetricResult>,
}

/// Judge the canary against stable. `critical_p` gives each guarded
/// metric's rollback threshold at this look (its share of alpha for a
/// single comparison, its group-sequential boundary during a bake);
/// `final_look` allows a Promote (a bake promotes only at its end).
pub fn judge(
    stable: &[CallMetrics],
    canary: &[CallMetrics],
    config: &GateConfig,
    critical_p: &dyn Fn(Metric) -> f64,
    final_look: bool,
    seed: u64,
) -> Judgement {
    let (s, c) = (Arm { calls: stable }, Arm { calls: canary });
    let mut metrics: Vec<MetricResult> = Metric::ALL
        .into_iter()
        .map(|m| if m.is_rate() { rate_result(m, &s, &c, config) } else { quantile_result(m, &s, &c, config, seed) })
        .collect();
    let guarded: Vec<usize> = (0..metrics.len()).filter(|&i| metrics[i].guarded).collect();
    let p: Vec<f64> = guarded.iter().map(|&i| metrics[i].p_value.unwrap_or(1.0)).collect();
    let w: Vec<f64> = guarded.iter().map(|&i| config.guard(metrics[i].metric).weight).collect();
    for (k, adjusted) in weighted_holm(&p, &w).into_iter().enumerate() {
        metrics[guarded[k]].adjusted_p = Some(adjusted);
    }
    let mut reasons = Vec::new();
    for result in &mut metrics {
        if !result.guarded {
            result.status = Status::Unguarded;
            continue;
        }
        result.critical_p = critical_p(result.metric);
        if let Some(p) = result.p_value.filter(|&p| p <= result.critical_p) {
            result.status = Status::Harm;
            result.note = format!(
                "significantly worse than stable: one-sided p = {p:.2e} <= {:.2e} (its share {:.4} of alpha {})",
                result.critical_p, result.alpha, config.alpha
            );
            reasons.push(format!("{}: {}", result.name, result.note));
        }
    }
    let verdict = if metrics.iter().any(|m| m.status == Status::Harm) {
        Verdict::Rollback
    } else if final_look && metrics.iter().all(|m| !m.guarded || m.status == Status::WithinMargin) {
        reasons.push("every guarded metric's bound of harm is inside its margin".into());
        Verdict::Promote
    } else {
        for m in metrics.iter_mut().filter(|m| m.guarded && m.status != Status::WithinMargin) {
            if m.note.is_empty() {
                m.note = hold_note(m, config);
            }
            reasons.push(format!("{}: {}", m.name, m.note));
        }
        if !final_look && reasons.is_empty() {
            reasons.push("the bake is not over: a canary is promoted only at its end".into());
        }
        Verdict::Hold
    };
    Judgement { verdict, reasons, metrics }
}

/// Why a metric keeps the canary from a promotion.
fn hold_note(m: &MetricResult, config: &GateConfig) -> String {
    let unit =
        |v: f64| if m.metric.is_rate() { format!("{:+.2} points", v * 100.0) } else { format!("{:+.1}%", v * 100.0) };
    let bound = m.interval.map_or_else(|| "unknown".to_string(), |(_, high)| unit(high));
    let mut note = format!(
        "the {:.0}% bound of harm, {bound}, is not inside the margin of {}",
        100.0 * (1.0 - config.promote_alpha),
        unit(m.margin)
    );
    if let Some(more) = m.more_needed {
        note.push_str(&format!(
            "; not enough calls: {more} more canary calls needed to detect the margin with {:.0}% power",
            100.0 * config.power
        ));
    }
    note
}
