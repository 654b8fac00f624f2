//! The input side of the transport: caller messages become frames.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::{mpsc, watch};

use crate::frame::Frame;
use crate::transport::CallerMessage;

/// Turn the caller's messages into the pipeline's source of frames. The
/// stream ends when the caller stops, the line closes, or the agent hangs
/// up (`hangup` becomes true); the runner then sends `Stop` through.
pub fn input_frames(
    inbound: mpsc::UnboundedReceiver<CallerMessage>,
    hangup: watch::Receiver<bool>,
) -> BoxStream<'static, Frame> {
    struct State {
        inbound: mpsc::UnboundedReceiver<CallerMessage>,
        hangup: watch::Receiver<bool>,
        sample_rate: u32,
        samples_seen: u64,
    }
    let state = State { inbound, hangup, sample_rate: 16_000, samples_seen: 0 };
    futures_util::stream::unfold(state, |mut state| async move {
        let message = tokio::select! {
            biased;
            _ = state.hangup.wait_for(|hung_up| *hung_up) => return None,
            message = state.inbound.recv() => message?,
        };
        let frame = match message {
            CallerMessage::Start { sample_rate } => {
                state.sample_rate = sample_rate.max(1);
                Frame::Start { sample_rate: state.sample_rate }
            }
            CallerMessage::Media { samples } => {
                let media_time = samples_to_duration(state.samples_seen, state.sample_rate);
                state.samples_seen += samples.len() as u64;
                Frame::InputAudio { samples, media_time }
            }
            CallerMessage::Mark { name } => Frame::PlaybackMark { name },
            CallerMessage::Stop => return None,
        };
        Some((frame, state))
    })
    .boxed()
}

pub fn samples_to_duration(samples: u64, sample_rate: u32) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(sample_rate.max(1)))
}
