//! Customer overlays: data, stored per tenant and versioned, merged over the
//! base definition when a session starts.
//!
//! Schema history: 1 — prompt.append, tools.allow, rules, voice, vad,
//! budgets, guardrails, credentials. 2 — adds prompt.greeting. 3 — adds
//! vad.min_snr_db and vad.echo_return_loss_db (noise and echo rejection).
//! 4 — retires rules.business_hours, which the agent never used (see
//! [`Overlay::retired_fields`]).
//! An older overlay keeps loading unchanged; one that uses a field of a later
//! schema is refused, naming the field. A retired field in an overlay of an
//! earlier schema is accepted, validated and ignored: it reaches no setting,
//! and the session's `config_merged` event and the preview name it as
//! ignored. From the schema that retired it on, it is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::definition::AgentDefinition;
use super::secret::Secret;

pub const OVERLAY_SCHEMA: u32 = 4;

/// The schema that retired `rules.business_hours`.
const BUSINESS_HOURS_RETIRED_IN: u32 = 4;

/// Opening hours (retired in schema 4: nothing in the flow read them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// `HH:MM`, 24-hour clock.
    pub open: String,
    pub close: String,
    /// `mon` .. `sun`.
    pub days: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
    /// Schema 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_limit: Option<f64>,
    /// Retired in schema 4: accepted (and ignored) before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VadOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_threshold: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_threshold: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_turn_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_roll_ms: Option<u32>,
    /// Schema 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_snr_db: Option<f32>,
    /// Schema 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_return_loss_db: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetsOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsOverlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_pii: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptOverlay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsOverlay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesOverlay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vad: Option<VadOverlay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<BudgetsOverlay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailsOverlay>,
    /// Serialises as `[redacted]` values: read the stored document to persist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<BTreeMap<String, Secret>>,
}

/// One problem with an overlay, at a field path such as `vad.end_of_turn_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

fn field(path: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { path: path.into(), message: message.into() }
}

fn check_range<T: PartialOrd + std::fmt::Display + Copy>(
    errors: &mut Vec<FieldError>,
    path: &str,
    value: Option<T>,
    min: T,
    max: T,
) {
    if let Some(v) = value.filter(|v| *v < min || *v > max) {
        errors.push(field(path, format!("{v} is out of range (expected {min} to {max})")));
    }
}

fn valid_clock(text: &str) -> Option<u32> {
    let (hh, mm) = text.split_once(':')?;
    let (h, m): (u32, u32) = (hh.parse().ok()?, mm.parse().ok()?);
    (hh.len() == 2 && mm.len() == 2 && h < 24 && m < 60).then_some(h * 60 + m)
}

impl Overlay {
    /// Paths this overlay sets that a later schema retired: accepted (and
    /// ignored: they reach no setting) before that schema, refused from it on.
    pub fn retired_fields(&self) -> Vec<String> {
        let mut paths = Vec::new();
        if self.rules.as_ref().is_some_and(|r| r.business_hours.is_some()) {
            paths.push("rules.business_hours".to_string());
        }
        paths
    }

    /// Parse an overlay document; errors name the field path.
    pub fn parse_json(text: &str) -> Result<Self, Vec<FieldError>> {
        // serde reads a struct from a JSON array too (by position): refuse
        // anything but an object first.
        match serde_json::from_str::<serde_json::Value>(text) {
            Err(e) => return Err(vec![field("(document)", format!("not valid JSON: {e}"))]),
            Ok(value) if !value.is_object() => {
                return Err(vec![field("(document)", "must be a JSON object of overlay fields")]);
            }
            Ok(value) if value.get("schema_version").is_none() => {
                return Err(vec![field("schema_version", format!("missing (expected 1 to {OVERLAY_SCHEMA})"))]);
            }
            Ok(_) => {}
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "(document)".to_string() } else { path };
            // serde quotes the offending value; under credentials that may be a secret.
            let message = if path.starts_with("credentials") {
                "must be an object of credential names to strings (the value is not shown)".to_string()
            } else {
                e.inner().to_string()
            };
            vec![field(path, message)]
        })
    }

    /// Check values, schema use and tools against `definition`. Every
    /// problem is reported, not just the first.
    pub fn validate(&self, definition: &AgentDefinition) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(1..=OVERLAY_SCHEMA).contains(&self.schema_version) {
            errors.push(field(
                "schema_version",
                format!("{} is not supported (expected 1 to {OVERLAY_SCHEMA})", self.schema_version),
            ));
        }
        if let Some(prompt) = &self.prompt {
            if prompt.append.as_ref().is_some_and(|a| a.chars().count() > 2000) {
                errors.push(field("prompt.append", "is longer than 2000 characters"));
            }
            if prompt.greeting.is_some() && self.schema_version < 2 {
                errors.push(field("prompt.greeting", "needs schema_version 2"));
            }
            if prompt.greeting.as_ref().is_some_and(|g| g.trim().is_empty() || g.chars().count() > 500) {
                errors.push(field("prompt.greeting", "must be 1 to 500 characters"));
            }
        }
        if let Some(allow) = self.tools.as_ref().and_then(|t| t.allow.as_ref()) {
            for (i, tool) in allow.iter().enumerate() {
                if definition.tool(tool).is_none() {
                    errors.push(field(
                        format!("tools.allow[{i}]"),
                        format!("{tool:?} is not a tool of {}", definition.id()),
                    ));
                }
            }
        }
        if let Some(rules) = &self.rules {
            check_range(&mut errors, "rules.refund_limit", rules.refund_limit, 0.0, 1_000_000.0);
            if let Some(hours) = &rules.business_hours {
                let (open, close) = (valid_clock(&hours.open), valid_clock(&hours.close));
                if open.is_none() {
                    errors.push(field(
                        "rules.business_hours.open",
                        format!("{:?} is not a time (expected HH:MM)", hours.open),
                    ));
                }
                if close.is_none() {
                    errors.push(field(
                        "rules.business_hours.close",
                        format!("{:?} is not a time (expected HH:MM)", hours.close),
                    ));
                }
                if let (Some(open), Some(close)) = (open, close)
                    && open >= close
                {
                    errors.push(field("rules.business_hours", "open must be before close"));
                }
                const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                for (i, day) in hours.days.iter().enumerate() {
                    if !DAYS.contains(&day.as_str()) {
                        errors.push(field(
                            format!("rules.business_hours.days[{i}]"),
                            format!("{day:?} is not one of {DAYS:?}"),
                        ));
                    }
                }
            }
        }
        if let Some(voice) = &self.voice
            && (voice.is_empty() || voice.len() > 64)
        {
            errors.push(field("voice", "must be 1 to 64 characters"));
        }
        if let Some(vad) = &self.vad {
            check_range(&mut errors, "vad.start_threshold", vad.start_threshold, 0.05, 0.99);
            check_range(&mut errors, "vad.stop_threshold", vad.stop_threshold, 0.01, 0.95);
            check_range(&mut errors, "vad.start_ms", vad.start_ms, 16, 1000);
            check_range(&mut errors, "vad.end_of_turn_ms", vad.end_of_turn_ms, 100, 5000);
            check_range(&mut errors, "vad.pre_roll_ms", vad.pre_roll_ms, 0, 2000);
            check_range(&mut errors, "vad.min_snr_db", vad.min_snr_db, 0.0, 40.0);
            check_range(&mut errors, "vad.echo_return_loss_db", vad.echo_return_loss_db, 0.0, 60.0);
            for (path, set) in [
                ("vad.min_snr_db", vad.min_snr_db.is_some()),
                ("vad.echo_return_loss_db", vad.echo_return_loss_db.is_some()),
            ] {
                if set && self.schema_version < 3 {
                    errors.push(field(path, "needs schema_version 3"));
                }
            }
            if let (Some(start), Some(stop)) = (vad.start_threshold, vad.stop_threshold)
                && stop > start
            {
                errors.push(field("vad.stop_threshold", "must not be above vad.start_threshold"));
            }
        }
        if let Some(budgets) = &self.budgets {
            check_range(&mut errors, "budgets.turn_ms", budgets.turn_ms, 100, 30_000);
            check_range(&mut errors, "budgets.stop_ms", budgets.stop_ms, 20, 10_000);
        }
        for (name, value) in self.credentials.iter().flatten() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                errors
                    .push(field(format!("credentials.{name}"), "names are lowercase letters, digits and underscores"));
            }
            if value.expose().is_empty() || value.expose().len() > 4096 {
                errors.push(field(format!("credentials.{name}"), "must be 1 to 4096 bytes"));
            }
        }
        if self.schema_version >= BUSINESS_HOURS_RETIRED_IN {
            for path in self.retired_fields() {
                errors.push(field(
                    path,
                    format!("was retired in schema_version {BUSINESS_HOURS_RETIRED_IN}: the agent never used it"),
                ));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> AgentDefinition {
        AgentDefinition::reference()
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_path() {
        let errors = Overlay::parse_json(r#"{"schema_version": 2, "vad": {"end_of_turn": 900}}"#).expect_err("unknown");
        assert_eq!(errors[0].path, "vad.end_of_turn", "{errors:?}");
        assert!(errors[0].message.contains("unknown field"), "{errors:?}");
        let errors = Overlay::parse_json(r#"{"schema_version": 2, "budgets": {"turn_ms": "fast"}}"#).expect_err("type");
        assert_eq!(errors[0].path, "budgets.turn_ms");
        assert!(errors[0].message.contains("invalid type"), "{errors:?}");
    }

    #[test]
    fn only_a_json_object_with_a_schema_version_is_an_overlay() {
        for text in ["[4]", r#"[4, {"greeting": "Hi from array"}]"#, "\"text\"", "null"] {
            let errors = Overlay::parse_json(text).expect_err(text);
            assert_eq!(
                (errors[0].path.as_str(), errors[0].message.as_str()),
                ("(document)", "must be a JSON object of overlay fields")
            );
        }
        let errors = Overlay::parse_json(r#"{"voice": "verse"}"#).expect_err("no version");
        assert_eq!(errors[0].path, "schema_version", "{errors:?}");
        let errors = Overlay::parse_json("{\"schema_version\": 2,").expect_err("malformed");
        assert!(errors[0].message.starts_with("not valid JSON: "), "{errors:?}");
    }

    #[test]
    fn a_malformed_credential_is_refused_without_showing_it() {
        let errors = Overlay::parse_json(r#"{"schema_version": 2, "credentials": "sk-canary-991"}"#).expect_err("type");
        assert_eq!(errors[0].path, "credentials");
        assert!(!errors[0].message.contains("canary"), "{errors:?}");
        let errors = Overlay::parse_json(r#"{"schema_version": 2, "credentials": {"crm": 42}}"#).expect_err("type");
        assert_eq!(errors[0].path, "credentials.crm");
    }

    #[test]
    fn validation_reports_every_problem_by_path() {
        let overlay = Overlay::parse_json(
            r#"{"schema_version": 1,
                "prompt": {"greeting": "Hi there"},
                "tools": {"allow": ["check_order", "wire_transfer"]},
                "vad": {"end_of_turn_ms": 20, "start_threshold": 0.3, "stop_threshold": 0.6},
                "rules": {"refund_limit": -5, "business_hours": {"open": "18:00", "close": "09:00", "days": ["mon", "funday"]}},
                "credentials": {"CRM-Key": "x"}}"#,
        )
        .expect("parses");
        let errors = overlay.validate(&definition()).expect_err("invalid");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in [
            "prompt.greeting",
            "tools.allow[1]",
            "vad.end_of_turn_ms",
            "vad.stop_threshold",
            "rules.refund_limit",
            "rules.business_hours",
            "rules.business_hours.days[1]",
            "credentials.CRM-Key",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {errors:?}");
        }
    }

    #[test]
    fn noise_and_echo_rejection_need_schema_3_and_reach_the_settings() {
        let v2 = r#"{"schema_version": 2, "vad": {"min_snr_db": 6, "echo_return_loss_db": 99}}"#;
        let errors = Overlay::parse_json(v2).expect("parses").validate(&definition()).expect_err("schema 2");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["vad.echo_return_loss_db", "vad.min_snr_db", "vad.echo_return_loss_db"], "{errors:?}");

        let v3 = r#"{"schema_version": 3, "vad": {"min_snr_db": 6, "echo_return_loss_db": 25}}"#;
        let overlay = Overlay::parse_json(v3).expect("parses");
        overlay.validate(&definition()).expect("valid under schema 3");
        let merged = super::super::merge(std::sync::Arc::new(definition()), Some((&overlay, 1))).expect("merges");
        assert_eq!((merged.settings.vad.min_snr_db, merged.settings.vad.echo_return_loss_db), (6.0, 25.0));
    }

    #[test]
    fn business_hours_load_before_schema_4_and_are_refused_from_it() {
        let document = |schema: u32| {
            format!(
                r#"{{"schema_version": {schema}, "credentials": {{"crm_api_key": "sk-x"}},
                    "rules": {{"refund_limit": 50, "business_hours": {{"open": "09:00", "close": "17:00", "days": ["mon"]}}}}}}"#
            )
        };
        let old = Overlay::parse_json(&document(3)).expect("parses");
        old.validate(&definition()).expect("a schema 3 overlay with business hours still loads");
        assert_eq!(old.retired_fields(), ["rules.business_hours"]);
        let new = Overlay::parse_json(&document(4)).expect("parses");
        let errors = new.validate(&definition()).expect_err("schema 4 refuses business hours");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["rules.business_hours"], "credentials are still accepted: {errors:?}");
        assert!(errors[0].message.contains("retired in schema_version 4"), "{errors:?}");
    }

    #[test]
    fn a_schema_1_overlay_still_loads_under_schema_2() {
        // Written for schema 1, before prompt.greeting existed: kept verbatim.
        let v1 = r#"{"schema_version": 1, "prompt": {"append": "Mention the 30-day return policy."},
                     "tools": {"allow": ["check_order"]}, "voice": "verse",
                     "vad": {"end_of_turn_ms": 900}, "budgets": {"turn_ms": 1500},
                     "guardrails": {"redact_pii": true}, "rules": {"refund_limit": 50}}"#;
        let overlay = Overlay::parse_json(v1).expect("a schema 1 overlay parses");
        overlay.validate(&definition()).expect("and validates");
        assert_eq!(overlay.prompt.and_then(|p| p.greeting), None);
    }
}
