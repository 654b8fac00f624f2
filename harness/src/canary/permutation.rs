//! The harm test of a latency quantile: a permutation test over whole
//! calls.
//!
//! The bootstrap interval of a quantile ratio is fine for a bound, but a
//! Wald test built on its width is not: the bootstrap's variance of a
//! sample quantile converges slowly (its relative error shrinks like
//! `n^(-1/4)`, Hall & Martin 1988), and a noisy standard error makes the
//! test reject too often. On our traffic, p95 of turn latency tested that
//! way at one-sided 0.05 rolled back 6.9% of A/A comparisons.
//!
//! When the canary is no worse than stable in the strong sense the gate
//! checks first (the same behaviour), which calls went to which arm is
//! arbitrary: every reassignment of calls to arms, keeping the arms'
//! sizes, was as likely. Reassigning whole calls (their turns stay
//! together, so within-call correlation is kept) and recomputing
//! `ln(canary quantile) - ln(stable quantile)` gives that statistic's
//! distribution under no difference, given the data: the test's size
//! holds however few the turns. The p-value is read
//! off the reassignments drawn, `(1 + as large) / (1 + drawn)`, which is a
//! valid test at any level it can reach (the statistic's distribution is
//! skewed, so a normal fitted to it is not); only beyond every draw, where
//! the far-out boundaries of a sequential bake's early looks lie, is the
//! tail read from a normal fitted to the draws.

use statrs::distribution::{ContinuousCDF, Normal};

use super::tail::Descending;
use crate::seed::Rng;

/// The permutation test's reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTest {
    /// `ln(canary quantile) - ln(stable quantile)` as observed.
    pub observed: f64,
    /// Mean and standard deviation of the statistic over the reassignments.
    pub null_mean: f64,
    pub null_sd: f64,
    /// One-sided p-value that the canary's quantile is higher: the share
    /// of reassignments at least as large (counting the observed one); below
    /// one over the reassignments drawn, the normal tail.
    pub p_value: f64,
}

/// Test whether the canary's `q` quantile of pooled turns is higher than
/// stable's, by `reassignments` random reassignments of whole calls to the
/// arms (each arm keeps its number of calls). Every call has at least one
/// positive latency; both arms have calls. The same seed gives the same
/// answer.
pub fn quantile_harm_test(
    stable: &[&Vec<f64>],
    canary: &[&Vec<f64>],
    q: f64,
    reassignments: usize,
    seed: u64,
) -> PermutationTest {
    let calls: Vec<&Vec<f64>> = canary.iter().chain(stable).copied().collect();
    let turns = Descending::new(&calls);
    let pool = turns.pool_size(|_| 1);
    let statistic = |in_canary: &[bool]| {
        let canary = |call: usize| u64::from(in_canary[call]);
        let canary_pool = turns.pool_size(canary);
        turns.quantile(q, canary_pool, canary).ln()
            - turns.quantile(q, pool - canary_pool, |call| 1 - canary(call)).ln()
    };
    let mut in_canary: Vec<bool> = (0..calls.len()).map(|call| call < canary.len()).collect();
    let observed = statistic(&in_canary);
    let mut order: Vec<usize> = (0..calls.len()).collect();
    let mut rng = Rng::new(seed);
    let statistics: Vec<f64> = (0..reassignments)
        .map(|_| {
            // A partial Fisher-Yates shuffle: the first `canary.len()` are a
            // uniform random subset.
            for i in 0..canary.len() {
                let j = i + rng.below((order.len() - i) as u64) as usize;
                order.swap(i, j);
            }
            in_canary.fill(false);
            order[..canary.len()].iter().for_each(|&call| in_canary[call] = true);
            statistic(&in_canary)
        })
        .collect();
    let n = statistics.len().max(1) as f64;
    let null_mean = statistics.iter().sum::<f64>() / n;
    let null_sd = (statistics.iter().map(|s| (s - null_mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let as_large = statistics.iter().filter(|&&s| s >= observed).count();
    let p_value = if as_large > 0 {
        // The Monte Carlo permutation p-value: a valid test at any level
        // it can reach, whatever the statistic's shape.
        (1.0 + as_large as f64) / (1.0 + statistics.len() as f64)
    } else if null_sd > 0.0 {
        // Beyond every reassignment drawn: the normal fitted to them, so
        // the far-out boundaries of early looks can be reached; never
        // above what the draws say.
        Normal::standard().sf((observed - null_mean) / null_sd).min(1.0 / (1.0 + statistics.len() as f64))
    } else {
        0.0
    };
    PermutationTest { observed, null_mean, null_sd, p_value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reassignments_follow_the_exact_permutation_distribution() {
        // Python 3 with NumPy, exact over all C(6, 3) = 20 ways to give
        // three of the six one-turn calls to the canary: the statistic
        // np.log(np.percentile(c, 50)) - np.log(np.percentile(s, 50)) has
        // mean 0.0 and population sd 0.6956787 (np.std); observed
        // (canary 300, 420, 610 against stable 100, 150, 200) 1.0296194.
        let (stable, canary) = ([vec![100.0], vec![150.0], vec![200.0]], [vec![420.0], vec![300.0], vec![610.0]]);
        let (s, c): (Vec<&Vec<f64>>, Vec<&Vec<f64>>) = (stable.iter().collect(), canary.iter().collect());
        let test = quantile_harm_test(&s, &c, 0.5, 40_000, 3);
        assert!((test.observed - 1.0296194).abs() < 1e-6, "{test:?}");
        // Monte Carlo: the sd of the mean over 40,000 draws is 0.0035.
        assert!(test.null_mean.abs() < 0.012, "{test:?}");
        assert!((test.null_sd - 0.6956787).abs() < 0.01, "{test:?}");
        // Exact: 2 of the 20 reassignments are at least as large (the
        // observed one, and canary 200, 420, 610), so p = 0.1; the Monte
        // Carlo estimate's sd is 0.0015.
        assert!((test.p_value - 0.1).abs() < 0.006, "{test:?}");
    }

    #[test]
    fn its_size_holds_in_a_v_a_comparisons() {
        // 600 A/A comparisons of calls with one to four lognormal turns
        // (stable 900 calls, canary 100: about 250 canary turns, 12 above
        // its p95): rejections at one-sided 0.05 stay within three binomial
        // standard deviations of 5% (0.05 +/- 0.0267).
        let mut rng = Rng::new(11);
        let mut draw_calls = |n: usize| -> Vec<Vec<f64>> {
            (0..n).map(|_| (0..1 + rng.below(4)).map(|_| (6.0 + 0.4 * rng.gaussian()).exp()).collect()).collect()
        };
        let runs = 600;
        let mut rejected = 0;
        for run in 0..runs {
            let (stable, canary) = (draw_calls(900), draw_calls(100));
            let (s, c): (Vec<&Vec<f64>>, Vec<&Vec<f64>>) = (stable.iter().collect(), canary.iter().collect());
            if quantile_harm_test(&s, &c, 0.95, 200, run).p_value <= 0.05 {
                rejected += 1;
            }
        }
        let rate = rejected as f64 / runs as f64;
        assert!((rate - 0.05).abs() < 0.0267, "A/A rejection rate {rate}");
    }

    #[test]
    fn a_slower_canary_is_found() {
        let stable: Vec<Vec<f64>> = (0..900).map(|i| vec![1000.0 + (i % 100) as f64 * 10.0]).collect();
        let canary: Vec<Vec<f64>> = (0..300).map(|i| vec![1300.0 + (i % 100) as f64 * 13.0]).collect();
        let (s, c): (Vec<&Vec<f64>>, Vec<&Vec<f64>>) = (stable.iter().collect(), canary.iter().collect());
        let test = quantile_harm_test(&s, &c, 0.95, 500, 1);
        assert!(test.p_value < 1e-6, "{test:?}");
        let faster = quantile_harm_test(&c, &s, 0.95, 500, 1);
        assert!(faster.p_value > 0.99, "{faster:?}");
    }
}
