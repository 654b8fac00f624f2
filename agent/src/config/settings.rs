//! The effective settings of a session: one shape that the built-in
//! defaults, a definition's `[defaults]` and a customer overlay all map
//! onto, field by field (see `merge.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// Voice activity and end-of-turn settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VadSettings {
    /// Speech probability at or above which a frame counts as speech.
    pub start_threshold: f32,
    /// Speech probability below which a frame counts as silence.
    pub stop_threshold: f32,
    /// Continuous speech needed before the caller counts as speaking.
    pub start_ms: u32,
    /// Silence after speech that ends the caller's turn.
    pub end_of_turn_ms: u32,
    /// Audio kept from before the detected start, sent to the recogniser.
    pub pre_roll_ms: u32,
    /// A frame counts as speech only this far above the background (the
    /// quietest frame of the last two seconds), dB: steady noise and
    /// distant talkers are not the caller.
    #[serde(default = "default_min_snr_db")]
    pub min_snr_db: f32,
    /// While the agent speaks, its voice may come back through the caller's
    /// microphone at least this much quieter, dB; a frame must be louder
    /// than that to count as the caller barging in.
    #[serde(default = "default_echo_return_loss_db")]
    pub echo_return_loss_db: f32,
}

fn default_echo_return_loss_db() -> f32 {
    15.0
}

fn default_min_snr_db() -> f32 {
    12.0
}

impl Default for VadSettings {
    fn default() -> Self {
        Self {
            start_threshold: 0.5,
            stop_threshold: 0.35,
            start_ms: 96,
            end_of_turn_ms: 700,
            pre_roll_ms: 300,
            min_snr_db: default_min_snr_db(),
            echo_return_loss_db: default_echo_return_loss_db(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// End of caller speech to first agent audio heard.
    pub turn_ms: u32,
    /// Caller barge-in to the agent's last audio heard.
    pub stop_ms: u32,
}

impl Default for Budgets {
    fn default() -> Self {
        Self { turn_ms: 2000, stop_ms: 400 }
    }
}

/// Fixed lines the flow speaks without asking the LLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Said when the recogniser returned nothing usable.
    pub reprompt: String,
    /// Said when the caller stays silent for `no_input_ms`.
    pub no_input: String,
    pub no_input_ms: u32,
    /// After this many unanswered no-input prompts the flow moves on.
    pub max_no_input: u32,
    /// Said when the LLM fails; the conversation goes on.
    pub llm_error: String,
    /// Said when a tool the LLM asked for was refused or failed and the LLM
    /// said nothing about it.
    #[serde(default = "default_cannot_do")]
    pub cannot_do: String,
}

fn default_cannot_do() -> String {
    "Sorry, I can't do that for you on this call.".into()
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            reprompt: "Sorry, I did not catch that. Could you say it again?".into(),
            no_input: "Are you still there?".into(),
            no_input_ms: 6000,
            max_no_input: 2,
            llm_error: "Sorry, I had a problem with that. Could you repeat your question?".into(),
            cannot_do: default_cannot_do(),
        }
    }
}

/// Customer additions to the system prompt and the opening line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSettings {
    /// Appended to the definition's instructions.
    pub append: String,
    /// Replaces the start node's line (overlay schema 2).
    pub greeting: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSettings {
    /// Tools this customer allows; `None` allows every tool of the definition.
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The largest refund the agent may promise, in the account's currency.
    pub refund_limit: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Mask card numbers, e-mail addresses and phone numbers in logs and history.
    pub redact_pii: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub model: String,
    pub voice: String,
    pub output_sample_rate: u32,
    pub vad: VadSettings,
    pub budgets: Budgets,
    pub prompts: Prompts,
    pub prompt: PromptSettings,
    pub tools: ToolSettings,
    pub rules: Rules,
    pub guardrails: Guardrails,
    /// Customer credentials for tools; values are never shown.
    #[serde(default)]
    pub credentials: BTreeMap<String, Secret>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: "gpt-4o-mini".into(),
            voice: "alloy".into(),
            output_sample_rate: 16_000,
            vad: VadSettings::default(),
            budgets: Budgets::default(),
            prompts: Prompts::default(),
            prompt: PromptSettings::default(),
            tools: ToolSettings::default(),
            rules: Rules::default(),
            guardrails: Guardrails::default(),
            credentials: BTreeMap::new(),
        }
    }
}
