//! The user-turn aggregator: decides what counts as one caller turn.
//!
//! The recogniser returns text for each stretch of speech the VAD closes.
//! When the caller pauses past the end-of-turn silence and speaks again
//! before the agent has said anything in reply, both stretches are one turn:
//! the second transcript is joined to the first and sent on as a
//! continuation, so the responder answers the whole sentence and history
//! keeps one caller message. Once the caller has heard the agent start to
//! reply, the next transcript starts a new turn.

use crate::frame::Frame;
use crate::pipeline::{Context, Origin, Processor};

#[derive(Default)]
pub struct UserTurnAggregator {
    /// The current turn's text, while the agent has not started replying.
    open_turn: Option<String>,
}

impl UserTurnAggregator {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Processor for UserTurnAggregator {
    fn name(&self) -> &'static str {
        "user_turn"
    }

    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::Transcription { text } => {
                let text = text.trim().to_string();
                if text.is_empty() {
                    // Nothing usable was heard (a cough, a door): an open
                    // turn stays open, and the responder goes on with
                    // whatever the noise cut off.
                    ctx.push_down(Frame::UserTurn { text, continues_previous: false });
                    return;
                }
                let (text, continues_previous) = match self.open_turn.take() {
                    Some(previous) => (format!("{previous} {text}"), true),
                    None => (text, false),
                };
                self.open_turn = Some(text.clone());
                ctx.push_down(Frame::UserTurn { text, continues_previous });
            }
            Frame::BotStartedSpeaking { .. } => {
                self.open_turn = None;
                ctx.forward(frame, origin);
            }
            Frame::Stop | Frame::Interruption => {}
            other => ctx.forward(other, origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::UtteranceId;
    use crate::telemetry::test_sink;

    fn turns(ctx: &mut Context) -> Vec<(String, bool)> {
        ctx.take_pushed()
            .into_iter()
            .filter_map(|(_, f)| match f {
                Frame::UserTurn { text, continues_previous } => Some((text, continues_previous)),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn speech_resumed_before_the_agent_replies_continues_the_turn() {
        let mut aggregator = UserTurnAggregator::new();
        let mut ctx = Context::new(test_sink());
        let say = |a: &mut UserTurnAggregator, ctx: &mut Context, text: &str| {
            a.process(Frame::Transcription { text: text.into() }, Origin::FromUpstream, ctx);
        };
        say(&mut aggregator, &mut ctx, "can i change");
        say(&mut aggregator, &mut ctx, "my delivery address");
        assert_eq!(
            turns(&mut ctx),
            vec![("can i change".into(), false), ("can i change my delivery address".into(), true)]
        );
        let heard = Frame::BotStartedSpeaking { utterance: UtteranceId(2) };
        aggregator.process(heard, Origin::FromDownstream, &mut ctx);
        ctx.take_pushed();
        say(&mut aggregator, &mut ctx, "thanks");
        assert_eq!(turns(&mut ctx), vec![("thanks".into(), false)]);
    }
}
