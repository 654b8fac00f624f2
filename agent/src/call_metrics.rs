//! One call's metrics, in the schema the canary gate reads (`calls.jsonl`,
//! one JSON object a line). The harness fills every field from what it
//! observed; the served agent logs the same shape as `call.completed` with
//! the fields it can know itself (the others are `null`), so the gate also
//! works on production traffic. Every field must be present on a line
//! (`null` where unknown): a line that lacks one is refused, never read as
//! "unknown" or zero. The schema is documented in
//! `reports/README.md`; a field is added only with a new `schema`.

use serde::{Deserialize, Serialize};

use crate::telemetry::{AgentEvent, EventKind};

/// The version of [`CallMetrics`] this build writes and reads.
pub const CALL_METRICS_SCHEMA: u32 = 1;

/// Who measured a call: the harness (ground truth from the caller's side)
/// or the agent itself (its own clock and view; no heard latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsSource {
    Harness,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnMetrics {
    /// From the end of the caller's speech to the first agent sample heard
    /// (harness), or to the first audio sent (agent); `None`: unanswered.
    #[serde(deserialize_with = "Option::deserialize")]
    pub latency_ms: Option<f64>,
    /// The stages of that wait, when known.
    #[serde(deserialize_with = "Option::deserialize")]
    pub stages: Option<StageMetrics>,
}

/// Where a turn's wait went, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageMetrics {
    pub end_of_turn_ms: f64,
    pub stt_ms: f64,
    pub llm_first_token_ms: f64,
    /// From the LLM's first token to the TTS request of the first sentence.
    pub first_sentence_ms: f64,
    pub tts_first_audio_ms: f64,
    pub playout_ms: f64,
}

impl StageMetrics {
    /// The whole wait: the stages add up to it.
    pub fn total_ms(&self) -> f64 {
        self.end_of_turn_ms
            + self.stt_ms
            + self.llm_first_token_ms
            + self.first_sentence_ms
            + self.tts_first_audio_ms
            + self.playout_ms
    }

    /// One line for a report: each stage's share of the wait.
    pub fn summary(&self) -> String {
        format!(
            "end of turn {:.0} + STT {:.0} + LLM first token {:.0} + first sentence {:.0} + TTS first audio {:.0} \
             + playout {:.0} ms",
            self.end_of_turn_ms,
            self.stt_ms,
            self.llm_first_token_ms,
            self.first_sentence_ms,
            self.tts_first_audio_ms,
            self.playout_ms
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BargeInMetrics {
    /// From the caller's first word over a reply to the agent's last
    /// sample heard (harness), or to the agent deciding it was a barge-in
    /// (agent).
    pub stop_latency_ms: f64,
    /// The history kept exactly the words the caller heard; `None` when
    /// the measurer cannot know (the agent cannot).
    #[serde(deserialize_with = "Option::deserialize")]
    pub truncation_ok: Option<bool>,
}

/// The slice of traffic a call belongs to, for the report's worst segments.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    #[serde(deserialize_with = "Option::deserialize")]
    pub accent: Option<String>,
    /// `none`, or the noise kind with its SNR band, e.g. `babble 10-20 dB`.
    #[serde(deserialize_with = "Option::deserialize")]
    pub noise: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub phone: Option<bool>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub intent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallMetrics {
    /// [`CALL_METRICS_SCHEMA`] when written.
    pub schema: u32,
    pub call_id: String,
    /// `name@version` of the agent definition that took the call.
    pub agent_version: String,
    pub source: MetricsSource,
    /// When the call started, ms on the run's clock (a traffic run's or a
    /// canary's virtual time); `None` when not known.
    #[serde(deserialize_with = "Option::deserialize")]
    pub started_ms: Option<u64>,
    pub duration_ms: u64,
    /// The flow reached its goal (not merely "no error"); `None`: unknown.
    #[serde(deserialize_with = "Option::deserialize")]
    pub task_completed: Option<bool>,
    /// The caller noticed an error: a provider failure, a fallback spoken,
    /// a dropped call.
    pub error: bool,
    /// What the errors were (`llm_fallback`, `cannot_do`, `dropped`, ...).
    pub error_kinds: Vec<String>,
    /// Times the caller heard the agent say it did not understand.
    pub reprompts: u32,
    pub turns: Vec<TurnMetrics>,
    pub barge_ins: Vec<BargeInMetrics>,
    /// The agent stopped its reply with no caller speech.
    pub false_barge_ins: u32,
    /// Word error rate of the agent's user turns against what the caller
    /// said; `None` when the measurer cannot know.
    #[serde(deserialize_with = "Option::deserialize")]
    pub word_error_rate: Option<f64>,
    /// Another tenant's data or configuration seen in this call.
    #[serde(deserialize_with = "Option::deserialize")]
    pub isolation_violations: Option<u32>,
    /// The kinds of every finding of the call's checks (harness only).
    pub findings: Vec<String>,
    pub segment: Segment,
}

impl CallMetrics {
    /// A call with nothing measured yet.
    pub fn new(call_id: &str, agent_version: &str, source: MetricsSource) -> Self {
        Self {
            schema: CALL_METRICS_SCHEMA,
            call_id: call_id.into(),
            agent_version: agent_version.into(),
            source,
            started_ms: None,
            duration_ms: 0,
            task_completed: None,
            error: false,
            error_kinds: Vec::new(),
            reprompts: 0,
            turns: Vec::new(),
            barge_ins: Vec::new(),
            false_barge_ins: 0,
            word_error_rate: None,
            isolation_violations: None,
            findings: Vec::new(),
            segment: Segment::default(),
        }
    }

    /// A truncation failure: some barge-in left history wrong.
    pub fn truncation_failed(&self) -> bool {
        self.barge_ins.iter().any(|b| b.truncation_ok == Some(false))
    }

    /// Count an error the caller noticed, of `kind`.
    pub fn note_error(&mut self, kind: &str) {
        self.error = true;
        if !self.error_kinds.iter().any(|k| k == kind) {
            self.error_kinds.push(kind.to_string());
        }
    }

    /// What the agent knows of its own call from its events: latency to
    /// the first audio it sent, barge-ins as it detected them, provider
    /// failures, and whether the conversation ended with the LLM's
    /// `end_call` (the caller said they were done).
    pub fn from_agent_events(events: &[AgentEvent]) -> Self {
        let mut metrics = Self::new("", "", MetricsSource::Agent);
        metrics.duration_ms = events.last().map_or(0, |e| e.at_us / 1000);
        metrics.task_completed = Some(false);
        if let Some(first) = events.first() {
            metrics.call_id = first.ids.session_id.to_string();
            metrics.agent_version = first.ids.agent_version.clone();
        }
        for event in events {
            match &event.kind {
                EventKind::ReplyLatency { ms, .. } => {
                    metrics.turns.push(TurnMetrics { latency_ms: Some(*ms as f64), stages: None })
                }
                EventKind::BargeInDetected { detected_after_ms, .. } => metrics
                    .barge_ins
                    .push(BargeInMetrics { stop_latency_ms: *detected_after_ms as f64, truncation_ok: None }),
                EventKind::ReplyResumed { .. } => metrics.false_barge_ins += 1,
                EventKind::ToolProposed { name } if name == "end_call" => metrics.task_completed = Some(true),
                EventKind::ServiceFailed { service, .. } => metrics.note_error(&format!("provider_{service}")),
                EventKind::StageFailed { .. } => metrics.note_error("dropped"),
                _ => {}
            }
        }
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{SessionId, SessionIds, TenantId, TraceId};

    fn event(at_ms: u64, kind: EventKind) -> AgentEvent {
        let ids = SessionIds {
            trace_id: TraceId::new("t"),
            session_id: SessionId::new("session-1"),
            customer_id: TenantId::new("acme"),
            agent_version: "support@1.1.0".into(),
            overlay_version: None,
        };
        AgentEvent { at_us: at_ms * 1000, ids, kind }
    }

    #[test]
    fn the_agent_measures_what_it_can_and_leaves_the_rest_unknown() {
        let events = vec![
            event(0, EventKind::SessionStarted),
            event(3000, EventKind::ReplyLatency { utterance: 2, ms: 640, budget_ms: 2000 }),
            event(5000, EventKind::BargeInDetected { detected_after_ms: 150, budget_ms: 400 }),
            event(6000, EventKind::ServiceFailed { service: "llm".into(), message: "500".into() }),
            event(9000, EventKind::ToolProposed { name: "end_call".into() }),
            event(9500, EventKind::SessionEnded { messages: 6 }),
        ];
        let metrics = CallMetrics::from_agent_events(&events);
        assert_eq!((metrics.call_id.as_str(), metrics.agent_version.as_str()), ("session-1", "support@1.1.0"));
        assert_eq!(metrics.duration_ms, 9500);
        assert_eq!(metrics.turns, vec![TurnMetrics { latency_ms: Some(640.0), stages: None }]);
        assert_eq!(metrics.barge_ins[0].truncation_ok, None, "the agent cannot judge its own truncation");
        assert_eq!((metrics.error, metrics.error_kinds.clone()), (true, vec!["provider_llm".to_string()]));
        assert_eq!(metrics.task_completed, Some(true));
        assert_eq!((metrics.word_error_rate, metrics.isolation_violations), (None, None));
        let line = serde_json::to_string(&metrics).expect("serialises");
        assert_eq!(serde_json::from_str::<CallMetrics>(&line).expect("reads back"), metrics);
    }

    #[test]
    fn a_call_that_never_closed_is_not_completed() {
        let metrics = CallMetrics::from_agent_events(&[event(0, EventKind::SessionStarted)]);
        assert_eq!(metrics.task_completed, Some(false));
        assert!(!metrics.error);
    }
}
