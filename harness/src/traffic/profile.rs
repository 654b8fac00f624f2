//! A traffic profile: the population of calls a canary sees, as TOML
//! (documented in `scenarios/traffic/README.md`). What callers want
//! (weighted intents, each a few turns with the LLM's scripted answers and
//! tool calls), how they sound (accents, voices, noise, phone line, loss),
//! how they behave (barge-ins, pauses, silences, hang-ups) and how the
//! providers behave (latencies and error rates).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use voicegate_agent::AgentDefinition;

use super::draw::{RuleOwner, owned_llm_rules};
use crate::audio::render::Background;
use crate::audio::{Corpus, normalise_text};
use crate::doubles::{LlmRule, matching_rule};
pub const TRAFFIC_SCHEMA: u32 = 1;

/// The profile shipped with voicegate, used when none is given.
pub const DEFAULT_PROFILE: &str = include_str!("../../../scenarios/traffic/default.toml");

/// A range `[min, max]` drawn uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// A latency: `base_ms` plus up to `jitter_ms`, uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    pub base_ms: u64,
    pub jitter_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Weights of `none` and of each noise kind (white, pink, brown, hum,
    /// babble, cafe, street).
    pub kinds: BTreeMap<String, f64>,
    pub snr_db: Range,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callers {
    /// Weights of the corpus accents.
    pub accents: BTreeMap<String, f64>,
    /// Weights of the corpus voices (`f`, `m`).
    pub voices: BTreeMap<String, f64>,
    pub noise: Noise,
    /// Share of calls over a phone line (8 kHz µ-law).
    pub phone: f64,
    /// Speaking speed.
    pub speed: Range,
    /// Speech level, dBFS.
    pub level_dbfs: Range,
    /// Share of packets lost each way, in bursts of two.
    pub loss: Range,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Chance that a call's caller cuts in on the greeting with their
    /// first request.
    pub barge_in: f64,
    /// How far into the greeting they cut in, seconds.
    pub barge_in_after_s: Range,
    /// Chance that an utterance of three words or more has a pause in it.
    pub pause: f64,
    pub pause_ms: Range,
    /// Share of pauses that are hesitations ("um").
    pub hesitation: f64,
    /// Chance that the caller stays silent before a turn.
    pub silence: f64,
    pub silence_ms: Range,
    /// Chance that the caller hangs up instead of their closing words.
    pub hang_up: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub latency: LatencySpec,
    /// Chance that one request fails.
    #[serde(default)]
    pub error_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Providers {
    /// The STT double's latency (it never fails).
    pub stt: Provider,
    /// Time to the first token; `error_rate` per request.
    pub llm: Provider,
    pub llm_tokens_per_second: f64,
    /// Time to the first audio (it never fails).
    pub tts: Provider,
    /// The customer's tool backend; `error_rate` per call.
    pub tools: Provider,
}

/// A tool the LLM calls before it answers a turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolUse {
    pub name: String,
    #[serde(default)]
    pub arguments: toml::Table,
    /// What the backend answers.
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// What the caller says: a phrase of the corpus.
    pub say: String,
    /// The words in the transcript that make the LLM answer with `reply`.
    pub trigger: String,
    pub reply: String,
    #[serde(default)]
    pub tool: Option<ToolUse>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    pub weight: f64,
    pub turns: Vec<Turn>,
}

/// How a caller who got what they wanted ends the call: the LLM answers
/// `trigger` with `end_call`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closing {
    pub say: String,
    pub trigger: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub schema_version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub callers: Callers,
    pub behaviour: Behaviour,
    pub providers: Providers,
    pub closing: Closing,
    pub intents: Vec<Intent>,
}

/// A profile problem, with the file and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ProfileError {
    pub source_name: String,
    pub message: String,
}

impl Profile {
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            source_name: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, source_name: &str) -> Result<Self, ProfileError> {
        let error = |message: String| ProfileError { source_name: source_name.to_string(), message };
        let profile: Self = toml::from_str(text).map_err(|e| error(e.to_string().trim_end().to_string()))?;
        if profile.schema_version != TRAFFIC_SCHEMA {
            return Err(error(format!(
                "schema_version {}: this voicegate reads traffic profiles of schema {TRAFFIC_SCHEMA}",
                profile.schema_version
            )));
        }
        profile.validate().map_err(error)?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), String> {
        let share = |field: &str, value: f64| {
            if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(format!("{field} = {value}: expected 0 to 1")) }
        };
        let range = |field: &str, r: Range| {
            if r.min.is_finite() && r.max.is_finite() && r.min <= r.max {
                Ok(())
            } else {
                Err(format!("{field} = {{ min = {}, max = {} }}: expected min <= max", r.min, r.max))
            }
        };
        let weights = |field: &str, w: &BTreeMap<String, f64>| {
            let total = w.values().sum::<f64>();
            if w.values().all(|v| v.is_finite() && *v >= 0.0) && total > 0.0 && total.is_finite() {
                Ok(())
            } else {
                Err(format!("{field}: expected weights of zero or more, not all zero"))
            }
        };
        let c = &self.callers;
        weights("callers.accents", &c.accents)?;
        weights("callers.voices", &c.voices)?;
        weights("callers.noise.kinds", &c.noise.kinds)?;
        for kind in c.noise.kinds.keys() {
            if kind != "none" && Background::parse(kind).is_none() {
                return Err(format!(
                    "callers.noise.kinds.{kind}: not a noise kind (none, white, pink, brown, hum, babble, cafe, street)"
                ));
            }
        }
        share("callers.phone", c.phone)?;
        range("callers.speed", c.speed)?;
        if c.speed.min < 0.9 || c.speed.max > 1.1 {
            return Err("callers.speed: expected within 0.9 to 1.1".into());
        }
        let within = |field: &str, r: Range, (low, high): (f64, f64), unit: &str| {
            range(field, r)?;
            if r.min < low || r.max > high {
                return Err(format!(
                    "{field} = {{ min = {}, max = {} }}: expected within {low} to {high} {unit}",
                    r.min, r.max
                ));
            }
            Ok(())
        };
        within("callers.level_dbfs", c.level_dbfs, (-60.0, -3.0), "dBFS")?;
        within("callers.noise.snr_db", c.noise.snr_db, (-20.0, 80.0), "dB")?;
        // The line loses packets in bursts of two, which can lose at most
        // two packets in three.
        within("callers.loss", c.loss, (0.0, 2.0 / 3.0), "(a share of packets)")?;
        let b = &self.behaviour;
        for (field, value) in
            [("barge_in", b.barge_in), ("pause", b.pause), ("hesitation", b.hesitation), ("silence", b.silence)]
        {
            share(&format!("behaviour.{field}"), value)?;
        }
        share("behaviour.hang_up", b.hang_up)?;
        // The caller cuts in on the greeting, which lasts about 3 s.
        within("behaviour.barge_in_after_s", b.barge_in_after_s, (0.0, 3.0), "s (into the greeting)")?;
        within("behaviour.pause_ms", b.pause_ms, (0.0, 10_000.0), "ms")?;
        within("behaviour.silence_ms", b.silence_ms, (0.0, 30_000.0), "ms")?;
        for (name, provider) in [
            ("stt", &self.providers.stt),
            ("llm", &self.providers.llm),
            ("tts", &self.providers.tts),
            ("tools", &self.providers.tools),
        ] {
            share(&format!("providers.{name}.error_rate"), provider.error_rate)?;
            let LatencySpec { base_ms, jitter_ms } = provider.latency;
            if base_ms.saturating_add(jitter_ms) > 60_000 {
                return Err(format!(
                    "providers.{name}.latency = {{ base_ms = {base_ms}, jitter_ms = {jitter_ms} }}: expected at most \
                     60000 ms in all (a provider that slow is a timeout, not a latency)"
                ));
            }
        }
        for (name, provider) in [("stt", &self.providers.stt), ("tts", &self.providers.tts)] {
            if provider.error_rate > 0.0 {
                return Err(format!(
                    "providers.{name}.error_rate = {}: the {name} double does not fail in traffic; only \
                     providers.llm and providers.tools take an error rate",
                    provider.error_rate
                ));
            }
        }
        if !(1.0..=10_000.0).contains(&self.providers.llm_tokens_per_second) {
            return Err(format!(
                "providers.llm_tokens_per_second = {}: expected 1 to 10000 tokens a second",
                self.providers.llm_tokens_per_second
            ));
        }
        if self.intents.is_empty() {
            return Err("intents: expected at least one [[intents]]".into());
        }
        for (i, intent) in self.intents.iter().enumerate() {
            if !(intent.weight.is_finite() && intent.weight >= 0.0) {
                return Err(format!("intents[{i}] ({}).weight: expected zero or more", intent.name));
            }
            if intent.turns.is_empty() {
                return Err(format!("intents[{i}] ({}).turns: expected at least one turn", intent.name));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, intent) in self.intents.iter().enumerate() {
            if intent.name.trim().is_empty() || !names.insert(intent.name.as_str()) {
                return Err(format!("intents[{i}].name = {:?}: expected a name no other intent has", intent.name));
            }
        }
        let total = self.intents.iter().map(|i| i.weight).sum::<f64>();
        if !total.is_finite() {
            return Err("intents: the weights add up to infinity".into());
        }
        if total <= 0.0 {
            return Err("intents: every weight is zero".into());
        }
        let triggered = |field: String, say: &str, trigger: &str| {
            let (say, trigger) = (normalise_text(say), normalise_text(trigger));
            if trigger.is_empty() {
                return Err(format!("{field}.trigger: expected the words of `say` the LLM answers, got none"));
            }
            if !format!(" {say} ").contains(&format!(" {trigger} ")) {
                return Err(format!(
                    "{field}.trigger = \"{trigger}\": not words of its say, \"{say}\" (the LLM answers what the caller says)"
                ));
            }
            Ok(())
        };
        triggered("closing".into(), &self.closing.say, &self.closing.trigger)?;
        for (i, intent) in self.intents.iter().enumerate() {
            for (j, turn) in intent.turns.iter().enumerate() {
                triggered(format!("intents[{i}] ({}).turns[{j}]", intent.name), &turn.say, &turn.trigger)?;
                if normalise_text(&turn.reply).is_empty() {
                    return Err(format!(
                        "intents[{i}] ({}).turns[{j}].reply: expected the words the LLM answers, got none",
                        intent.name
                    ));
                }
            }
            self.check_triggers_apart(i, intent)?;
        }
        Ok(())
    }

    /// In a call of `intent`, what the caller says in each turn (and the
    /// closing words) must make the LLM double answer that turn: a trigger
    /// found inside another turn's words (the double matches the first
    /// trigger it finds, the closing's first) would answer the wrong one.
    fn check_triggers_apart(&self, i: usize, intent: &Intent) -> Result<(), String> {
        let (owners, rules): (Vec<RuleOwner>, Vec<LlmRule>) =
            owned_llm_rules(&self.closing, intent).into_iter().unzip();
        let says = intent
            .turns
            .iter()
            .enumerate()
            .map(|(j, t)| (format!("intents[{i}] ({}).turns[{j}]", intent.name), t.say.as_str(), RuleOwner::Turn(j)))
            .chain([("closing".to_string(), self.closing.say.as_str(), RuleOwner::Closing)]);
        for (field, say, own) in says {
            if let Some(first) = matching_rule(&rules, say).filter(|&first| owners[first] != own) {
                let whose = match owners[first] {
                    RuleOwner::Closing => "the closing".to_string(),
                    RuleOwner::Turn(j) => format!("turns[{j}]"),
                };
                return Err(format!(
                    "{field}.say = \"{say}\": holds the trigger \"{}\" of {whose} (the LLM answers the first trigger it finds in what the caller says), so the call could not reach this turn; choose triggers found in their own say only",
                    rules[first].trigger
                ));
            }
        }
        Ok(())
    }

    /// Every tool the profile's LLM calls is one `definition` declares (a
    /// tool it does not know is refused on every such call).
    pub fn check_tools(&self, definition: &AgentDefinition, source_name: &str) -> Result<(), ProfileError> {
        for (i, intent) in self.intents.iter().enumerate() {
            for (j, turn) in intent.turns.iter().enumerate() {
                let Some(tool) = &turn.tool else { continue };
                if !definition.tools.iter().any(|t| t.name == tool.name) {
                    let known: Vec<&str> = definition.tools.iter().map(|t| t.name.as_str()).collect();
                    return Err(ProfileError {
                        source_name: source_name.to_string(),
                        message: format!(
                            "intents[{i}] ({}).turns[{j}].tool.name = \"{}\": {}@{} has no such tool (it has: {})",
                            intent.name,
                            tool.name,
                            definition.name,
                            definition.version,
                            known.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Every accent, voice and phrase the profile names is in `corpus`.
    pub fn check_corpus(&self, corpus: &Corpus, source_name: &str) -> Result<(), ProfileError> {
        let error = |message: String| ProfileError { source_name: source_name.to_string(), message };
        let accents = corpus.accents();
        if let Some(accent) = self.callers.accents.keys().find(|a| !accents.contains(a)) {
            return Err(error(format!(
                "callers.accents.{accent}: not an accent of the corpus (it has: {})",
                accents.join(", ")
            )));
        }
        let mut voices: Vec<String> = corpus.manifest().entries.iter().map(|e| e.variant.clone()).collect();
        voices.sort();
        voices.dedup();
        if let Some(voice) = self.callers.voices.keys().find(|v| !voices.contains(v)) {
            return Err(error(format!(
                "callers.voices.{voice}: not a voice of the corpus (it has: {})",
                voices.join(", ")
            )));
        }
        let mut phrases = vec![("closing.say".to_string(), self.closing.say.as_str())];
        for (i, intent) in self.intents.iter().enumerate() {
            for (j, turn) in intent.turns.iter().enumerate() {
                phrases.push((format!("intents[{i}] ({}).turns[{j}].say", intent.name), &turn.say));
            }
        }
        for accent in self.callers.accents.keys() {
            for voice in self.callers.voices.keys() {
                for (field, phrase) in &phrases {
                    corpus
                        .check_phrase(phrase, accent, voice)
                        .map_err(|e| error(format!("{field}: {e} (callers.accents.{accent}, voice {voice})")))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profiles_are_valid_and_their_phrases_are_in_the_corpus() {
        let profile = Profile::parse(DEFAULT_PROFILE, "default.toml").expect("valid");
        assert!(profile.intents.len() >= 4);
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        profile.check_corpus(&corpus, "default.toml").expect("every phrase recorded");
        let short = include_str!("../../../scenarios/traffic/short-calls.toml");
        let profile = Profile::parse(short, "short-calls.toml").expect("valid");
        assert!(profile.intents.iter().all(|i| i.turns.len() == 1));
        profile.check_corpus(&corpus, "short-calls.toml").expect("every phrase recorded");
        let unknown_voice = DEFAULT_PROFILE.replace("voices = { f = 50, m = 50 }", "voices = { x = 50 }");
        let profile = Profile::parse(&unknown_voice, "p.toml").expect("parses");
        let error = profile.check_corpus(&corpus, "p.toml").expect_err("no voice x").to_string();
        assert!(error.contains("callers.voices.x: not a voice of the corpus (it has: f, m)"), "{error}");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("phone = 0.3", "phone = 1.5", "callers.phone = 1.5: expected 0 to 1"),
            ("schema_version = 1", "schema_version = 9", "schema_version 9"),
            ("cafe = ", "coffee = ", "callers.noise.kinds.coffee: not a noise kind"),
            ("barge_in = ", "bargein = ", "unknown field `bargein`"),
            ("[providers.llm]", "[providers.llmm]", "unknown field `llmm`"),
            (
                "loss = { min = 0.0, max = 0.02 }",
                "loss = { min = 0.7, max = 0.9 }",
                "callers.loss = { min = 0.7, max = 0.9 }",
            ),
            ("level_dbfs = { min = -30.0", "level_dbfs = { min = 60.0", "callers.level_dbfs"),
            ("pause_ms = { min = 250.0, max = 650.0 }", "pause_ms = { min = 1e12, max = 1e12 }", "behaviour.pause_ms"),
            ("barge_in_after_s = { min = 1.0", "barge_in_after_s = { min = 59.0", "behaviour.barge_in_after_s"),
            ("base_ms = 250,", "base_ms = 99999999999,", "providers.llm.latency"),
            ("llm_tokens_per_second = 40.0", "llm_tokens_per_second = 1e-300", "providers.llm_tokens_per_second"),
            (
                "latency = { base_ms = 120, jitter_ms = 80 }",
                "latency = { base_ms = 120, jitter_ms = 80 }\nerror_rate = 0.5",
                "providers.stt.error_rate = 0.5: the stt double does not fail",
            ),
            ("\"en-us\" = 22, \"en-gb\" = 14", "\"en-us\" = 1e308, \"en-gb\" = 1e308", "callers.accents"),
            ("name = \"refund\"", "name = \"opening-hours\"", "intents[2].name = \"opening-hours\""),
            // "i" is a word of the closing, and inside almost every phrase.
            (
                "trigger = \"needed\"",
                "trigger = \"i\"",
                "intents[0] (opening-hours).turns[0].say = \"what are your opening hours\": holds the trigger \"i\" of the closing",
            ),
            // The second turn's trigger is inside the first turn's words.
            (
                "trigger = \"five six\"",
                "trigger = \"order\"",
                "intents[1] (order-status).turns[0].say = \"i would like to check my order please\": holds the trigger \"order\" of turns[1]",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(DEFAULT_PROFILE.contains(from), "the default profile has {from:?}");
            let text = DEFAULT_PROFILE.replacen(from, to, 1);
            let error = Profile::parse(&text, "p.toml").expect_err(to).to_string();
            assert!(error.starts_with("p.toml: ") && error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_phrase_the_corpus_lacks_is_named_with_its_field() {
        let text = DEFAULT_PROFILE.replacen("say = \"thank you that is all i needed\"", "say = \"ta ta\"", 1).replacen(
            "trigger = \"needed\"",
            "trigger = \"ta\"",
            1,
        );
        let profile = Profile::parse(&text, "p.toml").expect("parses");
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let error = profile.check_corpus(&corpus, "p.toml").expect_err("unknown phrase").to_string();
        assert!(error.contains("closing.say") && error.contains("ta ta"), "{error}");
    }

    #[test]
    fn an_accent_the_corpus_lacks_is_named_before_any_phrase() {
        assert!(DEFAULT_PROFILE.contains("\"en-gb\" = "));
        let text = DEFAULT_PROFILE.replacen("\"en-gb\" = ", "\"en-xx\" = ", 1);
        let profile = Profile::parse(&text, "p.toml").expect("parses");
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let error = profile.check_corpus(&corpus, "p.toml").expect_err("unknown accent").to_string();
        assert!(error.contains("callers.accents.en-xx: not an accent of the corpus"), "{error}");
    }

    #[test]
    fn a_trigger_must_be_words_the_caller_says() {
        for (trigger, expected) in [
            ("\"\"", "closing.trigger: expected the words of `say`"),
            ("\"  !? \"", "closing.trigger: expected the words of `say`"),
            ("\"goodbye\"", "closing.trigger = \"goodbye\": not words of its say"),
            ("\"need\"", "closing.trigger = \"need\": not words of its say"),
        ] {
            let text = DEFAULT_PROFILE.replacen("trigger = \"needed\"", &format!("trigger = {trigger}"), 1);
            let error = Profile::parse(&text, "p.toml").expect_err(trigger).to_string();
            assert!(error.contains(expected), "{error}");
        }
        let text = DEFAULT_PROFILE.replacen(
            "reply = \"We are open from nine in the morning until half past five, Monday to Saturday.\"",
            "reply = \" \"",
            1,
        );
        let error = Profile::parse(&text, "p.toml").expect_err("empty reply").to_string();
        assert!(error.contains("(opening-hours).turns[0].reply: expected the words"), "{error}");
        let text = DEFAULT_PROFILE.replacen("trigger = \"hours\"", "trigger = \"minutes\"", 1);
        let error = Profile::parse(&text, "p.toml").expect_err("minutes").to_string();
        assert!(error.contains("(opening-hours).turns[0].trigger = \"minutes\""), "{error}");
    }

    #[test]
    fn a_tool_the_agent_lacks_is_named() {
        let definition = AgentDefinition::reference();
        let profile = Profile::parse(DEFAULT_PROFILE, "p.toml").expect("valid");
        profile.check_tools(&definition, "p.toml").expect("the reference agent has every tool");
        let text = DEFAULT_PROFILE.replacen("name = \"issue_refund\"", "name = \"issue_voucher\"", 1);
        let error = Profile::parse(&text, "p.toml")
            .expect("parses")
            .check_tools(&definition, "p.toml")
            .expect_err("no such tool");
        assert!(error.to_string().contains("tool.name = \"issue_voucher\": support@1.1.0 has no such tool"), "{error}");
    }
}
