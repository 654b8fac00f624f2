//! Checks (2) and (3): turn latency with its stage breakdown, measured on
//! the caller's timeline and at the service doubles, never from the
//! agent's own reports.
//!
//! Stage boundaries, each the first of its kind after the one before:
//! end of caller speech -> STT request -> LLM request -> LLM first token ->
//! TTS first audio -> first agent sample heard. A stage whose boundary is
//! missing (a fixed prompt needs no LLM) is 0 and the time falls to the
//! stage before, so the stages always add up to the turn latency.

use serde::{Deserialize, Serialize};

use super::truth::CallTruth;
use crate::record::{CallRecord, Event};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    pub end_of_turn_ms: f64,
    pub stt_ms: f64,
    pub llm_first_token_ms: f64,
    pub tts_first_audio_ms: f64,
    pub playout_ms: f64,
}

impl Stages {
    pub fn total_ms(&self) -> f64 {
        self.end_of_turn_ms + self.stt_ms + self.llm_first_token_ms + self.tts_first_audio_ms + self.playout_ms
    }

    pub fn summary(&self) -> String {
        format!(
            "end of turn {:.0} + STT {:.0} + LLM first token {:.0} + TTS first audio {:.0} + playout {:.0} ms",
            self.end_of_turn_ms, self.stt_ms, self.llm_first_token_ms, self.tts_first_audio_ms, self.playout_ms
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnReport {
    pub utterance: usize,
    pub caller_said: String,
    /// From the end of the caller's speech to the first agent sample heard;
    /// `None` when no reply was heard before the caller spoke again.
    pub latency_ms: Option<f64>,
    pub stages: Option<Stages>,
    /// What the caller heard in reply.
    pub reply_heard: String,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn turns(record: &CallRecord, truth: &CallTruth) -> Vec<TurnReport> {
    let timeline: Vec<(u64, &Event)> = record.events().collect();
    let first_after = |after: u64, before: u64, wanted: &dyn Fn(&Event) -> bool| {
        timeline.iter().find(|(t, e)| *t >= after && *t <= before && wanted(e)).map(|(t, _)| *t)
    };
    truth
        .utterances
        .iter()
        .map(|utterance| {
            let reply = truth.replies.iter().find(|r| r.after_utterances == utterance.index + 1);
            let heard = reply.map(|r| r.heard_words().join(" ")).unwrap_or_default();
            let Some(reply) = reply.filter(|r| r.first_us() >= utterance.end_us) else {
                return TurnReport {
                    utterance: utterance.index,
                    caller_said: utterance.text.clone(),
                    latency_ms: None,
                    stages: None,
                    reply_heard: heard,
                };
            };
            let (start, end) = (utterance.end_us, reply.first_us());
            let mut boundaries = vec![Some(start)];
            let kinds: [&dyn Fn(&Event) -> bool; 4] = [
                &|e| matches!(e, Event::SttRequest { .. }),
                &|e| matches!(e, Event::LlmRequest { .. }),
                &|e| matches!(e, Event::LlmFirstToken { .. }),
                &|e| matches!(e, Event::TtsFirstAudio { .. }),
            ];
            let mut cursor = start;
            for kind in kinds {
                let found = first_after(cursor, end, kind);
                if let Some(t) = found {
                    cursor = t;
                }
                boundaries.push(found);
            }
            boundaries.push(Some(end));
            // Each stage runs from its boundary to the next one present.
            let mut durations = [0.0f64; 5];
            for (i, duration) in durations.iter_mut().enumerate() {
                let Some(from) = boundaries[i] else { continue };
                let to = boundaries[i + 1..].iter().flatten().next().copied().unwrap_or(end);
                *duration = ms(to - from);
            }
            let stages = Stages {
                end_of_turn_ms: durations[0],
                stt_ms: durations[1],
                llm_first_token_ms: durations[2],
                tts_first_audio_ms: durations[3],
                playout_ms: durations[4],
            };
            TurnReport {
                utterance: utterance.index,
                caller_said: utterance.text.clone(),
                latency_ms: Some(ms(end - start)),
                stages: Some(stages),
                reply_heard: heard,
            }
        })
        .collect()
}
