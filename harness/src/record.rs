//! The call record: one ordered, timestamped event log per call.
//!
//! Every check, metric and report is a pure function of a [`CallRecord`].
//! It holds what the caller sent and heard, every request the service
//! doubles saw, every event the agent emitted, and the agent's history.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use voicegate_agent::services::{ChatMessage, WordTiming};
use voicegate_agent::telemetry::AgentEvent;

pub const RECORD_SCHEMA: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedWord {
    pub text: String,
    pub start_us: u64,
    pub end_us: u64,
}

/// What a traffic call is for. The task is done when the caller heard
/// every one of `replies` whole and every tool of `tools` answered without
/// an error: the flow's goal, observed from the caller's side and the
/// tool backend's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallGoal {
    pub call_id: String,
    pub intent: String,
    pub replies: Vec<String>,
    pub tools: Vec<String>,
    /// The traffic segment: accent, noise band, phone line, intent.
    pub segment: voicegate_agent::call_metrics::Segment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    CallStarted {
        scenario: String,
        seed: u64,
        accent: String,
        variant: String,
        /// The rate the agent is sent.
        sample_rate: u32,
        /// Every parameter of the caller's audio.
        rendering: crate::audio::render::Rendering,
        /// The budgets every check of this call is held to.
        #[serde(default)]
        budgets: crate::driver::Budgets,
        /// The line's round trip: a word ending this close to a cut may be
        /// in the agent's history or not.
        #[serde(default)]
        round_trip_us: u64,
        /// The network both ways: delays, playout buffer, loss (records
        /// made before it was modelled were made on an ideal line).
        #[serde(default = "crate::line::Network::ideal")]
        network: crate::line::Network,
        /// The tools the calling tenant's overlay allows, as the harness
        /// deployed it; `None` when it allows every tool or is not known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_allowlist: Option<Vec<String>>,
        /// What the agent was configured to say when something failed
        /// (`prompts.llm_error`, `prompts.cannot_do`), as the harness
        /// deployed it: hearing one is an error the caller noticed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fallback_prompts: Vec<String>,
        /// What the agent says when it did not understand (`prompts.reprompt`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reprompt: Option<String>,
        /// A traffic call's purpose, as the harness drew it: the yardstick
        /// of task completion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        goal: Option<Box<CallGoal>>,
    },
    /// One caller utterance, placed on the call's timeline.
    CallerSpeech {
        utterance: usize,
        text: String,
        end_us: u64,
        words: Vec<TimedWord>,
        audio_digest: String,
        /// Speech over the noise mixed under it, dB; `None` without noise.
        snr_db: Option<f64>,
        /// Said only to show the caller is listening ("okay", "mm-hm"): not
        /// a turn, and not a barge-in; the agent should carry on.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        backchannel: bool,
    },
    /// A run of one TTS response's samples `[from, to)` the caller heard.
    AgentAudioPlayed {
        tts_request: usize,
        from: usize,
        to: usize,
        end_us: u64,
    },
    /// A stretch of agent audio the caller played without a break.
    Played {
        samples: usize,
        end_us: u64,
    },
    /// Agent audio that matches no TTS response (a broken agent, or a bug).
    UnattributedAgentAudio {
        samples: usize,
        end_us: u64,
    },
    MarkEchoed {
        name: String,
    },
    ClearReceived {
        dropped_samples: usize,
    },
    HangupReceived,
    SttRequest {
        request: usize,
        audio_ms: u64,
    },
    SttResult {
        request: usize,
        text: String,
        score: f64,
        /// The error model's word error rate for this utterance.
        word_error_rate: f64,
        /// Words of the audio the phone line had mostly concealed.
        #[serde(default)]
        destroyed_words: usize,
    },
    /// What the LLM was sent: the system prompt, the tools offered, the last message.
    LlmRequest {
        request: usize,
        model: String,
        system_prompt: String,
        tools: Vec<String>,
        last_message: String,
    },
    LlmFirstToken {
        request: usize,
    },
    LlmToolCall {
        request: usize,
        name: String,
    },
    /// A call that reached the tool backend (the tool double), with the
    /// credentials that came with it (names and fingerprints only).
    ToolInvoked {
        name: String,
        arguments: serde_json::Value,
        credentials: Vec<crate::doubles::CredentialSeen>,
        result: Result<String, String>,
    },
    LlmDone {
        request: usize,
        /// Everything the stream said (its text tokens joined).
        #[serde(default)]
        text: String,
    },
    LlmError {
        request: usize,
        message: String,
    },
    TtsRequest {
        request: usize,
        text: String,
        voice: String,
        sample_rate: u32,
        samples: usize,
        words: Vec<WordTiming>,
        audio_digest: String,
    },
    TtsFirstAudio {
        request: usize,
    },
    Agent(AgentEvent),
    /// A step of the caller's script did not go as written (the agent's
    /// doing: a finding).
    ScriptNote {
        message: String,
    },
    /// A step of the caller's script can never be carried out as written
    /// (the scenario's doing: a scenario error).
    ScriptError {
        message: String,
        /// Which action of the script (0-based) could not be carried out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<usize>,
    },
    /// The call ended with the caller's script not done: what was left.
    ScriptLeft {
        reason: String,
        actions: Vec<String>,
    },
    /// Packets the network lost or delayed past the playout buffer, each
    /// way; packet k carries timeline frame k.
    PacketsConcealed {
        uplink: crate::line::PacketFate,
        downlink: crate::line::PacketFate,
    },
    CallEnded {
        reason: String,
        heard_digest: String,
        sent_digest: String,
    },
    History {
        messages: Vec<ChatMessage>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub t_us: u64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallRecord {
    pub entries: Vec<Entry>,
}

impl CallRecord {
    /// JSON lines, one entry per line.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            out.push_str(&serde_json::to_string(entry).expect("record entries always serialise"));
            out.push('\n');
        }
        out
    }

    pub fn from_jsonl(text: &str) -> Result<Self, String> {
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    pub fn events(&self) -> impl Iterator<Item = (u64, &Event)> {
        self.entries.iter().map(|e| (e.t_us, &e.event))
    }

    pub fn history(&self) -> &[ChatMessage] {
        self.entries
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                Event::History { messages } => Some(messages.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// Collects entries from the caller, the doubles and the agent during a
/// call; `finish` orders them by time (stable: ties keep arrival order).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Entry>>>);

impl Recorder {
    pub fn push(&self, t_us: u64, event: Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Entry { t_us, event });
    }

    pub fn finish(&self) -> CallRecord {
        let mut entries = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        entries.sort_by_key(|e| e.t_us);
        CallRecord { entries }
    }
}

/// Virtual time since the call started, for stamping entries.
#[derive(Debug, Clone, Copy)]
pub struct CallClock(tokio::time::Instant);

impl CallClock {
    pub fn start() -> Self {
        Self(tokio::time::Instant::now())
    }

    pub fn now_us(&self) -> u64 {
        voicegate_agent::telemetry::micros(tokio::time::Instant::now().saturating_duration_since(self.0))
    }
}

pub fn samples_to_us(samples: usize, sample_rate: u32) -> u64 {
    samples as u64 * 1_000_000 / u64::from(sample_rate.max(1))
}
