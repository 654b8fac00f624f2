//! voicegate's reference voice agent.
//!
//! Caller audio flows through a pipeline of processors — VAD, STT, the
//! user-turn aggregator, the responder (the definition's flow, which asks the
//! LLM only inside a node), TTS and the output transport — inside one
//! ephemeral [`Session`] per call. On a barge-in the assistant's history
//! keeps only the words the caller actually heard, as confirmed by playback
//! marks from the transport.
//!
//! Around it: immutable versioned definitions and customer overlays merged
//! with provenance (`config`), a tenant-scoped store on SQLite or PostgreSQL
//! (`store`), the control plane (`control`) and its HTTP API (`server`),
//! whose tenant comes from a signed token (`tenant`).

pub mod call_metrics;
pub mod config;
pub mod control;
pub mod frame;
pub mod guardrails;
pub mod history;
pub mod pipeline;
pub mod processors;
pub mod server;
pub mod services;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod transport;

pub use config::{AgentDefinition, EffectiveConfig};
pub use session::{Session, SessionOutcome};
