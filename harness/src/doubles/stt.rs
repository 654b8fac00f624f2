//! The STT double: recognises the audio it is sent by aligning it with the
//! scenario's known caller utterances.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use voicegate_agent::services::{ServiceError, SttService};

use super::{Latency, RecognitionErrors, Stem, StemEnvelope, align_with, degrade};
use crate::record::{CallClock, Event, Recorder};
use crate::seed::Rng;

pub struct AligningStt {
    stems: Arc<Vec<Stem>>,
    /// The stems' envelopes, worked out at the first request.
    envelopes: OnceLock<Vec<StemEnvelope>>,
    errors: RecognitionErrors,
    latency: Latency,
    rng: Mutex<Rng>,
    recorder: Recorder,
    clock: CallClock,
    requests: AtomicUsize,
}

impl AligningStt {
    pub fn new(
        stems: Arc<Vec<Stem>>,
        errors: RecognitionErrors,
        latency: Latency,
        rng: Rng,
        recorder: Recorder,
        clock: CallClock,
    ) -> Self {
        Self {
            stems,
            envelopes: OnceLock::new(),
            errors,
            latency,
            rng: Mutex::new(rng),
            recorder,
            clock,
            requests: AtomicUsize::new(0),
        }
    }
}

impl SttService for AligningStt {
    fn transcribe(&self, samples: Vec<i16>, sample_rate: u32) -> BoxFuture<'static, Result<String, ServiceError>> {
        let request = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let audio_ms = samples.len() as u64 * 1000 / u64::from(sample_rate.max(1));
        self.recorder.push(self.clock.now_us(), Event::SttRequest { request, audio_ms });
        let envelopes = self.envelopes.get_or_init(|| self.stems.iter().map(StemEnvelope::of).collect());
        let alignment = align_with(&samples, sample_rate, &self.stems, envelopes);
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let (text, score, word_error_rate, destroyed_words) = match alignment {
            Some(a) => {
                let (wer, destroyed) = self.errors.for_stem(a.stem);
                let words: Vec<(String, bool)> = a
                    .words
                    .iter()
                    .zip(&a.word_indices)
                    .map(|(w, &i)| (w.clone(), destroyed.get(i).copied().unwrap_or(false)))
                    .collect();
                let lost = words.iter().filter(|w| w.1).count();
                (degrade(&words, wer, &mut rng).join(" "), a.score, wer, lost)
            }
            None => (String::new(), 0.0, 0.0, 0),
        };
        let delay = self.latency.draw(&mut rng);
        drop(rng);
        let (recorder, clock) = (self.recorder.clone(), self.clock);
        async move {
            tokio::time::sleep(delay).await;
            recorder.push(
                clock.now_us(),
                Event::SttResult { request, text: text.clone(), score, word_error_rate, destroyed_words },
            );
            Ok(text)
        }
        .boxed()
    }
}
