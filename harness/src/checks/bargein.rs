//! Barge-ins: every caller utterance that began while a reply was playing,
//! with how long the agent went on talking and whether its history kept
//! the right words of the reply it cut.

use serde::{Deserialize, Serialize};

use super::latency::ms;
use super::truncation::ReplyTruncation;
use super::truth::CallTruth;

/// Playback that resumes within this long is the agent still talking (a
/// break between two TTS chunks), not the agent having stopped.
pub const BRIDGE_US: u64 = 250_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BargeInReport {
    pub utterance: usize,
    pub caller_said: String,
    pub at_ms: f64,
    /// The reply talked over (index into the call's replies).
    #[serde(default)]
    pub reply: usize,
    /// Words of the interrupted reply the caller heard.
    pub heard_words: Vec<String>,
    /// Words the agent's history kept for that reply.
    pub history_words: Vec<String>,
    /// Words history would have to gain or lose to be acceptable.
    #[serde(default)]
    pub words_wrong: usize,
    /// From the caller's first speech sample to the last agent sample of
    /// the playback that ran on from that moment.
    pub stop_latency_ms: f64,
    pub truncation_ok: bool,
}

pub fn barge_ins(truth: &CallTruth, truncation: &[ReplyTruncation]) -> Vec<BargeInReport> {
    let mut reports = Vec::new();
    for utterance in truth.utterances.iter().filter(|u| !u.backchannel) {
        let Some(reply) = truth.reply_playing_at(utterance.start_us) else { continue };
        let judged = truncation.iter().find(|t| t.reply == reply);
        let stop = truth.talking_until(utterance.start_us, BRIDGE_US, utterance.end_us);
        reports.push(BargeInReport {
            utterance: utterance.index,
            caller_said: utterance.text.clone(),
            at_ms: ms(utterance.start_us),
            reply,
            heard_words: truth.replies[reply].heard_words(),
            history_words: judged.map(|t| t.history_words.clone()).unwrap_or_default(),
            words_wrong: judged.map_or(0, |t| t.words_wrong),
            stop_latency_ms: ms(stop.saturating_sub(utterance.start_us)),
            truncation_ok: judged.is_some_and(|t| t.words_wrong == 0),
        });
    }
    reports
}
