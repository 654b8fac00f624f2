//! Sample-ratio mismatch: did the router split calls as it was told? A
//! broken split is an error of the experiment, never a verdict on the
//! canary (the calls compared are not the populations they claim to be).

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The p-value of the chi-square goodness-of-fit test (1 degree of
/// freedom) that `stable` and `canary` calls came from a split sending
/// `canary_share` of calls to the canary. 1 with no calls.
pub fn split_mismatch_p_value(stable: u64, canary: u64, canary_share: f64) -> f64 {
    let total = (stable + canary) as f64;
    if total == 0.0 || !(0.0..1.0).contains(&canary_share) || canary_share == 0.0 {
        return 1.0;
    }
    let expected = [total * (1.0 - canary_share), total * canary_share];
    let statistic: f64 =
        [stable as f64, canary as f64].iter().zip(expected).map(|(&seen, want)| (seen - want).powi(2) / want).sum();
    let chi = ChiSquared::new(1.0).expect("one degree of freedom is valid");
    1.0 - chi.cdf(statistic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy_chisquare() {
        // SciPy 1.17.1: chisquare([880, 120], [900, 100])
        //   -> statistic 4.444444444444445, pvalue 0.03501498101966245
        assert!((split_mismatch_p_value(880, 120, 0.1) - 0.03501498101966245).abs() < 1e-9);
        // chisquare([900, 100], [900, 100]) -> pvalue 1.0
        assert!((split_mismatch_p_value(900, 100, 0.1) - 1.0).abs() < 1e-12);
        assert_eq!(split_mismatch_p_value(0, 0, 0.1), 1.0);
    }
}
