//! Service doubles: STT, LLM and TTS that behave as a scenario says, and
//! write what they saw into the call record.

mod align;
mod errors;
mod llm;
mod stt;
mod tts;

pub use align::{Alignment, Stem, align};
pub use errors::{Conditions, RecognitionErrors, SharedConditions, degrade, word_error_rate};
pub use llm::{LlmRule, LlmScript, ScriptedLlm};
pub use stt::AligningStt;
pub use tts::{TtsDouble, TtsResponse};

use std::time::Duration;

use crate::seed::Rng;

/// A latency with seeded, one-sided jitter: `base + U(0, jitter)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub base_ms: u64,
    pub jitter_ms: u64,
}

impl Latency {
    pub fn draw(&self, rng: &mut Rng) -> Duration {
        let jitter = if self.jitter_ms == 0 { 0 } else { rng.below(self.jitter_ms * 1000 + 1) };
        Duration::from_micros(self.base_ms * 1000 + jitter)
    }
}
