//! Caller audio: the speech corpus, resampling, WAV files and the voices
//! the doubles speak with.

pub mod channel;
mod corpus;
mod cough;
#[cfg(feature = "espeak")]
pub mod espeak;
pub mod flac;
pub mod mulaw;
pub mod noise;
pub mod render;
mod resample;
mod voice;
mod wav;

pub use corpus::{Corpus, CorpusEntry, CorpusManifest, CorpusWord, Utterance, normalise_text};
pub use cough::cough;
pub use resample::{StreamResampler, resample};
pub use voice::synth_voice;
pub use wav::{read_wav, write_wav};

/// The rate caller audio is rendered at for the in-process line.
pub const LINE_RATE: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("resampling {from} Hz to {to} Hz failed: {message}")]
    Resample { from: u32, to: u32, message: String },
    #[error("rendering: {message}")]
    Render { message: String },
    #[error("the corpus has no recording of {text:?} in accent {accent} ({hint})")]
    MissingPhrase { text: String, accent: String, hint: String },
}

pub fn to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&s| quantise(s)).collect()
}

/// `(s * 32768.0).round().clamp(-32768.0, 32767.0) as i16`, bit for bit,
/// without a call to `roundf` per sample (x86-64 has no instruction that
/// rounds half away from zero). Clamping first keeps `as i32` in range and
/// changes no result; `x - whole` is exact, being `x`'s fraction.
fn quantise(s: f32) -> i16 {
    let x = (s * 32768.0).clamp(-32769.0, 32768.0);
    let whole = x as i32;
    let fraction = x - whole as f32;
    let rounded = whole + i32::from(fraction >= 0.5) - i32::from(fraction <= -0.5);
    rounded.clamp(-32768, 32767) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: f32) -> i16 {
        (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
    }

    #[test]
    fn quantising_rounds_half_away_from_zero_and_clamps_as_round_does() {
        let mut cases =
            vec![0.0, -0.0, 1.0, -1.0, 2.0, -2.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, f32::MIN];
        // Every halfway point of the range and its neighbours.
        for i in -33_000..33_000 {
            let half = (i as f32 + 0.5) / 32768.0;
            cases.extend([half, half.next_up(), half.next_down(), i as f32 / 32768.0]);
        }
        let mut rng = crate::seed::Rng::new(7);
        cases.extend((0..200_000).map(|_| f32::from_bits(rng.next_u64() as u32)));
        cases.extend((0..200_000).map(|_| (rng.unit() as f32 - 0.5) * 2.2));
        for s in cases {
            assert_eq!(quantise(s), reference(s), "{s:e}");
        }
    }
}
