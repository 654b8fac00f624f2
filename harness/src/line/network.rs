//! What the network between the caller's phone and the agent does, in
//! both directions.
//!
//! The path has two legs. The agent talks to a media gateway (Twilio's edge,
//! say) over a reliable stream: every message arrives, in order, after
//! `one_way_ms`. The gateway talks to the phone in 20 ms packets over the
//! access network: each packet may be lost (bursty, Gilbert-Elliott) or
//! delayed by jitter, and the receiver (the phone going down, the gateway
//! going up) holds packets in a playout buffer `jitter_buffer_ms` deep, so
//! a packet later than that is concealed like a lost one. The buffer's depth
//! is paid on every packet: it is in the latency the caller hears. Over a
//! phone line (`Rendering::phone`) the access leg also carries 8 kHz
//! G.711 mu-law in the 300-3400 Hz band, both ways.

use serde::{Deserialize, Serialize};

/// Bursty packet loss: a two-state Markov chain (good, bad) stepped once
/// per packet, losing packets with a different probability in each state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliott {
    /// Probability of going from the good state to the bad one, per packet.
    pub p_good_to_bad: f64,
    /// Probability of going from the bad state back to the good one.
    pub p_bad_to_good: f64,
    /// Probability of losing a packet in the good state.
    pub loss_good: f64,
    /// Probability of losing a packet in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// No loss at all.
    pub const NONE: Self = Self { p_good_to_bad: 0.0, p_bad_to_good: 1.0, loss_good: 0.0, loss_bad: 0.0 };

    /// Bursts with this mean loss rate: every packet in the bad state is
    /// lost, and a bad spell lasts `mean_burst` packets on average. Short
    /// bursts cap the rate (a good packet follows every burst): bursts of
    /// `b` packets allow at most `b / (b + 1)`; more is an error.
    pub fn bursty(mean_loss: f64, mean_burst: f64) -> Result<Self, String> {
        if mean_loss <= 0.0 {
            return Ok(Self::NONE);
        }
        if mean_loss >= 1.0 {
            return Ok(Self { p_good_to_bad: 1.0, p_bad_to_good: 0.0, loss_good: 0.0, loss_bad: 1.0 });
        }
        let p_bad_to_good = (1.0 / mean_burst.max(1.0)).min(1.0);
        // Stationary share of the bad state: p / (p + r) = mean_loss.
        let p_good_to_bad = mean_loss * p_bad_to_good / (1.0 - mean_loss);
        if p_good_to_bad > 1.0 {
            let most = 100.0 / (1.0 + p_bad_to_good);
            return Err(format!(
                "{:.1}% loss in bursts of {mean_burst} packets: such bursts allow at most {most:.1}% (longer bursts, or 100%)",
                mean_loss * 100.0
            ));
        }
        Ok(Self { p_good_to_bad, p_bad_to_good, loss_good: 0.0, loss_bad: 1.0 })
    }

    /// The long-run share of packets lost: pi_bad * loss_bad + pi_good * loss_good,
    /// with pi_bad = p / (p + r).
    pub fn mean_loss(&self) -> f64 {
        let total = self.p_good_to_bad + self.p_bad_to_good;
        if total == 0.0 {
            return self.loss_good;
        }
        let bad = self.p_good_to_bad / total;
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }
}

/// The network of one call, both directions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// Agent to gateway and back, each way, ms.
    pub one_way_ms: u32,
    /// Standard deviation of a packet's extra delay on the access leg, ms.
    pub jitter_ms: f64,
    /// Depth of the playout buffer at each receiver of the access leg, ms.
    pub jitter_buffer_ms: u32,
    /// Loss on the access leg towards the agent.
    pub uplink_loss: GilbertElliott,
    /// Loss on the access leg towards the caller.
    pub downlink_loss: GilbertElliott,
}

impl Default for Network {
    fn default() -> Self {
        Self::good_mobile()
    }
}

impl Network {
    /// A good mobile call: the agent 20 ms from the gateway (the same
    /// region), a 40 ms playout buffer against 10 ms of jitter, and about
    /// half a percent of packets lost in short bursts each way. Mouth to
    /// ear, the line adds 60 ms each way.
    pub fn good_mobile() -> Self {
        let loss = GilbertElliott::bursty(0.005, 2.0).expect("half a percent in bursts of two is possible");
        Self { one_way_ms: 20, jitter_ms: 10.0, jitter_buffer_ms: 40, uplink_loss: loss, downlink_loss: loss }
    }

    /// No delay, no jitter, no loss: for unit tests of the agent's logic.
    pub fn ideal() -> Self {
        Self {
            one_way_ms: 0,
            jitter_ms: 0.0,
            jitter_buffer_ms: 0,
            uplink_loss: GilbertElliott::NONE,
            downlink_loss: GilbertElliott::NONE,
        }
    }

    /// From the caller's mouth (or the gateway's playout) to the agent, µs:
    /// the uplink playout buffer, then the agent's leg.
    pub fn uplink_us(&self) -> u64 {
        u64::from(self.jitter_buffer_ms + self.one_way_ms) * 1000
    }

    /// The agent learns what played this long after it played at the
    /// gateway, and a `Clear` takes as long to stop it: twice the agent's
    /// leg, plus one packet, since a mark is echoed when the packet that
    /// carries the audio before it goes out.
    pub fn round_trip_us(&self) -> u64 {
        2 * u64::from(self.one_way_ms) * 1000 + super::PACKET_MS * 1000
    }

    /// Refuse settings the line cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.one_way_ms > 2_000 {
            return Err(format!("network.one_way_ms {}: expected 0 to 2000", self.one_way_ms));
        }
        if !(0.0..=500.0).contains(&self.jitter_ms) {
            return Err(format!("network.jitter_ms {}: expected 0 to 500", self.jitter_ms));
        }
        if self.jitter_buffer_ms > 1_000 || !self.jitter_buffer_ms.is_multiple_of(super::PACKET_MS as u32) {
            return Err(format!(
                "network.jitter_buffer_ms {}: expected a multiple of {} from 0 to 1000",
                self.jitter_buffer_ms,
                super::PACKET_MS
            ));
        }
        for (name, loss) in [("uplink_loss", self.uplink_loss), ("downlink_loss", self.downlink_loss)] {
            for (field, p) in [
                ("p_good_to_bad", loss.p_good_to_bad),
                ("p_bad_to_good", loss.p_bad_to_good),
                ("loss_good", loss.loss_good),
                ("loss_bad", loss.loss_bad),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("network.{name}.{field} {p}: expected a probability, 0 to 1"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursty_loss_has_the_mean_it_was_built_for() {
        // Closed form: pi_bad = p / (p + r); with every bad packet lost the
        // mean loss is pi_bad. For 5% and bursts of 4: r = 0.25,
        // p = 0.05 * 0.25 / 0.95 = 0.013157894736842105.
        let ge = GilbertElliott::bursty(0.05, 4.0).expect("possible");
        assert!((ge.p_bad_to_good - 0.25).abs() < 1e-12);
        assert!((ge.p_good_to_bad - 0.013_157_894_736_842_105).abs() < 1e-15);
        assert!((ge.mean_loss() - 0.05).abs() < 1e-12);
        assert_eq!(GilbertElliott::NONE.mean_loss(), 0.0);
        assert_eq!(GilbertElliott::bursty(0.0, 3.0), Ok(GilbertElliott::NONE));
        assert_eq!(GilbertElliott::bursty(1.0, 2.0).expect("everything").mean_loss(), 1.0);
        // Bursts of two allow at most 2/3 of packets lost.
        let error = GilbertElliott::bursty(0.9, 2.0).expect_err("too much for bursts of two");
        assert!(error.contains("at most 66.7%"), "{error}");
    }

    #[test]
    fn the_default_is_a_good_mobile_call_not_a_perfect_wire() {
        let network = Network::default();
        assert!(network.one_way_ms > 0 && network.jitter_buffer_ms > 0 && network.jitter_ms > 0.0);
        assert!(network.uplink_loss.mean_loss() > 0.0 && network.uplink_loss.mean_loss() < 0.01);
        assert_eq!(network.round_trip_us(), 60_000);
        assert_eq!(network.uplink_us(), 60_000);
        network.validate().expect("valid");
        Network::ideal().validate().expect("valid");
    }

    #[test]
    fn bad_settings_name_their_field() {
        let network = Network { jitter_buffer_ms: 30, ..Network::default() };
        assert!(network.validate().expect_err("invalid").contains("network.jitter_buffer_ms 30"));
        let mut network = Network::default();
        network.downlink_loss.loss_bad = 1.5;
        assert!(network.validate().expect_err("invalid").contains("network.downlink_loss.loss_bad"));
        let parsed: Result<Network, _> = serde_json::from_str(r#"{"one_way": 10}"#);
        assert!(parsed.expect_err("unknown field").to_string().contains("one_way"));
    }
}
