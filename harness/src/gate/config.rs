//! What the promotion gate guards: each metric with its margin and its
//! share of the rollback alpha. Defaults follow `CANARY.md`; a TOML file
//! (`--config`) overrides any of them.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A guarded metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of calls where the caller noticed an error.
    ErrorRate,
    /// Share of calls whose task was not completed (harm: it rises).
    TaskFailure,
    /// p95 of heard turn latency, over all turns, calls resampled whole.
    P95TurnLatency,
    /// p99 of barge-in stop latency.
    P99StopLatency,
    /// Share of calls with a barge-in whose history was left wrong.
    TruncationFailure,
}

impl Metric {
    pub const ALL: [Metric; 5] =
        [Self::ErrorRate, Self::TaskFailure, Self::P95TurnLatency, Self::P99StopLatency, Self::TruncationFailure];

    pub fn name(self) -> &'static str {
        match self {
            Self::ErrorRate => "error rate",
            Self::TaskFailure => "task failures",
            Self::P95TurnLatency => "p95 turn latency",
            Self::P99StopLatency => "p99 stop latency",
            Self::TruncationFailure => "truncation failures",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::ErrorRate => "error_rate",
            Self::TaskFailure => "task_failure",
            Self::P95TurnLatency => "p95_turn_latency",
            Self::P99StopLatency => "p99_stop_latency",
            Self::TruncationFailure => "truncation_failure",
        }
    }

    /// A rate per call (compared as a difference in points) rather than a
    /// latency quantile (compared as a ratio).
    pub fn is_rate(self) -> bool {
        !matches!(self, Self::P95TurnLatency | Self::P99StopLatency)
    }

    /// The quantile of a latency metric.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Self::P95TurnLatency => Some(0.95),
            Self::P99StopLatency => Some(0.99),
            _ => None,
        }
    }
}

/// One guarded metric's margin and weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// The harm the gate tolerates: points (0.02 = 2 points) for rates, a
    /// relative rise (0.10 = +10%) for latencies.
    pub margin: f64,
    /// Its share of the rollback alpha (weights are normalised).
    pub weight: f64,
    /// Unguarded metrics are reported, never decide.
    #[serde(default = "yes")]
    pub guarded: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// One-sided alpha of the rollback tests, shared by the guarded metrics.
    pub alpha: f64,
    /// One-sided level of each metric's bound of harm for promotion.
    pub promote_alpha: f64,
    /// Power the plan and "calls needed" aim for.
    pub power: f64,
    /// Bootstrap resamples for the latency quantiles.
    pub resamples: usize,
    /// Samples an arm needs above a latency quantile before it is judged
    /// at all (turns for p95, barge-ins for p99): 60 asks 1,200 turns for
    /// p95 and 6,000 barge-ins for p99, which pin the quantile to about
    /// 25% (`CANARY.md`). Below, the metric reads "insufficient data": a
    /// Hold, never a pass.
    pub tail_samples: f64,
    pub error_rate: Guard,
    pub task_failure: Guard,
    pub p95_turn_latency: Guard,
    pub p99_stop_latency: Guard,
    pub truncation_failure: Guard,
}

impl Default for GateConfig {
    fn default() -> Self {
        let shared = 0.02 / 3.0;
        Self {
            alpha: 0.05,
            promote_alpha: 0.05,
            power: 0.80,
            resamples: 2000,
            tail_samples: crate::canary::DEFAULT_TAIL_TURNS,
            error_rate: Guard { margin: 0.02, weight: 0.02, guarded: true },
            task_failure: Guard { margin: 0.02, weight: 0.01, guarded: true },
            p95_turn_latency: Guard { margin: 0.10, weight: shared, guarded: true },
            p99_stop_latency: Guard { margin: 0.10, weight: shared, guarded: true },
            truncation_failure: Guard { margin: 0.005, weight: shared, guarded: true },
        }
    }
}

/// The smallest alpha a test of the gate takes: below it the boundaries
/// and sample sizes leave floating point.
pub const MIN_ALPHA: f64 = 1e-6;
/// The largest: a one-sided test at more than 0.25 rolls back (or
/// promotes on a bound of harm at 1 - alpha) on next to no evidence.
pub const MAX_ALPHA: f64 = 0.25;

/// A one-sided alpha from [`MIN_ALPHA`] to [`MAX_ALPHA`].
pub fn check_alpha(alpha: f64) -> Result<(), String> {
    if (MIN_ALPHA..=MAX_ALPHA).contains(&alpha) {
        Ok(())
    } else {
        Err(format!("expected a one-sided alpha from {MIN_ALPHA} to {MAX_ALPHA}"))
    }
}

/// A power wanted, from 0.5 to 0.999 (beyond, the calls needed grow
/// without bound and mean nothing).
pub fn check_power(power: f64) -> Result<(), String> {
    if (0.5..=0.999).contains(&power) { Ok(()) } else { Err("expected a power from 0.5 to 0.999".into()) }
}

impl GateConfig {
    pub fn guard(&self, metric: Metric) -> Guard {
        match metric {
            Metric::ErrorRate => self.error_rate,
            Metric::TaskFailure => self.task_failure,
            Metric::P95TurnLatency => self.p95_turn_latency,
            Metric::P99StopLatency => self.p99_stop_latency,
            Metric::TruncationFailure => self.truncation_failure,
        }
    }

    /// The guarded metrics, in report order.
    pub fn guarded(&self) -> Vec<Metric> {
        Metric::ALL.into_iter().filter(|m| self.guard(*m).guarded).collect()
    }

    /// Each guarded metric's share of `alpha`, normalised.
    pub fn alpha_of(&self, metric: Metric) -> f64 {
        let total: f64 = self.guarded().iter().map(|m| self.guard(*m).weight).sum();
        if !self.guard(metric).guarded || total <= 0.0 {
            return 0.0;
        }
        self.alpha * self.guard(metric).weight / total
    }

    /// Only `metric` guarded, with the whole alpha (the plan's case).
    pub fn guarding_only(mut self, metric: Metric) -> Self {
        for other in Metric::ALL {
            self.guard_mut(other).guarded = other == metric;
        }
        self
    }

    fn guard_mut(&mut self, metric: Metric) -> &mut Guard {
        match metric {
            Metric::ErrorRate => &mut self.error_rate,
            Metric::TaskFailure => &mut self.task_failure,
            Metric::P95TurnLatency => &mut self.p95_turn_latency,
            Metric::P99StopLatency => &mut self.p99_stop_latency,
            Metric::TruncationFailure => &mut self.truncation_failure,
        }
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `text` read over the defaults: a metric's table that sets only its
    /// margin keeps that metric's default weight, and so on.
    fn with_defaults(text: &str) -> Result<Self, toml::de::Error> {
        use serde::Deserialize;
        let mut table: toml::Table = toml::from_str(text)?;
        let defaults = Self::default();
        for metric in Metric::ALL {
            let key = metric.key();
            let given = match table.get_mut(key) {
                None => continue,
                Some(toml::Value::Table(given)) => given,
                Some(other) => {
                    return Err(<toml::de::Error as serde::de::Error>::custom(format!(
                        "{key} = {other}: expected a table, [{key}] with margin, weight and guarded"
                    )));
                }
            };
            let guard = defaults.guard(metric);
            given.entry("margin").or_insert(toml::Value::Float(guard.margin));
            given.entry("weight").or_insert(toml::Value::Float(guard.weight));
            given.entry("guarded").or_insert(toml::Value::Boolean(guard.guarded));
        }
        Self::deserialize(table)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let config = Self::with_defaults(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let field = |name: &str, v: f64, check: fn(f64) -> Result<(), String>| {
            check(v).map_err(|e| format!("{name} = {v}: {e}"))
        };
        field("alpha", config.alpha, check_alpha)?;
        field("promote_alpha", config.promote_alpha, check_alpha)?;
        field("power", config.power, check_power)?;
        if !(config.tail_samples >= 1.0 && config.tail_samples.is_finite()) {
            return Err(format!("tail_samples = {}: expected 1 or more", config.tail_samples));
        }
        if config.resamples < 100 {
            return Err(format!("resamples = {}: expected at least 100", config.resamples));
        }
        for metric in Metric::ALL {
            let guard = config.guard(metric);
            if !(guard.margin > 0.0 && guard.margin.is_finite()) {
                return Err(format!("{}.margin = {}: expected a positive margin", metric.key(), guard.margin));
            }
            if metric.is_rate() && guard.margin >= 1.0 {
                return Err(format!(
                    "{}.margin = {}: a rate's margin is in points as a fraction, below 1 (0.02 = 2 points)",
                    metric.key(),
                    guard.margin
                ));
            }
            if !(guard.weight >= 0.0 && guard.weight.is_finite()) {
                return Err(format!("{}.weight = {}: expected zero or more", metric.key(), guard.weight));
            }
            if guard.guarded && guard.weight == 0.0 {
                return Err(format!(
                    "{}.weight = 0 on a guarded metric: it could never roll back; give it a weight or set guarded = false",
                    metric.key()
                ));
            }
        }
        let total: f64 = config.guarded().iter().map(|m| config.guard(*m).weight).sum();
        if total <= 0.0 {
            return Err("no guarded metric has a weight: nothing could ever roll back".into());
        }
        if !total.is_finite() {
            return Err(format!("the guarded metrics' weights add up to {total}: expected a finite total"));
        }
        if config.resamples > 100_000 {
            return Err(format!("resamples = {}: expected at most 100000", config.resamples));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_split_follows_the_design() {
        let config = GateConfig::default();
        assert!((config.alpha_of(Metric::ErrorRate) - 0.02).abs() < 1e-12);
        assert!((config.alpha_of(Metric::TaskFailure) - 0.01).abs() < 1e-12);
        let total: f64 = Metric::ALL.iter().map(|m| config.alpha_of(*m)).sum();
        assert!((total - 0.05).abs() < 1e-12, "the shares add up to alpha");
        let only = GateConfig::default().guarding_only(Metric::ErrorRate);
        assert_eq!(only.guarded(), [Metric::ErrorRate]);
        assert!((only.alpha_of(Metric::ErrorRate) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn the_shipped_bake_config_leaves_only_the_p99_unguarded() {
        let text = include_str!("../../../scenarios/traffic/gate-10-minute-bake.toml");
        let config = GateConfig::parse(text).expect("valid");
        assert!(!config.p99_stop_latency.guarded);
        assert_eq!(config.guarded().len(), 4);
        assert!((config.alpha_of(Metric::ErrorRate) - 0.05 * 0.02 / (0.05 - 0.02 / 3.0)).abs() < 1e-6);
    }

    #[test]
    fn a_file_overrides_fields_and_bad_ones_are_named() {
        let config = GateConfig::parse("[error_rate]\nmargin = 0.01\nweight = 0.03\n").expect("valid");
        assert_eq!(config.error_rate.margin, 0.01);
        // A table that sets one field keeps the metric's other defaults.
        let margin_only = GateConfig::parse("[task_failure]\nmargin = 0.03\n").expect("valid");
        let default = GateConfig::default().task_failure;
        assert_eq!(margin_only.task_failure, Guard { margin: 0.03, ..default });
        assert_eq!(config.task_failure, GateConfig::default().task_failure, "the rest stay default");
        for (text, expected) in [
            ("alpha = 1.5", "alpha = 1.5"),
            ("promote_alpha = 0.5", "promote_alpha = 0.5: expected a one-sided alpha from 0.000001 to 0.25"),
            ("alpha = 0.9", "alpha = 0.9: expected a one-sided alpha"),
            ("alpha = 1e-300", "alpha = 0.000"),
            ("power = 0.99999999", "power = 0.99999999: expected a power from 0.5 to 0.999"),
            ("[error_rate]\nmargin = -1\nweight = 1", "error_rate.margin = -1"),
            ("[error_rate]\nmargin = 5\nweight = 1", "error_rate.margin = 5: a rate's margin"),
            ("[task_failure]\nmargin = 0.02\nweight = 0", "task_failure.weight = 0 on a guarded metric"),
            (
                "[error_rate]\nmargin = 0.02\nweight = 1e308\n[task_failure]\nmargin = 0.02\nweight = 1e308",
                "add up to inf",
            ),
            ("resamples = 100000000", "resamples = 100000000: expected at most 100000"),
            ("colour = 1", "unknown field `colour`"),
            ("task_failure = 0.03", "task_failure = 0.03: expected a table, [task_failure] with margin"),
            (
                "[p95_turn_latency]\nmargin = 0.1\nweight = 0.1\nguarded = false\n[error_rate]\nmargin = 0.02\nweight = 0\nguarded = false\n[task_failure]\nmargin = 0.02\nweight = 0\nguarded = false\n[p99_stop_latency]\nmargin = 0.1\nweight = 0\nguarded = false\n[truncation_failure]\nmargin = 0.1\nweight = 0\nguarded = false",
                "no guarded metric",
            ),
        ] {
            let error = GateConfig::parse(text).expect_err(text);
            assert!(error.contains(expected), "{error}");
        }
    }
}
