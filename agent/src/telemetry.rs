//! Identities and the event stream every session emits.
//!
//! Invariant: every event carries trace_id, session_id, customer_id and
//! agent_version. The [`EventSink`] stamps them, so a processor cannot emit
//! an event without them.

use std::fmt;
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
    /// paths the overlay set (values are not logged: some are secrets).
    /// The overlay version is in every event's ids.
    ConfigMerged {
        agent: String,
        definition_sha256: String,
        overlay_fields: Vec<String>,
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
    ClearSent,
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
/// observer (if any) and to `tracing`.
#[derive(Clone)]
pub struct EventSink {
    ids: SessionIds,
    started: Instant,
    tx: Option<mpsc::UnboundedSender<AgentEvent>>,
}

impl EventSink {
    pub fn new(ids: SessionIds, started: Instant, tx: Option<mpsc::UnboundedSender<AgentEvent>>) -> Self {
        Self { ids, started, tx }
    }

    pub fn ids(&self) -> &SessionIds {
        &self.ids
    }

    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.started)
    }

    pub fn emit(&self, kind: EventKind) {
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
