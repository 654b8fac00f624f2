//! An agent definition: instructions, tools, the flow and defaults, read
//! from `definitions/<name>/<version>.toml`. A loaded definition carries its
//! version and the SHA-256 of its file, and never changes after loading.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEFINITION_SCHEMA: u32 = 1;

/// `MAJOR.MINOR.PATCH`, ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let number =
            |s: &str| s.parse::<u64>().map_err(|_| format!("{text:?} is not a version (expected MAJOR.MINOR.PATCH)"));
        match parts.as_slice() {
            [major, minor, patch] => Ok(Self { major: number(major)?, minor: number(minor)?, patch: number(patch)? }),
            _ => Err(format!("{text:?} is not a version (expected MAJOR.MINOR.PATCH)")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The parts of [`super::Settings`] a definition may set; what it leaves
/// out comes from the built-in defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionDefaults {
    pub model: Option<String>,
    pub voice: Option<String>,
    pub output_sample_rate: Option<u32>,
    pub vad: Option<serde_json::Map<String, serde_json::Value>>,
    pub budgets: Option<serde_json::Map<String, serde_json::Value>>,
    pub prompts: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: serde_json::Value,
}

/// One node of the flow. A node either says a fixed line (`say`) and then
/// moves to `next` or ends the call, or lets the LLM answer the caller's
/// turns with the node's tools.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDefinition {
    pub say: Option<String>,
    pub next: Option<String>,
    #[serde(default)]
    pub end_call: bool,
    /// Added to the definition's instructions while in this node.
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    /// Where the flow goes when the LLM's `end_call` tool is accepted.
    pub on_end_call: Option<String>,
    /// Where the flow goes after too many unanswered no-input prompts.
    pub on_no_input_exhausted: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    pub start: String,
    pub nodes: BTreeMap<String, NodeDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefinition {
    pub schema_version: u32,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub instructions: String,
    #[serde(default)]
    pub defaults: DefinitionDefaults,
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    pub flow: FlowDefinition,
    /// SHA-256 of the file the definition was read from (hex).
    #[serde(skip)]
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct DefinitionError {
    /// The file (or other source) the definition came from.
    pub source_name: String,
    pub message: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl AgentDefinition {
    /// Parse and validate a definition; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, DefinitionError> {
        let error = |message: String| DefinitionError { source_name: source_name.into(), message };
        let mut definition: AgentDefinition =
            toml::from_str(text).map_err(|e| error(format!("not a valid definition: {}", e.to_string().trim_end())))?;
        definition.content_hash = sha256_hex(text.as_bytes());
        let mut problems = definition.problems();
        // The defaults must read as settings: unknown keys and wrong types
        // are caught here, with their path.
        if let Err(errors) = super::merge::merge(std::sync::Arc::new(definition.clone()), None) {
            problems.extend(errors.iter().map(ToString::to_string));
        }
        if !problems.is_empty() {
            return Err(error(problems.join("; ")));
        }
        Ok(definition)
    }

    /// The built-in support agent, compiled into the binary.
    pub fn reference() -> Self {
        Self::parse(include_str!("../../definitions/support/1.1.0.toml"), "definitions/support/1.1.0.toml")
            .expect("the built-in definition is valid (a unit test checks it)")
    }

    pub fn parsed_version(&self) -> Result<Version, String> {
        Version::parse(&self.version)
    }

    /// `name@version`, for logs and reports.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    pub fn node(&self, id: &str) -> Option<&NodeDefinition> {
        self.flow.nodes.get(id)
    }

    pub fn tool(&self, name: &str) -> Option<&ToolDefinition> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Everything wrong with the definition, each naming its field.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.schema_version != DEFINITION_SCHEMA {
            problems.push(format!(
                "schema_version: {} is not supported (expected {DEFINITION_SCHEMA})",
                self.schema_version
            ));
        }
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(format!("name: {:?} must be lowercase letters, digits and dashes", self.name));
        }
        if let Err(message) = self.parsed_version() {
            problems.push(format!("version: {message}"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, tool) in self.tools.iter().enumerate() {
            if !seen.insert(tool.name.as_str()) {
                problems.push(format!("tools[{i}].name: {:?} is declared twice", tool.name));
            }
            if tool.parameters.get("type").and_then(|t| t.as_str()) != Some("object") {
                problems.push(format!("tools[{i}].parameters: must be a JSON schema with \"type\" = \"object\""));
            }
        }
        if !self.flow.nodes.contains_key(&self.flow.start) {
            problems.push(format!("flow.start: {:?} is not a node", self.flow.start));
        }
        for (id, node) in &self.flow.nodes {
            let path = format!("flow.nodes.{id}");
            let targets = [
                ("next", &node.next),
                ("on_end_call", &node.on_end_call),
                ("on_no_input_exhausted", &node.on_no_input_exhausted),
            ];
            for (field, target) in targets {
                if let Some(target) = target.as_ref().filter(|t| !self.flow.nodes.contains_key(*t)) {
                    problems.push(format!("{path}.{field}: {target:?} is not a node"));
                }
            }
            for (i, tool) in node.tools.iter().enumerate() {
                if self.tool(tool).is_none() {
                    problems.push(format!("{path}.tools[{i}]: {tool:?} is not declared in [[tools]]"));
                }
            }
            match (&node.say, node.next.is_some() || node.end_call) {
                (Some(_), false) => problems.push(format!("{path}: a `say` node needs `next` or `end_call = true`")),
                (Some(_), true) if !node.tools.is_empty() || node.instructions.is_some() => {
                    problems.push(format!("{path}: a `say` node has no LLM, so no `tools` or `instructions`"))
                }
                (None, true) => problems.push(format!("{path}: only a `say` node can have `next` or `end_call`")),
                _ => {}
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_definition_is_valid() {
        let definition = AgentDefinition::reference();
        assert_eq!(definition.id(), "support@1.1.0");
        assert_eq!(definition.content_hash.len(), 64);
        assert!(definition.node(&definition.flow.start).is_some());
    }

    #[test]
    fn problems_name_the_field() {
        let text = include_str!("../../definitions/support/1.0.0.toml")
            .replace("next = \"assist\"", "next = \"nowhere\"")
            .replace("tools = [\"check_order\", \"end_call\"]", "tools = [\"check_order\", \"wire_transfer\"]");
        let error = AgentDefinition::parse(&text, "x.toml").expect_err("invalid").to_string();
        assert!(error.starts_with("x.toml: "), "{error}");
        assert!(error.contains("flow.nodes.greeting.next: \"nowhere\" is not a node"), "{error}");
        assert!(error.contains("flow.nodes.assist.tools[1]: \"wire_transfer\" is not declared"), "{error}");
    }

    #[test]
    fn unknown_fields_and_bad_types_are_refused_with_their_line() {
        let text = include_str!("../../definitions/support/1.0.0.toml")
            .replace("end_of_turn_ms = 700", "end_of_turn_ms = 700\nend_of_turn = 5");
        let error = AgentDefinition::parse(&text, "x.toml").expect_err("unknown default").to_string();
        assert!(error.contains("defaults.vad") && error.contains("end_of_turn"), "{error}");
        let text = include_str!("../../definitions/support/1.0.0.toml").replace("[flow]", "colour = \"blue\"\n[flow]");
        let error = AgentDefinition::parse(&text, "x.toml").expect_err("unknown field").to_string();
        assert!(error.contains("colour") && error.contains("line"), "{error}");
    }

    #[test]
    fn versions_order_numerically() {
        assert!(Version::parse("1.10.0").expect("v") > Version::parse("1.9.3").expect("v"));
        assert!(Version::parse("1.0").is_err());
    }
}
