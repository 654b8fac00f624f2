//! The config plane: immutable versioned agent definitions, customer
//! overlays stored as data, and the pure merge of the two.

mod definition;
mod embedded;
mod merge;
mod overlay;
mod registry;
mod secret;
mod settings;

pub use definition::{
    AgentDefinition, DefinitionDefaults, DefinitionError, FlowDefinition, NodeDefinition, ToolDefinition, Version,
    sha256_hex,
};
pub use merge::{EffectiveConfig, Layer, Source, flatten, merge, merge_layers};
pub use overlay::{BusinessHours, FieldError, OVERLAY_SCHEMA, Overlay};
pub use registry::{DefinitionRegistry, LOCK_FILE, LoadedDefinition, Released, release};
pub use secret::{REDACTED, Secret};
pub use settings::{Budgets, Guardrails, PromptSettings, Prompts, Rules, Settings, ToolSettings, VadSettings};
