//! The synthetic voice the TTS double speaks with: voiced syllables (a
//! glottal-like harmonic series shaped by vowel formants) with exact word
//! boundaries. Deterministic: the same text gives the same samples.

use voicegate_agent::services::WordTiming;

const F0_HZ: f32 = 150.0;
const SYLLABLE_MS: u32 = 140;
const WORD_GAP_MS: u32 = 45;
const PHRASE_GAP_MS: u32 = 160;
const LEVEL: f32 = 0.25;

fn formants(vowel: char) -> (f32, f32) {
    match vowel {
        'a' => (730.0, 1090.0),
        'e' => (530.0, 1840.0),
        'i' | 'y' => (300.0, 2200.0),
        'o' => (570.0, 840.0),
        _ => (320.0, 900.0),
    }
}

/// The vowel of each syllable of a word (at least one).
fn syllables(word: &str) -> Vec<char> {
    let mut vowels = Vec::new();
    let mut previous_vowel = false;
    for c in word.chars().flat_map(char::to_lowercase) {
        let is_vowel = "aeiouy".contains(c);
        if is_vowel && !previous_vowel {
            vowels.push(c);
        }
        previous_vowel = is_vowel;
    }
    if vowels.is_empty() {
        vowels.push('u');
    }
    vowels
}

fn ms(sample_rate: u32, ms: u32) -> usize {
    (u64::from(sample_rate) * u64::from(ms) / 1000) as usize
}

/// Speak `text`: (samples, word timings with `end` exclusive).
pub fn synth_voice(text: &str, sample_rate: u32) -> (Vec<i16>, Vec<WordTiming>) {
    let rate = sample_rate as f32;
    let mut samples: Vec<f32> = Vec::new();
    let mut words = Vec::new();
    let mut phase = 0.0f32;
    samples.resize(ms(sample_rate, 30), 0.0);
    for word in text.split_whitespace() {
        let start = samples.len();
        let vowels = syllables(word);
        let syllable_len = ms(sample_rate, SYLLABLE_MS);
        for (s, &vowel) in vowels.iter().enumerate() {
            let (f1, f2) = formants(vowel);
            for n in 0..syllable_len {
                let t = n as f32 / syllable_len as f32;
                // Pitch falls gently across the word; amplitude rises and falls per syllable.
                let f0 = F0_HZ * (1.0 - 0.08 * (s as f32 + t) / vowels.len() as f32);
                phase += 2.0 * std::f32::consts::PI * f0 / rate;
                let envelope = (std::f32::consts::PI * t).sin().powf(0.6);
                let mut value = 0.0;
                for k in 1..=24 {
                    let freq = f0 * k as f32;
                    if freq > rate / 2.0 - 200.0 {
                        break;
                    }
                    let weight = (-((freq - f1) / 180.0).powi(2)).exp()
                        + 0.6 * (-((freq - f2) / 220.0).powi(2)).exp()
                        + 0.15 / k as f32;
                    value += weight * (phase * k as f32).sin();
                }
                samples.push(LEVEL * envelope * value / 2.0);
            }
        }
        let end = samples.len();
        words.push(WordTiming { text: word.to_string(), start, end });
        let pause = if word.ends_with([',', '.', '?', '!', ';', ':']) { PHRASE_GAP_MS } else { WORD_GAP_MS };
        samples.resize(samples.len() + ms(sample_rate, pause), 0.0);
    }
    (super::to_i16(&samples), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_ordered_disjoint_and_voiced_and_gaps_are_silent() {
        let (samples, words) = synth_voice("Hello there, how are you?", 16_000);
        assert_eq!(
            words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
            ["Hello", "there,", "how", "are", "you?"]
        );
        for pair in words.windows(2) {
            assert!(pair[0].end < pair[1].start);
            assert!(samples[pair[0].end..pair[1].start].iter().all(|&s| s == 0));
        }
        for w in &words {
            let energy: f64 = samples[w.start..w.end].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            assert!(energy / ((w.end - w.start) as f64) > 1e5, "{} is voiced", w.text);
        }
        assert_eq!(synth_voice("Hello there", 16_000).0, synth_voice("Hello there", 16_000).0);
    }
}
