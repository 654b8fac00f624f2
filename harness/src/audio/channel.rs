//! The phone channel: what a PSTN call does to audio, either way. Band
//! limiting to 300–3400 Hz and 8 kHz G.711 µ-law. Pure and streaming:
//! feeding a signal in 20 ms frames gives the same bytes as feeding it
//! whole. Loss and jitter belong to the network (`crate::line`).

use super::resample::StreamResampler;
use super::{AudioError, mulaw, to_i16};

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

/// The phone codec: a signal at `input_rate`, fed in 20 ms frames, band
/// limited and carried as 8 kHz G.711 mu-law. Loss and jitter are the
/// network's (`line::PacketPath`), applied to the packets this makes.
pub struct PhoneCodec {
    band: TelephoneBand,
    down: StreamResampler,
}

impl PhoneCodec {
    pub fn new(input_rate: u32) -> Result<Self, AudioError> {
        Ok(Self {
            band: TelephoneBand::new(input_rate),
            down: StreamResampler::new(input_rate, PHONE_RATE, input_rate as usize / 50)?,
        })
    }

    /// One 20 ms frame in; one 8 kHz packet as decoded at the far end.
    pub fn frame(&mut self, frame: &[f32]) -> Result<Vec<i16>, AudioError> {
        let band = self.band.process(frame);
        let narrow = to_i16(&self.down.process(&band)?);
        Ok(mulaw::decode_all(&mulaw::encode_all(&narrow)))
    }
}

/// The whole of `samples` (at `sample_rate`, a multiple of 50 Hz) through
/// the phone codec, at the phone rate.
pub fn through_phone(samples: &[f32], sample_rate: u32) -> Result<Vec<i16>, AudioError> {
    let frame = sample_rate as usize / 50;
    let mut codec = PhoneCodec::new(sample_rate)?;
    let mut out = Vec::new();
    for chunk in samples.chunks(frame) {
        let mut padded = chunk.to_vec();
        padded.resize(frame, 0.0);
        out.extend(codec.frame(&padded)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{prop_assert, proptest};

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
    fn the_line_carries_a_voice_band_tone_at_about_its_level() {
        let tone = tone(1_000.0, 16_000, 16_000);
        let out = through_phone(&tone, 16_000).expect("line");
        assert_eq!(out.len(), 8_000);
        let out = crate::audio::to_f32(&out);
        let db = 10.0 * (mean_power(&out[2_000..]) / mean_power(&tone[4_000..])).log10();
        assert!(db.abs() < 0.5, "1 kHz through the line: {db} dB");
    }

    proptest! {
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
    }
}
