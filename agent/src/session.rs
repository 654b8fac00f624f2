//! One ephemeral session per call. Everything a call needs is built here
//! when it starts and dropped when it ends; the history is handed over.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::call_metrics::CallMetrics;
use crate::config::{EffectiveConfig, Source};
use crate::guardrails::redact_pii;
use crate::history::SharedHistory;
use crate::pipeline::{Pipeline, Processor};
use crate::processors::{OutputTransport, Responder, Stt, Tts, UserTurnAggregator, Vad, input_frames};
use crate::services::{ChatMessage, Services};
use crate::telemetry::{AgentEvent, EventKind, EventSink, SessionId, SessionIds, TenantId, TraceId};
use crate::transport::CallTransport;

/// What the session hands over when the call ends: the history to persist
/// (PII masked if the settings say so).
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    pub ids: SessionIds,
    /// The history to persist: masked when the overlay asks for it.
    pub history: Vec<ChatMessage>,
    /// The conversation as the agent held it (raw: never persist this),
    /// for checks of what the agent remembers.
    pub conversation: Vec<ChatMessage>,
    /// What the agent knows of its own call, as logged (`call.completed`).
    pub metrics: CallMetrics,
}

pub struct Session {
    ids: SessionIds,
    config: Arc<EffectiveConfig>,
    services: Services,
    observer: Option<mpsc::UnboundedSender<AgentEvent>>,
}

impl Session {
    /// A session with fresh random trace and session ids.
    pub fn new(config: Arc<EffectiveConfig>, customer: TenantId, services: Services) -> Self {
        Self::with_ids(config, TraceId::random(), SessionId::random(), customer, services)
    }

    /// A session with given ids (deterministic runs derive them from a seed).
    pub fn with_ids(
        config: Arc<EffectiveConfig>,
        trace_id: TraceId,
        session_id: SessionId,
        customer_id: TenantId,
        services: Services,
    ) -> Self {
        let ids = SessionIds {
            trace_id,
            session_id,
            customer_id,
            agent_version: config.definition.id(),
            overlay_version: config.overlay_version,
        };
        Self { ids, config, services, observer: None }
    }

    /// Receive a copy of every event the session emits.
    pub fn observe(mut self, observer: mpsc::UnboundedSender<AgentEvent>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn ids(&self) -> &SessionIds {
        &self.ids
    }

    /// Run the call to its end.
    pub async fn run(self, transport: CallTransport) -> SessionOutcome {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let events = EventSink::new(self.ids.clone(), Instant::now(), self.observer)
            .redacting(self.config.settings.guardrails.redact_pii)
            .journaling(journal.clone());
        events.emit(EventKind::SessionStarted);
        let config = self.config;
        events.emit(EventKind::ConfigMerged {
            agent: config.definition.id(),
            definition_sha256: config.definition.content_hash.clone(),
            overlay_fields: config
                .provenance
                .iter()
                .filter(|(_, s)| **s == Source::Overlay)
                .map(|(p, _)| p.clone())
                .collect(),
            ignored_fields: config.ignored.clone(),
        });
        let history = SharedHistory::default();
        let (hangup_tx, hangup_rx) = watch::channel(false);
        let services = self.services;
        let settings = &config.settings;
        let stages: Vec<Box<dyn Processor>> = vec![
            Box::new(Vad::new(settings.vad.clone()).stop_budget(settings.budgets.stop_ms)),
            Box::new(Stt::new(services.stt.clone(), settings.vad.pre_roll_ms)),
            Box::new(UserTurnAggregator::new()),
            Box::new(Responder::new(config.clone(), services.llm.clone(), services.tools.clone(), history.clone())),
            Box::new(Tts::new(services.tts.clone(), settings.voice.clone(), settings.output_sample_rate)),
            Box::new(
                OutputTransport::new(transport.outbound, hangup_tx, history.clone())
                    .turn_budget(settings.budgets.turn_ms),
            ),
        ];
        Pipeline::new(stages).run(input_frames(transport.inbound, hangup_rx), events.clone()).await;
        let conversation = history.snapshot();
        let mut history = conversation.clone();
        // The live conversation kept the raw words (a tool may need them);
        // what is handed over for persistence is masked when asked.
        if config.settings.guardrails.redact_pii {
            for message in &mut history {
                message.content = redact_pii(&message.content);
            }
        }
        events.emit(EventKind::SessionEnded { messages: history.len() });
        let metrics = CallMetrics::from_agent_events(&journal.lock().unwrap_or_else(|p| p.into_inner()));
        // One line a call, in the schema of the harness's `calls.jsonl`.
        let line = serde_json::to_string(&metrics).unwrap_or_default();
        tracing::info!(target: "call.completed", trace_id = %events.ids().trace_id, "{line}");
        SessionOutcome { ids: events.ids().clone(), history, conversation, metrics }
    }
}
