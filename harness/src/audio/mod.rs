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
    samples.iter().map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect()
}
