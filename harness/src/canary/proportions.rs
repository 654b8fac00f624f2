//! Rates per call (error, task completion, truncation failure): the Wilson
//! score interval of one rate, Newcombe's hybrid score interval of the
//! difference canary minus stable, the one-sided pooled two-proportion test
//! of harm, and how many canary calls that test needs.

use statrs::distribution::{ContinuousCDF, Normal};

/// `events` calls out of `calls` had the outcome (an error, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Count {
    pub events: u64,
    pub calls: u64,
}

impl Count {
    pub fn rate(self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.events as f64 / self.calls as f64 }
    }
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// The z that leaves `tail` above it.
fn z_upper(tail: f64) -> f64 {
    standard_normal().inverse_cdf(1.0 - tail)
}

/// Wilson's score interval of a rate, two-sided at `1 - 2 * tail` (so each
/// bound is a one-sided `1 - tail` bound).
pub fn wilson(count: Count, tail: f64) -> (f64, f64) {
    if count.calls == 0 {
        return (0.0, 1.0);
    }
    let (p, n, z) = (count.rate(), count.calls as f64, z_upper(tail));
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe's hybrid score interval (his method 10) of `canary - stable`,
/// each bound one-sided at `1 - tail`: good at the small rates and unequal
/// arms of a canary, where the Wald interval is not.
pub fn newcombe_difference(stable: Count, canary: Count, tail: f64) -> (f64, f64) {
    let (p1, p2) = (stable.rate(), canary.rate());
    let ((l1, u1), (l2, u2)) = (wilson(stable, tail), wilson(canary, tail));
    let d = p2 - p1;
    (d - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt(), d + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt())
}

/// The one-sided p-value that the canary's rate is higher than stable's
/// (the pooled two-proportion z-test). 1 when there is nothing to compare.
pub fn harm_p_value(stable: Count, canary: Count) -> f64 {
    let (n1, n2) = (stable.calls as f64, canary.calls as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return 1.0;
    }
    let pooled = (stable.events + canary.events) as f64 / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return if canary.rate() > stable.rate() { 0.0 } else { 1.0 };
    }
    1.0 - standard_normal().cdf((canary.rate() - stable.rate()) / se)
}

/// The one-sided mid-p of Fisher's exact test that the canary's rate is
/// higher: given all the events of both arms, the chance that at least as
/// many fell on the canary (counting a tie as half) if the rates were
/// equal. Exact under no harm whatever the counts, where the z test is not:
/// with a hundred canary calls and a boundary far out in the tail (an early
/// look of a sequential bake), the canary's skewed count makes the z test
/// reject many times more often than its nominal level. The mid-p is
/// near-exact in size without Fisher's conservatism. 1 when there is
/// nothing to compare.
pub fn harm_p_value_exact(stable: Count, canary: Count) -> f64 {
    use statrs::function::factorial::ln_binomial;
    if stable.calls == 0 || canary.calls == 0 || stable.events > stable.calls || canary.events > canary.calls {
        return 1.0;
    }
    // X, the canary's share of the events, is hypergeometric: m events
    // drawn from N calls of which K are the canary's. (statrs'
    // `Hypergeometric` overflows at these sizes; logs do not.)
    let (n, k, m) = (stable.calls + canary.calls, canary.calls, stable.events + canary.events);
    let x = canary.events;
    let at_x = (ln_binomial(k, x) + ln_binomial(n - k, m - x) - ln_binomial(n, m)).exp();
    // Each next term from the last: P(x+1) / P(x) = (K-x)(m-x) / ((x+1)(N-K-m+x+1)).
    let (mut term, mut upper) = (at_x, 0.0);
    for i in x..k.min(m) {
        let (i, nk) = (i as f64, (n - k) as f64);
        term *= (k as f64 - i) * (m as f64 - i) / ((i + 1.0) * (nk - m as f64 + i + 1.0));
        upper += term;
    }
    (upper + 0.5 * at_x).clamp(0.0, 1.0)
}

/// Canary calls the one-sided harm test needs to detect a rise of
/// `effect` over a `baseline` rate with `power`, at level `alpha`, when
/// stable gets `stable_per_canary` calls for each canary call (normal
/// approximation, variance pooled under no difference).
pub fn calls_needed(baseline: f64, effect: f64, alpha: f64, power: f64, stable_per_canary: f64) -> u64 {
    let (p1, p2, k) = (baseline, baseline + effect, stable_per_canary);
    let pooled = (k * p1 + p2) / (k + 1.0);
    let null = z_upper(alpha) * (pooled * (1.0 - pooled) * (1.0 + 1.0 / k)).sqrt();
    let alternative = z_upper(1.0 - power) * (p2 * (1.0 - p2) + p1 * (1.0 - p1) / k).sqrt();
    ((null + alternative) / effect).powi(2).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_harm_test_matches_scipy() {
        // SciPy 1.17.1, with N = stable calls + canary calls, K = canary
        // calls, m = all events, x = canary events:
        // hypergeom.sf(x, N, K, m) + 0.5 * hypergeom.pmf(x, N, K, m)
        let cases = [
            ((450, 9000), (65, 1000), 0.023801720671409374),
            ((45, 900), (5, 100), 0.47822445544176695),
            ((5, 900), (12, 100), 1.1232658733539415e-09),
            ((470, 9450), (52, 1050), 0.504780451118115),
        ];
        for ((se, sn), (ce, cn), expected) in cases {
            let p = harm_p_value_exact(Count { events: se, calls: sn }, Count { events: ce, calls: cn });
            assert!((p - expected).abs() <= 1e-9 * expected.max(1e-3), "{se}/{sn} vs {ce}/{cn}: {p} != {expected}");
        }
        let none = Count { events: 0, calls: 0 };
        assert_eq!(harm_p_value_exact(none, Count { events: 1, calls: 5 }), 1.0);
        assert_eq!(harm_p_value_exact(Count { events: 0, calls: 100 }, Count { events: 0, calls: 10 }), 0.5);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    const STABLE: Count = Count { events: 45, calls: 900 };
    const CANARY: Count = Count { events: 12, calls: 100 };

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels 0.15.0: proportion_confint(12, 100, alpha=0.10, method='wilson')
        //   -> (0.0763260081195623, 0.18369445967565018)
        let (lo, hi) = wilson(CANARY, 0.05);
        assert!(close(lo, 0.0763260081195623) && close(hi, 0.18369445967565018), "{lo} {hi}");
    }

    #[test]
    fn newcombe_difference_matches_statsmodels() {
        // statsmodels 0.15.0: confint_proportions_2indep(12, 100, 45, 900,
        //   method='newcomb', compare='diff', alpha=0.10)
        //   -> (0.024329330074926735, 0.13458015966866843)
        let (lo, hi) = newcombe_difference(STABLE, CANARY, 0.05);
        assert!(close(lo, 0.024329330074926735) && close(hi, 0.13458015966866843), "{lo} {hi}");
    }

    #[test]
    fn the_harm_test_matches_statsmodels() {
        // statsmodels 0.15.0: proportions_ztest([12, 45], [100, 900], alternative='larger')
        //   -> (2.8643495807875388, 0.002089332828131044)
        assert!(close(harm_p_value(STABLE, CANARY), 0.002089332828131044));
        // The same counts the other way round are no evidence of harm.
        assert!(harm_p_value(CANARY, STABLE) > 0.99);
        assert_eq!(harm_p_value(STABLE, Count { events: 0, calls: 0 }), 1.0);
    }

    #[test]
    fn calls_needed_matches_the_design_table() {
        // CANARY.md, one-sided alpha 0.05, power 0.80, +2 points, 10/90
        // split: 281, 450, 612, 925 canary calls at 1, 2, 3, 5% baselines.
        // (SciPy 1.17: norm.isf(0.05), norm.isf(0.2) in the pooled formula
        // give 280.6, 449.1, 611.9, 924.9.)
        let needed: Vec<u64> =
            [0.01, 0.02, 0.03, 0.05].iter().map(|&p| calls_needed(p, 0.02, 0.05, 0.8, 9.0)).collect();
        assert_eq!(needed, [281, 450, 612, 925]);
    }
}
