//! Agent configuration: the definition a session runs with.

mod definition;

pub use definition::{AgentDefinition, FlowPrompts, InterruptHistory, ToolDefinition, VadSettings};
