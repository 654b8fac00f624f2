//! Seeded randomness. Every random choice in the harness draws from an
//! [`Rng`] derived from the run's seed and a label, so the same seed gives
//! the same audio, the same event log and the same verdict.

/// SplitMix64: small, fast, and good enough for simulation noise.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// An independent stream for `label` under `seed`.
    pub fn derive(seed: u64, label: &str) -> Self {
        Self(seed ^ fnv1a(label.as_bytes()).rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Adds `sigma` times approximately standard normal noise to every
    /// sample of `out`, four samples per draw of the stream: each value is
    /// one of [`NORMAL_LEVELS`] equal-probability quantiles of N(0, 1),
    /// picked by 16 bits. A noise floor needs no more, and it costs no
    /// `ln` or `cos` per sample (Box-Muller's took a fifth of a traffic
    /// run). Not for statistics: use [`Rng::gaussian`].
    pub fn add_quantised_normal(&mut self, out: &mut [f32], sigma: f32) {
        let levels = normal_levels();
        for chunk in out.chunks_mut(4) {
            let bits = self.next_u64();
            for (k, x) in chunk.iter_mut().enumerate() {
                *x += sigma * levels[((bits >> (16 * k)) & 0xFFFF) as usize];
            }
        }
    }
}

/// How many quantiles [`Rng::add_quantised_normal`] picks from.
pub const NORMAL_LEVELS: usize = 1 << 16;

/// The midpoint quantiles `Φ⁻¹((i + ½) / NORMAL_LEVELS)` of N(0, 1).
fn normal_levels() -> &'static [f32] {
    static LEVELS: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    LEVELS.get_or_init(|| {
        use statrs::distribution::{ContinuousCDF, Normal};
        let normal = Normal::standard();
        (0..NORMAL_LEVELS).map(|i| normal.inverse_cdf((i as f64 + 0.5) / NORMAL_LEVELS as f64) as f32).collect()
    })
}

/// FNV-1a, 64 bit: stable across platforms and releases (unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &b| fnv1a_step(hash, b))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
}

/// A digest of PCM samples, for call records: FNV-1a of their
/// little-endian bytes, hashed as they are read (a call's audio is
/// megabytes).
pub fn digest_samples(samples: &[i16]) -> String {
    let hash = samples.iter().fold(FNV_OFFSET, |hash, s| {
        let [low, high] = s.to_le_bytes();
        fnv1a_step(fnv1a_step(hash, low), high)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_labels_separate_streams() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, "x");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, "x");
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, "y");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_digest_of_samples_is_fnv1a_of_their_little_endian_bytes() {
        let samples = [0i16, 1, -1, 0x1234, i16::MIN, i16::MAX];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        assert_eq!(digest_samples(&samples), format!("{:016x}", fnv1a(&bytes)));
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c, "the published FNV-1a 64 test vector");
    }

    #[test]
    fn quantised_normal_levels_are_the_normal_quantiles() {
        let levels = normal_levels();
        // scipy.stats.norm.ppf(0.5 / 65536) = -4.324919040826045,
        // norm.ppf(32768.5 / 65536) = 1.9124056051512087e-05 (scipy 1.17.1).
        assert!((f64::from(levels[0]) + 4.324_919_04).abs() < 1e-5, "{}", levels[0]);
        assert!((f64::from(levels[NORMAL_LEVELS / 2]) - 1.912_405_6e-5).abs() < 1e-9, "{}", levels[NORMAL_LEVELS / 2]);
        assert!(levels.windows(2).all(|w| w[0] < w[1]));
        // Mean 0 by symmetry; the variance of the midpoints is just under 1.
        let var = levels.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / NORMAL_LEVELS as f64;
        assert!((0.999..1.0).contains(&var), "{var}");
    }

    #[test]
    fn quantised_normal_noise_is_unit_normal_and_deterministic() {
        let draw = |seed| {
            let mut out = vec![0.0f32; 40_001];
            Rng::new(seed).add_quantised_normal(&mut out, 2.0);
            out
        };
        let xs = draw(3);
        assert_eq!(xs, draw(3));
        assert_ne!(xs, draw(4));
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = xs.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        // sd of the mean 2/sqrt(n) = 0.01; of the variance 4 sqrt(2/n) = 0.028.
        assert!(mean.abs() < 0.04, "{mean}");
        assert!((var - 4.0).abs() < 0.12, "{var}");
        let below = xs.iter().filter(|&&x| x < -2.0).count() as f64 / n;
        // P(Z < -1) = 0.158655 (scipy.stats.norm.cdf(-1)); sd 0.0018.
        assert!((below - 0.158_655).abs() < 0.008, "{below}");
    }

    #[test]
    fn gaussian_has_unit_variance() {
        let mut rng = Rng::new(1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.gaussian()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
