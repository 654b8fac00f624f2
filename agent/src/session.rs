//! One ephemeral session per call. Everything a call needs is built here
//! when it starts and dropped when it ends; the history is handed over.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::AgentDefinition;
use crate::history::SharedHistory;
use crate::pipeline::{Pipeline, Processor};
use crate::processors::{OutputTransport, Responder, Stt, Tts, UserTurnAggregator, Vad, input_frames};
use crate::services::{ChatMessage, Services};
use crate::telemetry::{AgentEvent, CustomerId, EventKind, EventSink, SessionId, SessionIds, TraceId};
use crate::transport::CallTransport;

/// What the session hands over when the call ends.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    pub ids: SessionIds,
    pub history: Vec<ChatMessage>,
}

pub struct Session {
    ids: SessionIds,
    definition: Arc<AgentDefinition>,
    services: Services,
    observer: Option<mpsc::UnboundedSender<AgentEvent>>,
}

impl Session {
    /// A session with fresh random trace and session ids.
    pub fn new(definition: Arc<AgentDefinition>, customer: CustomerId, services: Services) -> Self {
        let ids = SessionIds {
            trace_id: TraceId::random(),
            session_id: SessionId::random(),
            customer_id: customer,
            agent_version: definition.version.clone(),
        };
        Self::with_ids(definition, ids, services)
    }

    /// A session with given ids (deterministic runs choose them from a seed).
    pub fn with_ids(definition: Arc<AgentDefinition>, ids: SessionIds, services: Services) -> Self {
        Self { ids, definition, services, observer: None }
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
        let events = EventSink::new(self.ids.clone(), Instant::now(), self.observer);
        events.emit(EventKind::SessionStarted);
        let history = SharedHistory::default();
        let (hangup_tx, hangup_rx) = watch::channel(false);
        let definition = self.definition;
        let services = self.services;
        let stages: Vec<Box<dyn Processor>> = vec![
            Box::new(Vad::new(definition.vad.clone())),
            Box::new(Stt::new(services.stt.clone(), definition.vad.pre_roll_ms)),
            Box::new(UserTurnAggregator::new()),
            Box::new(Responder::new(definition.clone(), services.llm.clone(), history.clone())),
            Box::new(Tts::new(services.tts.clone(), definition.output_sample_rate)),
            Box::new(OutputTransport::new(
                transport.outbound,
                hangup_tx,
                history.clone(),
                definition.interrupt_history,
            )),
        ];
        Pipeline::new(stages).run(input_frames(transport.inbound, hangup_rx), events.clone()).await;
        let history = history.snapshot();
        events.emit(EventKind::SessionEnded { messages: history.len() });
        SessionOutcome { ids: events.ids().clone(), history }
    }
}
