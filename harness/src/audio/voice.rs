//! The synthetic voice the TTS double speaks with: voiced syllables (a
//! glottal-like harmonic series shaped by vowel formants) with exact word
//! boundaries. Deterministic: the same text gives the same samples.

use voicegate_agent::services::WordTiming;

const F0_HZ: f32 = 150.0;
const SYLLABLE_MS: u32 = 140;
const WORD_GAP_MS: u32 = 45;
const PHRASE_GAP_MS: u32 = 160;
const LEVEL: f32 = 0.25;
const HARMONICS: u32 = 24;

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

/// Below this, `e^x` is under `2^-126` and the math library takes its slow
/// underflow path. A formant gain that small changes no bit of a harmonic's
/// weight: it is under half an ulp of the other formant's gain unless that
/// is tiny too, and then both are under half an ulp of the spectral tilt
/// term (`0.15 / k`, over `2^-8`). A test sweeps the harmonics to show it.
const NEGLIGIBLE_EXP: f32 = -88.0;

/// A formant's gain `distance` Hz from its centre, `width` its spread.
fn formant_gain(distance: f32, width: f32) -> f32 {
    let x = -(distance / width).powi(2);
    if x < NEGLIGIBLE_EXP { 0.0 } else { x.exp() }
}

/// The weight of the harmonic at `freq` Hz: the two formants over a
/// falling spectral `tilt`.
fn harmonic_weight(freq: f32, (f1, f2): (f32, f32), tilt: f32) -> f32 {
    formant_gain(freq - f1, 180.0) + 0.6 * formant_gain(freq - f2, 220.0) + tilt
}

/// Speak `text`: (samples, word timings with `end` exclusive).
pub fn synth_voice(text: &str, sample_rate: u32) -> (Vec<i16>, Vec<WordTiming>) {
    let rate = sample_rate as f32;
    let mut samples: Vec<f32> = Vec::new();
    let mut words = Vec::new();
    let mut phase = 0.0f32;
    samples.resize(ms(sample_rate, 30), 0.0);
    let syllable_len = ms(sample_rate, SYLLABLE_MS);
    // Amplitude rises and falls the same way in every syllable.
    let envelope: Vec<f32> =
        (0..syllable_len).map(|n| (std::f32::consts::PI * (n as f32 / syllable_len as f32)).sin().powf(0.6)).collect();
    let tilt: Vec<f32> = (1..=HARMONICS).map(|k| 0.15 / k as f32).collect();
    for word in text.split_whitespace() {
        let start = samples.len();
        let vowels = syllables(word);
        for (s, &vowel) in vowels.iter().enumerate() {
            let formants = formants(vowel);
            for (n, &envelope) in envelope.iter().enumerate() {
                let t = n as f32 / syllable_len as f32;
                // Pitch falls gently across the word.
                let f0 = F0_HZ * (1.0 - 0.08 * (s as f32 + t) / vowels.len() as f32);
                phase += 2.0 * std::f32::consts::PI * f0 / rate;
                let mut value = 0.0;
                for (k, &tilt) in (1..=HARMONICS).zip(&tilt) {
                    let freq = f0 * k as f32;
                    if freq > rate / 2.0 - 200.0 {
                        break;
                    }
                    let weight = harmonic_weight(freq, formants, tilt);
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

    #[test]
    fn leaving_out_negligible_formant_gains_changes_no_weight() {
        // The weight as written before gains under 2^-126 were left out.
        let exact = |freq: f32, (f1, f2): (f32, f32), k: u32| {
            (-((freq - f1) / 180.0).powi(2)).exp() + 0.6 * (-((freq - f2) / 220.0).powi(2)).exp() + 0.15 / k as f32
        };
        for vowel in ['a', 'e', 'i', 'o', 'u'] {
            for k in 1..=HARMONICS {
                let mut freq = 100.0f32;
                while freq < 8_000.0 {
                    let weight = harmonic_weight(freq, formants(vowel), 0.15 / k as f32);
                    assert_eq!(weight.to_bits(), exact(freq, formants(vowel), k).to_bits(), "{vowel} {k} {freq}");
                    freq += 0.37;
                }
            }
        }
    }
}
