//! Identities and the event stream every session emits.
//!
//! Invariant: every event carries trace_id, session_id, customer_id and
//! agent_version. The [`EventSink`] stamps them, so a processor cannot emit
//! an event without them.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// W3C-style trace id (32 lowercase hex digits).
    TraceId
);
id_newtype!(
    /// One call's session.
    SessionId
);
id_newtype!(
    /// The customer (tenant) the call belongs to.
    TenantId
);

impl TraceId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl SessionId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// The identities stamped on every event of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionIds {
    pub trace_id: TraceId,
    pub session_id: SessionId,
    pub customer_id: TenantId,
    /// `name@version` of the agent definition.
    pub agent_version: String,
    /// The customer overlay's version, if the customer has one.
    pub overlay_version: Option<u64>,
}

/// What happened, without the identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    SessionStarted,
    /// The session's settings were merged; `overlay_fields` lists the
    /// paths the overlay set (values are not logged: some are secrets), and
    /// `ignored_fields` the ones a later overlay schema retired (paths only).
    /// The overlay version is in every event's ids.
    ConfigMerged {
        agent: String,
        definition_sha256: String,
        overlay_fields: Vec<String>,
        /// Absent from events recorded before overlay schema 4.
        #[serde(default)]
        ignored_fields: Vec<String>,
    },
    UserStartedSpeaking {
        media_ms: u64,
    },
    UserStoppedSpeaking {
        media_ms: u64,
    },
    SttRequested {
        audio_ms: u64,
    },
    Transcribed {
        text: String,
    },
    FlowNode {
        node: String,
    },
    LlmRequested {
        messages: usize,
    },
    LlmFirstToken,
    LlmDone,
    ToolProposed {
        name: String,
    },
    ToolRefused {
        name: String,
        reason: String,
    },
    ToolExecuted {
        name: String,
        result: String,
    },
    ServiceFailed {
        service: String,
        message: String,
    },
    ReplyStarted {
        utterance: u32,
    },
    TtsRequested {
        utterance: u32,
        text: String,
    },
    TtsFirstAudio {
        utterance: u32,
    },
    BotStartedSpeaking {
        utterance: u32,
    },
    Interrupted {
        utterance: u32,
        heard_words: usize,
        generated_words: usize,
    },
    /// A reply cut off by a false interruption (no words, or only a
    /// backchannel) goes on as `utterance` from word `from_word` of `cut`.
    ReplyResumed {
        utterance: u32,
        cut: u32,
        from_word: usize,
    },
    ClearSent,
    /// The first audio of the answer to a caller's turn went out `ms` after
    /// the VAD ended the turn, against the agent's own `budgets.turn_ms`
    /// (the end-of-turn silence before it, the line and the caller's
    /// playout add the rest of what the caller waits).
    ReplyLatency {
        utterance: u32,
        ms: u64,
        budget_ms: u32,
    },
    /// The caller started talking over a reply and the VAD needed
    /// `detected_after_ms` of their speech to decide it was a barge-in,
    /// against the agent's own `budgets.stop_ms` (the line, the clear and
    /// the caller's playout add the rest of the stop).
    BargeInDetected {
        detected_after_ms: u64,
        budget_ms: u32,
    },
    HistoryCommitted {
        role: String,
        text: String,
    },
    Hangup {
        reason: String,
    },
    /// A pipeline stage panicked: the call ends (the rest of the pipeline
    /// is stopped) instead of hanging.
    StageFailed {
        stage: String,
        message: String,
    },
    SessionEnded {
        messages: usize,
    },
}

impl EventKind {
    /// The event with PII masked in every free-text field.
    pub fn redacted(self) -> Self {
        let mask = |text: String| crate::guardrails::redact_pii(&text);
        match self {
            Self::Transcribed { text } => Self::Transcribed { text: mask(text) },
            Self::ToolRefused { name, reason } => Self::ToolRefused { name, reason: mask(reason) },
            Self::ToolExecuted { name, result } => Self::ToolExecuted { name, result: mask(result) },
            Self::ServiceFailed { service, message } => Self::ServiceFailed { service, message: mask(message) },
            Self::TtsRequested { utterance, text } => Self::TtsRequested { utterance, text: mask(text) },
            Self::HistoryCommitted { role, text } => Self::HistoryCommitted { role, text: mask(text) },
            Self::Hangup { reason } => Self::Hangup { reason: mask(reason) },
            Self::StageFailed { stage, message } => Self::StageFailed { stage, message: mask(message) },
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentEvent {
    /// Time since the session started, microseconds.
    pub at_us: u64,
    #[serde(flatten)]
    pub ids: SessionIds,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Stamps identities and time on events and hands them to the session's
/// observer (if any) and to `tracing`; with `redact_pii` every free-text
/// field is masked first, so no event or log line holds PII.
#[derive(Clone)]
pub struct EventSink {
    ids: SessionIds,
    started: Instant,
    tx: Option<mpsc::UnboundedSender<AgentEvent>>,
    redact_pii: bool,
    journal: Option<Arc<Mutex<Vec<AgentEvent>>>>,
}

impl EventSink {
    pub fn new(ids: SessionIds, started: Instant, tx: Option<mpsc::UnboundedSender<AgentEvent>>) -> Self {
        Self { ids, started, tx, redact_pii: false, journal: None }
    }

    /// Also keep every event (as emitted, masked if asked) in `journal`.
    pub fn journaling(mut self, journal: Arc<Mutex<Vec<AgentEvent>>>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Mask PII in every event (the overlay's `guardrails.redact_pii`).
    pub fn redacting(mut self, redact_pii: bool) -> Self {
        self.redact_pii = redact_pii;
        self
    }

    pub fn ids(&self) -> &SessionIds {
        &self.ids
    }

    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.started)
    }

    pub fn emit(&self, kind: EventKind) {
        let kind = if self.redact_pii { kind.redacted() } else { kind };
        let event = AgentEvent { at_us: micros(self.elapsed()), ids: self.ids.clone(), kind };
        tracing::info!(
            trace_id = %event.ids.trace_id,
            session_id = %event.ids.session_id,
            customer_id = %event.ids.customer_id,
            agent_version = %event.ids.agent_version,
            overlay_version = ?event.ids.overlay_version,
            event = ?event.kind,
            "agent event"
        );
        if let Some(journal) = &self.journal {
            journal.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
        }
        if let Some(tx) = &self.tx {
            // The observer going away must never disturb the call.
            let _ = tx.send(event);
        }
    }
}

/// A sink with fixed ids and no observer, for unit tests of processors.
#[cfg(test)]
pub(crate) fn test_sink() -> EventSink {
    let ids = SessionIds {
        trace_id: TraceId::new("t"),
        session_id: SessionId::new("s"),
        customer_id: TenantId::new("c"),
        agent_version: "1".into(),
        overlay_version: None,
    };
    EventSink::new(ids, Instant::now(), None)
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacting_sink_masks_pii_in_every_free_text_field_it_emits() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = EventSink::new(test_sink().ids().clone(), Instant::now(), Some(tx)).redacting(true);
        let card = "card 4111 2222 3333 and jo@example.com";
        let kinds = vec![
            EventKind::Transcribed { text: card.into() },
            EventKind::TtsRequested { utterance: 1, text: card.into() },
            EventKind::HistoryCommitted { role: "assistant".into(), text: card.into() },
            EventKind::ToolExecuted { name: "check_order".into(), result: card.into() },
            EventKind::ToolRefused { name: "issue_refund".into(), reason: card.into() },
            EventKind::ServiceFailed { service: "llm".into(), message: card.into() },
            EventKind::Hangup { reason: card.into() },
            EventKind::StageFailed { stage: "tts".into(), message: card.into() },
        ];
        let count = kinds.len();
        for kind in kinds {
            sink.emit(kind);
        }
        for _ in 0..count {
            let json = serde_json::to_string(&rx.try_recv().expect("an event")).expect("json");
            assert!(!json.contains("4111") && !json.contains("example.com"), "{json}");
            assert!(json.contains("[number]") && json.contains("[email]"), "{json}");
        }
        // Without the setting nothing is touched.
        let (tx, mut rx) = mpsc::unbounded_channel();
        EventSink::new(test_sink().ids().clone(), Instant::now(), Some(tx))
            .emit(EventKind::Transcribed { text: card.into() });
        assert!(serde_json::to_string(&rx.try_recv().expect("event")).expect("json").contains("4111"));
    }

    #[test]
    fn a_config_merged_event_recorded_before_ignored_fields_existed_still_parses() {
        let old =
            r#"{"kind":"config_merged","agent":"support@1.0.0","definition_sha256":"ab","overlay_fields":["voice"]}"#;
        let kind: EventKind = serde_json::from_str(old).expect("an older record parses");
        let EventKind::ConfigMerged { overlay_fields, ignored_fields, .. } = kind else { panic!("{kind:?}") };
        assert_eq!((overlay_fields, ignored_fields), (vec!["voice".to_string()], vec![]));
    }
}
