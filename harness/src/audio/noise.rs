//! Background noise and mixing at an exact signal-to-noise ratio.
//!
//! SNR is the ratio of mean powers over the whole stretch mixed:
//! `10 log10(P_speech / P_noise)`. The noise is scaled to hit the requested
//! SNR exactly (before the final rounding to 16-bit samples).

use crate::seed::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// Flat spectrum.
    White,
    /// 1/f spectrum (Paul Kellet's filter), like ventilation or rain.
    Pink,
    /// 1/f² spectrum (integrated white noise), like traffic rumble.
    Brown,
    /// 50 Hz mains hum with harmonics.
    Hum,
}

/// `len` samples of noise at about unit power, from `rng`.
pub fn noise(kind: NoiseKind, len: usize, sample_rate: u32, rng: &mut Rng) -> Vec<f32> {
    // Background noise needs a normal's shape, not its far tails.
    let mut white = || {
        let mut out = vec![0.0f32; len];
        rng.add_quantised_normal(&mut out, 1.0);
        out
    };
    let mut out: Vec<f32> = match kind {
        NoiseKind::White => white(),
        NoiseKind::Pink => {
            let mut b = [0.0f64; 7];
            white()
                .into_iter()
                .map(|white| {
                    let white = f64::from(white);
                    b[0] = 0.99886 * b[0] + white * 0.0555179;
                    b[1] = 0.99332 * b[1] + white * 0.0750759;
                    b[2] = 0.96900 * b[2] + white * 0.1538520;
                    b[3] = 0.86650 * b[3] + white * 0.3104856;
                    b[4] = 0.55000 * b[4] + white * 0.5329522;
                    b[5] = -0.7616 * b[5] - white * 0.0168980;
                    let pink = b.iter().sum::<f64>() + white * 0.5362;
                    b[6] = white * 0.115926;
                    pink as f32
                })
                .collect()
        }
        NoiseKind::Brown => {
            let mut level = 0.0f64;
            white()
                .into_iter()
                .map(|white| {
                    // A leaky integrator keeps the walk from drifting away.
                    level = 0.998 * level + 0.05 * f64::from(white);
                    level as f32
                })
                .collect()
        }
        NoiseKind::Hum => {
            let phase = rng.unit() * std::f64::consts::TAU;
            (0..len)
                .map(|i| {
                    let t = i as f64 / f64::from(sample_rate.max(1));
                    let w = std::f64::consts::TAU * 50.0 * t + phase;
                    (w.sin() + 0.5 * (3.0 * w).sin() + 0.25 * (5.0 * w).sin()) as f32
                })
                .collect()
        }
    };
    let power = mean_power(&out);
    if power > 0.0 {
        let gain = (1.0 / power).sqrt() as f32;
        out.iter_mut().for_each(|x| *x *= gain);
    }
    out
}

pub fn mean_power(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / samples.len() as f64
}

/// The SNR of `speech` against `noise`, in dB.
pub fn snr_db(speech: &[f32], noise: &[f32]) -> f64 {
    10.0 * (mean_power(speech) / mean_power(noise)).log10()
}

/// `noise` scaled so that `speech` over it has `snr_db`, added to `speech`.
/// Returns the mix and the scaled noise. `noise` must be at least as long as
/// `speech` and not silent; a silent `speech` gets the noise unscaled.
pub fn mix_at_snr(speech: &[f32], noise: &[f32], snr_db: f64) -> (Vec<f32>, Vec<f32>) {
    let noise = &noise[..speech.len().min(noise.len())];
    let (ps, pn) = (mean_power(speech), mean_power(noise));
    let gain = if ps > 0.0 && pn > 0.0 { (ps / (pn * 10f64.powf(snr_db / 10.0))).sqrt() } else { 1.0 };
    let scaled: Vec<f32> = noise.iter().map(|&n| (f64::from(n) * gain) as f32).collect();
    let mix = speech.iter().zip(&scaled).map(|(&s, &n)| s + n).collect();
    (mix, scaled)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Just, any, prop_assert, prop_assert_eq, prop_oneof, proptest};

    use super::*;

    fn band_power(x: &[f32], lo: usize, hi: usize) -> f64 {
        // Power in DFT bins [lo, hi) of a 1024-sample block, averaged over blocks.
        let n = 1024;
        let mut total = 0.0;
        let blocks = x.len() / n;
        for b in 0..blocks {
            let block = &x[b * n..(b + 1) * n];
            for k in lo..hi {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (i, &v) in block.iter().enumerate() {
                    let w = std::f64::consts::TAU * (k * i) as f64 / n as f64;
                    re += f64::from(v) * w.cos();
                    im -= f64::from(v) * w.sin();
                }
                total += re * re + im * im;
            }
        }
        total / (blocks * (hi - lo)) as f64
    }

    #[test]
    fn coloured_noises_have_their_slopes() {
        let mut rng = Rng::new(5);
        let white = noise(NoiseKind::White, 16_384, 16_000, &mut rng);
        let pink = noise(NoiseKind::Pink, 16_384, 16_000, &mut rng);
        let brown = noise(NoiseKind::Brown, 16_384, 16_000, &mut rng);
        let tilt = |x: &[f32]| 10.0 * (band_power(x, 4, 8) / band_power(x, 128, 136)).log10();
        // Bins 4..8 vs 128..136 are five octaves apart: 0 dB flat, ~15 dB for 1/f, ~30 dB for 1/f².
        assert!(tilt(&white).abs() < 3.0, "white {}", tilt(&white));
        assert!((10.0..20.0).contains(&tilt(&pink)), "pink {}", tilt(&pink));
        assert!(tilt(&brown) > 22.0, "brown {}", tilt(&brown));
        for x in [&white, &pink, &brown] {
            assert!((mean_power(x) - 1.0).abs() < 1e-6, "unit power");
        }
    }

    proptest! {
        #[test]
        fn a_mix_has_the_requested_snr_to_a_tenth_of_a_db(
            seed in any::<u64>(),
            snr in -10.0f64..40.0,
            kind in prop_oneof![Just(NoiseKind::White), Just(NoiseKind::Pink), Just(NoiseKind::Brown), Just(NoiseKind::Hum)],
            level in 0.01f32..0.5,
        ) {
            let mut rng = Rng::new(seed);
            let speech: Vec<f32> = (0..8_000).map(|i| level * ((i as f32) * 0.07).sin() * (rng.unit() as f32)).collect();
            let background = noise(kind, 8_000, 16_000, &mut rng);
            let (mix, scaled) = mix_at_snr(&speech, &background, snr);
            prop_assert!((snr_db(&speech, &scaled) - snr).abs() < 0.1);
            // What was added is exactly the scaled noise.
            let residual: Vec<f32> = mix.iter().zip(&speech).map(|(m, s)| m - s).collect();
            prop_assert!((snr_db(&speech, &residual) - snr).abs() < 0.1);
        }

        #[test]
        fn the_same_seed_gives_the_same_noise(seed in any::<u64>()) {
            let a = noise(NoiseKind::Pink, 1_000, 16_000, &mut Rng::new(seed));
            let b = noise(NoiseKind::Pink, 1_000, 16_000, &mut Rng::new(seed));
            prop_assert_eq!(a, b);
        }
    }
}
