//! Repeated looks at the harm test: one-sided group-sequential boundaries
//! with Lan-DeMets O'Brien-Fleming-type alpha spending.
//!
//! The canary is looked at once a minute, and every look is a test. With
//! the boundaries here the chance that *any* look rolls back a canary no
//! worse than stable is the one-sided `alpha`, however many looks there
//! are and wherever they fall. Looks are placed on the information
//! fraction `t = calls seen / calls planned`, known only when the look
//! happens, so the boundary of each look is computed when it comes, the
//! earlier ones fixed ([`SequentialBoundary`]).
//!
//! The look statistics `Z_1, ..., Z_K` (the pooled two-proportion z of
//! [`super::harm_p_value`] at each look) are taken, as usual, to behave
//! like a Brownian motion observed at the fractions: `Z_k * sqrt(t_k)` has
//! independent normal increments of variance `t_k - t_{k-1}` and mean
//! `drift * (t_k - t_{k-1})`, where `drift` is the expected `Z` at `t = 1`
//! (0 when the canary is no worse). Crossing probabilities come from the
//! recursive numerical integration of Armitage, McPherson and Rowe in the
//! form of Jennison & Turnbull, *Group Sequential Methods* (2000), ch. 19:
//! the sub-density of `Z_k` on paths that have not crossed is carried
//! from look to look on a grid with Simpson's rule.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// Grid refinement `r` of Jennison & Turnbull (they find 16 enough for
/// about six figures; gsDesign uses 18). The grid has `12 r - 3` points.
const GRID_R: usize = 32;
/// Bisection range for a boundary, in z.
const Z_RANGE: (f64, f64) = (-40.0, 40.0);
/// A boundary is found to within this, in z.
const Z_TOLERANCE: f64 = 1e-10;

/// Why a boundary could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SequentialError {
    #[error("alpha must be strictly between 0 and 1, got {0}")]
    InvalidAlpha(f64),
    #[error("information fraction {fraction} must be finite and above the previous look's {previous}")]
    InvalidFraction { fraction: f64, previous: f64 },
    #[error("{fractions} information fractions but {boundaries} boundaries")]
    LengthMismatch { fractions: usize, boundaries: usize },
    #[error("the final look has been taken; no alpha is left to spend")]
    Finished,
}

/// The cumulative one-sided alpha spent by information fraction `fraction`
/// under the Lan-DeMets O'Brien-Fleming-type spending function, in the
/// one-sided form of gsDesign's `sfLDOF`:
/// `alpha(t) = 2 * (1 - Phi(Phi^-1(1 - alpha / 2) / sqrt(t)))`.
/// It spends almost nothing early (at `t = 0.1`, alpha 0.05: 5.7e-10) and
/// `alpha` at `t = 1`. Returns 0 for `fraction <= 0` (or NaN) and `alpha`
/// for `fraction >= 1`; 0 when `alpha` is not in (0, 1).
pub fn obrien_fleming_spending(alpha: f64, fraction: f64) -> f64 {
    if !(alpha > 0.0 && alpha < 1.0) || fraction.is_nan() || fraction <= 0.0 {
        return 0.0;
    }
    if fraction >= 1.0 {
        return alpha;
    }
    let normal = Normal::standard();
    2.0 * normal.sf(normal.inverse_cdf(1.0 - alpha / 2.0) / fraction.sqrt())
}

/// One look: where it fell, the alpha spent up to it, and its boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Information fraction, calls seen / calls planned (may pass 1).
    pub fraction: f64,
    /// Cumulative one-sided alpha spent up to and including this look.
    pub spent: f64,
    /// Roll back when the look's harm z is at least this. Infinite when the
    /// look had no alpha worth spending (below about 1e-300).
    pub boundary: f64,
    /// The same boundary as a one-sided p-value: roll back when
    /// [`super::harm_p_value`] is at most this.
    pub nominal_p: f64,
}

/// Boundaries computed look by look, each from its own information
/// fraction, the earlier boundaries fixed: how the live canary uses them.
/// A look at `t >= 1` (or [`SequentialBoundary::final_look`]) spends all
/// the alpha left and ends the sequence.
#[derive(Debug, Clone)]
pub struct SequentialBoundary {
    alpha: f64,
    looks: Vec<Look>,
    recursion: Recursion,
    finished: bool,
}

impl SequentialBoundary {
    /// A sequence of looks spending one-sided `alpha` in all.
    pub fn new(alpha: f64) -> Result<Self, SequentialError> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(SequentialError::InvalidAlpha(alpha));
        }
        Ok(Self { alpha, looks: Vec::new(), recursion: Recursion::new(0.0), finished: false })
    }

    /// The boundary of the next look at information fraction `fraction`
    /// (strictly above the previous look's). At `fraction >= 1` this is the
    /// final look.
    pub fn look(&mut self, fraction: f64) -> Result<Look, SequentialError> {
        self.add(fraction, fraction >= 1.0)
    }

    /// A final look at `fraction` even if it is below 1 (the bake ended
    /// short of the calls planned): it spends all the alpha left.
    pub fn final_look(&mut self, fraction: f64) -> Result<Look, SequentialError> {
        self.add(fraction, true)
    }

    /// The looks so far, in order.
    pub fn looks(&self) -> &[Look] {
        &self.looks
    }

    /// The one-sided alpha of the whole sequence.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Whether the final look has been taken.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn add(&mut self, fraction: f64, last: bool) -> Result<Look, SequentialError> {
        if self.finished {
            return Err(SequentialError::Finished);
        }
        let previous = self.looks.last().map_or(0.0, |look| look.fraction);
        if !fraction.is_finite() || fraction <= previous {
            return Err(SequentialError::InvalidFraction { fraction, previous });
        }
        let spent_before = self.looks.last().map_or(0.0, |look| look.spent);
        let spent = if last { self.alpha } else { obrien_fleming_spending(self.alpha, fraction) };
        let boundary = self.recursion.boundary_for(fraction, spent - spent_before);
        self.recursion.advance(fraction, boundary);
        let look = Look { fraction, spent, boundary, nominal_p: Normal::standard().sf(boundary) };
        self.looks.push(look);
        self.finished = last;
        Ok(look)
    }
}

/// The boundaries of a planned sequence of looks at `fractions` (strictly
/// increasing, positive), as [`SequentialBoundary`] gives them one by one.
/// A look at `t >= 1` is the final one, so it must be the last; when the
/// last fraction is below 1 the plan leaves alpha unspent.
pub fn obrien_fleming_boundaries(alpha: f64, fractions: &[f64]) -> Result<Vec<f64>, SequentialError> {
    let mut sequence = SequentialBoundary::new(alpha)?;
    fractions.iter().map(|&fraction| sequence.look(fraction).map(|look| look.boundary)).collect()
}

/// The probability that the sequence first crosses at each look (`Z_k >=
/// boundaries[k]`, none before), when the expected `Z` at `t = 1` is
/// `drift` (0: no harm). Their sum is the chance of a rollback: the
/// sequence's alpha under no harm, its power under harm.
pub fn crossing_probabilities(fractions: &[f64], boundaries: &[f64], drift: f64) -> Result<Vec<f64>, SequentialError> {
    if fractions.len() != boundaries.len() {
        return Err(SequentialError::LengthMismatch { fractions: fractions.len(), boundaries: boundaries.len() });
    }
    let mut recursion = Recursion::new(if drift.is_finite() { drift } else { 0.0 });
    let mut previous = 0.0;
    let mut crossing = Vec::with_capacity(fractions.len());
    for (&fraction, &boundary) in fractions.iter().zip(boundaries) {
        if !fraction.is_finite() || fraction <= previous {
            return Err(SequentialError::InvalidFraction { fraction, previous });
        }
        crossing.push(recursion.crossing(fraction, boundary));
        recursion.advance(fraction, boundary);
        previous = fraction;
    }
    Ok(crossing)
}

/// The sub-density of the last look's `Z` on paths that have not crossed,
/// as grid points `z` and `Simpson weight * density` at each.
#[derive(Debug, Clone)]
struct Recursion {
    drift: f64,
    /// Fraction of the last look (0 before the first).
    fraction: f64,
    points: Vec<(f64, f64)>,
}

impl Recursion {
    fn new(drift: f64) -> Self {
        Self { drift, fraction: 0.0, points: Vec::new() }
    }

    /// The mean and standard deviation of the increment of `Z * sqrt(t)`
    /// from the last look to `fraction`.
    fn increment(&self, fraction: f64) -> (f64, f64) {
        let gap = fraction - self.fraction;
        (self.drift * gap, gap.sqrt())
    }

    /// P(Z at `fraction` >= `boundary`, no crossing before).
    fn crossing(&self, fraction: f64, boundary: f64) -> f64 {
        let normal = Normal::standard();
        let (shift, sd) = self.increment(fraction);
        if self.fraction == 0.0 {
            return normal.sf((boundary * fraction.sqrt() - shift) / sd);
        }
        let (scale, root) = (fraction.sqrt(), self.fraction.sqrt());
        self.points.iter().map(|&(z, mass)| mass * normal.sf((boundary * scale - z * root - shift) / sd)).sum()
    }

    /// The boundary at `fraction` that spends `increment` of alpha: the `c`
    /// with `crossing(fraction, c) = increment`, by bisection (the crossing
    /// probability falls as `c` rises).
    fn boundary_for(&self, fraction: f64, increment: f64) -> f64 {
        let (mut low, mut high) = Z_RANGE;
        if increment.is_nan() || increment <= 0.0 || self.crossing(fraction, high) >= increment {
            return f64::INFINITY;
        }
        if self.crossing(fraction, low) <= increment {
            return low;
        }
        while high - low > Z_TOLERANCE {
            let middle = 0.5 * (low + high);
            if self.crossing(fraction, middle) > increment {
                low = middle;
            } else {
                high = middle;
            }
        }
        0.5 * (low + high)
    }

    /// Move to the look at `fraction` with continuation region `Z < boundary`.
    fn advance(&mut self, fraction: f64, boundary: f64) {
        let normal = Normal::standard();
        let (shift, sd) = self.increment(fraction);
        let (scale, root) = (fraction.sqrt(), self.fraction.sqrt());
        let grid = simpson_grid(self.drift * scale, boundary);
        let points = grid
            .into_iter()
            .map(|(y, weight)| {
                let density = if self.fraction == 0.0 {
                    normal.pdf(y - self.drift * scale)
                } else {
                    self.points
                        .iter()
                        .map(|&(z, mass)| mass * normal.pdf((y * scale - z * root - shift) / sd))
                        .sum::<f64>()
                        * scale
                        / sd
                };
                (y, weight * density)
            })
            .collect();
        self.points = points;
        self.fraction = fraction;
    }
}

/// Jennison & Turnbull's grid (section 19.2.1) around `mean` cut at
/// `upper`, with midpoints added and Simpson's weights: dense within three
/// standard deviations of the mean, spreading out logarithmically to six
/// and more beyond.
fn simpson_grid(mean: f64, upper: f64) -> Vec<(f64, f64)> {
    let r = GRID_R as f64;
    let mut nodes: Vec<f64> = Vec::with_capacity(6 * GRID_R);
    for i in 1..6 * GRID_R {
        let i_f = i as f64;
        let x = if i < GRID_R {
            mean - 3.0 - 4.0 * (r / i_f).ln()
        } else if i <= 5 * GRID_R {
            mean - 3.0 + 3.0 * (i_f - r) / (2.0 * r)
        } else {
            mean + 3.0 + 4.0 * (r / (6.0 * r - i_f)).ln()
        };
        if x >= upper {
            nodes.push(upper);
            break;
        }
        nodes.push(x);
    }
    if nodes.len() < 2 {
        return Vec::new();
    }
    let mut grid = Vec::with_capacity(2 * nodes.len() - 1);
    grid.push((nodes[0], 0.0));
    for pair in nodes.windows(2) {
        let width = pair[1] - pair[0];
        if let Some(last) = grid.last_mut() {
            last.1 += width / 6.0;
        }
        grid.push((0.5 * (pair[0] + pair[1]), 4.0 * width / 6.0));
        grid.push((pair[1], width / 6.0));
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_EQUAL: [f64; 5] = [0.2, 0.4, 0.6, 0.8, 1.0];

    #[test]
    fn spending_matches_the_closed_form() {
        // SciPy 1.17.1: 2 * norm.sf(norm.isf(0.025) / sqrt(0.5)) -> 0.005574596680784402
        assert!((obrien_fleming_spending(0.05, 0.5) - 0.005574596680784402).abs() < 1e-12);
        assert_eq!(obrien_fleming_spending(0.05, 1.0), 0.05);
        assert_eq!(obrien_fleming_spending(0.05, 2.0), 0.05);
        assert_eq!(obrien_fleming_spending(0.05, 0.0), 0.0);
        assert_eq!(obrien_fleming_spending(0.05, f64::NAN), 0.0);
        assert_eq!(obrien_fleming_spending(1.5, 0.5), 0.0);
    }

    #[test]
    fn five_equal_looks_match_gsdesign() {
        // gsDesign sfLDOF, k = 5, test.type = 1, alpha = 0.025, equally
        // spaced: upper bounds 4.877, 3.357, 2.680, 2.290, 2.031. SciPy
        // 1.17.1 (each boundary by brentq on 1 - multivariate_normal.cdf(
        // bounds, cov = sqrt(min(t_i,t_j)/max(t_i,t_j)), abseps=1e-10,
        // releps=1e-10, maxpts=2e6) = alpha(t_k)) gives 4.876884948772333,
        // 3.357011921578491, 2.6802800647027585, 2.289819106333038,
        // 2.031031271867317.
        let boundaries = obrien_fleming_boundaries(0.025, &FIVE_EQUAL).expect("valid plan");
        let scipy = [4.876884948772333, 3.357011921578491, 2.6802800647027585, 2.289819106333038, 2.031031271867317];
        for (ours, theirs) in boundaries.iter().zip(scipy) {
            assert!((ours - theirs).abs() < 1e-5, "{boundaries:?}");
        }
    }

    #[test]
    fn unequal_looks_computed_one_at_a_time_match_scipy() {
        // Same SciPy method, alpha 0.05 at t = 0.15, 0.45, 0.7, 1.0:
        // 4.926803969654012, 2.6986907618148788, 2.095678040020606, 1.7050776431214618.
        let mut sequence = SequentialBoundary::new(0.05).expect("valid alpha");
        let scipy = [4.926803969654012, 2.6986907618148788, 2.095678040020606, 1.7050776431214618];
        for (fraction, theirs) in [0.15, 0.45, 0.7, 1.0].into_iter().zip(scipy) {
            let look = sequence.look(fraction).expect("increasing fractions");
            assert!((look.boundary - theirs).abs() < 1e-5, "{:?}", sequence.looks());
            assert!((look.nominal_p - Normal::standard().sf(theirs)).abs() < 1e-6);
        }
        assert!(sequence.is_finished());
        assert_eq!(sequence.look(1.2), Err(SequentialError::Finished));
    }

    #[test]
    fn each_look_spends_its_increment_and_all_of_alpha_in_total() {
        let fractions = [0.08, 0.21, 0.33, 0.5, 0.61, 0.77, 0.9, 1.04];
        let boundaries = obrien_fleming_boundaries(0.05, &fractions).expect("valid plan");
        let crossing = crossing_probabilities(&fractions, &boundaries, 0.0).expect("valid plan");
        let mut spent = 0.0;
        for (k, &fraction) in fractions.iter().enumerate() {
            let cumulative = obrien_fleming_spending(0.05, fraction);
            assert!((crossing[k] - (cumulative - spent)).abs() < 1e-8, "look {k}: {crossing:?}");
            spent = cumulative;
        }
        assert!((crossing.iter().sum::<f64>() - 0.05).abs() < 1e-8);
    }

    #[test]
    fn crossing_under_harm_matches_scipy() {
        // SciPy 1.17.1, boundaries above for K = 5, alpha 0.025, drift 3:
        // 1 - multivariate_normal.cdf(b, mean=3*sqrt(t), cov=..., abseps=1e-10,
        //   releps=1e-10, maxpts=2e6, rng=default_rng(1)) -> 0.8424421950164904
        // first look alone: norm.sf(b[0] - 3 * sqrt(0.2)) -> 0.00020369926616956
        let boundaries = obrien_fleming_boundaries(0.025, &FIVE_EQUAL).expect("valid plan");
        let crossing = crossing_probabilities(&FIVE_EQUAL, &boundaries, 3.0).expect("valid plan");
        assert!((crossing[0] - 0.00020369926616956).abs() < 1e-8, "{crossing:?}");
        assert!((crossing.iter().sum::<f64>() - 0.8424421950164904).abs() < 1e-5, "{crossing:?}");
    }

    #[test]
    fn a_bake_that_ends_short_spends_what_is_left() {
        let mut sequence = SequentialBoundary::new(0.05).expect("valid alpha");
        sequence.look(0.3).expect("first look");
        sequence.look(0.6).expect("second look");
        let last = sequence.final_look(0.8).expect("final look");
        assert_eq!(last.spent, 0.05);
        let fractions: Vec<f64> = sequence.looks().iter().map(|look| look.fraction).collect();
        let boundaries: Vec<f64> = sequence.looks().iter().map(|look| look.boundary).collect();
        let total: f64 = crossing_probabilities(&fractions, &boundaries, 0.0).expect("valid").iter().sum();
        assert!((total - 0.05).abs() < 1e-8, "{total}");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(SequentialBoundary::new(0.0).err(), Some(SequentialError::InvalidAlpha(0.0)));
        assert!(SequentialBoundary::new(f64::NAN).is_err());
        let mut sequence = SequentialBoundary::new(0.05).expect("valid alpha");
        assert!(sequence.look(0.0).is_err());
        sequence.look(0.5).expect("valid look");
        assert!(sequence.look(0.5).is_err());
        assert!(sequence.look(f64::NAN).is_err());
        assert!(obrien_fleming_boundaries(0.05, &[0.5, 0.4]).is_err());
        assert!(crossing_probabilities(&[0.5], &[2.0, 3.0], 0.0).is_err());
        // A first look so early that O'Brien-Fleming spends nothing on it
        // cannot reject: its boundary is infinite, and later looks still work.
        let mut early = SequentialBoundary::new(0.05).expect("valid alpha");
        assert_eq!(early.look(1e-4).expect("valid look").boundary, f64::INFINITY);
        assert!(early.look(1.0).expect("valid look").boundary.is_finite());
    }
}
