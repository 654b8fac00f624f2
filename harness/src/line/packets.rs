//! One direction of the access leg, packet by packet: bursty loss, jitter
//! against a fixed playout buffer, and concealment that fades out.

use serde::{Deserialize, Serialize};

use super::network::GilbertElliott;
use crate::seed::Rng;

/// What became of the packets: indices of those lost and of those late.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacketFate {
    pub lost: Vec<usize>,
    pub late: Vec<usize>,
}

impl PacketFate {
    /// Was packet `index` concealed?
    pub fn concealed(&self, index: usize) -> bool {
        self.lost.binary_search(&index).is_ok() || self.late.binary_search(&index).is_ok()
    }
}

/// Consecutive concealed packets fade to silence over this many packets.
const FADE_PACKETS: f32 = 3.0;

/// Packets through one direction of the access leg, in order, as the
/// receiver plays them out.
#[derive(Debug, Clone)]
pub struct PacketPath {
    loss: GilbertElliott,
    jitter_ms: f64,
    buffer_ms: f64,
    rng: Rng,
    bad: bool,
    last_good: Option<Vec<i16>>,
    /// Packets concealed in a row so far.
    run: usize,
    packets: usize,
    pub fate: PacketFate,
}

impl PacketPath {
    pub fn new(loss: GilbertElliott, jitter_ms: f64, buffer_ms: f64, rng: Rng) -> Self {
        Self {
            loss,
            jitter_ms,
            buffer_ms,
            rng,
            bad: false,
            last_good: None,
            run: 0,
            packets: 0,
            fate: PacketFate::default(),
        }
    }

    /// The next packet as the receiver plays it: unchanged, or concealed.
    pub fn packet(&mut self, packet: &mut [i16]) {
        let index = self.packets;
        self.packets += 1;
        // Three draws per packet whatever the settings, so changing one knob
        // does not reshuffle the others' draws.
        let (step, drop, delay) = (self.rng.unit(), self.rng.unit(), self.rng.gaussian().abs());
        self.bad = if self.bad { step >= self.loss.p_bad_to_good } else { step < self.loss.p_good_to_bad };
        let lost = drop < if self.bad { self.loss.loss_bad } else { self.loss.loss_good };
        let late = !lost && self.jitter_ms * delay > self.buffer_ms;
        if lost {
            self.fate.lost.push(index);
        } else if late {
            self.fate.late.push(index);
        }
        if !(lost || late) {
            self.run = 0;
            self.last_good = Some(packet.to_vec());
            return;
        }
        // Repeat the last good packet, its level ramping down across this
        // packet and the next ones, to silence after `FADE_PACKETS`.
        let from = (1.0 - self.run as f32 / FADE_PACKETS).max(0.0);
        let to = (1.0 - (self.run + 1) as f32 / FADE_PACKETS).max(0.0);
        self.run += 1;
        let len = packet.len().max(1) as f32;
        match &self.last_good {
            Some(previous) if from > 0.0 => {
                for (i, (out, &p)) in packet.iter_mut().zip(previous.iter().cycle()).enumerate() {
                    let gain = from + (to - from) * i as f32 / len;
                    *out = (f32::from(p) * gain).round() as i16;
                }
            }
            _ => packet.fill(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{any, prop_assert, proptest};

    use super::*;

    const PACKET: usize = 320;

    fn run(path: &mut PacketPath, packets: usize) -> Vec<i16> {
        let mut samples: Vec<i16> = (0..PACKET * packets).map(|i| 1000 + (i % PACKET) as i16).collect();
        samples.chunks_mut(PACKET).for_each(|p| path.packet(p));
        samples
    }

    #[test]
    fn a_lost_packet_repeats_the_last_good_one_fading_to_silence() {
        let always = GilbertElliott { p_good_to_bad: 1.0, p_bad_to_good: 0.0, loss_good: 0.0, loss_bad: 1.0 };
        let mut path = PacketPath::new(always, 0.0, 40.0, Rng::new(1));
        let samples = run(&mut path, 5);
        assert_eq!(path.fate.lost, [0, 1, 2, 3, 4]);
        assert!(samples.iter().all(|&s| s == 0), "nothing good yet: silence");

        // One good packet, then four lost.
        let mut path = PacketPath::new(GilbertElliott::NONE, 0.0, 40.0, Rng::new(1));
        let mut samples: Vec<i16> = (0..PACKET * 5).map(|i| 1000 + (i % PACKET) as i16).collect();
        path.packet(&mut samples[..PACKET]);
        path.loss = always;
        samples[PACKET..].chunks_mut(PACKET).for_each(|p| path.packet(p));
        assert_eq!(path.fate.lost, [1, 2, 3, 4]);
        let level = |k: usize| samples[k * PACKET..(k + 1) * PACKET].iter().map(|&s| i32::from(s).abs()).max();
        assert!(level(1) > level(2) && level(2) > level(3), "{:?}", (1..5).map(level).collect::<Vec<_>>());
        assert_eq!(level(4), Some(0), "silent after three concealed packets");
        assert_eq!(samples[PACKET], 1000, "the first concealed sample continues at full level");
    }

    proptest! {
        #[test]
        fn loss_happens_at_the_chain_s_stationary_rate_in_bursts(seed in any::<u64>()) {
            // 5% in bursts of 4 packets: over 20,000 packets the measured
            // rate is within six standard deviations of 5%. Bursts make the
            // packets dependent; the variance of the mean of a two-state
            // chain is inflated by (1 + rho) / (1 - rho) with
            // rho = 1 - p - r = 0.7368421, a factor of 6.6.
            let ge = GilbertElliott::bursty(0.05, 4.0).expect("possible");
            let mut path = PacketPath::new(ge, 0.0, 40.0, Rng::new(seed));
            run(&mut path, 20_000);
            let measured = path.fate.lost.len() as f64 / 20_000.0;
            let sd = (0.05 * 0.95 * 6.6 / 20_000.0f64).sqrt();
            prop_assert!((measured - 0.05).abs() <= 6.0 * sd, "{measured}");
            // Mean burst length: 1 / r = 4 packets.
            let bursts = 1 + path.fate.lost.windows(2).filter(|w| w[1] != w[0] + 1).count();
            let mean_burst = path.fate.lost.len() as f64 / bursts as f64;
            prop_assert!((mean_burst - 4.0).abs() < 1.0, "mean burst {mean_burst}");
        }

        #[test]
        fn packets_later_than_the_buffer_are_concealed_at_the_expected_rate(seed in any::<u64>(), jitter in 10.0f64..80.0) {
            let mut path = PacketPath::new(GilbertElliott::NONE, jitter, 60.0, Rng::new(seed));
            run(&mut path, 2_000);
            // P(|N(0, jitter)| > 60) = erfc(60 / (jitter sqrt 2)).
            let expected = 1.0 - erf(60.0 / jitter / std::f64::consts::SQRT_2);
            let measured = path.fate.late.len() as f64 / 2_000.0;
            prop_assert!((measured - expected).abs() <= 6.0 * (expected * (1.0 - expected) / 2_000.0).sqrt() + 1e-3,
                "jitter {jitter}: {measured} late, expected {expected}");
        }

        #[test]
        fn the_path_is_deterministic_per_seed(seed in any::<u64>()) {
            let ge = GilbertElliott::bursty(0.1, 2.0).expect("possible");
            let (mut a, mut b) = (PacketPath::new(ge, 30.0, 40.0, Rng::new(seed)), PacketPath::new(ge, 30.0, 40.0, Rng::new(seed)));
            prop_assert!(run(&mut a, 200) == run(&mut b, 200));
            prop_assert!(a.fate == b.fate);
        }
    }

    /// The error function (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.3275911 * x);
        let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        1.0 - poly * (-x * x).exp()
    }
}
