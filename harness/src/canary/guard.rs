//! The catastrophic-regression guard: an always-valid test checked after
//! every canary call, at a small alpha (0.01), beside the group-sequential
//! harm test that looks once a minute.
//!
//! # The method: a two-count e-process on which arm each event came from
//!
//! The router sends each call to the canary with probability `share`
//! (10%), whatever the call. Take the calls that had the event (an error,
//! say). If the canary is no worse than stable, an event is as likely in
//! either arm's call, so each event came from the canary with probability
//! exactly `share`, independently of the events before it; if the canary
//! is worse, with some larger probability `rho`. The likelihood ratio of
//! "`rho`" against "`share`" over the events so far, mixed over `rho` with a
//! prior, is then a nonnegative martingale of mean 1 when the arms are
//! alike (a supermartingale when the canary is better, since every `rho`
//! in the prior is above `share`), and by Ville's inequality it ever
//! reaches `1 / alpha` with probability at most `alpha`. This is the conditional two-count construction of Lindon &
//! Malek (NeurIPS 2022) with the calls' events as the counts. The prior is
//! a Beta centred on `share` (worth [`GuardConfig::prior_events`] events)
//! cut to `rho > share`, so only harm counts as evidence; the mixture has
//! a closed form ([`guard_e_value`]).
//!
//! Why this and not the normal-mixture SPRT on the difference of the two
//! rates (Johari et al.): that one is valid only as the normal
//! approximation to the rates becomes good, which is exactly what the
//! first tens of calls, where the guard must act, lack; and it assumes one
//! error rate through the bake, while the traffic mix (and so the rate)
//! changes minute by minute. Conditioning on the events removes the common
//! rate altogether, so the guard's false-alarm bound is exact at any count
//! and under any drift of the rate that both arms share. What it needs is
//! the split the router was told (the sample-ratio mismatch test checks it)
//! and arms drawn call by call; calls without events carry little
//! information at the low rates guarded, so conditioning loses little.
//!
//! How fast: a +10 point regression at a 5% baseline with a 10/90 split is
//! caught after 103 canary calls on average (median 90, 80% of bakes by
//! 154; see the tests). A fixed-size test at the same alpha with 80% power
//! needs 80, so as the main test the guard would cost about 1.9x the calls:
//! it is only the guard.

use statrs::function::beta::{beta_reg, ln_beta};

use super::Count;

/// The guard's default one-sided alpha.
pub const DEFAULT_GUARD_ALPHA: f64 = 0.01;
/// The default weight of the prior, in events. Measured: +10 points at a
/// 5% baseline with a 10/90 split is caught after 98, 96, 100 and 106
/// canary calls on average with weights 2, 5, 10 and 20; +5 points after
/// 348, 333, 324, 327; +20 points after 35, 36, 38, 43 (a NumPy simulation,
/// 300 bakes each): flat, so a light prior that favours no effect size.
pub const DEFAULT_PRIOR_EVENTS: f64 = 5.0;

/// Why the guard cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuardError {
    #[error("guard alpha must be strictly between 0 and 1, got {0}")]
    InvalidAlpha(f64),
    #[error("the canary's share of calls must be strictly between 0 and 1, got {0}")]
    InvalidShare(f64),
    #[error("the prior's weight must be positive and finite, got {0}")]
    InvalidPrior(f64),
    #[error("counts are cumulative and cannot go down: {arm} went from {before:?} to {after:?}")]
    CountsWentDown { arm: &'static str, before: Count, after: Count },
    #[error("{arm} has more events than calls: {count:?}")]
    MoreEventsThanCalls { arm: &'static str, count: Count },
}

/// The guard's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardConfig {
    /// Fire when the always-valid p-value is at most this.
    pub alpha: f64,
    /// The share of calls the router sends to the canary (0.1 for 10/90).
    pub canary_share: f64,
    /// The prior's weight in events: Beta(`w * share`, `w * (1 - share)`)
    /// cut to `rho > share`.
    pub prior_events: f64,
}

impl GuardConfig {
    /// The defaults (alpha 0.01, prior weight 5) for a canary getting
    /// `canary_share` of the calls.
    pub fn new(canary_share: f64) -> Self {
        Self { alpha: DEFAULT_GUARD_ALPHA, canary_share, prior_events: DEFAULT_PRIOR_EVENTS }
    }

    fn validate(&self) -> Result<(), GuardError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(GuardError::InvalidAlpha(self.alpha));
        }
        if !(self.canary_share > 0.0 && self.canary_share < 1.0) {
            return Err(GuardError::InvalidShare(self.canary_share));
        }
        if !(self.prior_events > 0.0 && self.prior_events.is_finite()) {
            return Err(GuardError::InvalidPrior(self.prior_events));
        }
        Ok(())
    }
}

/// The mixture likelihood ratio (the e-value) after `canary_events` of
/// `canary_events + stable_events` events came from the canary:
///
/// `E = [B(a + x, b + n - x) / B(a, b)] * [S(a + x, b + n - x) / S(a, b)]
///      / (share^x (1 - share)^(n - x))`
///
/// with `x` the canary's events, `n` all events, `a = w * share`,
/// `b = w * (1 - share)`, `B` the beta function and `S(a, b) = 1 -
/// I_share(a, b)` the Beta's mass above `share`. 1 with no events; 0 when
/// the evidence points so far the other way that the mass above `share`
/// underflows; NaN when `share` or `prior_events` is out of range. Exact
/// for event counts in the thousands (the incomplete beta's continued
/// fraction converges in about the square root of the count's steps, of
/// the 140 it is given).
pub fn guard_e_value(stable_events: u64, canary_events: u64, canary_share: f64, prior_events: f64) -> f64 {
    ln_e_value(stable_events, canary_events, canary_share, prior_events).exp()
}

fn ln_e_value(stable_events: u64, canary_events: u64, share: f64, weight: f64) -> f64 {
    if !(share > 0.0 && share < 1.0 && weight > 0.0 && weight.is_finite()) {
        return f64::NAN;
    }
    let (x, y) = (canary_events as f64, stable_events as f64);
    let (a, b) = (weight * share, weight * (1.0 - share));
    // The mass of Beta(a, b) above `share`, as I_{1 - share}(b, a).
    let upper_mass = |a: f64, b: f64| beta_reg(b, a, 1.0 - share).clamp(0.0, 1.0).ln();
    ln_beta(a + x, b + y) - ln_beta(a, b) + upper_mass(a + x, b + y)
        - upper_mass(a, b)
        - x * share.ln()
        - y * (1.0 - share).ln()
}

/// The guard after one more observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardReading {
    /// The mixture likelihood ratio now (see [`guard_e_value`]).
    pub e_value: f64,
    /// The always-valid p-value, `min` over every reading so far of
    /// `1 / e_value` (capped at 1): it never rises.
    pub p_value: f64,
    /// Whether `p_value <= alpha`: the guard has fired (and stays fired).
    pub fired: bool,
}

/// The guard over one bake, fed each arm's cumulative counts in call order.
#[derive(Debug, Clone)]
pub struct Guard {
    config: GuardConfig,
    stable: Count,
    canary: Count,
    p_value: f64,
}

impl Guard {
    pub fn new(config: GuardConfig) -> Result<Self, GuardError> {
        config.validate()?;
        let zero = Count { events: 0, calls: 0 };
        Ok(Self { config, stable: zero, canary: zero, p_value: 1.0 })
    }

    /// Take the cumulative counts after the latest call (or several: the
    /// e-value depends only on the totals, so a batch loses nothing but
    /// the chance to fire mid-batch). Counts must not go down.
    pub fn observe(&mut self, stable: Count, canary: Count) -> Result<GuardReading, GuardError> {
        for (arm, before, after) in [("stable", self.stable, stable), ("canary", self.canary, canary)] {
            if after.events > after.calls {
                return Err(GuardError::MoreEventsThanCalls { arm, count: after });
            }
            if after.events < before.events || after.calls < before.calls {
                return Err(GuardError::CountsWentDown { arm, before, after });
            }
        }
        (self.stable, self.canary) = (stable, canary);
        let ln_e = ln_e_value(stable.events, canary.events, self.config.canary_share, self.config.prior_events);
        self.p_value = self.p_value.min((-ln_e).exp().min(1.0));
        Ok(self.reading_with(ln_e.exp()))
    }

    /// The guard's state now, without a new observation.
    pub fn reading(&self) -> GuardReading {
        let ln_e =
            ln_e_value(self.stable.events, self.canary.events, self.config.canary_share, self.config.prior_events);
        self.reading_with(ln_e.exp())
    }

    fn reading_with(&self, e_value: f64) -> GuardReading {
        GuardReading { e_value, p_value: self.p_value, fired: self.p_value <= self.config.alpha }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canary::wilson;
    use crate::seed::Rng;

    #[test]
    fn the_e_value_matches_its_integral() {
        // SciPy 1.17.1, share 0.1, prior weight 5 (a = 0.5, b = 4.5), the
        // mixture by quadrature:
        // quad(lambda r: exp(x*log(r/0.1) + (n-x)*log((1-r)/0.9)) * beta.pdf(r, a, b),
        //      0.1, 1, points=[x/n], epsrel=1e-12)[0] / beta.sf(0.1, a, b)
        // x=0, n=0 -> 1.0; x=3, n=5 -> 10.789652694908357;
        // x=1, n=10 -> 0.6205874995011896; x=20, n=60 -> 39044.75921181713;
        // x=40, n=900 -> 0.01294020191345976 (the canary better: no evidence).
        // (The closed form with scipy.special.betaln and betainc agrees to 1e-12.)
        for (stable, canary, scipy) in [
            (0, 0, 1.0),
            (2, 3, 10.789652694908357),
            (9, 1, 0.6205874995011896),
            (40, 20, 39044.75921181713),
            (860, 40, 0.01294020191345976),
        ] {
            let ours = guard_e_value(stable, canary, 0.1, 5.0);
            assert!((ours / scipy - 1.0).abs() < 1e-9, "{stable} {canary}: {ours} vs {scipy}");
        }
        assert!(guard_e_value(1, 1, 0.0, 5.0).is_nan());
    }

    #[test]
    fn holds_for_event_counts_a_long_bake_reaches() {
        // The same SciPy quadrature: x=520, n=4800 -> 0.4586430222631812;
        // x=600, n=4800 -> 414780.7319868502.
        let even = guard_e_value(4280, 520, 0.1, 5.0);
        let worse = guard_e_value(4200, 600, 0.1, 5.0);
        assert!((even / 0.4586430222631812 - 1.0).abs() < 1e-8, "{even}");
        assert!((worse / 414780.7319868502 - 1.0).abs() < 1e-8, "{worse}");
    }

    /// Streams of calls routed 10/90 with the given error rates at each
    /// call; returns, for each stream, the canary calls seen when the guard
    /// fired (`None` if it never did within `calls`).
    fn canary_calls_to_fire(
        seed: u64,
        streams: usize,
        calls: u64,
        rates: impl Fn(u64) -> (f64, f64),
    ) -> Vec<Option<u64>> {
        let mut rng = Rng::new(seed);
        (0..streams)
            .map(|_| {
                let mut guard = Guard::new(GuardConfig::new(0.1)).expect("valid config");
                let (mut stable, mut canary) = (Count { events: 0, calls: 0 }, Count { events: 0, calls: 0 });
                for call in 0..calls {
                    let (stable_rate, canary_rate) = rates(call);
                    let to_canary = rng.unit() < 0.1;
                    let (arm, rate) = if to_canary { (&mut canary, canary_rate) } else { (&mut stable, stable_rate) };
                    arm.calls += 1;
                    let event = rng.unit() < rate;
                    arm.events += u64::from(event);
                    // The e-value only moves on an event.
                    if event && guard.observe(stable, canary).expect("counts only grow").fired {
                        return Some(canary.calls);
                    }
                }
                None
            })
            .collect()
    }

    #[test]
    fn false_alarms_stay_within_alpha_even_as_the_rate_drifts() {
        // Ville's inequality bounds the chance of ever firing under no harm
        // by alpha at any horizon. 3,000 A/A bakes of 10,000 calls; in half
        // of them the shared error rate climbs from 2% to 8% over the bake.
        // The test asks the data not to contradict the bound: the lower
        // one-sided 99.9% Wilson bound of the false-alarm rate must sit
        // below 0.01. (Measured: 17 false alarms in 3,000, 0.57%: 7 flat, 10
        // drifting; a mixture stays below its bound over a finite bake.)
        let flat = canary_calls_to_fire(11, 1500, 10_000, |_| (0.05, 0.05));
        let drifting = canary_calls_to_fire(12, 1500, 10_000, |call| {
            let rate = 0.02 + 0.06 * call as f64 / 10_000.0;
            (rate, rate)
        });
        let alarms = flat.iter().chain(&drifting).filter(|fired| fired.is_some()).count() as u64;
        let (low, _) = wilson(Count { events: alarms, calls: 3000 }, 0.001);
        assert!(low <= DEFAULT_GUARD_ALPHA, "{alarms} false alarms in 3000");
    }

    #[test]
    fn a_ten_point_regression_is_caught_within_about_a_hundred_canary_calls() {
        // 5% baseline, canary at 15%, 10/90 split, 1,000 bakes. Measured:
        // every one fires; mean 103 canary calls, median 90, 80th percentile
        // 154 (a fixed-size test at alpha 0.01 with power 0.8 needs 80 by
        // `calls_needed(0.05, 0.10, 0.01, 0.8, 9.0)`).
        let fired = canary_calls_to_fire(13, 1000, 20_000, |_| (0.05, 0.15));
        let mut calls: Vec<u64> = fired.iter().map(|fired| fired.unwrap_or(u64::MAX)).collect();
        calls.sort_unstable();
        assert!(calls.iter().all(|&n| n < u64::MAX), "every regression is caught");
        let mean = calls.iter().sum::<u64>() as f64 / calls.len() as f64;
        let median = calls[calls.len() / 2];
        println!(
            "+10 points at 5%: mean {mean} canary calls, median {median}, 80th percentile {}",
            calls[calls.len() * 4 / 5]
        );
        assert!((60.0..=140.0).contains(&mean) && (50..=130).contains(&median), "mean {mean}, median {median}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Guard::new(GuardConfig { alpha: 0.0, ..GuardConfig::new(0.1) }).is_err());
        assert!(Guard::new(GuardConfig::new(1.0)).is_err());
        assert!(Guard::new(GuardConfig { prior_events: f64::NAN, ..GuardConfig::new(0.1) }).is_err());
        let mut guard = Guard::new(GuardConfig::new(0.1)).expect("valid config");
        let count = |events, calls| Count { events, calls };
        assert!(guard.observe(count(2, 1), count(0, 0)).is_err());
        guard.observe(count(1, 10), count(1, 2)).expect("valid counts");
        assert!(matches!(
            guard.observe(count(0, 11), count(1, 2)),
            Err(GuardError::CountsWentDown { arm: "stable", .. })
        ));
        // Nothing was taken from the refused observation.
        assert_eq!(guard.reading().e_value, guard_e_value(1, 1, 0.1, 5.0));
    }

    #[test]
    fn the_p_value_never_rises_and_firing_sticks() {
        let mut guard = Guard::new(GuardConfig::new(0.1)).expect("valid config");
        let first = guard.observe(Count { events: 2, calls: 100 }, Count { events: 8, calls: 12 }).expect("valid");
        assert!(first.fired, "{first:?}");
        let later = guard.observe(Count { events: 300, calls: 5000 }, Count { events: 9, calls: 500 }).expect("valid");
        assert!(later.e_value < 1.0 && later.fired && later.p_value == first.p_value);
    }
}
