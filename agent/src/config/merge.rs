//! Merging: built-in defaults, then the definition's `[defaults]`, then the
//! customer's overlay, field by field; the overlay wins.
//!
//! Each layer is flattened to a map of dotted paths to leaf values (lists
//! are leaves). For every path the highest layer that sets it wins, and its
//! layer is recorded as the value's source. The merged map is read back into
//! [`Settings`], so a field the schema does not know is an error, named by
//! its path. Merging is a pure function.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::definition::AgentDefinition;
use super::overlay::{FieldError, Overlay};
use super::secret::REDACTED;
use super::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Built into the agent.
    Default,
    /// The agent definition.
    Base,
    /// The customer's overlay.
    Overlay,
}

pub type Layer = BTreeMap<String, Value>;

/// Dotted paths to leaves. Nulls are kept only if `keep_nulls`; an empty
/// object sets nothing.
pub fn flatten(value: &Value, keep_nulls: bool) -> Layer {
    fn walk(prefix: &str, value: &Value, keep_nulls: bool, out: &mut Layer) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, child, keep_nulls, out);
                }
            }
            Value::Null if !keep_nulls => {}
            leaf => {
                out.insert(prefix.to_string(), leaf.clone());
            }
        }
    }
    let mut out = Layer::new();
    walk("", value, keep_nulls, &mut out);
    out
}

fn unflatten(layer: &Layer) -> Value {
    let mut root = Map::new();
    for (path, value) in layer {
        let mut node = &mut root;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_string(), value.clone());
            } else {
                let child = node.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
                if !child.is_object() {
                    *child = Value::Object(Map::new());
                }
                node = child.as_object_mut().expect("just made an object");
            }
        }
    }
    Value::Object(root)
}

fn overlaps(a: &str, b: &str) -> bool {
    a == b || b.starts_with(&format!("{a}.")) || a.starts_with(&format!("{b}."))
}

/// Merge layers, highest first; returns the merged leaves and their sources.
pub fn merge_layers(layers: &[(Source, &Layer)]) -> (Layer, BTreeMap<String, Source>) {
    let mut merged = Layer::new();
    let mut provenance = BTreeMap::new();
    for (source, layer) in layers {
        for (path, value) in layer.iter() {
            if merged.keys().any(|chosen| overlaps(chosen, path)) {
                continue;
            }
            merged.insert(path.clone(), value.clone());
            provenance.insert(path.clone(), *source);
        }
    }
    (merged, provenance)
}

/// What a session runs with: the definition, the merged settings, where
/// each setting came from, and the overlay version used.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    pub definition: Arc<AgentDefinition>,
    pub settings: Settings,
    pub provenance: BTreeMap<String, Source>,
    pub overlay_version: Option<u64>,
    /// Paths the overlay set that a later schema retired: ignored.
    pub ignored: Vec<String>,
}

/// A layer without the overlay's version, its credentials (merged apart,
/// as secrets) and its retired fields (which reach no setting).
fn layer(value: Value) -> Layer {
    let mut value = value;
    if let Some(map) = value.as_object_mut() {
        map.remove("credentials");
        map.remove("schema_version");
        if let Some(rules) = map.get_mut("rules").and_then(Value::as_object_mut) {
            rules.remove("business_hours");
        }
    }
    flatten(&value, false)
}

/// Merge `overlay` (if any) over `definition`. The overlay must already be
/// valid for the definition ([`Overlay::validate`]).
pub fn merge(
    definition: Arc<AgentDefinition>,
    overlay: Option<(&Overlay, u64)>,
) -> Result<EffectiveConfig, Vec<FieldError>> {
    let base = layer(serde_json::to_value(&definition.defaults).expect("defaults always serialise"));
    let top =
        overlay.map(|(o, _)| layer(serde_json::to_value(o).expect("overlays always serialise"))).unwrap_or_default();
    // Keep null defaults so that optional settings appear in the provenance.
    let defaults_with_nulls = {
        let mut value = serde_json::to_value(Settings::default()).expect("settings always serialise");
        if let Some(map) = value.as_object_mut() {
            map.remove("credentials");
        }
        flatten(&value, true)
    };
    let (merged, mut provenance) =
        merge_layers(&[(Source::Overlay, &top), (Source::Base, &base), (Source::Default, &defaults_with_nulls)]);
    let value = unflatten(&merged);
    let mut settings: Settings = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        vec![FieldError { path: format!("defaults.{path}"), message: e.inner().to_string() }]
    })?;
    if let Some((overlay, _)) = overlay {
        for (name, secret) in overlay.credentials.iter().flatten() {
            settings.credentials.insert(name.clone(), secret.clone());
            provenance.insert(format!("credentials.{name}"), Source::Overlay);
        }
    }
    let ignored = overlay.map(|(o, _)| o.retired_fields()).unwrap_or_default();
    Ok(EffectiveConfig { definition, settings, provenance, overlay_version: overlay.map(|(_, v)| v), ignored })
}

impl EffectiveConfig {
    /// The merged settings with each value's source, secrets redacted, and
    /// the overlay's retired fields, which were ignored (paths only).
    pub fn preview(&self) -> Value {
        let settings = serde_json::to_value(&self.settings).expect("settings always serialise");
        let leaves = flatten(&settings, true);
        let mut fields = Map::new();
        for (path, source) in &self.provenance {
            let value = if path.starts_with("credentials.") {
                Value::String(REDACTED.into())
            } else {
                leaves.get(path).cloned().unwrap_or(Value::Null)
            };
            fields.insert(path.clone(), serde_json::json!({ "value": value, "source": source }));
        }
        serde_json::json!({
            "agent": self.definition.id(),
            "definition_sha256": self.definition.content_hash,
            "overlay_version": self.overlay_version,
            "settings": fields,
            "ignored": self.ignored,
        })
    }

    /// The system prompt: the definition's instructions, the node's, then
    /// the customer's addition.
    pub fn system_prompt(&self, node_instructions: Option<&str>) -> String {
        let mut prompt = self.definition.instructions.trim().to_string();
        for extra in [node_instructions.unwrap_or_default(), self.settings.prompt.append.as_str()] {
            if !extra.trim().is_empty() {
                prompt.push_str("\n\n");
                prompt.push_str(extra.trim());
            }
        }
        prompt
    }

    /// Is `tool` allowed for this customer? (The node's own list is checked
    /// by the flow.)
    pub fn tool_allowed(&self, tool: &str) -> bool {
        self.settings.tools.allow.as_ref().is_none_or(|allow| allow.iter().any(|t| t == tool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(json: &str) -> Overlay {
        let overlay = Overlay::parse_json(json).expect("parses");
        overlay.validate(&AgentDefinition::reference()).expect("valid");
        overlay
    }

    #[test]
    fn overlay_wins_and_every_value_records_its_source() {
        let o = overlay(
            r#"{"schema_version": 2, "voice": "verse", "vad": {"end_of_turn_ms": 950},
                "rules": {"business_hours": {"open": "09:00", "close": "17:00", "days": ["mon"]}},
                "credentials": {"crm_api_key": "sk-canary-777"}}"#,
        );
        let config = merge(Arc::new(AgentDefinition::reference()), Some((&o, 3))).expect("merges");
        assert_eq!(config.settings.voice, "verse");
        assert_eq!(config.settings.vad.end_of_turn_ms, 950);
        assert_eq!(config.settings.vad.start_ms, 96);
        assert_eq!(config.provenance["voice"], Source::Overlay);
        assert_eq!(config.provenance["vad.end_of_turn_ms"], Source::Overlay);
        assert_eq!(config.provenance["vad.start_ms"], Source::Base);
        assert_eq!(config.provenance["guardrails.redact_pii"], Source::Default);
        assert_eq!(config.overlay_version, Some(3));
        // Retired in schema 4: accepted from a schema 2 overlay, and ignored.
        assert!(config.provenance.keys().all(|p| !p.contains("business_hours")), "{:?}", config.provenance);
        assert_eq!(config.ignored, ["rules.business_hours"]);
        let preview = config.preview().to_string();
        assert!(!preview.contains("canary"), "{preview}");
        assert!(preview.contains(r#""ignored":["rules.business_hours"]"#), "{preview}");
        assert!(
            preview.contains("\"credentials.crm_api_key\":{\"source\":\"overlay\",\"value\":\"[redacted]\"}"),
            "{preview}"
        );
        assert_eq!(config.settings.credentials["crm_api_key"].expose(), "sk-canary-777");
    }

    #[test]
    fn without_an_overlay_the_definition_and_defaults_apply() {
        let config = merge(Arc::new(AgentDefinition::reference()), None).expect("merges");
        // The reference definition restates the built-in defaults.
        assert_eq!(config.settings, Settings::default());
        assert_eq!(config.provenance["vad.end_of_turn_ms"], Source::Base);
        assert_eq!(config.provenance["prompt.append"], Source::Default);
        assert!(config.provenance.values().all(|s| *s != Source::Overlay));
        assert!(config.ignored.is_empty());
        assert!(config.tool_allowed("check_order"));
    }

    #[test]
    fn a_definition_default_the_schema_does_not_know_is_refused_by_path() {
        let mut definition = AgentDefinition::reference();
        let vad = definition.defaults.vad.as_mut().expect("the reference sets vad");
        vad.insert("end_of_turn".into(), serde_json::json!(700));
        let errors = merge(Arc::new(definition), None).expect_err("unknown field");
        assert!(errors[0].path.starts_with("defaults.vad"), "{errors:?}");
    }

    #[test]
    fn an_overlay_of_credentials_only_sets_nothing_else() {
        let o = overlay(r#"{"schema_version": 2, "credentials": {"crm": "x"}, "vad": {}}"#);
        let config = merge(Arc::new(AgentDefinition::reference()), Some((&o, 1))).expect("merges");
        let from_overlay: Vec<&String> =
            config.provenance.iter().filter(|(_, s)| **s == Source::Overlay).map(|(p, _)| p).collect();
        assert_eq!(from_overlay, ["credentials.crm"]);
    }

    #[test]
    fn merging_is_a_pure_function_of_its_inputs() {
        let o = overlay(r#"{"schema_version": 1, "tools": {"allow": ["check_order"]}}"#);
        let a = merge(Arc::new(AgentDefinition::reference()), Some((&o, 1))).expect("merges");
        let b = merge(Arc::new(AgentDefinition::reference()), Some((&o, 1))).expect("merges");
        assert_eq!(a.settings, b.settings);
        assert_eq!(a.provenance, b.provenance);
        assert!(!a.tool_allowed("end_call"));
    }
}
