//! A live rollout in virtual time: calls arrive at a set rate, a router
//! sends a share of new calls to the canary by a hash of the call id, the
//! gate looks once a minute with group-sequential boundaries (one per
//! guarded metric, each spending that metric's share of alpha), and an
//! always-valid guard watches the error rate on every completed call for a
//! catastrophic regression (a crash, a provider storm, dropped calls). On Rollback the router sends every new call to stable.
//!
//! The calls themselves are placed by the caller of [`Rollout::run`]
//! (`place`), so the same machinery runs real traffic calls or, in tests,
//! simulated ones. Everything is a pure function of the seed and the
//! calls: the same seed gives the same verdict at the same look.

use std::collections::BTreeMap;

use serde::Serialize;
use voicegate_agent::call_metrics::CallMetrics;

use super::config::{GateConfig, Metric};
use super::evaluate::{Judgement, Verdict, judge};
use crate::canary::{Count, Guard, GuardConfig, SequentialBoundary, split_mismatch_p_value};
use crate::seed::{Rng, fnv1a};

/// The rollout's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutPlan {
    /// `name@version` of each arm (empty when the caller places its own
    /// simulated calls).
    pub stable_version: String,
    pub canary_version: String,
    /// A fault injected around the canary, and the share of its calls it
    /// hits (a drill, not a release): named in every report.
    pub canary_fault: Option<(String, f64)>,
    pub calls_per_minute: f64,
    /// Share of new calls the router sends to the canary.
    pub canary_share: f64,
    pub bake_minutes: f64,
    /// Virtual time after the decision the rollout goes on (to show every
    /// new call going to stable).
    pub after_minutes: f64,
    /// The guard's alpha (always-valid, checked on every call).
    pub guard_alpha: f64,
    /// A sample-ratio mismatch p-value under this stops the rollout as
    /// broken (an error, not a verdict).
    pub mismatch_alpha: f64,
    pub seed: u64,
}

impl Default for RolloutPlan {
    fn default() -> Self {
        Self {
            stable_version: String::new(),
            canary_version: String::new(),
            canary_fault: None,
            calls_per_minute: 1000.0,
            canary_share: 0.1,
            bake_minutes: 10.0,
            after_minutes: 2.0,
            guard_alpha: 0.01,
            mismatch_alpha: 0.001,
            seed: 1,
        }
    }
}

/// A number with at most two decimals and no trailing zeros; tiny but
/// nonzero values keep two significant digits (0.004, not 0).
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        return format!("{v:.1e}");
    }
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl RolloutPlan {
    /// One line naming the rollout: its versions, traffic, split, bake and seed.
    pub fn headline(&self) -> String {
        let versions = if self.canary_version.is_empty() {
            String::new()
        } else {
            let fault = self.canary_fault.as_ref().map_or(String::new(), |(fault, share)| {
                format!(" (with the injected fault {fault} in {}% of its calls)", number(share * 100.0))
            });
            format!("{}{fault} against stable {}: ", self.canary_version, self.stable_version)
        };
        format!("{versions}{}, seed {}", self.traffic_line(), self.seed)
    }

    /// "1000 calls a minute, 10% to the canary, 10-minute bake".
    pub fn traffic_line(&self) -> String {
        format!(
            "{} a minute, {}% to the canary, {}-minute bake",
            if number(self.calls_per_minute) == "1" {
                "1 call".to_string()
            } else {
                format!("{} calls", number(self.calls_per_minute))
            },
            number(self.canary_share * 100.0),
            number(self.bake_minutes)
        )
    }

    /// Canary calls the bake expects: the information fraction's denominator.
    pub fn planned_canary_calls(&self) -> f64 {
        self.calls_per_minute * self.canary_share * self.bake_minutes
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Stable,
    Canary,
}

/// A call to place: its id, its arm and when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub call_id: String,
    pub arm: Arm,
    pub started_ms: u64,
}

/// One metric at one look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricLook {
    pub metric: Metric,
    /// One-sided p-value of harm at this look, and the boundary it is held to.
    pub p_value: Option<f64>,
    pub critical_p: f64,
    /// The same as z scores (evidence against the boundary).
    pub z: Option<f64>,
    pub boundary_z: f64,
}

/// Every decision, with its inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookRecord {
    pub minute: f64,
    pub stable_calls: u64,
    pub canary_calls: u64,
    /// Canary calls seen over those planned.
    pub fraction: f64,
    pub metrics: Vec<MetricLook>,
    /// The guard's always-valid p-value.
    pub guard_p: f64,
    /// Calls routed so far, each way, and the mismatch p-value.
    pub routed: (u64, u64),
    pub mismatch_p: f64,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// What ended a rollout; written in reports as its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecidedBy {
    /// The bake ended with no look taken (no calls).
    Nothing,
    /// A look's group-sequential test rolled back.
    Sequential,
    /// The last look decided.
    EndOfBake,
    /// The always-valid guard fired, at this p-value.
    Guard { p_value: f64 },
    /// The sample-ratio check found the router broken.
    BrokenRouter,
}

impl std::fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => f.write_str("no look: the bake saw no calls"),
            Self::Sequential => f.write_str("the sequential test"),
            Self::EndOfBake => f.write_str("the end of the bake"),
            Self::Guard { p_value } => write!(f, "the always-valid guard (p = {p_value:.2e})"),
            Self::BrokenRouter => f.write_str("a broken router (sample-ratio mismatch)"),
        }
    }
}

impl Serialize for DecidedBy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How the rollout ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutOutcome {
    pub plan: RolloutPlan,
    pub verdict: Verdict,
    pub decided_by: DecidedBy,
    /// When the decision was taken, minutes of virtual time.
    pub decided_at_minute: Option<f64>,
    /// The last call the router sent to the canary, minutes.
    pub last_canary_call_minute: Option<f64>,
    /// Calls the canary took in all.
    pub canary_exposed: u64,
    pub looks: Vec<LookRecord>,
    /// The last look's full judgement (or the guard's, at its decision).
    pub judgement: Option<Judgement>,
    /// How many of `stable` and `canary` (a prefix of each: calls are kept
    /// in completion order) that judgement saw; the rest completed after.
    pub judged: (usize, usize),
    pub stable: Vec<CallMetrics>,
    pub canary: Vec<CallMetrics>,
    /// Calls the harness could not place (a panic, bad input).
    pub broken: Vec<String>,
}

/// The router: a stable hash of the call id against the share.
pub fn routes_to_canary(call_id: &str, share: f64) -> bool {
    (fnv1a(call_id.as_bytes()) % 1_000_000) as f64 / 1_000_000.0 < share
}

const BATCH_MS: u64 = 5_000;
const MINUTE_MS: u64 = 60_000;

/// A finished call, waiting for its completion time.
struct Done {
    at_ms: u64,
    arm: Arm,
    metrics: CallMetrics,
}

/// Places a batch of calls: each one's metrics, or why it could not be placed.
pub type Placer<'a> = dyn FnMut(&[Arrival]) -> Vec<Result<CallMetrics, String>> + 'a;

pub struct Rollout<'a> {
    pub plan: RolloutPlan,
    pub config: &'a GateConfig,
    /// Which arm the router picks for a call id (the hash router, or a
    /// broken one in tests).
    pub router: &'a dyn Fn(&str, f64) -> bool,
}

/// What every logged decision records about the moment it was taken.
struct Moment {
    ms: u64,
    /// Completed calls of stable and the canary.
    arms: (usize, usize),
    routed: (u64, u64),
    guard_p: f64,
}

impl Moment {
    fn record(
        &self,
        plan: &RolloutPlan,
        metrics: Vec<MetricLook>,
        verdict: Verdict,
        reasons: Vec<String>,
    ) -> LookRecord {
        LookRecord {
            minute: self.ms as f64 / MINUTE_MS as f64,
            stable_calls: self.arms.0 as u64,
            canary_calls: self.arms.1 as u64,
            fraction: self.arms.1 as f64 / plan.planned_canary_calls().max(1.0),
            metrics,
            guard_p: self.guard_p,
            routed: self.routed,
            mismatch_p: split_mismatch_p_value(self.routed.0, self.routed.1, plan.canary_share),
            verdict,
            reasons,
        }
    }
}

/// The guard's always-valid p-value now (1 with no guard).
fn guard_p(guard: &Option<Guard>) -> f64 {
    guard.as_ref().map_or(1.0, |g| g.reading().p_value)
}

/// The z score of a one-sided p-value, from `p` itself so that a tiny `p`
/// keeps its size (`1 - p` rounds to 1 below 1e-16); `p` near 1 is held
/// at about -8.2.
fn z_of(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    -Normal::standard().inverse_cdf(p.clamp(1e-300, 1.0 - 1e-16))
}

impl Rollout<'_> {
    /// Run the rollout; `place` places a batch of calls and returns each
    /// one's metrics (or why it could not be placed), in order.
    pub fn run(&self, place: &mut Placer<'_>) -> RolloutOutcome {
        let plan = &self.plan;
        let mut rng = Rng::derive(plan.seed, "arrivals");
        let mut boundaries: BTreeMap<Metric, SequentialBoundary> = self
            .config
            .guarded()
            .into_iter()
            .filter_map(|m| SequentialBoundary::new(self.config.alpha_of(m)).ok().map(|b| (m, b)))
            .collect();
        let mut guard = Guard::new(GuardConfig { alpha: plan.guard_alpha, ..GuardConfig::new(plan.canary_share) }).ok();
        let bake_end = (plan.bake_minutes * MINUTE_MS as f64) as u64;
        let (mut next_arrival, mut index) = (0.0f64, 0u64);
        let (mut pending, mut stable, mut canary, mut broken) =
            (Vec::<Done>::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut routed, mut looks) = ((0u64, 0u64), Vec::new());
        // Each arm's completed calls and errors, as the guard reads them.
        let mut errors = (Count { events: 0, calls: 0 }, Count { events: 0, calls: 0 });
        let (mut decision, mut decided_by, mut decided_at, mut last_canary) = (None, DecidedBy::Nothing, None, None);
        let (mut judgement, mut last_fraction, mut judged) = (None, 0.0, (0, 0));
        let mean_gap_ms = MINUTE_MS as f64 / plan.calls_per_minute.max(1e-9);
        let after_ms = (plan.after_minutes * MINUTE_MS as f64) as u64;
        let (mut now, mut end) = (0u64, bake_end);
        while now < end {
            let until = now + BATCH_MS;
            // Arrivals of this batch, routed by the state at its start.
            let mut arrivals = Vec::new();
            while (next_arrival as u64) < until {
                let call_id = format!("call-{}-{index:07}", plan.seed);
                let to_canary = decision != Some(Verdict::Rollback) && (self.router)(&call_id, plan.canary_share);
                let started_ms = next_arrival as u64;
                if to_canary {
                    routed.1 += 1;
                    last_canary = Some(started_ms);
                } else {
                    routed.0 += 1;
                }
                arrivals.push(Arrival { call_id, arm: if to_canary { Arm::Canary } else { Arm::Stable }, started_ms });
                index += 1;
                next_arrival += -mean_gap_ms * (1.0 - rng.unit()).ln();
            }
            for (arrival, result) in arrivals.iter().zip(place(&arrivals)) {
                match result {
                    Ok(metrics) => pending.push(Done {
                        at_ms: arrival.started_ms + metrics.duration_ms,
                        arm: arrival.arm,
                        metrics,
                    }),
                    Err(message) => broken.push(format!("{}: {message}", arrival.call_id)),
                }
            }
            now = until;
            // Completions up to now, in time order: the guard sees each call.
            pending.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.metrics.call_id.cmp(&b.metrics.call_id)));
            let split = pending.partition_point(|d| d.at_ms <= now);
            for done in pending.drain(..split) {
                let (calls, count) = match done.arm {
                    Arm::Stable => (&mut stable, &mut errors.0),
                    Arm::Canary => (&mut canary, &mut errors.1),
                };
                *count = Count { events: count.events + u64::from(done.metrics.error), calls: count.calls + 1 };
                calls.push(done.metrics);
                if decision.is_none()
                    && let Some(reading) = guard.as_mut().and_then(|g| g.observe(errors.0, errors.1).ok())
                    && reading.fired
                {
                    decision = Some(Verdict::Rollback);
                    decided_by = DecidedBy::Guard { p_value: reading.p_value };
                    decided_at = Some(done.at_ms);
                    judged = (stable.len(), canary.len());
                    end = done.at_ms + after_ms;
                    // The decision is logged with its inputs, as a look's is.
                    let reason = format!(
                        "the always-valid guard on the error rate fired: p = {:.2e} <= {}",
                        reading.p_value, plan.guard_alpha
                    );
                    let at =
                        Moment { ms: done.at_ms, arms: (stable.len(), canary.len()), routed, guard_p: reading.p_value };
                    looks.push(at.record(plan, Vec::new(), Verdict::Rollback, vec![reason]));
                }
            }
            // A look once a minute of the bake.
            if decision.is_none() && now % MINUTE_MS == 0 && now <= bake_end {
                let final_look = now >= bake_end;
                let fraction = canary.len() as f64 / plan.planned_canary_calls().max(1.0);
                let mismatch_p = split_mismatch_p_value(routed.0, routed.1, plan.canary_share);
                if mismatch_p < plan.mismatch_alpha {
                    decision = Some(Verdict::Hold);
                    decided_by = DecidedBy::BrokenRouter;
                    decided_at = Some(now);
                    end = now;
                } else if fraction > last_fraction || final_look {
                    last_fraction = fraction;
                    let mut metrics = Vec::new();
                    let mut critical = BTreeMap::new();
                    for (metric, boundary) in &mut boundaries {
                        let look =
                            if final_look { boundary.final_look(fraction.max(1e-9)) } else { boundary.look(fraction) };
                        if let Ok(look) = look {
                            critical.insert(*metric, look.nominal_p);
                        }
                    }
                    let look_judgement = judge(
                        &stable,
                        &canary,
                        self.config,
                        &|m| critical.get(&m).copied().unwrap_or(0.0),
                        final_look,
                        plan.seed,
                    );
                    for m in look_judgement.metrics.iter().filter(|m| m.guarded) {
                        metrics.push(MetricLook {
                            metric: m.metric,
                            p_value: m.p_value,
                            critical_p: m.critical_p,
                            z: m.p_value.map(z_of),
                            boundary_z: z_of(m.critical_p),
                        });
                    }
                    let at = Moment { ms: now, arms: (stable.len(), canary.len()), routed, guard_p: guard_p(&guard) };
                    looks.push(at.record(plan, metrics, look_judgement.verdict, look_judgement.reasons.clone()));
                    if look_judgement.verdict == Verdict::Rollback || final_look {
                        decision = Some(look_judgement.verdict);
                        decided_by = if final_look { DecidedBy::EndOfBake } else { DecidedBy::Sequential };
                        decided_at = Some(now);
                        end = if final_look { now } else { now + after_ms };
                    }
                    judgement = Some(look_judgement);
                    judged = (stable.len(), canary.len());
                } else {
                    // No canary call completed since the last look: nothing
                    // new to test, and no alpha spent; logged all the same.
                    let at = Moment { ms: now, arms: (stable.len(), canary.len()), routed, guard_p: guard_p(&guard) };
                    let reason = "no canary call completed since the last look: no test taken".to_string();
                    looks.push(at.record(plan, Vec::new(), Verdict::Hold, vec![reason]));
                }
            }
        }
        if matches!(decided_by, DecidedBy::Guard { .. }) {
            // The guard decided between looks: the report still shows every
            // metric on the calls seen when it fired, under its verdict.
            let mut report = judge(&stable[..judged.0], &canary[..judged.1], self.config, &|_| 0.0, false, plan.seed);
            report.verdict = Verdict::Rollback;
            // No look follows a decision: the last record is the guard's.
            report.reasons = looks.last().map(|l| l.reasons.clone()).unwrap_or_default();
            judgement = Some(report);
        }
        let minutes = |ms: u64| ms as f64 / MINUTE_MS as f64;
        RolloutOutcome {
            plan: plan.clone(),
            verdict: decision.unwrap_or(Verdict::Hold),
            decided_by,
            decided_at_minute: decided_at.map(minutes),
            last_canary_call_minute: last_canary.map(minutes),
            canary_exposed: routed.1,
            looks,
            judgement,
            judged,
            stable,
            canary,
            broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RolloutPlan;

    #[test]
    fn the_headline_names_the_versions_and_any_injected_fault() {
        let plan = RolloutPlan {
            stable_version: "support@1.1.0".into(),
            canary_version: "support@1.1.0".into(),
            canary_fault: Some(("never-answers-last-turn".into(), 0.1)),
            calls_per_minute: 400.0,
            bake_minutes: 0.5,
            ..RolloutPlan::default()
        };
        assert_eq!(
            plan.headline(),
            "support@1.1.0 (with the injected fault never-answers-last-turn in 10% of its calls) against stable \
             support@1.1.0: 400 calls a minute, 10% to the canary, 0.5-minute bake, seed 1"
        );
        let one = RolloutPlan { calls_per_minute: 1.004, bake_minutes: 0.004, ..RolloutPlan::default() };
        assert_eq!(one.traffic_line(), "1 call a minute, 10% to the canary, 4.0e-3-minute bake");
    }

    #[test]
    fn a_tiny_p_value_keeps_its_z() {
        // SciPy 1.17.1: norm.isf(1.49e-40) = 13.281096057826675,
        // norm.isf(1.91e-3) = 2.8926555293459373, norm.isf(1 - 1e-16) = -8.209536151601387.
        for (p, scipy) in [(1.49e-40, 13.281096057826675), (1.91e-3, 2.8926555293459373), (1.0, -8.209536151601387)] {
            assert!((super::z_of(p) - scipy).abs() < 1e-6, "{p}: {} vs {scipy}", super::z_of(p));
        }
    }
}
