//! A call's metrics, as a pure function of its record and the checks'
//! report: everything comes from what the caller heard and what the
//! doubles saw, never from the agent's account of itself.

use voicegate_agent::call_metrics::{
    BargeInMetrics, CALL_METRICS_SCHEMA, CallMetrics, MetricsSource, Segment, TurnMetrics,
};
use voicegate_agent::services::Role;

use crate::audio::normalise_text;
use crate::checks::{CallReport, CallTruth, FindingKind};
use crate::record::{CallGoal, CallRecord, Event};

/// Noise bands of the report's segments, by SNR.
pub fn noise_band(kind: &str, snr_db: f64) -> String {
    let band = match snr_db {
        s if s < 10.0 => "0-10 dB",
        s if s < 20.0 => "10-20 dB",
        _ => "20+ dB",
    };
    format!("{kind} {band}")
}

fn words(text: &str) -> Vec<String> {
    normalise_text(text).split_whitespace().map(String::from).collect()
}

/// `needle` appears in `haystack` as a run of consecutive words.
fn contains_run(haystack: &[String], needle: &[String]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Word-level edit distance.
fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let next = (diagonal + usize::from(x != y)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The response was a sentence of `prompt` (TTS gets one sentence at a time).
fn from_prompt(response: &str, prompt: &str) -> bool {
    let (response, prompt) = (words(response), words(prompt));
    !response.is_empty() && contains_run(&prompt, &response)
}

/// The task is done when the caller heard every goal reply whole and
/// every goal tool answered without an error.
fn task_completed(goal: &CallGoal, heard: &[String], record: &CallRecord) -> bool {
    let replies = goal.replies.iter().all(|reply| contains_run(heard, &words(reply)));
    let tools = goal.tools.iter().all(|tool| {
        record.events().any(|(_, e)| matches!(e, Event::ToolInvoked { name, result: Ok(_), .. } if name == tool))
    });
    replies && tools
}

/// The metrics of one call. `agent_version` names the definition the
/// harness ran (the arm); `started_ms` places the call on the run's clock.
pub fn call_metrics(record: &CallRecord, report: &CallReport, agent_version: &str, started_ms: u64) -> CallMetrics {
    let truth = CallTruth::from_record(record);
    let (mut fallbacks, mut reprompt, mut goal, mut scenario, mut seed, mut segment) =
        (Vec::new(), None, None, String::new(), 0, Segment::default());
    let mut dropped = false;
    let mut end_ms = 0;
    for (t_us, event) in record.events() {
        match event {
            Event::CallStarted {
                fallback_prompts,
                reprompt: r,
                goal: g,
                scenario: s,
                seed: n,
                accent,
                rendering,
                ..
            } => {
                fallbacks.clone_from(fallback_prompts);
                reprompt.clone_from(r);
                goal = g.as_deref().cloned();
                (scenario, seed) = (s.clone(), *n);
                segment = Segment {
                    accent: Some(accent.clone()),
                    noise: Some(match rendering.noise {
                        Some(noise) => noise_band(&format!("{:?}", noise.background).to_lowercase(), noise.snr_db),
                        None => "none".into(),
                    }),
                    phone: Some(rendering.phone),
                    intent: None,
                };
            }
            Event::ScriptLeft { .. } => dropped = true,
            Event::CallEnded { reason, .. } => {
                end_ms = t_us / 1000;
                dropped |= !matches!(reason.as_str(), "the agent hung up" | "the caller hung up");
            }
            _ => {}
        }
    }
    let played: Vec<_> = truth.replies.iter().flat_map(|r| r.responses.iter()).filter(|r| r.played()).collect();
    let heard: Vec<String> = truth.replies.iter().flat_map(|r| r.heard_words()).flat_map(|w| words(&w)).collect();
    let mut metrics = CallMetrics {
        schema: CALL_METRICS_SCHEMA,
        call_id: goal.as_ref().map_or_else(|| format!("{scenario}#{seed}"), |g| g.call_id.clone()),
        agent_version: agent_version.to_string(),
        source: MetricsSource::Harness,
        started_ms: Some(started_ms),
        duration_ms: end_ms,
        task_completed: goal.as_ref().map(|g| task_completed(g, &heard, record)),
        error: false,
        error_kinds: Vec::new(),
        reprompts: reprompt.map_or(0, |prompt| played.iter().filter(|r| from_prompt(&r.text, &prompt)).count() as u32),
        turns: report.turns.iter().map(|t| TurnMetrics { latency_ms: t.latency_ms, stages: t.stages }).collect(),
        barge_ins: report
            .barge_ins
            .iter()
            .map(|b| BargeInMetrics { stop_latency_ms: b.stop_latency_ms, truncation_ok: Some(b.truncation_ok) })
            .collect(),
        false_barge_ins: report.findings.iter().filter(|f| f.kind == FindingKind::FalseBargeIn).count() as u32,
        word_error_rate: word_error_rate(record, &truth),
        isolation_violations: None,
        findings: report.findings.iter().map(|f| format!("{:?}", f.kind)).collect(),
        segment,
    };
    if let Some(goal) = &goal {
        metrics.segment = Segment { intent: Some(goal.intent.clone()), ..goal.segment.clone() };
    }
    if played.iter().any(|r| fallbacks.iter().any(|prompt| from_prompt(&r.text, prompt))) {
        metrics.note_error("fallback_spoken");
    }
    if dropped {
        metrics.note_error("dropped");
    }
    if record.events().any(|(_, e)| matches!(e, Event::ToolInvoked { result: Err(_), .. })) {
        metrics.note_error("tool_failed");
    }
    if report.findings.iter().any(|f| f.kind == FindingKind::UnattributedAudio) {
        metrics.note_error("unattributed_audio");
    }
    // A turn left unanswered is an error the caller lived through, not a
    // turn missing from the latency samples.
    if report.findings.iter().any(|f| f.kind == FindingKind::NoReply) {
        metrics.note_error("no_reply");
    }
    metrics
}

/// The agent's user turns (its history) against what the caller said in
/// turns (backchannels and coughs are not turns); `None` when the caller
/// said nothing or the record has no history.
fn word_error_rate(record: &CallRecord, truth: &CallTruth) -> Option<f64> {
    let said: Vec<String> = truth.utterances.iter().filter(|u| !u.backchannel).flat_map(|u| words(&u.text)).collect();
    let history = record.events().find_map(|(_, e)| match e {
        Event::History { messages } => Some(messages),
        _ => None,
    })?;
    let understood: Vec<String> =
        history.iter().filter(|m| m.role == Role::User).flat_map(|m| words(&m.content)).collect();
    (!said.is_empty()).then(|| edit_distance(&said, &understood) as f64 / said.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<String> {
        words(text)
    }

    #[test]
    fn edit_distance_counts_substitutions_insertions_and_deletions() {
        assert_eq!(edit_distance(&w("what are your opening hours"), &w("what are your opening hours")), 0);
        assert_eq!(edit_distance(&w("what are your opening hours"), &w("what are you opening")), 2);
        assert_eq!(edit_distance(&w("a b c"), &w("x a b c y")), 2);
        assert_eq!(edit_distance(&w(""), &w("a b")), 2);
    }

    #[test]
    fn a_goal_reply_counts_only_when_heard_whole_and_in_order() {
        let heard = w("Hello there. We are open from nine until five. Goodbye.");
        assert!(contains_run(&heard, &w("We are open from nine until five.")));
        assert!(!contains_run(&heard, &w("We are open from nine until six.")));
        assert!(!contains_run(&w("We are open from"), &w("We are open from nine")));
    }

    #[test]
    fn a_sentence_of_a_fallback_prompt_is_recognised() {
        let prompt = "Sorry, I had a problem with that. Could you repeat your question?";
        assert!(from_prompt("Sorry, I had a problem with that.", prompt));
        assert!(from_prompt("Could you repeat your question?", prompt));
        assert!(!from_prompt("We are open from nine.", prompt));
        assert!(!from_prompt("", prompt), "an empty response is no prompt");
    }

    #[test]
    fn noise_bands() {
        assert_eq!(noise_band("babble", 5.0), "babble 0-10 dB");
        assert_eq!(noise_band("cafe", 15.0), "cafe 10-20 dB");
        assert_eq!(noise_band("white", 25.0), "white 20+ dB");
    }
}
