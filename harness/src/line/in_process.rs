//! The in-process backend: the agent's `CallTransport` on one side, the
//! caller's [`CallerEnd`] on the other, each message delivered on the
//! call's clock after the network's delay.
//!
//! Towards the agent there are two paths, as on a real call: the caller's
//! audio crosses the access leg (the gateway's playout buffer) and then the
//! agent's leg; a mark is echoed by the gateway itself, so it crosses only
//! the agent's leg. Each path keeps its order. Towards the caller every
//! message crosses the agent's leg and reaches the gateway's playback queue.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use voicegate_agent::transport::{AgentMessage, CallTransport, CallerMessage};

use super::Network;

/// Forward each stamped message `delay` after its stamp, in order.
fn delay_line<T: Send + 'static>(
    delay: Duration,
    out: mpsc::UnboundedSender<T>,
) -> mpsc::UnboundedSender<(Instant, T)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, T)>();
    tokio::spawn(async move {
        while let Some((stamp, message)) = rx.recv().await {
            tokio::time::sleep_until(stamp + delay).await;
            if out.send(message).is_err() {
                break;
            }
        }
    });
    tx
}

/// The caller's end of an in-process line.
pub struct CallerEnd {
    media: mpsc::UnboundedSender<(Instant, CallerMessage)>,
    marks: mpsc::UnboundedSender<(Instant, CallerMessage)>,
    from_agent: mpsc::UnboundedReceiver<AgentMessage>,
}

impl CallerEnd {
    /// Send the start, a frame of the caller's audio or the stop: it reaches
    /// the agent after the uplink's playout buffer and the agent's leg.
    pub fn send(&self, message: CallerMessage) {
        let _ = self.media.send((Instant::now(), message));
    }

    /// The gateway echoes a mark `after` from now (when the packet carrying
    /// the audio before it goes out); it reaches the agent one leg later.
    pub fn echo_mark(&self, name: String, after: Duration) {
        let _ = self.marks.send((Instant::now() + after, CallerMessage::Mark { name }));
    }

    /// The next message from the agent that has reached the gateway by now.
    pub fn try_recv(&mut self) -> Result<AgentMessage, mpsc::error::TryRecvError> {
        self.from_agent.try_recv()
    }
}

/// A line in this process, on the current runtime's clock.
pub fn in_process(network: &Network) -> (CallerEnd, CallTransport) {
    let leg = Duration::from_millis(u64::from(network.one_way_ms));
    let uplink = Duration::from_micros(network.uplink_us());
    let (to_agent, inbound) = mpsc::unbounded_channel();
    let media = delay_line(uplink, to_agent.clone());
    let marks = delay_line(leg, to_agent);

    let (outbound, mut from_agent_raw) = mpsc::unbounded_channel::<AgentMessage>();
    let (to_caller, from_agent) = mpsc::unbounded_channel();
    let downlink = delay_line(leg, to_caller);
    // Stamp each agent message when it is sent.
    tokio::spawn(async move {
        while let Some(message) = from_agent_raw.recv().await {
            if downlink.send((Instant::now(), message)).is_err() {
                break;
            }
        }
    });
    (CallerEnd { media, marks, from_agent }, CallTransport { inbound, outbound })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_path_delivers_in_order_after_its_delay() {
        let network = Network { one_way_ms: 30, jitter_buffer_ms: 40, ..Network::ideal() };
        let (mut caller, mut agent) = in_process(&network);
        let start = Instant::now();
        caller.send(CallerMessage::Media { samples: vec![1] });
        caller.echo_mark("m1".into(), Duration::from_millis(5));
        let first = agent.inbound.recv().await.expect("mark");
        assert_eq!(first, CallerMessage::Mark { name: "m1".into() });
        assert_eq!(start.elapsed(), Duration::from_millis(35), "the mark crosses the agent's leg only");
        let second = agent.inbound.recv().await.expect("media");
        assert_eq!(second, CallerMessage::Media { samples: vec![1] });
        assert_eq!(start.elapsed(), Duration::from_millis(70), "audio crosses the playout buffer too");

        agent.outbound.send(AgentMessage::Clear).expect("open");
        agent.outbound.send(AgentMessage::Hangup).expect("open");
        let sent = Instant::now();
        tokio::time::sleep(Duration::from_millis(29)).await;
        assert!(caller.try_recv().is_err(), "not yet");
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        assert_eq!(caller.try_recv(), Ok(AgentMessage::Clear));
        assert_eq!(caller.try_recv(), Ok(AgentMessage::Hangup));
        assert_eq!(sent.elapsed(), Duration::from_millis(30));
        drop(agent);
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert_eq!(caller.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
    }
}
