//! Splits reply text into sentences and synthesises them one at a time, in
//! order, so audio reaches the caller in the order it was written.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use futures_util::StreamExt;

use crate::frame::{Frame, UtteranceId};
use crate::pipeline::{Context, JobId, JobPolicy, Origin, Processor};
use crate::services::{TtsRequest, TtsService};
use crate::telemetry::EventKind;

/// Work waiting behind the sentence being synthesised, in order.
#[derive(Debug)]
enum Queued {
    Sentence(UtteranceId, String),
    /// Passed on once every sentence before it has been synthesised.
    Frame(Frame),
}

pub struct Tts {
    service: Arc<dyn TtsService>,
    voice: String,
    sample_rate: u32,
    /// Text of the current reply not yet ending in a sentence break.
    partial: Option<(UtteranceId, String)>,
    queue: VecDeque<Queued>,
    active: Option<(JobId, UtteranceId)>,
    first_audio: HashSet<UtteranceId>,
}

impl Tts {
    pub fn new(service: Arc<dyn TtsService>, voice: String, sample_rate: u32) -> Self {
        Self {
            service,
            voice,
            sample_rate,
            partial: None,
            queue: VecDeque::new(),
            active: None,
            first_audio: HashSet::new(),
        }
    }

    fn take_sentences(&mut self, final_flush: bool) {
        let Some((utterance, text)) = &mut self.partial else { return };
        let utterance = *utterance;
        while let Some(end) = sentence_end(text) {
            let rest = text.split_off(end);
            let sentence = std::mem::replace(text, rest);
            if !sentence.trim().is_empty() {
                self.queue.push_back(Queued::Sentence(utterance, sentence.trim().to_string()));
            }
        }
        if final_flush {
            let rest = std::mem::take(text);
            if !rest.trim().is_empty() {
                self.queue.push_back(Queued::Sentence(utterance, rest.trim().to_string()));
            }
            self.partial = None;
        }
    }

    /// Start the next sentence if none is being synthesised, passing on
    /// queued frames that were waiting for earlier sentences.
    fn pump(&mut self, ctx: &mut Context) {
        while self.active.is_none() {
            match self.queue.pop_front() {
                None => return,
                Some(Queued::Frame(frame)) => ctx.push_down(frame),
                Some(Queued::Sentence(utterance, text)) => {
                    ctx.emit(EventKind::TtsRequested { utterance: utterance.0, text: text.clone() });
                    let stream = self
                        .service
                        .synthesize(TtsRequest { text, voice: self.voice.clone(), sample_rate: self.sample_rate })
                        .map(move |chunk| match chunk {
                            Ok(chunk) => Frame::OutputAudio {
                                utterance,
                                samples: chunk.samples,
                                sample_rate: chunk.sample_rate,
                                words: chunk.words,
                            },
                            Err(error) => Frame::ServiceError { service: "tts", message: error.message },
                        })
                        .boxed();
                    let job = ctx.start_job(stream, JobPolicy::CancelOnInterruption);
                    self.active = Some((job, utterance));
                }
            }
        }
    }
}

/// A clause break (`,`, `;`, `:`) ends a chunk of speech only after this
/// many words, so a long first sentence starts playing sooner without
/// cutting "Yes," off on its own.
const MIN_CLAUSE_WORDS: usize = 5;

/// Byte index just after the first break that ends a chunk of speech: a
/// sentence end (`.`, `?`, `!`) or a clause break after enough words, each
/// followed by white space.
fn sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut words = 0;
    for i in 0..bytes.len().saturating_sub(1) {
        let next_is_space = bytes[i + 1].is_ascii_whitespace();
        if next_is_space && !bytes[i].is_ascii_whitespace() {
            words += 1;
        }
        match bytes[i] {
            b'.' | b'?' | b'!' if next_is_space => return Some(i + 1),
            b',' | b';' | b':' if next_is_space && words >= MIN_CLAUSE_WORDS => return Some(i + 1),
            _ => {}
        }
    }
    None
}

impl Processor for Tts {
    fn name(&self) -> &'static str {
        "tts"
    }

    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::ReplyStarted { utterance } => {
                self.partial = Some((utterance, String::new()));
                ctx.push_down(frame);
            }
            Frame::ReplyText { utterance, ref text } => {
                match &mut self.partial {
                    Some((current, partial)) if *current == utterance => partial.push_str(text),
                    _ => self.partial = Some((utterance, text.clone())),
                }
                // The output transport keeps the generated text for its records.
                ctx.push_down(frame);
                self.take_sentences(false);
                self.pump(ctx);
            }
            Frame::ReplyTextDone { .. } | Frame::EndAfterReply => {
                self.take_sentences(true);
                self.queue.push_back(Queued::Frame(frame));
                self.pump(ctx);
            }
            Frame::OutputAudio { utterance, .. } if matches!(origin, Origin::Job(_)) => {
                if self.first_audio.insert(utterance) {
                    ctx.emit(EventKind::TtsFirstAudio { utterance: utterance.0 });
                }
                ctx.push_down(frame);
            }
            Frame::ServiceError { service, message } if matches!(origin, Origin::Job(_)) => {
                // The sentence is lost; the reply goes on with the next one.
                ctx.emit(EventKind::ServiceFailed { service: service.into(), message });
            }
            Frame::Interruption => {
                self.partial = None;
                self.queue.clear();
                self.active = None;
            }
            Frame::Stop => {}
            other => ctx.forward(other, origin),
        }
    }

    fn job_finished(&mut self, job: JobId, ctx: &mut Context) {
        if self.active.is_some_and(|(active, _)| active == job) {
            self.active = None;
            self.pump(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_break_after_terminal_punctuation_followed_by_space() {
        assert_eq!(sentence_end("Hello there. How are"), Some(12));
        assert_eq!(sentence_end("It costs 3.50 today"), None);
        assert_eq!(sentence_end("Done."), None, "the end of the buffer may be mid-token");
        assert_eq!(sentence_end("Yes, we can"), None, "a short clause waits for more");
        let long = "We are open from nine until five, Monday to Friday";
        assert_eq!(sentence_end(long), Some(long.find(',').expect("comma") + 1));
    }
}
