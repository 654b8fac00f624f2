//! The TTS double's speech, synthesised once per process. Every call of a
//! run asks for the same few sentences (greetings, prompts, scripted
//! answers), and the synthetic voice is a pure function of the text and the
//! sample rate (the requested voice name does not change it), so a sentence
//! served from here is byte for byte the one synthesis would give: records
//! and audio do not depend on which call, or which thread, spoke it first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use voicegate_agent::services::WordTiming;

use crate::audio::synth_voice;
use crate::seed::digest_samples;

/// Beyond this many samples held (64 MB), new sentences are synthesised
/// each time instead of kept: a run with unbounded distinct texts still
/// runs, only slower.
const MAX_SAMPLES: usize = 32 << 20;

/// One sentence as the synthetic voice says it.
#[derive(Debug)]
pub struct Speech {
    pub samples: Arc<Vec<i16>>,
    pub words: Vec<WordTiming>,
    /// `digest_samples(&samples)`, as the call record carries it.
    pub digest: String,
}

impl Speech {
    fn synthesise(text: &str, sample_rate: u32) -> Self {
        let (samples, words) = synth_voice(text, sample_rate);
        let digest = digest_samples(&samples);
        Self { samples: Arc::new(samples), words, digest }
    }
}

#[derive(Default)]
struct Cache {
    speech: HashMap<(u32, String), Arc<Speech>>,
    samples: usize,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// `text` spoken at `sample_rate`: from the cache, or synthesised (outside
/// the lock, so calls on other threads are not held up) and kept.
pub fn speak(text: &str, sample_rate: u32) -> Arc<Speech> {
    let key = (sample_rate, text.to_string());
    if let Some(speech) = cache().lock().unwrap_or_else(|p| p.into_inner()).speech.get(&key) {
        return speech.clone();
    }
    let speech = Arc::new(Speech::synthesise(text, sample_rate));
    let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.samples + speech.samples.len() <= MAX_SAMPLES && !cache.speech.contains_key(&key) {
        cache.samples += speech.samples.len();
        cache.speech.insert(key, speech.clone());
    }
    speech
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_speech_is_what_synthesis_gives() {
        let text = "Cached speech is the same speech.";
        let first = speak(text, 16_000);
        let again = speak(text, 16_000);
        assert!(Arc::ptr_eq(&first, &again), "the second request is served from the cache");
        let (samples, words) = synth_voice(text, 16_000);
        assert_eq!(*first.samples, samples);
        assert_eq!(first.words, words);
        assert_eq!(first.digest, digest_samples(&samples));
        let other_rate = speak(text, 8_000);
        assert_eq!(*other_rate.samples, synth_voice(text, 8_000).0, "the rate is part of the key");
    }
}
