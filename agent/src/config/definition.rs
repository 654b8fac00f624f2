//! An agent definition: instructions, flow prompts, tools and thresholds.

use serde::{Deserialize, Serialize};

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
}

impl Default for VadSettings {
    fn default() -> Self {
        Self { start_threshold: 0.5, stop_threshold: 0.35, start_ms: 96, end_of_turn_ms: 700, pre_roll_ms: 300 }
    }
}

/// The fixed lines the flow speaks without asking the LLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowPrompts {
    pub greeting: String,
    /// Said when the recogniser returned nothing usable.
    pub reprompt: String,
    /// Said when the caller stays silent for `no_input_ms`.
    pub no_input: String,
    pub no_input_ms: u32,
    /// After this many unanswered no-input prompts the agent says goodbye.
    pub max_no_input: u32,
    /// Said when the LLM fails; the conversation goes on.
    pub llm_error: String,
    pub goodbye: String,
}

impl Default for FlowPrompts {
    fn default() -> Self {
        Self {
            greeting: "Hello, thanks for calling Acme support. How can I help you today?".into(),
            reprompt: "Sorry, I did not catch that. Could you say it again?".into(),
            no_input: "Are you still there?".into(),
            no_input_ms: 6000,
            max_no_input: 2,
            llm_error: "Sorry, I had a problem with that. Could you repeat your question?".into(),
            goodbye: "Thank you for calling. Goodbye.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: serde_json::Value,
}

/// What the agent writes to history when the caller barges in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterruptHistory {
    /// Exactly the words whose audio the caller heard (correct behaviour).
    #[default]
    Heard,
    /// The whole generated reply, heard or not: the classic production bug.
    /// It exists so the harness can prove its truncation check catches it.
    Generated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefinition {
    pub name: String,
    pub version: String,
    pub instructions: String,
    pub prompts: FlowPrompts,
    pub vad: VadSettings,
    pub tools: Vec<ToolDefinition>,
    /// Output sample rate asked of the TTS service.
    pub output_sample_rate: u32,
    #[serde(default)]
    pub interrupt_history: InterruptHistory,
}

impl AgentDefinition {
    /// The built-in support agent the harness exercises by default.
    pub fn reference() -> Self {
        Self {
            name: "support".into(),
            version: "1.0.0".into(),
            instructions: "You are Acme's phone support agent. Answer briefly, in one or two sentences. \
                           Use check_order to look up an order; use end_call when the caller is done."
                .into(),
            prompts: FlowPrompts::default(),
            vad: VadSettings::default(),
            tools: vec![
                ToolDefinition {
                    name: "check_order".into(),
                    description: "Look up the status of an order by its number".into(),
                    parameters: serde_json::json!({
                        "type": "object",
                        "properties": { "order_id": { "type": "string" } },
                        "required": ["order_id"]
                    }),
                },
                ToolDefinition {
                    name: "end_call".into(),
                    description: "End the call after saying goodbye".into(),
                    parameters: serde_json::json!({ "type": "object", "properties": {} }),
                },
            ],
            output_sample_rate: 16_000,
            interrupt_history: InterruptHistory::Heard,
        }
    }
}
