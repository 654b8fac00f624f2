//! Collects the caller's audio for each turn and asks the recogniser for
//! its text when the turn ends.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};

use crate::frame::Frame;
use crate::pipeline::{Context, JobPolicy, Origin, Processor};
use crate::services::SttService;
use crate::telemetry::EventKind;

pub struct Stt {
    service: Arc<dyn SttService>,
    /// Mask PII in what this stage logs.
    sample_rate: u32,
    pre_roll_ms: u32,
    pre_roll: VecDeque<i16>,
    /// The current turn's audio, from the pre-roll on.
    turn: Option<Vec<i16>>,
}

impl Stt {
    pub fn new(service: Arc<dyn SttService>, pre_roll_ms: u32) -> Self {
        Self { service, sample_rate: 16_000, pre_roll_ms, pre_roll: VecDeque::new(), turn: None }
    }

    fn pre_roll_capacity(&self) -> usize {
        (u64::from(self.sample_rate) * u64::from(self.pre_roll_ms) / 1000) as usize
    }
}

impl Processor for Stt {
    fn name(&self) -> &'static str {
        "stt"
    }

    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::Start { sample_rate } => {
                self.sample_rate = sample_rate;
                ctx.forward(frame, origin);
            }
            // Caller audio stops here: nothing downstream needs it.
            Frame::InputAudio { samples, .. } => match &mut self.turn {
                Some(turn) => turn.extend_from_slice(&samples),
                None => {
                    self.pre_roll.extend(samples);
                    let excess = self.pre_roll.len().saturating_sub(self.pre_roll_capacity());
                    self.pre_roll.drain(..excess);
                }
            },
            Frame::UserStartedSpeaking { .. } => {
                self.turn = Some(self.pre_roll.drain(..).collect());
                ctx.forward(frame, origin);
            }
            Frame::UserStoppedSpeaking { .. } => {
                let audio = self.turn.take().unwrap_or_default();
                let audio_ms = audio.len() as u64 * 1000 / u64::from(self.sample_rate.max(1));
                ctx.emit(EventKind::SttRequested { audio_ms });
                let request = self.service.transcribe(audio, self.sample_rate).map(|result| match result {
                    Ok(text) => Frame::Transcription { text },
                    Err(error) => Frame::ServiceError { service: "stt", message: error.message },
                });
                // A new turn starting while we wait must not lose this one.
                ctx.start_job(request.into_stream().boxed(), JobPolicy::Keep);
                ctx.forward(frame, origin);
            }
            Frame::Transcription { ref text } if matches!(origin, Origin::Job(_)) => {
                // The session's event sink masks PII when the overlay asks.
                ctx.emit(EventKind::Transcribed { text: text.clone() });
                ctx.push_down(frame);
            }
            Frame::ServiceError { service, message } if matches!(origin, Origin::Job(_)) => {
                ctx.emit(EventKind::ServiceFailed { service: service.into(), message });
                // The responder treats an unusable turn like silence: it re-prompts.
                ctx.push_down(Frame::Transcription { text: String::new() });
            }
            Frame::Stop | Frame::Interruption => {}
            other => ctx.forward(other, origin),
        }
    }
}
