//! What a call should do, as the scenario's steps describe it.

use std::sync::Arc;

use voicegate_agent::AgentDefinition;

use crate::audio::render::Rendering;
use crate::doubles::{Latency, LlmScript, ToolScript};
use crate::faults::Fault;
use crate::line::Network;

/// A pause the caller makes inside an utterance, after a given word.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub after_word: String,
    pub ms: u32,
    /// A hesitation: the pause starts with an "um" in the caller's voice.
    pub filled: bool,
}

/// Where in the agent's reply the caller cuts in. The reply is the one
/// playing when the step begins, or else the next one to begin.
#[derive(Debug, Clone, PartialEq)]
pub enum InterruptAt {
    /// This long after the caller starts hearing the reply.
    AfterMs(u32),
    /// As `AfterMs`, but a reply that goes quiet first is no script error:
    /// the caller then just says its piece, as a person who meant to cut in
    /// would (drawn traffic, where the reply's length is not known ahead).
    AfterMsOrQuiet(u32),
    /// Partway into the last word of the reply (`percent` of that word's
    /// length), or of its first chunk (the first TTS response it plays).
    LastWord { percent: u32, first_chunk: bool },
}

impl std::fmt::Display for InterruptAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AfterMs(ms) => write!(f, "{ms} ms into the reply"),
            Self::AfterMsOrQuiet(ms) => write!(f, "{ms} ms into the reply, or when it goes quiet"),
            Self::LastWord { percent, first_chunk: false } => write!(f, "{percent}% into the reply's last word"),
            Self::LastWord { percent, first_chunk: true } => {
                write!(f, "{percent}% into the last word of the reply's first sentence")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallerAction {
    /// Wait for the agent to finish speaking, then say this.
    Say { text: String, pauses: Vec<Pause> },
    /// Speak over the agent's next reply: to take the turn, or (a
    /// backchannel: "okay", "mm-hm") only to show they are listening, when
    /// the agent should carry on. A backchannel with no text is a cough.
    Interrupt { at: InterruptAt, text: String, backchannel: bool },
    /// Wait for the agent to finish, then stay silent this long.
    Silence { ms: u32 },
    /// Wait for the agent to finish, then hang up.
    HangUp,
}

/// What every call is held to, whatever its steps say.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budgets {
    /// From the end of the caller's turn to the first agent sample heard.
    pub turn_ms: u64,
    /// From the caller's first word over a reply to the agent's last sample.
    pub stop_ms: u64,
    /// The longest silence inside one reply (a playout underrun).
    pub gap_ms: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Self { turn_ms: 2000, stop_ms: 400, gap_ms: 700 }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentOptions {
    /// The released definition the agent runs (`--agent support@X`);
    /// `None` for the built-in reference.
    pub definition: Option<Arc<AgentDefinition>>,
    /// A known bug injected around the agent (`--agent-fault`).
    pub fault: Option<Fault>,
    pub end_of_turn_ms: Option<u32>,
    pub no_input_ms: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallPlan {
    pub scenario: String,
    pub seed: u64,
    /// The tenant placing the call; `None` calls the built-in agent directly.
    pub tenant: Option<String>,
    pub accent: String,
    pub variant: String,
    pub script: Vec<CallerAction>,
    /// The feature-file line of the step that wrote each script action.
    pub script_lines: Vec<usize>,
    pub llm: LlmScript,
    pub stt_latency: Latency,
    pub tts_first_audio: Latency,
    /// The customer's tool backend.
    pub tools: ToolScript,
    /// The tools the tenant's overlay allows, as deployed (`None`: all, or
    /// not known).
    pub tool_allowlist: Option<Vec<String>>,
    /// A traffic call's purpose (`None` for a scenario's call).
    pub goal: Option<crate::record::CallGoal>,
    pub budgets: Budgets,
    pub agent: AgentOptions,
    /// The caller's microphone and line: noise, codec, echo, rate.
    pub rendering: Rendering,
    /// The network between the caller's phone and the agent, both ways.
    pub network: Network,
    /// The call is cut off after this long whatever happens.
    pub max_call_ms: u64,
}

impl AgentOptions {
    /// The definition the agent runs.
    pub fn definition(&self) -> Arc<AgentDefinition> {
        self.definition.clone().unwrap_or_else(|| Arc::new(AgentDefinition::reference()))
    }
}

impl CallPlan {
    pub fn new(scenario: impl Into<String>, seed: u64) -> Self {
        Self {
            scenario: scenario.into(),
            seed,
            tenant: None,
            accent: "en-us".into(),
            variant: "f".into(),
            script: Vec::new(),
            script_lines: Vec::new(),
            llm: LlmScript::default(),
            stt_latency: Latency { base_ms: 120, jitter_ms: 30 },
            tts_first_audio: Latency { base_ms: 100, jitter_ms: 20 },
            tools: ToolScript::default(),
            tool_allowlist: None,
            goal: None,
            budgets: Budgets::default(),
            agent: AgentOptions::default(),
            rendering: Rendering::default(),
            network: Network::default(),
            max_call_ms: 180_000,
        }
    }

    /// Every phrase the caller will say, in script order.
    pub fn phrases(&self) -> Vec<&str> {
        self.script
            .iter()
            .filter_map(|a| match a {
                CallerAction::Say { text, .. } | CallerAction::Interrupt { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}
