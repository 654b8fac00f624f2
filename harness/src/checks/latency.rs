//! Turns: for every caller utterance, whether the agent answered it, talked
//! over it, or left it unanswered, and the turn latency with its stage
//! breakdown, measured on the caller's timeline and at the service
//! doubles, never from the agent's own reports.
//!
//! The answer to utterance `k` is the reply the agent asked for after `k`
//! started and before `k + 1` did. Stage boundaries, each the first of its
//! kind after the one before: end of caller speech -> STT request -> LLM
//! request -> LLM first token -> TTS request of the answer (waiting for a
//! whole sentence is its own stage) -> TTS first audio of that request ->
//! first agent sample heard. A stage whose boundary is missing (a fixed
//! prompt needs no LLM) is 0 and the time falls to the stage before.

use serde::{Deserialize, Serialize};

use super::truth::{CallTruth, Reply};
use crate::record::{CallRecord, Event};

/// Where a turn's wait went: the per-call metrics' own type, so a report's
/// stages and `calls.jsonl`'s are one shape.
pub use voicegate_agent::call_metrics::StageMetrics as Stages;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnReport {
    pub utterance: usize,
    pub caller_said: String,
    /// When the caller finished speaking, ms into the call.
    pub ended_ms: f64,
    /// From the end of the caller's speech to the first agent sample heard;
    /// `None` when the agent did not answer, or started before the caller
    /// had finished.
    pub latency_ms: Option<f64>,
    pub stages: Option<Stages>,
    /// The agent's answer began this long before the caller had finished.
    #[serde(default)]
    pub talked_over_ms: Option<f64>,
    /// What the caller heard in reply.
    pub reply_heard: String,
}

impl TurnReport {
    pub fn answered(&self) -> bool {
        self.latency_ms.is_some() || self.talked_over_ms.is_some()
    }
}

pub(super) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn stages(record: &CallRecord, start: u64, reply: &Reply, end: u64) -> Stages {
    let first_request = reply.responses.first().map(|r| r.request);
    let tts_request = reply.requested_us();
    let mut boundaries = vec![Some(start)];
    let mut cursor = start;
    let kinds: [&dyn Fn(&Event) -> bool; 3] =
        [&|e| matches!(e, Event::SttRequest { .. }), &|e| matches!(e, Event::LlmRequest { .. }), &|e| {
            matches!(e, Event::LlmFirstToken { .. })
        }];
    for kind in kinds {
        let found =
            record.events().find(|(t, e)| *t >= cursor && *t <= tts_request.min(end) && kind(e)).map(|(t, _)| t);
        if let Some(t) = found {
            cursor = t;
        }
        boundaries.push(found);
    }
    boundaries.push((tts_request >= cursor && tts_request <= end).then_some(tts_request));
    let first_audio = record
        .events()
        .find(|(t, e)| matches!(e, Event::TtsFirstAudio { request } if Some(*request) == first_request) && *t <= end)
        .map(|(t, _)| t)
        .filter(|&t| t >= cursor);
    boundaries.push(first_audio);
    boundaries.push(Some(end));
    let mut durations = [0.0f64; 6];
    for (i, duration) in durations.iter_mut().enumerate() {
        let Some(from) = boundaries[i] else { continue };
        let to = boundaries[i + 1..].iter().flatten().next().copied().unwrap_or(end);
        *duration = ms(to.saturating_sub(from));
    }
    Stages {
        end_of_turn_ms: durations[0],
        stt_ms: durations[1],
        llm_first_token_ms: durations[2],
        first_sentence_ms: durations[3],
        tts_first_audio_ms: durations[4],
        playout_ms: durations[5],
    }
}

pub fn turns(record: &CallRecord, truth: &CallTruth) -> Vec<TurnReport> {
    truth
        .utterances
        .iter()
        .filter(|u| !u.backchannel)
        .enumerate()
        .map(|(position, utterance)| {
            let reply = truth.replies.iter().find(|r| r.after_utterances == position + 1 && r.played());
            let mut report = TurnReport {
                utterance: utterance.index,
                caller_said: utterance.text.clone(),
                ended_ms: ms(utterance.end_us),
                latency_ms: None,
                stages: None,
                talked_over_ms: None,
                reply_heard: reply.map(|r| r.heard_words().join(" ")).unwrap_or_default(),
            };
            let Some((reply, first)) = reply.and_then(|r| Some((r, r.first_us()?))) else { return report };
            if first < utterance.end_us {
                report.talked_over_ms = Some(ms(utterance.end_us - first));
            } else {
                report.latency_ms = Some(ms(first - utterance.end_us));
                report.stages = Some(stages(record, utterance.end_us, reply, first));
            }
            report
        })
        .collect()
}
