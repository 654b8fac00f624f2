//! The agent's view of its speech and language services.
//!
//! Implementations live outside the agent (vendor clients, or the harness's
//! doubles). Every call is cancellable by dropping the returned future or
//! stream: the pipeline does exactly that on a barge-in.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::frame::ToolCall;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} failed: {message}")]
pub struct ServiceError {
    pub service: &'static str,
    pub message: String,
}

/// A word and the range of samples that speak it, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordTiming {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    /// The model the session's settings name.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
}

/// What to speak, in which voice, at which rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsRequest {
    pub text: String,
    pub voice: String,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    Token(String),
    ToolCall(ToolCall),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TtsChunk {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    /// Words that start in this chunk, with sample offsets relative to the
    /// chunk's first sample (a word may end in a later chunk).
    pub words: Vec<WordTiming>,
}

pub trait SttService: Send + Sync {
    /// Recognise one caller turn of mono PCM.
    fn transcribe(&self, samples: Vec<i16>, sample_rate: u32) -> BoxFuture<'static, Result<String, ServiceError>>;
}

pub trait LlmService: Send + Sync {
    /// Stream a completion; the stream ends when the completion is done.
    fn complete(&self, request: LlmRequest) -> BoxStream<'static, Result<LlmEvent, ServiceError>>;
}

pub trait TtsService: Send + Sync {
    /// Stream speech for `text` in chunks, with word timings.
    fn synthesize(&self, request: TtsRequest) -> BoxStream<'static, Result<TtsChunk, ServiceError>>;
}

/// A tool call the agent's code has authorised, for the customer's tool
/// backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    pub name: String,
    pub arguments: serde_json::Value,
    /// The calling customer's credentials (from its overlay), for its own
    /// backend; no other customer's ever travel here. `Debug` hides them.
    pub credentials: BTreeMap<String, Secret>,
}

pub trait ToolService: Send + Sync {
    /// Run one tool. The result is text for the LLM; an error goes back to
    /// the LLM as the tool's error result.
    fn invoke(&self, request: ToolRequest) -> BoxFuture<'static, Result<String, ServiceError>>;
}

/// The services one session talks to.
#[derive(Clone)]
pub struct Services {
    pub stt: Arc<dyn SttService>,
    pub llm: Arc<dyn LlmService>,
    pub tts: Arc<dyn TtsService>,
    pub tools: Arc<dyn ToolService>,
}
