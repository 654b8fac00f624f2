//! The access leg towards the caller: what the gateway plays out, 20 ms at
//! a time at the agent's declared rate, becomes what the caller's ear hears
//! at the line rate, through the codec (over a phone line) and the
//! network's packets.

use super::{Network, PacketFate, PacketPath};
use crate::audio::channel::{PHONE_RATE, PhoneCodec};
use crate::audio::{AudioError, LINE_RATE, StreamResampler, to_f32, to_i16};
use crate::seed::Rng;

/// The first stage: agent audio at its rate to the access leg's packets.
#[expect(clippy::large_enum_variant, reason = "built once per rate and held boxed")]
enum Carry {
    Phone(PhoneCodec),
    Wideband(StreamResampler),
}

pub struct Downlink {
    phone: bool,
    /// The agent's rate the first stage is built for, and the stage.
    carry: Option<(u32, Box<Carry>)>,
    /// 8 kHz back up to the line rate for the ear, over a phone line.
    up: StreamResampler,
    path: PacketPath,
}

impl Downlink {
    pub fn new(network: &Network, phone: bool, seed: u64) -> Result<Self, AudioError> {
        Ok(Self {
            phone,
            carry: None,
            up: StreamResampler::new(PHONE_RATE, LINE_RATE, PHONE_RATE as usize / 50)?,
            path: PacketPath::new(
                network.downlink_loss,
                network.jitter_ms,
                f64::from(network.jitter_buffer_ms),
                Rng::derive(seed, "downlink-packets"),
            ),
        })
    }

    /// One 20 ms packet of played audio (`rate / 50` samples at `rate`, a
    /// multiple of 50 Hz) in; the 20 ms the ear hears, at the line rate, out.
    pub fn frame(&mut self, samples: &[i16], rate: u32) -> Result<Vec<i16>, AudioError> {
        if self.carry.as_ref().is_none_or(|(built, _)| *built != rate) {
            let carry = if self.phone {
                Carry::Phone(PhoneCodec::new(rate)?)
            } else {
                Carry::Wideband(StreamResampler::new(rate, LINE_RATE, rate as usize / 50)?)
            };
            self.carry = Some((rate, Box::new(carry)));
        }
        let Some((_, carry)) = &mut self.carry else { unreachable!("built above") };
        let mut packet = match carry.as_mut() {
            Carry::Phone(codec) => codec.frame(&to_f32(samples))?,
            Carry::Wideband(resampler) => to_i16(&resampler.process(&to_f32(samples))?),
        };
        self.path.packet(&mut packet);
        if self.phone { Ok(to_i16(&self.up.process(&to_f32(&packet))?)) } else { Ok(packet) }
    }

    /// Packets lost or late so far; packet k was played out at timeline frame k.
    pub fn fate(&self) -> &PacketFate {
        &self.path.fate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, frames: usize) -> Vec<i16> {
        let n = rate as usize / 50 * frames;
        (0..n).map(|i| (8_000.0 * (std::f32::consts::TAU * 500.0 * i as f32 / rate as f32).sin()) as i16).collect()
    }

    fn through(network: &Network, phone: bool, rate: u32) -> Vec<i16> {
        let mut downlink = Downlink::new(network, phone, 7).expect("downlink");
        tone(rate, 50)
            .chunks(rate as usize / 50)
            .flat_map(|frame| downlink.frame(frame, rate).expect("frame"))
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    #[test]
    fn the_declared_rate_is_honoured_and_the_level_kept() {
        let ideal = Network::ideal();
        let reference = through(&ideal, false, 16_000);
        assert_eq!(reference, tone(16_000, 50), "16 kHz on a wideband line passes untouched");
        for rate in [8_000, 24_000, 48_000] {
            let heard = through(&ideal, false, rate);
            assert_eq!(heard.len(), 16_000, "{rate} Hz: one second heard");
            let db = 20.0 * (rms(&heard[4_000..]) / rms(&reference[4_000..])).log10();
            assert!(db.abs() < 0.5, "{rate} Hz: {db} dB");
        }
        let phone = through(&ideal, true, 16_000);
        assert_eq!(phone.len(), 16_000);
        assert_ne!(phone, reference, "the phone codec changes the samples");
        let db = 20.0 * (rms(&phone[4_000..]) / rms(&reference[4_000..])).log10();
        // 500 Hz is near the band's 300 Hz edge: about 1 dB down there.
        assert!(db.abs() < 1.5, "500 Hz over the phone line: {db} dB");
    }

    #[test]
    fn lost_packets_are_concealed_and_recorded() {
        let lossy = Network {
            downlink_loss: super::super::GilbertElliott::bursty(0.2, 2.0).expect("possible"),
            ..Network::ideal()
        };
        let mut downlink = Downlink::new(&lossy, false, 3).expect("downlink");
        let clean = tone(16_000, 100);
        let heard: Vec<i16> = clean.chunks(320).flat_map(|f| downlink.frame(f, 16_000).expect("frame")).collect();
        let lost = &downlink.fate().lost;
        assert!(!lost.is_empty());
        for k in 0..100 {
            let same = heard[k * 320..(k + 1) * 320] == clean[k * 320..(k + 1) * 320];
            assert_eq!(same, !lost.contains(&k), "packet {k}");
        }
    }
}
