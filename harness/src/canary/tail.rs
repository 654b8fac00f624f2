//! Quantiles of resampled calls without pooling their turns.
//!
//! A bootstrap resample or a reassignment of calls is a count per call
//! (how many times the resample drew it, or 1 and 0 for the arm it went
//! to), and its pooled turns are every call's turns repeated that many
//! times. The type-7 quantile of that pool needs only two of its order
//! statistics, and for a tail quantile both lie near the top: walking the
//! turns once sorted from the highest and summing the counts of their calls
//! reaches them after about `1 - q` of the turns (5% for p95), where
//! pooling and selecting touches every turn of every drawn call. The
//! values are exactly those of [`super::quantile`] on the pooled turns.

/// Every turn of a set of calls, from the highest latency down, with the
/// index of its call.
pub(super) struct Descending {
    turns: Vec<(f64, u32)>,
    /// Turns per call, by call index.
    turns_of: Vec<u64>,
}

impl Descending {
    /// The turns of `calls` (latencies positive and finite).
    pub fn new(calls: &[&Vec<f64>]) -> Self {
        let mut turns: Vec<(f64, u32)> = calls
            .iter()
            .enumerate()
            .flat_map(|(call, latencies)| latencies.iter().map(move |&ms| (ms, call as u32)))
            .collect();
        turns.sort_by(|a, b| b.0.total_cmp(&a.0));
        Self { turns, turns_of: calls.iter().map(|c| c.len() as u64).collect() }
    }

    /// Turns in the pool where call `i` counts `count(i)` times.
    pub fn pool_size(&self, count: impl Fn(usize) -> u64) -> u64 {
        self.turns_of.iter().enumerate().map(|(call, &turns)| turns * count(call)).sum()
    }

    /// The type-7 quantile at `q` of the pool where call `i`'s turns count
    /// `count(i)` times, `pool` turns in all (at least one; see
    /// [`Descending::pool_size`]).
    pub fn quantile(&self, q: f64, pool: u64, count: impl Fn(usize) -> u64) -> f64 {
        let h = (pool - 1) as f64 * q;
        let below = (h.floor() as u64).min(pool - 1);
        let fraction = h - below as f64;
        // Ascending index `below` is descending rank `pool - 1 - below`;
        // the interpolation also needs the one above it, a rank higher.
        let low_rank = pool - 1 - below;
        let high_rank = (fraction != 0.0 && low_rank > 0).then(|| low_rank - 1);
        let (mut seen, mut high) = (0u64, None);
        for &(value, call) in &self.turns {
            let count = count(call as usize);
            if count == 0 {
                continue;
            }
            seen += count;
            if high.is_none() && high_rank.is_some_and(|rank| rank < seen) {
                high = Some(value);
            }
            if low_rank < seen {
                return high.map_or(value, |high| value + fraction * (high - value));
            }
        }
        unreachable!("the pool holds {pool} turns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canary::quantile;
    use crate::seed::Rng;

    #[test]
    fn a_weighted_walk_is_the_quantile_of_the_pool() {
        let mut rng = Rng::new(5);
        for _ in 0..200 {
            let calls: Vec<Vec<f64>> = (0..1 + rng.below(30))
                .map(|_| (0..1 + rng.below(4)).map(|_| (rng.below(50) + 1) as f64 * 7.5).collect())
                .collect();
            let refs: Vec<&Vec<f64>> = calls.iter().collect();
            let counts: Vec<u32> = calls.iter().map(|_| rng.below(3) as u32).collect();
            let pooled: Vec<f64> = calls
                .iter()
                .zip(&counts)
                .flat_map(|(call, &n)| (0..n).flat_map(move |_| call.iter().copied()))
                .collect();
            let descending = Descending::new(&refs);
            for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0] {
                let expected = quantile(&pooled, q);
                let count = |call: usize| u64::from(counts[call]);
                let pool = descending.pool_size(count);
                assert_eq!(pool, pooled.len() as u64);
                let got = (pool > 0).then(|| descending.quantile(q, pool, count));
                assert_eq!(got, expected, "q {q}, {calls:?} x {counts:?}");
            }
        }
    }
}
