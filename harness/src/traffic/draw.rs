//! One traffic call drawn from a profile by its own seed: who calls, what
//! they want, how they sound and behave, how the providers answer. The
//! call depends on (profile, call seed) only, so a run of N calls is
//! reproducible call by call whatever the parallelism, and a canary's two
//! arms see the same population.

use std::collections::BTreeMap;
use std::sync::Arc;

use voicegate_agent::AgentDefinition;
use voicegate_agent::call_metrics::Segment;
use voicegate_agent::frame::ToolCall;

use super::profile::{Closing, Intent, LatencySpec, Profile, Range};
use crate::audio::render::{Background, NoiseMix};
use crate::doubles::{Latency, LlmRule};
use crate::driver::{CallPlan, CallerAction, InterruptAt, Pause};
use crate::line::{GilbertElliott, Network};
use crate::metrics::noise_band;
use crate::record::CallGoal;
use crate::seed::Rng;

/// A call's id in a traffic run: its index under the run's seed.
pub fn call_id(run_seed: u64, index: u64) -> String {
    format!("call-{run_seed}-{index:07}")
}

/// The seed a call is drawn and run with.
pub fn call_seed(call_id: &str) -> u64 {
    Rng::derive(0x7261_6666_6963, call_id).next_u64()
}

fn uniform(rng: &mut Rng, range: Range) -> f64 {
    range.min + (range.max - range.min) * rng.unit()
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.unit() < p
}

/// A key of `weights` chosen in proportion to its weight.
fn weighted<'a>(rng: &mut Rng, weights: impl Iterator<Item = (&'a str, f64)> + Clone) -> &'a str {
    let total: f64 = weights.clone().map(|(_, w)| w).sum();
    let mut point = rng.unit() * total;
    let mut last = "";
    for (key, weight) in weights {
        last = key;
        if point < weight {
            return key;
        }
        point -= weight;
    }
    last
}

fn latency(spec: LatencySpec) -> Latency {
    Latency { base_ms: spec.base_ms, jitter_ms: spec.jitter_ms }
}

/// A pause after a word of `text` (not its last), if the caller makes one.
fn pauses(rng: &mut Rng, profile: &Profile, text: &str) -> Vec<Pause> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let b = &profile.behaviour;
    if words.len() < 3 || !chance(rng, b.pause) {
        return Vec::new();
    }
    let after = words[1 + rng.below(words.len() as u64 - 2) as usize];
    vec![Pause {
        after_word: after.to_string(),
        ms: uniform(rng, b.pause_ms) as u32,
        filled: chance(rng, b.hesitation),
    }]
}

/// The call `call_id` of a traffic run, against `definition`.
pub fn draw_call(profile: &Profile, call_id: &str, definition: Arc<AgentDefinition>) -> CallPlan {
    let seed = call_seed(call_id);
    let mut rng = Rng::derive(seed, "traffic");
    let intent = {
        let name = weighted(&mut rng, profile.intents.iter().map(|i| (i.name.as_str(), i.weight)));
        profile.intents.iter().find(|i| i.name == name).expect("drawn from the intents")
    };
    let mut plan = CallPlan::new(format!("traffic {} / {}", profile.name, intent.name), seed);
    let c = &profile.callers;
    plan.accent = weighted(&mut rng, c.accents.iter().map(|(k, w)| (k.as_str(), *w))).to_string();
    plan.variant = weighted(&mut rng, c.voices.iter().map(|(k, w)| (k.as_str(), *w))).to_string();
    let noise = weighted(&mut rng, c.noise.kinds.iter().map(|(k, w)| (k.as_str(), *w))).to_string();
    let snr_db = (uniform(&mut rng, c.noise.snr_db) * 10.0).round() / 10.0;
    plan.rendering.noise = Background::parse(&noise).map(|background| NoiseMix { background, snr_db });
    plan.rendering.phone = chance(&mut rng, c.phone);
    plan.rendering.speed = (uniform(&mut rng, c.speed) * 100.0).round() / 100.0;
    plan.rendering.speech_dbfs = uniform(&mut rng, c.level_dbfs).round();
    let loss = uniform(&mut rng, c.loss);
    if let Ok(loss) = GilbertElliott::bursty(loss, 2.0) {
        plan.network = Network { uplink_loss: loss, downlink_loss: loss, ..Network::default() };
    }

    let b = &profile.behaviour;
    let barge_in = chance(&mut rng, b.barge_in);
    for (i, turn) in intent.turns.iter().enumerate() {
        // A caller cutting in on the greeting has not been silent first.
        if !(i == 0 && barge_in) && chance(&mut rng, b.silence) {
            plan.script.push(CallerAction::Silence { ms: uniform(&mut rng, b.silence_ms) as u32 });
        }
        let action = if i == 0 && barge_in {
            let at = InterruptAt::AfterMsOrQuiet((uniform(&mut rng, b.barge_in_after_s) * 1000.0) as u32);
            CallerAction::Interrupt { at, text: turn.say.clone(), backchannel: false }
        } else {
            CallerAction::Say { text: turn.say.clone(), pauses: pauses(&mut rng, profile, &turn.say) }
        };
        plan.script.push(action);
    }
    plan.script.push(if chance(&mut rng, b.hang_up) {
        CallerAction::HangUp
    } else {
        CallerAction::Say { text: profile.closing.say.clone(), pauses: Vec::new() }
    });
    plan.script_lines = vec![0; plan.script.len()];

    plan.llm.rules = llm_rules(&profile.closing, intent);
    let p = &profile.providers;
    plan.llm.first_token = latency(p.llm.latency);
    plan.llm.tokens_per_second = p.llm_tokens_per_second;
    plan.llm.failing_requests = (1..=16).filter(|_| chance(&mut rng, p.llm.error_rate)).collect();
    plan.stt_latency = latency(p.stt.latency);
    plan.tts_first_audio = latency(p.tts.latency);
    plan.tools.latency = latency(p.tools.latency);
    let mut answers = BTreeMap::new();
    for tool in intent.turns.iter().filter_map(|t| t.tool.as_ref()) {
        let answer = if chance(&mut rng, p.tools.error_rate) {
            Err("the backend timed out".into())
        } else {
            Ok(tool.result.clone())
        };
        answers.insert(tool.name.clone(), answer);
    }
    plan.tools.answers = answers;
    plan.agent.definition = Some(definition);
    plan.max_call_ms = 120_000;

    let segment = Segment {
        accent: Some(plan.accent.clone()),
        noise: Some(if noise == "none" { noise } else { noise_band(&noise, snr_db) }),
        phone: Some(plan.rendering.phone),
        intent: Some(intent.name.clone()),
    };
    plan.goal = Some(CallGoal {
        call_id: call_id.to_string(),
        intent: intent.name.clone(),
        replies: intent.turns.last().map(|t| vec![t.reply.clone()]).unwrap_or_default(),
        tools: intent.turns.iter().filter_map(|t| t.tool.as_ref().map(|t| t.name.clone())).collect(),
        segment,
    });
    plan
}

/// Whose trigger an LLM rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RuleOwner {
    Closing,
    /// The intent's turn at this index.
    Turn(usize),
}

/// The LLM double's rules for a call of `intent`, each with whose it is:
/// the closing first, then later turns before earlier ones (their
/// triggers are the more specific).
pub(super) fn owned_llm_rules(closing: &Closing, intent: &Intent) -> Vec<(RuleOwner, LlmRule)> {
    let end_call = ToolCall { name: "end_call".into(), arguments: serde_json::json!({}) };
    let mut rules = vec![(
        RuleOwner::Closing,
        LlmRule { trigger: closing.trigger.clone(), reply: String::new(), tool: Some(end_call) },
    )];
    for (j, turn) in intent.turns.iter().enumerate().rev() {
        let tool = turn.tool.as_ref().map(|t| ToolCall {
            name: t.name.clone(),
            arguments: serde_json::to_value(&t.arguments).unwrap_or_default(),
        });
        rules.push((RuleOwner::Turn(j), LlmRule { trigger: turn.trigger.clone(), reply: turn.reply.clone(), tool }));
    }
    rules
}

/// The LLM double's rules for a call of `intent` (see [`owned_llm_rules`]).
pub(super) fn llm_rules(closing: &Closing, intent: &Intent) -> Vec<LlmRule> {
    owned_llm_rules(closing, intent).into_iter().map(|(_, rule)| rule).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::profile::DEFAULT_PROFILE;

    #[test]
    fn a_call_depends_on_its_id_only() {
        let profile = Profile::parse(DEFAULT_PROFILE, "default.toml").expect("valid");
        let definition = Arc::new(AgentDefinition::reference());
        let a = draw_call(&profile, &call_id(1, 7), definition.clone());
        assert_eq!(a, draw_call(&profile, &call_id(1, 7), definition.clone()));
        assert_ne!(a.seed, draw_call(&profile, &call_id(1, 8), definition.clone()).seed);
        assert_ne!(a.seed, draw_call(&profile, &call_id(2, 7), definition).seed);
    }

    #[test]
    fn the_population_follows_the_profile() {
        let profile = Profile::parse(DEFAULT_PROFILE, "default.toml").expect("valid");
        let definition = Arc::new(AgentDefinition::reference());
        let calls: Vec<CallPlan> = (0..2000).map(|i| draw_call(&profile, &call_id(3, i), definition.clone())).collect();
        let share = |f: &dyn Fn(&CallPlan) -> bool| calls.iter().filter(|c| f(c)).count() as f64 / calls.len() as f64;
        // Binomial standard error at n = 2000 is at most 1.1 points: 4.5 sd.
        assert!((share(&|c| c.rendering.phone) - 0.3).abs() < 0.05);
        assert!((share(&|c| c.rendering.noise.is_none()) - 0.45).abs() < 0.05);
        assert!((share(&|c| matches!(c.script[0], CallerAction::Interrupt { .. })) - 0.2).abs() < 0.05);
        let intent = |name: &'static str| move |c: &CallPlan| c.goal.as_ref().is_some_and(|g| g.intent == name);
        assert!((share(&intent("opening-hours")) - 0.25).abs() < 0.05);
        assert!((share(&intent("where-is-my-package")) - 0.10).abs() < 0.04);
        let snrs: Vec<f64> = calls.iter().filter_map(|c| c.rendering.noise.map(|n| n.snr_db)).collect();
        assert!(snrs.iter().all(|s| (10.0..=30.0).contains(s)));
    }

    #[test]
    fn the_llm_answers_each_turn_and_closes_on_the_closing_words() {
        let profile = Profile::parse(DEFAULT_PROFILE, "default.toml").expect("valid");
        let plan = (0..50)
            .map(|i| draw_call(&profile, &call_id(4, i), Arc::new(AgentDefinition::reference())))
            .find(|p| p.goal.as_ref().is_some_and(|g| g.intent == "order-status"))
            .expect("an order-status call among 50");
        let triggers: Vec<&str> = plan.llm.rules.iter().map(|r| r.trigger.as_str()).collect();
        assert_eq!(triggers, ["needed", "five six", "order"], "the specific trigger before the general one");
        assert_eq!(plan.llm.rules[0].tool.as_ref().map(|t| t.name.as_str()), Some("end_call"));
        let goal = plan.goal.expect("a goal");
        assert_eq!(goal.tools, ["check_order"]);
        assert_eq!(goal.replies, ["Order B four five six has shipped and will arrive tomorrow."]);
    }
}
