//! Planning before the bake: the power a bake of a given size has, the
//! smallest regression it can detect, the bake or split a wanted margin
//! needs, and what repeated looks cost.
//!
//! The fixed-size figures use the normal approximation of
//! [`super::calls_needed`] (variance pooled under no difference, unpooled
//! under the regression), so every figure here agrees with it: a bake of
//! `calls_needed(..)` canary calls has at least the power asked for. The
//! figure for repeated looks comes from the boundaries of
//! [`super::obrien_fleming_boundaries`] and the same numerical
//! integration, under the regression instead of under no harm.

use statrs::distribution::{ContinuousCDF, Normal};

use super::sequential::{SequentialError, crossing_probabilities, obrien_fleming_boundaries};

/// Why a plan could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerError {
    #[error("baseline rate must be in [0, 1), got {0}")]
    InvalidBaseline(f64),
    #[error("effect must be positive with baseline + effect at most 1, got {effect} over {baseline}")]
    InvalidEffect { baseline: f64, effect: f64 },
    #[error("alpha must be strictly between 0 and 0.5, got {0}")]
    InvalidAlpha(f64),
    #[error("power must be strictly between alpha ({alpha}) and 1, got {power}")]
    InvalidPower { alpha: f64, power: f64 },
    #[error("{what} must be positive and finite, got {value}")]
    NotPositive { what: &'static str, value: f64 },
    #[error("canary share must be strictly between 0 and 1, got {0}")]
    InvalidShare(f64),
    #[error(transparent)]
    Sequential(#[from] SequentialError),
}

fn check_rates(baseline: f64, effect: f64) -> Result<(), PowerError> {
    if !(0.0..1.0).contains(&baseline) {
        return Err(PowerError::InvalidBaseline(baseline));
    }
    if !(effect > 0.0 && baseline + effect <= 1.0) {
        return Err(PowerError::InvalidEffect { baseline, effect });
    }
    Ok(())
}

fn check_alpha(alpha: f64) -> Result<(), PowerError> {
    if alpha > 0.0 && alpha < 0.5 { Ok(()) } else { Err(PowerError::InvalidAlpha(alpha)) }
}

fn check_power(alpha: f64, power: f64) -> Result<(), PowerError> {
    check_alpha(alpha)?;
    if power > alpha && power < 1.0 { Ok(()) } else { Err(PowerError::InvalidPower { alpha, power }) }
}

fn check_positive(what: &'static str, value: f64) -> Result<(), PowerError> {
    if value > 0.0 && value.is_finite() { Ok(()) } else { Err(PowerError::NotPositive { what, value }) }
}

/// The standard deviations (per canary call) of the difference in rates
/// under no difference (pooled) and under the regression.
fn spreads(baseline: f64, effect: f64, stable_per_canary: f64) -> (f64, f64) {
    let (p1, p2, k) = (baseline, baseline + effect, stable_per_canary);
    let pooled = (k * p1 + p2) / (k + 1.0);
    ((pooled * (1.0 - pooled) * (1.0 + 1.0 / k)).sqrt(), (p2 * (1.0 - p2) + p1 * (1.0 - p1) / k).sqrt())
}

/// The power of the one-sided harm test at level `alpha` to detect a rise
/// of `effect` over a `baseline` rate with `canary_calls` canary calls and
/// `stable_per_canary` stable calls for each (9 for a 10/90 split):
/// `Phi((effect sqrt(n) - z_alpha sd_null) / sd_harm)`, the inverse of
/// [`super::calls_needed`].
pub fn power(
    baseline: f64,
    effect: f64,
    canary_calls: f64,
    stable_per_canary: f64,
    alpha: f64,
) -> Result<f64, PowerError> {
    check_rates(baseline, effect)?;
    check_alpha(alpha)?;
    check_positive("canary calls", canary_calls)?;
    check_positive("stable calls per canary call", stable_per_canary)?;
    Ok(power_unchecked(baseline, effect, canary_calls, stable_per_canary, alpha))
}

fn power_unchecked(baseline: f64, effect: f64, n: f64, k: f64, alpha: f64) -> f64 {
    let normal = Normal::standard();
    let (null, harm) = spreads(baseline, effect, k);
    let margin = effect * n.sqrt() - normal.inverse_cdf(1.0 - alpha) * null;
    if harm == 0.0 {
        // A rate of 1 against one of 0: no spread, the outcome is certain.
        return if margin > 0.0 { 1.0 } else { 0.0 };
    }
    normal.cdf(margin / harm)
}

/// Canary calls for `power`, unrounded ([`super::calls_needed`] rounds up).
fn fixed_calls(baseline: f64, effect: f64, alpha: f64, power: f64, k: f64) -> f64 {
    let normal = Normal::standard();
    let (null, harm) = spreads(baseline, effect, k);
    ((normal.inverse_cdf(1.0 - alpha) * null + normal.inverse_cdf(power) * harm) / effect).powi(2)
}

/// The smallest rise over `baseline` that `canary_calls` canary calls
/// detect with `power` at one-sided `alpha` (the inverse of [`power`] in
/// the effect, to about 1e-10). `None` when no rise up to a rate of 1
/// reaches that power.
pub fn detectable_effect(
    baseline: f64,
    canary_calls: f64,
    stable_per_canary: f64,
    alpha: f64,
    power: f64,
) -> Result<Option<f64>, PowerError> {
    if !(0.0..1.0).contains(&baseline) {
        return Err(PowerError::InvalidBaseline(baseline));
    }
    check_power(alpha, power)?;
    check_positive("canary calls", canary_calls)?;
    check_positive("stable calls per canary call", stable_per_canary)?;
    let reaches = |effect: f64| power_unchecked(baseline, effect, canary_calls, stable_per_canary, alpha) >= power;
    Ok(first_reaching(1.0 - baseline, reaches))
}

/// The smallest `x` in (0, `high`] where `reaches` holds: the first of
/// 1,000 equal steps where it does, refined by bisection to 1e-10 of
/// `high` inside the step before. The scan is there because the normal
/// approximation is not monotone everywhere (at a handful of calls, or at
/// rates near 1, power can fall as the effect grows). `None` when no step
/// reaches.
fn first_reaching(high: f64, reaches: impl Fn(f64) -> bool) -> Option<f64> {
    const STEPS: usize = 1000;
    let step = high / STEPS as f64;
    let first = (1..=STEPS).find(|&i| reaches(i as f64 * step))?;
    let (mut low, mut high) = ((first - 1) as f64 * step, first as f64 * step);
    while high - low > 1e-10 * step * STEPS as f64 {
        let middle = 0.5 * (low + high);
        if reaches(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

/// Traffic during the bake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Calls a minute over both versions.
    pub calls_per_minute: f64,
    /// The share of calls routed to the canary (0.1 for a 10/90 split).
    pub canary_share: f64,
}

impl Traffic {
    fn check(&self) -> Result<(), PowerError> {
        check_positive("calls a minute", self.calls_per_minute)?;
        if self.canary_share > 0.0 && self.canary_share < 1.0 {
            Ok(())
        } else {
            Err(PowerError::InvalidShare(self.canary_share))
        }
    }

    /// Expected canary calls in a bake of `minutes`.
    pub fn canary_calls(&self, minutes: f64) -> f64 {
        self.calls_per_minute * self.canary_share * minutes
    }

    /// Stable calls for each canary call.
    pub fn stable_per_canary(&self) -> f64 {
        (1.0 - self.canary_share) / self.canary_share
    }
}

/// The power of a bake of `minutes` with this `traffic` (see [`power`]).
pub fn bake_power(baseline: f64, effect: f64, traffic: Traffic, minutes: f64, alpha: f64) -> Result<f64, PowerError> {
    traffic.check()?;
    check_positive("bake minutes", minutes)?;
    power(baseline, effect, traffic.canary_calls(minutes), traffic.stable_per_canary(), alpha)
}

/// The bake minutes `traffic` needs to detect `effect` over `baseline`
/// with `power` at one-sided `alpha`: [`super::calls_needed`] canary calls
/// (rounded up, as it gives them) at the canary's calls a minute.
pub fn bake_minutes_needed(
    baseline: f64,
    effect: f64,
    alpha: f64,
    power: f64,
    traffic: Traffic,
) -> Result<f64, PowerError> {
    check_rates(baseline, effect)?;
    check_power(alpha, power)?;
    traffic.check()?;
    let calls = super::calls_needed(baseline, effect, alpha, power, traffic.stable_per_canary());
    Ok(calls as f64 / (traffic.calls_per_minute * traffic.canary_share))
}

/// The smallest canary share, at most one half, with which a bake of
/// `minutes` at `calls_per_minute` detects `effect` over `baseline` with
/// `power` at one-sided `alpha` (to about 1e-10), `calls_per_minute *
/// minutes * share` canary calls against [`super::calls_needed`] at that
/// split. `None` when even a 50/50 split is too small: then the bake must
/// be longer. (Above one half the canary would be the main version; and a
/// split past one half gains little, since the total calls needed are
/// least near it.)
pub fn canary_share_needed(
    baseline: f64,
    effect: f64,
    alpha: f64,
    power: f64,
    calls_per_minute: f64,
    minutes: f64,
) -> Result<Option<f64>, PowerError> {
    check_rates(baseline, effect)?;
    check_power(alpha, power)?;
    check_positive("calls a minute", calls_per_minute)?;
    check_positive("bake minutes", minutes)?;
    let total = calls_per_minute * minutes;
    let enough = |share: f64| {
        let needed = fixed_calls(baseline, effect, alpha, power, (1.0 - share) / share).ceil();
        share * total >= needed
    };
    Ok(first_reaching(0.5, enough))
}

/// Information fractions of `looks` equally spaced looks ending at 1.
pub fn equally_spaced_fractions(looks: usize) -> Vec<f64> {
    (1..=looks).map(|k| k as f64 / looks as f64).collect()
}

/// What looking repeatedly costs, against one test at the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialCost {
    /// The expected `Z` at full information the sequential test needs for
    /// the power asked (`z_alpha + z_power` for a single test).
    pub drift: f64,
    /// Calls planned (the maximum) over the single test's calls:
    /// `(drift / (z_alpha + z_power))^2`.
    pub max_inflation: f64,
    /// Expected calls when the regression is real, over the single test's.
    pub expected_under_harm: f64,
    /// Expected calls when the canary is no worse, over the single test's.
    pub expected_under_no_harm: f64,
}

/// The cost of looking at `fractions` (strictly increasing, the last 1)
/// with O'Brien-Fleming-type boundaries at one-sided `alpha`, planned for
/// `power`. The drift is found by bisection (to 1e-10) so that the
/// crossing probabilities under it sum to `power`; expected calls count a
/// stop at look `k` as `t_k` of the plan and no stop as the last look.
pub fn sequential_cost(alpha: f64, power: f64, fractions: &[f64]) -> Result<SequentialCost, PowerError> {
    check_power(alpha, power)?;
    let boundaries = obrien_fleming_boundaries(alpha, fractions)?;
    let rejection = |drift: f64| crossing_probabilities(fractions, &boundaries, drift);
    let (mut low, mut high) = (0.0, 40.0);
    while high - low > 1e-10 {
        let middle = 0.5 * (low + high);
        if rejection(middle)?.iter().sum::<f64>() >= power {
            high = middle;
        } else {
            low = middle;
        }
    }
    let normal = Normal::standard();
    let fixed = normal.inverse_cdf(1.0 - alpha) + normal.inverse_cdf(power);
    let max_inflation = (high / fixed).powi(2);
    let expected = |crossing: Vec<f64>| {
        let last = fractions.last().copied().unwrap_or(1.0);
        let stopped: f64 = crossing.iter().sum();
        crossing.iter().zip(fractions).map(|(p, t)| p * t).sum::<f64>() + last * (1.0 - stopped)
    };
    Ok(SequentialCost {
        drift: high,
        max_inflation,
        expected_under_harm: max_inflation * expected(rejection(high)?),
        expected_under_no_harm: max_inflation * expected(rejection(0.0)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canary::calls_needed;

    #[test]
    fn power_matches_statsmodels() {
        // statsmodels 0.15.0: power_proportions_2indep(diff, prop2, nobs1,
        // ratio, alpha, alternative='larger').power (nobs1 the canary,
        // ratio = stable calls a canary call):
        // (0.02, 0.01, 281, 9, 0.05) -> 0.80034555064516
        // (0.02, 0.05, 925, 9, 0.05) -> 0.8000501107560684
        // (0.015, 0.03, 500, 4, 0.02) -> 0.36936342523216653
        for (baseline, effect, n, k, alpha, statsmodels) in [
            (0.01, 0.02, 281.0, 9.0, 0.05, 0.80034555064516),
            (0.05, 0.02, 925.0, 9.0, 0.05, 0.8000501107560684),
            (0.03, 0.015, 500.0, 4.0, 0.02, 0.36936342523216653),
        ] {
            let ours = power(baseline, effect, n, k, alpha).expect("valid input");
            assert!((ours - statsmodels).abs() < 1e-9, "{ours} vs {statsmodels}");
        }
    }

    #[test]
    fn power_is_the_inverse_of_calls_needed_and_the_design_table() {
        // CANARY.md: 281, 450, 612, 925 canary calls at 1, 2, 3, 5%.
        // statsmodels 0.15.0: samplesize_proportions_2indep_onetail(0.02, p,
        // 0.8, ratio=9, alpha=0.05, alternative='larger') -> 280.6403698175751,
        // 449.14160910911977, 611.8721762376632, 924.855576988775.
        for (baseline, table, statsmodels) in [
            (0.01, 281, 280.6403698175751),
            (0.02, 450, 449.14160910911977),
            (0.03, 612, 611.8721762376632),
            (0.05, 925, 924.855576988775),
        ] {
            assert!((fixed_calls(baseline, 0.02, 0.05, 0.8, 9.0) - statsmodels).abs() < 1e-6);
            assert_eq!(calls_needed(baseline, 0.02, 0.05, 0.8, 9.0), table);
            let at = |n: u64| power(baseline, 0.02, n as f64, 9.0, 0.05).expect("valid input");
            assert!(at(table) >= 0.8 && at(table - 1) < 0.8, "{baseline}");
        }
    }

    #[test]
    fn the_detectable_effect_matches_statsmodels() {
        // SciPy 1.17.1 brentq on statsmodels' power_proportions_2indep(d,
        // 0.05, 500, ratio=9, alpha=0.05, alternative='larger').power - 0.8
        // -> 0.02778190559477168.
        let effect = detectable_effect(0.05, 500.0, 9.0, 0.05, 0.8).expect("valid input");
        assert!((effect.expect("detectable") - 0.02778190559477168).abs() < 1e-9, "{effect:?}");
        // At 925 canary calls it is the table's 2 points.
        let table = detectable_effect(0.05, 925.0, 9.0, 0.05, 0.8).expect("valid").expect("detectable");
        assert!((table - 0.02).abs() < 1e-4, "{table}");
        // Where the approximation is not monotone (one canary call, power
        // peaking near 0.40 and falling to 0.23 as the canary's rate nears
        // 1), the smallest effect that reaches the power is the answer.
        let smallest = detectable_effect(0.01, 1.0, 9.0, 0.001, 0.3).expect("valid").expect("reachable");
        let at = |d: f64| power(0.01, d, 1.0, 9.0, 0.001).expect("valid input");
        assert!(at(smallest) >= 0.3 && at(0.99) < 0.3, "{smallest}");
        assert!((1..1000).map(|i| i as f64 * smallest / 1000.0).all(|d| at(d) < 0.3), "{smallest}");
        // Two canary calls detect nothing with 99% power at alpha 0.001.
        assert_eq!(detectable_effect(0.5, 2.0, 1.0, 0.001, 0.99), Ok(None));
    }

    #[test]
    fn bake_minutes_and_split_for_a_margin() {
        // 5% baseline, +2 points: 925 canary calls. At 500 calls a minute
        // and 10% to the canary that is 925 / 50 = 18.5 minutes.
        let traffic = Traffic { calls_per_minute: 500.0, canary_share: 0.1 };
        assert_eq!(bake_minutes_needed(0.05, 0.02, 0.05, 0.8, traffic), Ok(18.5));
        let ten_minutes = bake_power(0.05, 0.02, traffic, 10.0, 0.05).expect("valid input");
        assert!((ten_minutes - power(0.05, 0.02, 500.0, 9.0, 0.05).expect("valid")).abs() < 1e-15);
        // In 10 minutes the share must rise until share * 5,000 calls covers
        // the calls needed at that split: check the answer against
        // `calls_needed` on both sides of it.
        let share = canary_share_needed(0.05, 0.02, 0.05, 0.8, 500.0, 10.0).expect("valid").expect("reachable");
        let covers = |s: f64| s * 5000.0 >= calls_needed(0.05, 0.02, 0.05, 0.8, (1.0 - s) / s) as f64;
        assert!(covers(share) && !covers(share - 1e-6), "{share}");
        assert!((0.18..0.25).contains(&share), "{share}");
        // 100 calls a minute for 10 minutes cannot do it even at 50/50.
        assert_eq!(canary_share_needed(0.05, 0.02, 0.05, 0.8, 100.0, 10.0), Ok(None));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(power(1.2, 0.02, 100.0, 9.0, 0.05).is_err());
        assert!(power(0.05, 0.0, 100.0, 9.0, 0.05).is_err());
        assert!(power(0.99, 0.02, 100.0, 9.0, 0.05).is_err());
        assert!(power(0.05, 0.02, 0.0, 9.0, 0.05).is_err());
        assert!(power(0.05, 0.02, 100.0, 9.0, 0.5).is_err());
        assert!(detectable_effect(0.05, 100.0, 9.0, 0.05, 0.04).is_err());
        let broken = Traffic { calls_per_minute: 500.0, canary_share: 0.0 };
        assert!(bake_minutes_needed(0.05, 0.02, 0.05, 0.8, broken).is_err());
        assert!(canary_share_needed(0.05, 0.02, 0.05, 0.8, f64::NAN, 10.0).is_err());
        assert!(sequential_cost(0.05, 0.8, &[0.5, 0.5]).is_err());
        // A certain outcome: rate 0 against rate 1.
        assert_eq!(power(0.0, 1.0, 10.0, 1.0, 0.05), Ok(1.0));
    }

    #[test]
    fn repeated_looks_cost_what_scipy_computes() {
        // SciPy 1.17.1: boundaries by brentq on 1 - multivariate_normal.cdf
        // (as in sequential.rs), then the drift d by brentq on
        // 1 - multivariate_normal.cdf(b, mean=d*sqrt(t), cov=sqrt(min/max),
        // abseps=1e-9, releps=1e-9, maxpts=4e6, rng=default_rng(1)) = power;
        // inflation (d / (norm.isf(alpha) + norm.ppf(power)))**2; expected
        // calls inflation * (sum of t_k * P(stop at k) + P(no stop)).
        // K=5 equal, alpha 0.025, power 0.9 -> d 3.278706589963661,
        //   inflation 1.0230783361641165, expected 0.758667082038544.
        // t = 0.15, 0.45, 0.7, 1, alpha 0.05, power 0.8 -> d 2.5163701344242457,
        //   inflation 1.0241908672721927, expected 0.8278473985981788.
        for (alpha, power, fractions, drift, inflation, expected) in [
            (0.025, 0.9, equally_spaced_fractions(5), 3.278706589963661, 1.0230783361641165, 0.758667082038544),
            (0.05, 0.8, vec![0.15, 0.45, 0.7, 1.0], 2.5163701344242457, 1.0241908672721927, 0.8278473985981788),
        ] {
            let cost = sequential_cost(alpha, power, &fractions).expect("valid plan");
            assert!((cost.drift - drift).abs() < 1e-5, "{cost:?}");
            assert!((cost.max_inflation - inflation).abs() < 1e-5, "{cost:?}");
            assert!((cost.expected_under_harm - expected).abs() < 1e-5, "{cost:?}");
            assert!(cost.expected_under_no_harm > 0.99 * cost.max_inflation, "{cost:?}");
        }
    }

    #[test]
    fn ten_looks_cost_five_percent_more_calls_and_save_a_fifth_under_harm() {
        // The canary's plan: one look a minute for ten minutes, one-sided
        // 0.05, power 0.8. SciPy 1.17.1, as above: d 2.5478585825184465,
        // inflation 1.0499835444939638, expected under harm
        // 0.7782801511042503. (CANARY.md's simulation said about 1.06 and
        // 0.78.)
        let cost = sequential_cost(0.05, 0.8, &equally_spaced_fractions(10)).expect("valid plan");
        assert!((cost.drift - 2.5478585825184465).abs() < 1e-5, "{cost:?}");
        assert!((cost.max_inflation - 1.0499835444939638).abs() < 1e-5, "{cost:?}");
        assert!((cost.expected_under_harm - 0.7782801511042503).abs() < 1e-5, "{cost:?}");
    }
}
