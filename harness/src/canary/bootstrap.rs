//! Latency quantiles (p95, p99) of canary against stable, with a
//! call-level bootstrap interval of their ratio.
//!
//! A call has several turns and its turns are alike (the same line, the
//! same caller, the same load), so turns are not independent and an
//! interval that treats them as such is too narrow. The bootstrap here
//! resamples whole calls: each arm's calls are drawn with replacement, the
//! turns of the drawn calls pooled, and the pooled quantile taken. The
//! statistic is `ln(canary quantile) - ln(stable quantile)`; intervals are
//! percentile intervals on that scale, reported as ratios. The harm test
//! of the same statistic reassigns whole calls between the arms instead
//! (`permutation.rs`).
//!
//! Tails need many turns. Below [`turns_needed`] turns in an arm the
//! comparison is [`QuantileComparison::InsufficientData`] (a Hold, never a
//! pass): by default 60 turns expected above the quantile, which is the
//! 1,200 turns for p95 and 6,000 for p99 that pin the quantile to within
//! about 25% (see CANARY.md), and the same 60 tail turns for any other
//! quantile.

use super::permutation::quantile_harm_test;
use super::tail::Descending;
use crate::seed::Rng;

/// Resamples drawn by default.
pub const DEFAULT_RESAMPLES: usize = 2000;
/// Turns expected above the quantile that an arm needs by default.
pub const DEFAULT_TAIL_TURNS: f64 = 60.0;
/// Calls (with at least one turn) an arm needs by default: with fewer the
/// bootstrap describes those calls rather than the traffic.
pub const DEFAULT_MIN_CALLS: usize = 20;

/// Why the comparison could not be made (as opposed to too little data,
/// which is an answer).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BootstrapError {
    #[error("quantile must be strictly between 0 and 1, got {0}")]
    InvalidQuantile(f64),
    #[error("confidence level must be strictly between 0 and 1, got {0}")]
    InvalidLevel(f64),
    #[error("at least one resample is needed")]
    NoResamples,
    #[error("{arm} call {call} turn {turn}: latency {value} is not a positive finite duration")]
    InvalidLatency { arm: &'static str, call: usize, turn: usize, value: f64 },
}

/// The quantile of `values` at `q` by Hyndman & Fan's definition 7 (R's
/// default, NumPy's `'linear'`): with the values sorted `x[0..n]` and `h =
/// (n - 1) q`, `x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])`.
/// `None` when `values` is empty, `q` is outside [0, 1], or a value is NaN.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(quantile_in_place(&mut values.to_vec(), q))
}

/// [`quantile`] reordering `values` (not empty, no NaN, `q` in [0, 1]),
/// in linear time: only the two order statistics around `h` are found.
fn quantile_in_place(values: &mut [f64], q: f64) -> f64 {
    let h = (values.len() - 1) as f64 * q;
    let below = (h.floor() as usize).min(values.len() - 1);
    let fraction = h - below as f64;
    let (_, &mut low, above) = values.select_nth_unstable_by(below, f64::total_cmp);
    if fraction == 0.0 || above.is_empty() {
        return low;
    }
    let high = above.iter().copied().fold(f64::INFINITY, f64::min);
    low + fraction * (high - low)
}

/// Turns an arm needs for the quantile at `q`: `tail_turns / (1 - q)`,
/// rounded up (1,200 for p95 and 6,000 for p99 with the default 60).
pub fn turns_needed(q: f64, tail_turns: f64) -> u64 {
    if !(0.0..1.0).contains(&q) || tail_turns.is_nan() || tail_turns < 0.0 {
        return u64::MAX;
    }
    // The small slack keeps 60 / (1 - 0.95) at 1,200 despite rounding.
    (tail_turns / (1.0 - q) - 1e-9).ceil().max(0.0) as u64
}

/// What to compare and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapConfig {
    /// The quantile, 0.95 for p95.
    pub quantile: f64,
    /// Confidence of the two-sided interval and of the one-sided bound.
    pub level: f64,
    pub resamples: usize,
    /// The same seed and data give the same interval.
    pub seed: u64,
    /// Turns expected above the quantile an arm needs ([`turns_needed`]).
    pub tail_turns: f64,
    /// Calls with at least one turn an arm needs.
    pub min_calls: usize,
}

impl BootstrapConfig {
    /// The defaults: level 0.95, 2,000 resamples, 60 tail turns, 20 calls.
    pub fn new(quantile: f64, seed: u64) -> Self {
        Self {
            quantile,
            level: 0.95,
            resamples: DEFAULT_RESAMPLES,
            seed,
            tail_turns: DEFAULT_TAIL_TURNS,
            min_calls: DEFAULT_MIN_CALLS,
        }
    }
}

/// The estimate and its intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileRatio {
    /// Stable's quantile over all its turns.
    pub stable: f64,
    /// The canary's quantile over all its turns.
    pub canary: f64,
    /// `canary / stable`.
    pub ratio: f64,
    /// Percentile interval of the ratio, two-sided at `level` (the
    /// `(1 - level) / 2` and `(1 + level) / 2` quantiles of the resampled
    /// ratios, by definition 7).
    pub interval: (f64, f64),
    /// One-sided upper bound of the ratio at `level` (the `level` quantile
    /// of the resampled ratios): the harm bound a promotion checks.
    pub upper_bound: f64,
    pub resamples: usize,
    /// One-sided p-value that the canary's quantile is higher, from as many
    /// reassignments of whole calls to the arms as resamples
    /// ([`super::quantile_harm_test`]): the harm test. (A test read off
    /// the interval's width rejects too often.)
    pub harm_p: f64,
}

/// One arm's amount of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmData {
    /// Calls with at least one turn.
    pub calls: usize,
    pub turns: usize,
}

/// The answer: an estimate, or too little data to give one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuantileComparison {
    Estimated(QuantileRatio),
    /// Either arm is short of `turns_needed` turns or `calls_needed` calls.
    InsufficientData {
        stable: ArmData,
        canary: ArmData,
        turns_needed: u64,
        calls_needed: usize,
    },
}

/// Compare the `config.quantile` of turn latency, canary against stable.
/// Each arm is a list of calls, each call its turns' latencies (positive
/// and finite; milliseconds or seconds alike). Calls without turns carry
/// no latency and are left out. Resamples draw stable's calls then the
/// canary's, resample by resample, from SplitMix64 seeded with
/// `config.seed`.
pub fn compare_quantiles(
    stable: &[Vec<f64>],
    canary: &[Vec<f64>],
    config: &BootstrapConfig,
) -> Result<QuantileComparison, BootstrapError> {
    let q = config.quantile;
    if !(q > 0.0 && q < 1.0) {
        return Err(BootstrapError::InvalidQuantile(q));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(BootstrapError::InvalidLevel(config.level));
    }
    if config.resamples == 0 {
        return Err(BootstrapError::NoResamples);
    }
    let stable = calls_with_turns("stable", stable)?;
    let canary = calls_with_turns("canary", canary)?;
    let needed = turns_needed(q, config.tail_turns);
    let data = |calls: &[&Vec<f64>]| ArmData { calls: calls.len(), turns: calls.iter().map(|c| c.len()).sum() };
    let (stable_data, canary_data) = (data(&stable), data(&canary));
    let short = |arm: ArmData| (arm.turns as u64) < needed || arm.calls < config.min_calls.max(1);
    if short(stable_data) || short(canary_data) {
        return Ok(QuantileComparison::InsufficientData {
            stable: stable_data,
            canary: canary_data,
            turns_needed: needed,
            calls_needed: config.min_calls.max(1),
        });
    }

    let pooled_quantile = |calls: &[&Vec<f64>]| {
        let mut pooled: Vec<f64> = calls.iter().flat_map(|call| call.iter().copied()).collect();
        quantile_in_place(&mut pooled, q)
    };
    let (stable_q, canary_q) = (pooled_quantile(&stable), pooled_quantile(&canary));
    let mut rng = Rng::new(config.seed);
    let mut resampled_quantile = |turns: &Descending, counts: &mut [u32]| {
        counts.fill(0);
        for _ in 0..counts.len() {
            counts[rng.below(counts.len() as u64) as usize] += 1;
        }
        let count = |call: usize| u64::from(counts[call]);
        turns.quantile(q, turns.pool_size(count), count)
    };
    let (stable_turns, canary_turns) = (Descending::new(&stable), Descending::new(&canary));
    let (mut stable_counts, mut canary_counts) = (vec![0; stable.len()], vec![0; canary.len()]);
    let log_ratios: Vec<f64> = (0..config.resamples)
        .map(|_| {
            let s = resampled_quantile(&stable_turns, &mut stable_counts);
            let c = resampled_quantile(&canary_turns, &mut canary_counts);
            c.ln() - s.ln()
        })
        .collect();
    let at = |p: f64| quantile_in_place(&mut log_ratios.clone(), p).exp();
    let harm = quantile_harm_test(&stable, &canary, q, config.resamples, config.seed ^ 0x9e37_79b9_7f4a_7c15);
    Ok(QuantileComparison::Estimated(QuantileRatio {
        stable: stable_q,
        canary: canary_q,
        ratio: canary_q / stable_q,
        interval: (at((1.0 - config.level) / 2.0), at((1.0 + config.level) / 2.0)),
        upper_bound: at(config.level),
        resamples: config.resamples,
        harm_p: harm.p_value,
    }))
}

/// The calls that have turns, after checking every latency.
fn calls_with_turns<'a>(arm: &'static str, calls: &'a [Vec<f64>]) -> Result<Vec<&'a Vec<f64>>, BootstrapError> {
    for (call, turns) in calls.iter().enumerate() {
        if let Some((turn, &value)) = turns.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
            return Err(BootstrapError::InvalidLatency { arm, call, turn, value });
        }
    }
    Ok(calls.iter().filter(|turns| !turns.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, Normal};

    fn one_turn_calls(latencies: &[f64]) -> Vec<Vec<f64>> {
        latencies.iter().map(|&l| vec![l]).collect()
    }

    fn estimated(comparison: QuantileComparison) -> QuantileRatio {
        match comparison {
            QuantileComparison::Estimated(ratio) => ratio,
            other => panic!("expected an estimate, got {other:?}"),
        }
    }

    #[test]
    fn the_quantile_is_numpys_linear() {
        // NumPy 2: np.percentile([3.1, 0.4, 2.2, 9.7, 5.5, 1.0, 7.3], q) for
        // q = 0, 10, 50, 95, 99, 100 -> 0.4, 0.76, 3.1, 8.979999999999997,
        // 9.555999999999997, 9.7; np.percentile([42.0], 95) -> 42.0;
        // np.percentile([1.0, 2.0], 95) -> 1.95.
        let values = [3.1, 0.4, 2.2, 9.7, 5.5, 1.0, 7.3];
        for (q, numpy) in [(0.0, 0.4), (0.1, 0.76), (0.5, 3.1), (0.95, 8.979999999999997), (0.99, 9.555999999999997)] {
            let ours = quantile(&values, q).expect("valid input");
            assert!((ours - numpy).abs() < 1e-12, "q {q}: {ours} vs {numpy}");
        }
        assert_eq!(quantile(&values, 1.0), Some(9.7));
        assert_eq!(quantile(&[42.0], 0.95), Some(42.0));
        assert!((quantile(&[1.0, 2.0], 0.95).expect("valid input") - 1.95).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&values, 1.5), None);
        assert_eq!(quantile(&[1.0, f64::NAN], 0.5), None);
    }

    #[test]
    fn turns_needed_are_the_documented_defaults() {
        assert_eq!(turns_needed(0.95, DEFAULT_TAIL_TURNS), 1200);
        assert_eq!(turns_needed(0.99, DEFAULT_TAIL_TURNS), 6000);
        assert_eq!(turns_needed(1.0, DEFAULT_TAIL_TURNS), u64::MAX);
    }

    /// Five one-turn calls an arm, the p90: few enough that the bootstrap
    /// distribution can be enumerated exactly (5^5 resamples an arm).
    const EXACT_STABLE: [f64; 5] = [120.0, 180.0, 250.0, 330.0, 900.0];
    const EXACT_CANARY: [f64; 5] = [140.0, 200.0, 310.0, 420.0, 1300.0];

    fn exact_config(level: f64, resamples: usize) -> BootstrapConfig {
        BootstrapConfig { level, resamples, tail_turns: 0.0, min_calls: 1, ..BootstrapConfig::new(0.9, 7) }
    }

    #[test]
    fn resampled_ratios_follow_the_exact_bootstrap_distribution() {
        // Python 3 with NumPy, exact: for each arm, np.percentile(resample,
        // 90) over all 5^5 ordered resamples (itertools.product), then the
        // log ratio over all pairs. P(log ratio <= v) for v = -0.8, 0, 0.5,
        // 1.2: 0.069196, 0.241948, 0.658032, 0.872152.
        let config = exact_config(0.9, 20_000);
        let (stable, canary) = (one_turn_calls(&EXACT_STABLE), one_turn_calls(&EXACT_CANARY));
        let mut rng = Rng::new(config.seed);
        let mut draw = |values: &[f64]| {
            let mut resample: Vec<f64> = (0..5).map(|_| values[rng.below(5) as usize]).collect();
            quantile_in_place(&mut resample, 0.9)
        };
        let ratios: Vec<f64> = (0..config.resamples)
            .map(|_| {
                let s = draw(&EXACT_STABLE);
                draw(&EXACT_CANARY).ln() - s.ln()
            })
            .collect();
        for (v, exact) in [(-0.8, 0.069196), (0.0, 0.241948), (0.5, 0.658032), (1.2, 0.872152)] {
            let seen = ratios.iter().filter(|&&r| r <= v).count() as f64 / ratios.len() as f64;
            let sd = (exact * (1.0 - exact) / ratios.len() as f64).sqrt();
            assert!((seen - exact).abs() < 4.5 * sd, "P(<= {v}): {seen} vs {exact}");
        }
        // The public function draws the same way. In the exact distribution
        // the 5%, 90% and 95% points fall inside wide steps: the 5% point is
        // the atom -0.8728056199344163 (P 0.0412 below it, 0.0685 up to it), the 95%
        // point 1.4730260569442235 (0.9407, 0.9680); Monte Carlo error (sd 0.0015)
        // cannot move them.
        let result = estimated(compare_quantiles(&stable, &canary, &config).expect("valid input"));
        assert!((result.interval.0.ln() - -0.8728056199344163).abs() < 1e-9, "{result:?}");
        assert!((result.interval.1.ln() - 1.4730260569442235).abs() < 1e-9, "{result:?}");
        let one_sided = estimated(compare_quantiles(&stable, &canary, &exact_config(0.95, 20_000)).expect("valid"));
        assert!((one_sided.upper_bound.ln() - 1.4730260569442235).abs() < 1e-9, "{one_sided:?}");
    }

    /// `n` latencies at the evenly spaced quantiles of a lognormal.
    fn lognormal_calls(median: f64, sigma: f64, n: usize) -> Vec<Vec<f64>> {
        let normal = Normal::standard();
        (0..n).map(|i| vec![median * (sigma * normal.inverse_cdf((i as f64 + 0.5) / n as f64)).exp()]).collect()
    }

    #[test]
    fn matches_scipy_bootstrap_within_monte_carlo_error() {
        // SciPy 1.17.1: lat = exp(log(m) + s * norm.ppf((arange(n) + 0.5) / n));
        // stable m=300, s=0.5, n=400; canary m=330, s=0.6, n=300;
        // stat = log(percentile(c, 95)) - log(percentile(s, 95));
        // exp(stat) -> 1.2925222798078553. bootstrap((c, s), stat,
        // method='percentile', n_resamples=200000, rng=default_rng(0)):
        // confidence_level=0.95 -> (1.0827139930790604, 1.542367745406727),
        // confidence_level=0.90 -> high 1.4991147013476236 (our one-sided
        // 95% bound). At 2,000 resamples the endpoints' sd on the log scale
        // is 0.0057 and 0.0050 (40 seeds); the tolerance is 4.5 sd. (Seed 3
        // gives (1.0941, 1.5452) and 1.5088: 1.8, 0.4 and 1.3 sd off.)
        let (stable, canary) = (lognormal_calls(300.0, 0.5, 400), lognormal_calls(330.0, 0.6, 300));
        let config = BootstrapConfig { tail_turns: 15.0, ..BootstrapConfig::new(0.95, 3) };
        let result = estimated(compare_quantiles(&stable, &canary, &config).expect("valid input"));
        assert!((result.ratio - 1.2925222798078553).abs() < 1e-9, "{result:?}");
        assert!((result.interval.0 / 1.0827139930790604).ln().abs() < 4.5 * 0.0057, "{result:?}");
        assert!((result.interval.1 / 1.542367745406727).ln().abs() < 4.5 * 0.0050, "{result:?}");
        assert!((result.upper_bound / 1.4991147013476236).ln().abs() < 4.5 * 0.0050, "{result:?}");
    }

    #[test]
    fn turns_of_one_call_are_not_counted_as_independent() {
        // 60 calls an arm of 20 turns each, the turns of a call sharing a
        // call-level slowness. Resampled by call, the interval is much wider
        // than if the same turns were 1,200 independent one-turn calls
        // (measured: 0.80 against 0.19 on the log scale).
        let mut rng = Rng::new(21);
        let mut arm = || -> Vec<Vec<f64>> {
            (0..60)
                .map(|_| {
                    let call = 0.5 * rng.gaussian();
                    (0..20).map(|_| 300.0 * (call + 0.2 * rng.gaussian()).exp()).collect()
                })
                .collect()
        };
        let (stable, canary) = (arm(), arm());
        let flatten = |calls: &[Vec<f64>]| one_turn_calls(&calls.concat());
        let config = BootstrapConfig::new(0.95, 5);
        let by_call = estimated(compare_quantiles(&stable, &canary, &config).expect("valid input"));
        let by_turn = estimated(compare_quantiles(&flatten(&stable), &flatten(&canary), &config).expect("valid input"));
        assert_eq!(by_call.ratio, by_turn.ratio);
        let width = |r: &QuantileRatio| (r.interval.1 / r.interval.0).ln();
        assert!(width(&by_call) > 2.0 * width(&by_turn), "{by_call:?} {by_turn:?}");
    }

    #[test]
    fn too_few_turns_is_insufficient_data_not_a_pass() {
        let stable = lognormal_calls(300.0, 0.5, 1199);
        let canary = lognormal_calls(300.0, 0.5, 1500);
        let config = BootstrapConfig::new(0.95, 1);
        assert_eq!(
            compare_quantiles(&stable, &canary, &config),
            Ok(QuantileComparison::InsufficientData {
                stable: ArmData { calls: 1199, turns: 1199 },
                canary: ArmData { calls: 1500, turns: 1500 },
                turns_needed: 1200,
                calls_needed: DEFAULT_MIN_CALLS,
            })
        );
        // Enough turns for p95 but not for p99.
        let stable = lognormal_calls(300.0, 0.5, 1200);
        assert!(matches!(compare_quantiles(&stable, &canary, &config), Ok(QuantileComparison::Estimated(_))));
        assert!(matches!(
            compare_quantiles(&stable, &canary, &BootstrapConfig::new(0.99, 1)),
            Ok(QuantileComparison::InsufficientData { turns_needed: 6000, .. })
        ));
    }

    #[test]
    fn same_seed_same_interval_and_bad_input_is_an_error() {
        let (stable, canary) = (lognormal_calls(300.0, 0.5, 200), lognormal_calls(320.0, 0.5, 200));
        let config = BootstrapConfig { tail_turns: 5.0, resamples: 300, ..BootstrapConfig::new(0.9, 9) };
        assert_eq!(compare_quantiles(&stable, &canary, &config), compare_quantiles(&stable, &canary, &config));
        let bad = |config: BootstrapConfig| compare_quantiles(&stable, &canary, &config).is_err();
        assert!(bad(BootstrapConfig { quantile: 1.0, ..config }));
        assert!(bad(BootstrapConfig { level: f64::NAN, ..config }));
        assert!(bad(BootstrapConfig { resamples: 0, ..config }));
        let mut broken = canary.clone();
        broken[3].push(0.0);
        assert_eq!(
            compare_quantiles(&stable, &broken, &config),
            Err(BootstrapError::InvalidLatency { arm: "canary", call: 3, turn: 1, value: 0.0 })
        );
        // Nothing at all is too little data, not an error.
        assert!(matches!(compare_quantiles(&[], &[], &config), Ok(QuantileComparison::InsufficientData { .. })));
    }
}
