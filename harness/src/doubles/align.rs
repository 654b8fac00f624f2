//! Recognition by alignment: find which known caller utterance (a clean
//! stem) the received audio contains, where, and which of its words the
//! audio covers.
//!
//! Both signals become log-energy envelopes in 10 ms frames; the stem is
//! slid across the audio and the lag with the highest Pearson correlation
//! over the overlap wins, with a small preference (`COVERAGE_WEIGHT`) for
//! lags that account for more of the stem's speech: a short word ("yes")
//! correlates about as well with one word of a longer utterance ("hours")
//! as with itself, and a recogniser hears the whole utterance it is given. A stem word counts as heard when at least half of
//! it lies inside the audio and the audio there is no quieter than the stem
//! by more than `WORD_ENERGY_MARGIN_DB` (so a turn that holds only the first
//! half of an utterance does not "hear" the second half in its silence).

use crate::audio::channel::telephone_band;
use crate::audio::{CorpusWord, to_f32};

const FRAME_MS: u32 = 10;
const FLOOR_DB: f32 = -60.0;
const MIN_SCORE: f64 = 0.5;
const ACTIVE_DB: f32 = 10.0;
const TALKER_RANGE_DB: f32 = 15.0;
const WIDEN: usize = 1;
const MIN_ACTIVE_FRAMES: usize = 15;
const MIN_EXPLAINED: f64 = 0.8;
const WORD_ENERGY_MARGIN_DB: f32 = 12.0;
/// How much a lag that covers all of a stem's speech is preferred over one
/// that covers none of it, in correlation.
const COVERAGE_WEIGHT: f64 = 0.25;

/// A caller utterance as rendered for this call, before noise or channel.
#[derive(Debug, Clone)]
pub struct Stem {
    pub text: String,
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub words: Vec<CorpusWord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    pub stem: usize,
    /// Stem frame index that lines up with the audio's first frame.
    pub lag_frames: i64,
    pub score: f64,
    pub words: Vec<String>,
    /// Index in the stem of each of `words`.
    pub word_indices: Vec<usize>,
}

/// Log energy in 10 ms frames of the speech band (300–3400 Hz), where
/// rumble, hum and hiss outside it cannot swamp the words.
fn envelope(samples: &[i16], sample_rate: u32) -> Vec<f32> {
    let frame = (sample_rate * FRAME_MS / 1000).max(1) as usize;
    let band = telephone_band(&to_f32(samples), sample_rate);
    band.chunks(frame)
        .map(|c| {
            let power = c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64;
            (10.0 * (power + 1e-12).log10() as f32).max(FLOOR_DB)
        })
        .collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().map(|&x| f64::from(x)).sum::<f64>() / n, b.iter().map(|&x| f64::from(x)).sum::<f64>() / n);
    let (mut num, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        num += dx * dy;
        va += dx * dx;
        vb += dy * dy;
    }
    if va <= f64::EPSILON || vb <= f64::EPSILON { 0.0 } else { num / (va * vb).sqrt() }
}

/// Frames of the audio that carry the talker: more than `ACTIVE_DB` above
/// the audio's own floor (its 10th-percentile frame) and within
/// `TALKER_RANGE_DB` of its loud frames (95th percentile), so that talkers in
/// the background do not count; widened by a few frames.
fn active_frames(env: &[f32]) -> Vec<bool> {
    let mut sorted = env.to_vec();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted.get(sorted.len() / 10).copied().unwrap_or(FLOOR_DB);
    let loud = sorted.get(sorted.len() * 95 / 100).copied().unwrap_or(FLOOR_DB);
    let threshold = (floor + ACTIVE_DB).max(loud - TALKER_RANGE_DB);
    let loud: Vec<bool> = env.iter().map(|&e| e > threshold).collect();
    (0..env.len()).map(|i| loud[i.saturating_sub(WIDEN)..(i + WIDEN + 1).min(env.len())].iter().any(|&l| l)).collect()
}

/// A stem's envelope and its active frames: the same for every turn of a
/// call, so the STT double works them out once.
#[derive(Debug, Clone)]
pub struct StemEnvelope {
    env: Vec<f32>,
    active: Vec<bool>,
    /// Active frames, at least one.
    speech: usize,
}

impl StemEnvelope {
    pub fn of(stem: &Stem) -> Self {
        let env = envelope(&stem.samples, stem.sample_rate);
        let active = active_frames(&env);
        let speech = active.iter().filter(|&&x| x).count().max(1);
        Self { env, active, speech }
    }
}

/// Align `audio` against every stem; `None` when nothing matches well.
pub fn align(audio: &[i16], sample_rate: u32, stems: &[Stem]) -> Option<Alignment> {
    let envelopes: Vec<StemEnvelope> = stems.iter().map(StemEnvelope::of).collect();
    align_with(audio, sample_rate, stems, &envelopes)
}

/// [`align`], given each stem's [`StemEnvelope`] (in the same order).
///
/// Only the audio's active frames are scored, so a turn that holds part of
/// an utterance still matches it; at least `MIN_EXPLAINED` of the active
/// frames must fall inside the stem.
pub fn align_with(audio: &[i16], sample_rate: u32, stems: &[Stem], envelopes: &[StemEnvelope]) -> Option<Alignment> {
    let audio_env = envelope(audio, sample_rate);
    let active = active_frames(&audio_env);
    let active_count = active.iter().filter(|&&a| a).count();
    if active_count < MIN_ACTIVE_FRAMES {
        return None;
    }
    let needed = ((active_count as f64 * MIN_EXPLAINED).ceil() as usize).max(MIN_ACTIVE_FRAMES);
    let mut best: Option<(f64, Alignment)> = None;
    let (mut a, mut s) = (Vec::new(), Vec::new());
    // Envelopes are in 10 ms frames whatever the rate, so audio at any rate
    // lines up with stems at theirs.
    debug_assert_eq!(stems.len(), envelopes.len(), "one envelope per stem");
    for (index, stem) in envelopes.iter().enumerate() {
        let StemEnvelope { env: stem_env, active: stem_active, speech: stem_speech } = stem;
        let (n, m) = (audio_env.len() as i64, stem_env.len() as i64);
        for lag in -(n - 1)..m {
            // audio frame i lines up with stem frame i + lag
            let (a0, a1) = ((-lag).max(0), n.min(m - lag));
            a.clear();
            s.clear();
            for i in a0..a1 {
                if active[i as usize] {
                    a.push(audio_env[i as usize]);
                    s.push(stem_env[(i + lag) as usize]);
                }
            }
            if a.len() < needed {
                continue;
            }
            let score = correlation(&a, &s);
            let covered = (a0..a1).filter(|&i| active[i as usize] && stem_active[(i + lag) as usize]).count();
            let preference = score + COVERAGE_WEIGHT * covered as f64 / *stem_speech as f64;
            if score >= MIN_SCORE && best.as_ref().is_none_or(|(b, _)| preference > *b) {
                let alignment =
                    Alignment { stem: index, lag_frames: lag, score, words: Vec::new(), word_indices: Vec::new() };
                best = Some((preference, alignment));
            }
        }
    }
    let (_, mut best) = best?;
    let stem = &stems[best.stem];
    let stem_env = &envelopes[best.stem].env;
    let frame = (stem.sample_rate * FRAME_MS / 1000) as usize;
    best.word_indices = stem
        .words
        .iter()
        .enumerate()
        .filter(|(_, word)| {
            let (first, last) = ((word.start / frame) as i64, (word.end.div_ceil(frame)) as i64);
            let frames: Vec<(usize, usize)> = (first..last)
                .filter_map(|f| {
                    let a = f - best.lag_frames;
                    (a >= 0 && (a as usize) < audio_env.len() && (f as usize) < stem_env.len())
                        .then_some((a as usize, f as usize))
                })
                .collect();
            if frames.len() * 2 < (last - first) as usize {
                return false;
            }
            let mean = |v: &mut dyn Iterator<Item = f32>| v.sum::<f32>() / frames.len() as f32;
            let heard = mean(&mut frames.iter().map(|&(a, _)| audio_env[a]));
            let spoken = mean(&mut frames.iter().map(|&(_, s)| stem_env[s]));
            heard >= spoken - WORD_ENERGY_MARGIN_DB
        })
        .map(|(i, _)| i)
        .collect();
    best.words = best.word_indices.iter().map(|&i| stem.words[i].text.clone()).collect();
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Corpus;

    fn stem(corpus: &Corpus, text: &str) -> Stem {
        let u = corpus.utterance(text, "en-us", "m").expect("phrase in corpus");
        Stem { text: u.text.clone(), samples: u.samples.to_vec(), sample_rate: u.sample_rate, words: u.words }
    }

    #[test]
    fn finds_the_spoken_phrase_inside_silence_and_reports_only_covered_words() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let stems = vec![
            stem(&corpus, "what are your opening hours"),
            stem(&corpus, "do you deliver on weekends"),
            stem(&corpus, "can I change my delivery address"),
        ];
        let target = &stems[1];
        let rate = target.sample_rate;
        let ms = |ms: u32| (rate * ms / 1000) as usize;
        let mut audio = vec![0i16; ms(300)];
        audio.extend(&target.samples);
        audio.extend(vec![0i16; ms(700)]);
        let found = align(&audio, rate, &stems).expect("aligned");
        assert_eq!(found.stem, 1);
        assert_eq!(found.words.join(" "), "do you deliver on weekends");

        // The same audio at the phone rate lines up with stems at theirs.
        let narrow = crate::audio::to_i16(
            &crate::audio::resample(&crate::audio::to_f32(&audio), rate, 8_000).expect("resample"),
        );
        let found = align(&narrow, 8_000, &stems).expect("aligned at 8 kHz");
        assert_eq!((found.stem, found.words.join(" ")), (1, "do you deliver on weekends".to_string()));

        // Only the first three words were sent; the rest is silence.
        let cut = target.words[2].end;
        let mut partial = vec![0i16; ms(300)];
        partial.extend(&target.samples[..cut]);
        partial.extend(vec![0i16; ms(1000)]);
        let found = align(&partial, rate, &stems).expect("aligned");
        assert_eq!(found.words.join(" "), "do you deliver");

        assert!(align(&vec![0i16; ms(1000)], rate, &stems).is_none(), "silence matches nothing");
    }

    #[test]
    fn a_short_word_is_heard_as_the_whole_utterance_it_is_not_as_part_of_a_longer_one() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let yes = stem(&corpus, "yes");
        let rest = stem(&corpus, "what are your opening hours");
        // A longer utterance that starts with the very same "yes".
        let mut longer = yes.clone();
        longer.text = format!("yes {}", rest.text);
        let offset = longer.samples.len();
        longer.samples.extend(&rest.samples);
        longer.words.extend(rest.words.iter().map(|w| CorpusWord {
            text: w.text.clone(),
            start: w.start + offset,
            end: w.end + offset,
        }));
        let rate = yes.sample_rate;
        let mut audio = vec![0i16; (rate / 4) as usize];
        audio.extend(&yes.samples);
        audio.extend(vec![0i16; (rate / 2) as usize]);
        // Both match "yes" equally well; the one it wholly covers wins,
        // whichever comes first.
        let found = align(&audio, rate, &[longer, yes]).expect("aligned");
        assert_eq!((found.stem, found.words.join(" ")), (1, "yes".to_string()));
    }
}
