//! The TTS double: speaks with the synthetic voice (each sentence
//! synthesised once per process, `speech.rs`), streams the audio in
//! chunks after a set time to first audio, and keeps every response so the
//! caller can tell which words it heard.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use voicegate_agent::services::{ServiceError, TtsChunk, TtsRequest, TtsService, WordTiming};

use super::Latency;
use crate::record::{CallClock, Event, Recorder};
use crate::seed::Rng;

const CHUNK_MS: u64 = 40;
/// Chunks after the first arrive this many times faster than real time.
const SPEED: u64 = 8;

/// One response, as the double produced it (the ground truth of what the
/// caller could hear).
#[derive(Debug, Clone)]
pub struct TtsResponse {
    pub request: usize,
    /// When the agent asked for it: a position on the call's timeline, in
    /// samples at the line rate.
    pub requested_at: usize,
    pub text: String,
    pub sample_rate: u32,
    pub samples: Arc<Vec<i16>>,
    pub words: Vec<WordTiming>,
}

pub struct TtsDouble {
    busy: super::Busy,
    first_audio: Latency,
    rng: Mutex<Rng>,
    recorder: Recorder,
    clock: CallClock,
    requests: AtomicUsize,
    responses: Arc<Mutex<Vec<TtsResponse>>>,
}

impl TtsDouble {
    pub fn new(first_audio: Latency, rng: Rng, recorder: Recorder, clock: CallClock) -> Self {
        Self {
            busy: super::Busy::default(),
            first_audio,
            rng: Mutex::new(rng),
            recorder,
            clock,
            requests: AtomicUsize::new(0),
            responses: Arc::default(),
        }
    }

    /// Share a count of streams under way with the caller.
    pub fn with_busy(mut self, busy: super::Busy) -> Self {
        self.busy = busy;
        self
    }

    /// Every response so far, in request order.
    pub fn responses(&self) -> Arc<Mutex<Vec<TtsResponse>>> {
        self.responses.clone()
    }
}

impl TtsService for TtsDouble {
    fn synthesize(&self, request: TtsRequest) -> BoxStream<'static, Result<TtsChunk, ServiceError>> {
        let TtsRequest { text, voice, sample_rate } = request;
        let request = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let speech = super::speech::speak(&text, sample_rate);
        let (samples, words) = (speech.samples.clone(), speech.words.clone());
        self.recorder.push(
            self.clock.now_us(),
            Event::TtsRequest {
                request,
                text: text.clone(),
                voice,
                sample_rate,
                samples: samples.len(),
                words: words.clone(),
                audio_digest: speech.digest.clone(),
            },
        );
        let requested_at = (self.clock.now_us() * u64::from(crate::audio::LINE_RATE) / 1_000_000) as usize;
        self.responses.lock().unwrap_or_else(|p| p.into_inner()).push(TtsResponse {
            request,
            requested_at,
            text,
            sample_rate,
            samples: samples.clone(),
            words: words.clone(),
        });
        let first = self.first_audio.draw(&mut self.rng.lock().unwrap_or_else(|p| p.into_inner()));
        let chunk = (u64::from(sample_rate) * CHUNK_MS / 1000) as usize;
        let gap = Duration::from_millis(CHUNK_MS / SPEED);
        let (recorder, clock) = (self.recorder.clone(), self.clock);
        let starts: Vec<usize> = (0..samples.len()).step_by(chunk.max(1)).collect();
        let guard = self.busy.guard();
        futures_util::stream::iter(starts.into_iter().enumerate())
            .then(move |(i, start)| {
                let (samples, words, recorder) = (samples.clone(), words.clone(), recorder.clone());
                async move {
                    tokio::time::sleep(if i == 0 { first } else { gap }).await;
                    if i == 0 {
                        recorder.push(clock.now_us(), Event::TtsFirstAudio { request });
                    }
                    let end = (start + chunk).min(samples.len());
                    let words = words
                        .iter()
                        .filter(|w| w.start >= start && w.start < end)
                        .map(|w| WordTiming { text: w.text.clone(), start: w.start - start, end: w.end - start })
                        .collect();
                    Ok(TtsChunk { samples: samples[start..end].to_vec(), sample_rate, words })
                }
            })
            .map(move |chunk| {
                let _under_way = &guard;
                chunk
            })
            .boxed()
    }
}
