//! Traffic calls end to end: each metric follows what the caller lived
//! through, and a fault in the providers shows up as an error.

use std::sync::Arc;

use voicegate_agent::AgentDefinition;
use voicegate_agent::call_metrics::CallMetrics;

use super::*;
use crate::audio::Corpus;

fn place(profile: &Profile, ids: std::ops::Range<u64>) -> Vec<CallMetrics> {
    let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
    let definition = Arc::new(AgentDefinition::reference());
    let requests: Vec<CallRequest> = ids
        .map(|i| CallRequest { call_id: call_id(9, i), definition: definition.clone(), started_ms: 0, fault: None })
        .collect();
    run_calls(profile, &requests, &corpus, 2)
        .into_iter()
        .map(|r| match r {
            CallResult::Done { metrics, .. } => *metrics,
            CallResult::Broken { call_id, message } => panic!("{call_id}: {message}"),
        })
        .collect()
}

/// The default profile made quiet: no noise, no loss, no errors, no
/// barge-ins, so every call should reach its goal.
fn quiet() -> String {
    DEFAULT_PROFILE
        .replace("none = 45,", "none = 1000,")
        .replace("loss = { min = 0.0, max = 0.02 }", "loss = { min = 0.0, max = 0.0 }")
        .replace("barge_in = 0.2", "barge_in = 0.0")
        .replace("hang_up = 0.05", "hang_up = 0.0")
        .replace("error_rate = 0.005", "error_rate = 0.0")
        .replace("error_rate = 0.01", "error_rate = 0.0")
        .replace("phone = 0.3", "phone = 0.0")
}

#[test]
fn quiet_calls_complete_their_task_with_no_error() {
    let profile = Profile::parse(&quiet(), "quiet.toml").expect("valid");
    let calls = place(&profile, 0..4);
    for call in &calls {
        assert_eq!(call.task_completed, Some(true), "{call:?}");
        assert!(!call.error, "{call:?}");
        assert!(!call.turns.is_empty() && call.turns.iter().all(|t| t.latency_ms.is_some()), "{call:?}");
        assert!(call.segment.intent.is_some() && call.started_ms == Some(0));
    }
}

#[test]
fn a_failing_llm_is_an_error_the_caller_noticed_and_the_task_fails() {
    let text = quiet().replace(
        "latency = { base_ms = 250, jitter_ms = 400 }\nerror_rate = 0.0",
        "latency = { base_ms = 250, jitter_ms = 400 }\nerror_rate = 1.0",
    );
    let profile = Profile::parse(&text, "failing.toml").expect("valid");
    assert_eq!(profile.providers.llm.error_rate, 1.0);
    for call in place(&profile, 0..2) {
        assert!(call.error && call.error_kinds.contains(&"fallback_spoken".to_string()), "{call:?}");
        assert_eq!(call.task_completed, Some(false), "{call:?}");
    }
}

#[test]
fn a_failing_tool_backend_fails_the_tasks_that_need_it() {
    let text = quiet().replace(
        "latency = { base_ms = 80, jitter_ms = 150 }\nerror_rate = 0.0",
        "latency = { base_ms = 80, jitter_ms = 150 }\nerror_rate = 1.0",
    );
    let profile = Profile::parse(&text, "tools.toml").expect("valid");
    let calls = place(&profile, 0..6);
    let with_tools: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c.segment.intent.as_deref(), Some("order-status" | "refund" | "where-is-my-package")))
        .collect();
    assert!(!with_tools.is_empty(), "some of six calls need a tool");
    for call in with_tools {
        assert!(
            call.error_kinds.contains(&"tool_failed".to_string()) && call.task_completed == Some(false),
            "{call:?}"
        );
    }
}

#[test]
fn a_barge_in_drawn_past_a_reply_that_goes_quiet_becomes_a_turn_not_a_broken_call() {
    // Seed 20's A/A rollout drew this call: a barge-in 2,460 ms into the
    // greeting, which went quiet after 2,004 ms. Drawn traffic cannot know
    // a reply's length ahead, so the caller speaks then; with the strict
    // `AfterMs` of a scenario this call was a script error that the
    // rollout counted as broken (and exited 2).
    let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
    let profile = Profile::parse(DEFAULT_PROFILE, "default.toml").expect("valid");
    let registry = voicegate_agent::config::DefinitionRegistry::embedded().expect("embedded definitions");
    let definition = registry.select("support@1.1.0").expect("released");
    let request = CallRequest { call_id: "call-20-0006904".into(), definition, started_ms: 0, fault: None };
    match run_calls(&profile, &[request], &corpus, 1).pop().expect("one result") {
        CallResult::Done { .. } => {}
        CallResult::Broken { call_id, message } => panic!("{call_id}: {message}"),
    }
}
