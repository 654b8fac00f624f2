//! The phone channel: what a PSTN call does to the caller's audio.
//! Band limiting to 300–3400 Hz, 8 kHz G.711 µ-law, and lost 20 ms packets
//! concealed by repeating the last good packet at half level (as simple
//! jitter buffers do). Pure and seeded.

use super::{AudioError, mulaw, resample, to_f32, to_i16};
use crate::seed::Rng;

pub const PHONE_RATE: u32 = 8_000;
const PACKET: usize = 160;

/// One biquad section (RBJ cookbook), direct form I.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn butterworth(kind: &str, cutoff: f64, rate: f64) -> Self {
        let w = std::f64::consts::TAU * cutoff / rate;
        let (sin, cos) = w.sin_cos();
        let alpha = sin / std::f64::consts::SQRT_2;
        let a0 = 1.0 + alpha;
        let b = if kind == "low" {
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0]
        } else {
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0]
        };
        Self { b: [b[0] / a0, b[1] / a0, b[2] / a0], a: [-2.0 * cos / a0, (1.0 - alpha) / a0] }
    }

    fn run(&self, input: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        input
            .iter()
            .map(|&x| {
                let y = self.b[0] * x + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x, y1, y);
                y
            })
            .collect()
    }
}

/// 300–3400 Hz: two second-order high-pass and two low-pass sections.
pub fn telephone_band(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let rate = f64::from(sample_rate);
    let mut signal: Vec<f64> = samples.iter().map(|&x| f64::from(x)).collect();
    let high = Biquad::butterworth("high", 300.0, rate);
    let low = Biquad::butterworth("low", 3400.0_f64.min(rate * 0.45), rate);
    for section in [high, high, low, low] {
        signal = section.run(&signal);
    }
    signal.into_iter().map(|x| x as f32).collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhoneChannel {
    /// Probability that a 20 ms packet is lost.
    pub loss_rate: f64,
}

/// The caller's audio after the phone network: band-limited, carried as
/// 8 kHz µ-law with packet loss concealed, back at `sample_rate`. Also
/// returns which packets were lost.
pub fn through_phone(
    samples: &[i16],
    sample_rate: u32,
    channel: PhoneChannel,
    rng: &mut Rng,
) -> Result<(Vec<i16>, Vec<usize>), AudioError> {
    let band = telephone_band(&to_f32(samples), sample_rate);
    let narrow = to_i16(&resample(&band, sample_rate, PHONE_RATE)?);
    let mut received = mulaw::decode_all(&mulaw::encode_all(&narrow));
    let lost = conceal_losses(&mut received, channel.loss_rate, rng);
    let wide = resample(&to_f32(&received), PHONE_RATE, sample_rate)?;
    Ok((to_i16(&wide), lost))
}

/// Drop each 20 ms packet with probability `loss_rate`; replace it with the
/// last good packet at half level (silence before the first). Returns the
/// indices of lost packets.
pub fn conceal_losses(samples: &mut [i16], loss_rate: f64, rng: &mut Rng) -> Vec<usize> {
    let mut lost = Vec::new();
    let mut last_good: Option<Vec<i16>> = None;
    for (index, packet) in samples.chunks_mut(PACKET).enumerate() {
        if rng.unit() < loss_rate {
            lost.push(index);
            match &last_good {
                Some(previous) => {
                    for (out, &p) in packet.iter_mut().zip(previous.iter().cycle()) {
                        *out = p / 2;
                    }
                }
                None => packet.fill(0),
            }
        } else {
            last_good = Some(packet.to_vec());
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{any, prop_assert, proptest};

    use super::*;
    use crate::audio::noise::mean_power;

    fn tone(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len).map(|i| 0.3 * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin()).collect()
    }

    fn gain_db(freq: f32) -> f64 {
        let input = tone(freq, 16_000, 16_000);
        let output = telephone_band(&input, 16_000);
        // Skip the filters' settling time.
        10.0 * (mean_power(&output[4_000..]) / mean_power(&input[4_000..])).log10()
    }

    #[test]
    fn the_band_keeps_voice_and_cuts_rumble_and_hiss() {
        assert!(gain_db(1_000.0).abs() < 0.5, "1 kHz {}", gain_db(1_000.0));
        assert!(gain_db(100.0) < -15.0, "100 Hz {}", gain_db(100.0));
        assert!(gain_db(6_000.0) < -15.0, "6 kHz {}", gain_db(6_000.0));
    }

    #[test]
    fn lost_packets_repeat_the_last_good_one_at_half_level() {
        let mut samples: Vec<i16> = (0..PACKET * 4).map(|i| (i % PACKET) as i16 * 10 + 1000).collect();
        let original = samples.clone();
        let lost = conceal_losses(&mut samples, 1.0, &mut Rng::new(1));
        assert_eq!(lost, [0, 1, 2, 3]);
        assert!(samples.iter().all(|&s| s == 0), "no good packet yet: silence");

        let mut samples = original.clone();
        let mut rng = Rng::new(3);
        let lost = conceal_losses(&mut samples, 0.5, &mut rng);
        for index in 0..4 {
            let range = index * PACKET..(index + 1) * PACKET;
            if !lost.contains(&index) {
                assert_eq!(samples[range.clone()], original[range]);
            } else if let Some(good) = (0..index).rev().find(|i| !lost.contains(i)) {
                let expected: Vec<i16> = original[good * PACKET..(good + 1) * PACKET].iter().map(|s| s / 2).collect();
                assert_eq!(samples[range], expected[..]);
            }
        }
    }

    proptest! {
        #[test]
        fn loss_happens_at_about_the_requested_rate(seed in any::<u64>(), rate in 0.0f64..0.3) {
            let mut samples = vec![1i16; PACKET * 2_000];
            let lost = conceal_losses(&mut samples, rate, &mut Rng::new(seed));
            let measured = lost.len() as f64 / 2_000.0;
            // Binomial with n = 2000; six standard deviations, so that a
            // correct implementation fails about once in 10^9 cases.
            prop_assert!((measured - rate).abs() <= 6.0 * (rate * (1.0 - rate) / 2_000.0).sqrt() + 1e-9);
        }

        #[test]
        fn resampling_keeps_duration_within_a_sample_and_in_band_energy(
            from in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            to in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            len in 4_000usize..12_000,
        ) {
            let input = tone(440.0, from, len);
            let output = resample(&input, from, to).expect("resample");
            let exact = len as f64 * f64::from(to) / f64::from(from);
            prop_assert!((output.len() as f64 - exact).abs() <= 1.0);
            let (skip_in, skip_out) = (len / 8, output.len() / 8);
            let db = 10.0 * (mean_power(&output[skip_out..output.len() - skip_out]) / mean_power(&input[skip_in..len - skip_in])).log10();
            prop_assert!(db.abs() < 0.5, "{from} -> {to}: {db} dB");
        }

        #[test]
        fn the_phone_line_is_deterministic_per_seed(seed in any::<u64>()) {
            let speech: Vec<i16> = tone(700.0, 16_000, 3_200).iter().map(|&x| (x * 20_000.0) as i16).collect();
            let channel = PhoneChannel { loss_rate: 0.1 };
            let a = through_phone(&speech, 16_000, channel, &mut Rng::new(seed)).expect("line");
            let b = through_phone(&speech, 16_000, channel, &mut Rng::new(seed)).expect("line");
            prop_assert!(a == b);
            prop_assert!(a.0.len() == speech.len());
        }
    }
}
