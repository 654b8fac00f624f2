//! Service doubles: STT, LLM, TTS and the tool backend that behave as a scenario says, and
//! write what they saw into the call record.

mod align;
mod errors;
mod llm;
mod speech;
mod stt;
mod tools;
mod tts;

pub use align::{Alignment, Stem, StemEnvelope, align, align_with};
pub use errors::{Conditions, RecognitionErrors, SharedConditions, degrade, word_error_rate};
pub use llm::{LlmRule, LlmScript, ScriptedLlm, matching_rule};
pub use stt::AligningStt;
pub use tools::{CredentialSeen, ToolDouble, ToolScript, fingerprint};
pub use tts::{TtsDouble, TtsResponse};

use std::time::Duration;

use crate::seed::Rng;

/// How many LLM and TTS streams are under way: when none is, the agent
/// has asked for everything it is about to say.
#[derive(Debug, Clone, Default)]
pub struct Busy(std::sync::Arc<std::sync::atomic::AtomicUsize>);

/// Counts one stream as under way until it is dropped (finished or cancelled).
#[derive(Debug)]
pub struct BusyGuard(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Busy {
    pub fn guard(&self) -> BusyGuard {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        BusyGuard(self.0.clone())
    }

    pub fn idle(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) == 0
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

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
