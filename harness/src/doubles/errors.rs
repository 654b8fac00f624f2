//! The recogniser's error model: words are lost or misheard more often as
//! the SNR falls, and sooner for accents a recogniser hears less well.
//!
//! The word error rate follows a logistic curve in the utterance's measured
//! SNR: `1 / (1 + exp((snr - midpoint) / 2 dB))`, where the midpoint (the
//! SNR at which half the words are wrong) is 0 dB for General American and
//! up to 3 dB higher for the other accents, and 6 dB higher again when the
//! noise is other people talking (babble, cafe, street), which masks speech
//! far more than steady noise of the same power. Clean speech (no noise mixed)
//! is recognised without errors. A wrong word is dropped (60%) or replaced
//! by a short function word (40%). A word the phone line concealed for at
//! least `CONCEALED_LOST` of its length (lost or late packets replaced by
//! repeats) is lost whatever the SNR: a recogniser copes with an isolated
//! repeated packet, not with a word made mostly of them. When fewer than
//! half the words survive, the recogniser returns nothing, as real ones do
//! with unintelligible audio.

use std::sync::{Arc, Mutex};

use crate::audio::render::Background;
use crate::seed::Rng;

/// What the caller's microphone and line did to one utterance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// Speech over the noise under it, dB; `None` without noise.
    pub snr_db: Option<f64>,
    /// For each word, the fraction of it the phone line concealed.
    pub concealed: Vec<f64>,
}

/// Each caller utterance's conditions, by stem index, as the caller learns
/// them (SNR when it starts speaking, concealment when it finishes).
pub type SharedConditions = Arc<Mutex<Vec<Conditions>>>;

/// A word concealed for at least this fraction of its length is lost.
pub const CONCEALED_LOST: f64 = 0.4;

const SLOPE_DB: f64 = 2.0;
const SUBSTITUTES: [&str; 6] = ["a", "the", "and", "in", "on", "it"];

/// How much harder each accent is than General American, in dB of SNR.
pub fn accent_penalty_db(accent: &str) -> f64 {
    match accent {
        "en-us" => 0.0,
        "en-us-nyc" | "en-gb" | "en-gb-x-rp" => 1.0,
        "en-gb-x-gbclan" | "en-gb-x-gbcwmd" => 2.0,
        _ => 3.0,
    }
}

/// How much harder a background is than steady noise, in dB of SNR.
pub fn masker_penalty_db(background: Option<Background>) -> f64 {
    match background {
        Some(Background::Babble | Background::Cafe | Background::Street) => 6.0,
        _ => 0.0,
    }
}

/// The word error rate at `snr_db` for `accent` over `background`.
pub fn word_error_rate(snr_db: Option<f64>, accent: &str, background: Option<Background>) -> f64 {
    match snr_db {
        None => 0.0,
        Some(snr) => {
            let midpoint = accent_penalty_db(accent) + masker_penalty_db(background);
            1.0 / (1.0 + ((snr - midpoint) / SLOPE_DB).exp())
        }
    }
}

/// What the recogniser returns for `words` at error rate `wer`; a word
/// paired with `true` was destroyed by the line.
pub fn degrade(words: &[(String, bool)], wer: f64, rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    let mut survived = 0;
    for (word, destroyed) in words {
        // Two draws per word whatever happens, so one word's fate does not
        // shift the next one's.
        let (wrong, how) = (rng.unit() < wer, rng.unit());
        if *destroyed {
            continue;
        }
        if !wrong {
            survived += 1;
            out.push(word.clone());
        } else if how >= 0.6 {
            out.push(SUBSTITUTES[(how * 1e6) as usize % SUBSTITUTES.len()].to_string());
        }
    }
    if survived * 2 < words.len() { Vec::new() } else { out }
}

/// What the STT double needs to apply the model to a call.
#[derive(Debug, Clone, Default)]
pub struct RecognitionErrors {
    pub accent: String,
    pub background: Option<Background>,
    pub conditions: SharedConditions,
}

impl RecognitionErrors {
    /// The word error rate for stem `stem`, and which of its words (by index)
    /// the line destroyed.
    pub fn for_stem(&self, stem: usize) -> (f64, Vec<bool>) {
        let conditions = self.conditions.lock().unwrap_or_else(|p| p.into_inner()).get(stem).cloned();
        let conditions = conditions.unwrap_or_default();
        let destroyed = conditions.concealed.iter().map(|&c| c >= CONCEALED_LOST).collect();
        (word_error_rate(conditions.snr_db, &self.accent, self.background), destroyed)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

    use super::*;

    #[test]
    fn errors_rise_as_snr_falls_and_with_harder_accents() {
        let steady = Some(Background::Pink);
        assert_eq!(word_error_rate(None, "en-gb-scotland", None), 0.0);
        assert!((word_error_rate(Some(0.0), "en-us", steady) - 0.5).abs() < 1e-12);
        assert!((word_error_rate(Some(6.0), "en-us", Some(Background::Cafe)) - 0.5).abs() < 1e-12);
        assert!(word_error_rate(Some(20.0), "en-us", steady) < 1e-3);
        assert!(word_error_rate(Some(-10.0), "en-us", steady) > 0.98);
        for snr in [-5.0, 0.0, 5.0, 10.0] {
            let wer = |accent, background| word_error_rate(Some(snr), accent, background);
            assert!(wer("en-gb-scotland", steady) > wer("en-us", steady));
            assert!(wer("en-us", Some(Background::Babble)) > wer("en-us", steady));
            assert!(wer("en-us", steady) > word_error_rate(Some(snr + 1.0), "en-us", steady));
        }
    }

    proptest! {
        #[test]
        fn measured_error_rate_follows_the_model(seed in any::<u64>(), wer in 0.0f64..0.45) {
            let words: Vec<(String, bool)> = (0..4_000).map(|i| (format!("w{i}"), false)).collect();
            let out = degrade(&words, wer, &mut Rng::new(seed));
            let kept = out.iter().filter(|w| w.starts_with('w')).count() as f64 / 4_000.0;
            // Binomial, six standard deviations.
            prop_assert!(((1.0 - kept) - wer).abs() <= 6.0 * (wer * (1.0 - wer) / 4_000.0).sqrt() + 1e-9);
        }

        #[test]
        fn mostly_lost_speech_comes_back_empty(seed in any::<u64>()) {
            let words: Vec<(String, bool)> =
                ["what", "are", "your", "opening", "hours"].map(|w| (w.to_string(), false)).to_vec();
            prop_assert!(degrade(&words, 1.0, &mut Rng::new(seed)).is_empty());
            // Three of five destroyed by the line: nothing intelligible, even in clean audio.
            let mut cut = words.clone();
            for word in &mut cut[..3] {
                word.1 = true;
            }
            prop_assert!(degrade(&cut, 0.0, &mut Rng::new(seed)).is_empty());
            cut[0].1 = false;
            prop_assert_eq!(degrade(&cut, 0.0, &mut Rng::new(seed)), vec!["what", "opening", "hours"]);
        }
    }
}
