//! The phone channel: what a PSTN call does to the caller's audio.
//! Band limiting to 300–3400 Hz, 8 kHz G.711 µ-law, and 20 ms packets lost
//! on the way or arriving too late for the jitter buffer, concealed by
//! repeating the last good packet at half level (as simple jitter buffers
//! do). Pure, seeded and streaming: feeding a signal in 20 ms frames gives
//! the same bytes as feeding it whole.

use serde::{Deserialize, Serialize};

use super::resample::StreamResampler;
use super::{AudioError, mulaw, to_i16};
use crate::seed::Rng;

pub const PHONE_RATE: u32 = 8_000;
/// One 20 ms packet at the phone rate.
pub const PACKET: usize = 160;

/// One biquad section (RBJ cookbook), direct form I, with its state.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    x: [f64; 2],
    y: [f64; 2],
}

impl Biquad {
    fn butterworth(low_pass: bool, cutoff: f64, rate: f64) -> Self {
        let w = std::f64::consts::TAU * cutoff / rate;
        let (sin, cos) = w.sin_cos();
        let alpha = sin / std::f64::consts::SQRT_2;
        let a0 = 1.0 + alpha;
        let b = if low_pass {
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0]
        } else {
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0]
        };
        Self {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    fn step(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// 300–3400 Hz: two second-order high-pass and two low-pass sections.
#[derive(Debug, Clone)]
pub struct TelephoneBand {
    sections: [Biquad; 4],
}

impl TelephoneBand {
    pub fn new(sample_rate: u32) -> Self {
        let rate = f64::from(sample_rate);
        let high = Biquad::butterworth(false, 300.0, rate);
        let low = Biquad::butterworth(true, 3400.0_f64.min(rate * 0.45), rate);
        Self { sections: [high, high, low, low] }
    }

    pub fn process(&mut self, samples: &[f32]) -> Vec<f32> {
        samples
            .iter()
            .map(|&x| self.sections.iter_mut().fold(f64::from(x), |signal, section| section.step(signal)) as f32)
            .collect()
    }
}

/// The whole of `samples` through the telephone band.
pub fn telephone_band(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    TelephoneBand::new(sample_rate).process(samples)
}

/// What the network does to the packets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneChannel {
    /// Probability that a 20 ms packet is lost on the way.
    pub loss_rate: f64,
    /// Standard deviation of a packet's extra network delay, ms.
    pub jitter_ms: f64,
    /// Depth of the receiver's jitter buffer, ms: a packet delayed by more
    /// is too late to play and is concealed like a lost one.
    pub jitter_buffer_ms: f64,
}

impl Default for PhoneChannel {
    fn default() -> Self {
        Self { loss_rate: 0.0, jitter_ms: 0.0, jitter_buffer_ms: 60.0 }
    }
}

/// What became of the packets: indices of those lost and of those late.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacketFate {
    pub lost: Vec<usize>,
    pub late: Vec<usize>,
}

/// Packet loss and jitter with concealment, one 20 ms packet at a time.
#[derive(Debug, Clone)]
pub struct Concealer {
    channel: PhoneChannel,
    rng: Rng,
    last_good: Option<Vec<i16>>,
    packets: usize,
    pub fate: PacketFate,
}

impl Concealer {
    pub fn new(channel: PhoneChannel, rng: Rng) -> Self {
        Self { channel, rng, last_good: None, packets: 0, fate: PacketFate::default() }
    }

    /// One packet as the receiver plays it.
    pub fn packet(&mut self, packet: &mut [i16]) {
        let index = self.packets;
        self.packets += 1;
        // Two draws per packet whatever the settings, so changing one knob
        // does not reshuffle the other's draws.
        let lost = self.rng.unit() < self.channel.loss_rate;
        let delay = self.channel.jitter_ms * self.rng.gaussian().abs();
        let late = !lost && delay > self.channel.jitter_buffer_ms;
        if lost {
            self.fate.lost.push(index);
        } else if late {
            self.fate.late.push(index);
        }
        if lost || late {
            match &self.last_good {
                Some(previous) => {
                    for (out, &p) in packet.iter_mut().zip(previous.iter().cycle()) {
                        *out = p / 2;
                    }
                }
                None => packet.fill(0),
            }
        } else {
            self.last_good = Some(packet.to_vec());
        }
    }
}

/// The phone line from the caller's microphone (at `input_rate`, fed in
/// 20 ms frames) to the receiver (at the phone rate).
pub struct PhoneLine {
    band: TelephoneBand,
    down: StreamResampler,
    concealer: Concealer,
}

impl PhoneLine {
    pub fn new(input_rate: u32, channel: PhoneChannel, rng: Rng) -> Result<Self, AudioError> {
        Ok(Self {
            band: TelephoneBand::new(input_rate),
            down: StreamResampler::new(input_rate, PHONE_RATE, input_rate as usize / 50)?,
            concealer: Concealer::new(channel, rng),
        })
    }

    /// One 20 ms frame in; the packet the receiver plays out.
    pub fn frame(&mut self, frame: &[f32]) -> Result<Vec<i16>, AudioError> {
        let band = self.band.process(frame);
        let narrow = to_i16(&self.down.process(&band)?);
        let mut packet = mulaw::decode_all(&mulaw::encode_all(&narrow));
        self.concealer.packet(&mut packet);
        Ok(packet)
    }

    pub fn fate(&self) -> &PacketFate {
        &self.concealer.fate
    }
}

/// The whole of `samples` (at `sample_rate`, a multiple of 50 Hz) through
/// the phone line, back at the phone rate; and what became of the packets.
pub fn through_phone(
    samples: &[f32],
    sample_rate: u32,
    channel: PhoneChannel,
    rng: Rng,
) -> Result<(Vec<i16>, PacketFate), AudioError> {
    let frame = sample_rate as usize / 50;
    let mut line = PhoneLine::new(sample_rate, channel, rng)?;
    let mut out = Vec::new();
    for chunk in samples.chunks(frame) {
        let mut padded = chunk.to_vec();
        padded.resize(frame, 0.0);
        out.extend(line.frame(&padded)?);
    }
    Ok((out, line.fate().clone()))
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

    fn concealed(samples: &mut [i16], channel: PhoneChannel, seed: u64) -> PacketFate {
        let mut concealer = Concealer::new(channel, Rng::new(seed));
        samples.chunks_mut(PACKET).for_each(|p| concealer.packet(p));
        concealer.fate
    }

    fn lossy(loss_rate: f64) -> PhoneChannel {
        PhoneChannel { loss_rate, ..PhoneChannel::default() }
    }

    #[test]
    fn lost_packets_repeat_the_last_good_one_at_half_level() {
        let mut samples: Vec<i16> = (0..PACKET * 4).map(|i| (i % PACKET) as i16 * 10 + 1000).collect();
        let original = samples.clone();
        let fate = concealed(&mut samples, lossy(1.0), 1);
        assert_eq!(fate.lost, [0, 1, 2, 3]);
        assert!(samples.iter().all(|&s| s == 0), "no good packet yet: silence");

        let mut samples = original.clone();
        let lost = concealed(&mut samples, lossy(0.5), 3).lost;
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

    #[test]
    fn the_line_carries_a_voice_band_tone_at_about_its_level() {
        let tone = tone(1_000.0, 16_000, 16_000);
        let (out, fate) = through_phone(&tone, 16_000, PhoneChannel::default(), Rng::new(1)).expect("line");
        assert_eq!(out.len(), 8_000);
        assert!(fate.lost.is_empty() && fate.late.is_empty());
        let out = crate::audio::to_f32(&out);
        let db = 10.0 * (mean_power(&out[2_000..]) / mean_power(&tone[4_000..])).log10();
        assert!(db.abs() < 0.5, "1 kHz through the line: {db} dB");
    }

    proptest! {
        #[test]
        fn loss_happens_at_about_the_requested_rate(seed in any::<u64>(), rate in 0.0f64..0.3) {
            let mut samples = vec![1i16; PACKET * 2_000];
            let measured = concealed(&mut samples, lossy(rate), seed).lost.len() as f64 / 2_000.0;
            // Binomial with n = 2000; six standard deviations, so that a
            // correct implementation fails about once in 10^9 cases.
            prop_assert!((measured - rate).abs() <= 6.0 * (rate * (1.0 - rate) / 2_000.0).sqrt() + 1e-9);
        }

        #[test]
        fn packets_later_than_the_jitter_buffer_are_concealed_at_the_expected_rate(
            seed in any::<u64>(), jitter in 10.0f64..80.0,
        ) {
            let channel = PhoneChannel { loss_rate: 0.0, jitter_ms: jitter, jitter_buffer_ms: 60.0 };
            let mut samples = vec![1i16; PACKET * 2_000];
            let fate = concealed(&mut samples, channel, seed);
            // P(|N(0, jitter)| > 60 ms), by the error function's series.
            let z = 60.0 / jitter / std::f64::consts::SQRT_2;
            let expected = 1.0 - erf(z);
            let measured = fate.late.len() as f64 / 2_000.0;
            prop_assert!((measured - expected).abs() <= 6.0 * (expected * (1.0 - expected) / 2_000.0).sqrt() + 1e-3,
                "jitter {jitter}: {measured} late, expected {expected}");
        }

        #[test]
        fn resampling_keeps_duration_within_a_sample_and_in_band_energy(
            from in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            to in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            len in 4_000usize..12_000,
        ) {
            let input = tone(440.0, from, len);
            let output = crate::audio::resample(&input, from, to).expect("resample");
            let exact = len as f64 * f64::from(to) / f64::from(from);
            prop_assert!((output.len() as f64 - exact).abs() <= 1.0);
            let (skip_in, skip_out) = (len / 8, output.len() / 8);
            let db = 10.0 * (mean_power(&output[skip_out..output.len() - skip_out]) / mean_power(&input[skip_in..len - skip_in])).log10();
            prop_assert!(db.abs() < 0.5, "{from} -> {to}: {db} dB");
        }

        #[test]
        fn the_phone_line_is_deterministic_per_seed(seed in any::<u64>()) {
            let speech = tone(700.0, 16_000, 3_200);
            let channel = PhoneChannel { loss_rate: 0.1, jitter_ms: 30.0, jitter_buffer_ms: 60.0 };
            let a = through_phone(&speech, 16_000, channel, Rng::new(seed)).expect("line");
            let b = through_phone(&speech, 16_000, channel, Rng::new(seed)).expect("line");
            prop_assert!(a == b);
            prop_assert!(a.0.len() == speech.len() / 2);
        }
    }

    /// The error function (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.3275911 * x);
        let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        1.0 - poly * (-x * x).exp()
    }
}
