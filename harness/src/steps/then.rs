//! `Then` steps: checks on the finished call's record and report.

use voicegate_agent::services::Role;

use super::{Arg, CompletedCall, StepDef, StepResult, World, def, fail, ms_arg, str_arg};
use crate::checks::{CallTruth, FindingKind, words};
use crate::record::Event;

fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn heard_words(call: &CompletedCall) -> Vec<String> {
    CallTruth::from_record(&call.outcome.record).replies.iter().flat_map(|r| r.heard_words()).collect()
}

fn assistant_words(call: &CompletedCall) -> Vec<Vec<String>> {
    call.outcome.record.history().iter().filter(|m| m.role == Role::Assistant).map(|m| words(&m.content)).collect()
}

fn hears(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = words(str_arg(args, 0)?);
    let heard = heard_words(w.call()?);
    if contains_words(&heard, &wanted) {
        Ok(())
    } else {
        fail(format!("the caller never heard {:?}; it heard: {:?}", wanted.join(" "), heard.join(" ")))
    }
}

/// The caller heard the agent start to ask again (the first sentence of the
/// prompt: the rest may be cut off by noise the agent takes for speech):
/// its re-prompt (it heard something it could not make out) or its no-input
/// prompt (it heard nothing), as the built-in agent words them.
fn asked_again(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    let config = crate::driver::agent_config(&call.plan, None);
    let heard = heard_words(call);
    let prompts = [&config.settings.prompts.reprompt, &config.settings.prompts.no_input];
    let first_sentence = |p: &str| words(p.split(['.', '?', '!']).next().unwrap_or(p));
    if prompts.iter().any(|p| contains_words(&heard, &first_sentence(p))) {
        Ok(())
    } else {
        fail(format!("the agent never asked again ({prompts:?}); the caller heard: {:?}", heard.join(" ")))
    }
}

fn does_not_hear(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let unwanted = words(str_arg(args, 0)?);
    let heard = heard_words(w.call()?);
    if contains_words(&heard, &unwanted) { fail(format!("the caller heard {:?}", unwanted.join(" "))) } else { Ok(()) }
}

fn history_matches_heard(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    let problems: Vec<&str> =
        call.report.findings.iter().filter(|f| f.kind == FindingKind::Truncation).map(|f| f.message.as_str()).collect();
    if problems.is_empty() { Ok(()) } else { fail(problems.join("\n")) }
}

fn interrupted_reply_kept(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = words(str_arg(args, 0)?);
    let call = w.call()?;
    let Some(barge_in) = call.report.barge_ins.first() else {
        return fail("the caller never interrupted the agent while it was speaking");
    };
    if barge_in.history_words == wanted {
        Ok(())
    } else {
        fail(format!(
            "history kept {:?} for the interrupted reply, expected {:?} (the caller heard {:?})",
            barge_in.history_words.join(" "),
            wanted.join(" "),
            barge_in.heard_words.join(" ")
        ))
    }
}

fn history_lacks(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let unwanted = words(str_arg(args, 0)?);
    let messages = assistant_words(w.call()?);
    match messages.iter().find(|m| contains_words(m, &unwanted)) {
        Some(message) => fail(format!("the agent's history has {:?} in {:?}", unwanted.join(" "), message.join(" "))),
        None => Ok(()),
    }
}

fn history_has(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = words(str_arg(args, 0)?);
    let messages = assistant_words(w.call()?);
    if messages.iter().any(|m| contains_words(m, &wanted)) {
        Ok(())
    } else {
        fail(format!("no assistant message in history holds {:?}", wanted.join(" ")))
    }
}

fn caller_turn_whole(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = words(str_arg(args, 0)?);
    let call = w.call()?;
    let users: Vec<Vec<String>> =
        call.outcome.record.history().iter().filter(|m| m.role == Role::User).map(|m| words(&m.content)).collect();
    if users.contains(&wanted) {
        Ok(())
    } else {
        let said: Vec<String> = users.iter().map(|u| u.join(" ")).collect();
        fail(format!("no single caller message is {:?}; the agent recorded {said:?}", wanted.join(" ")))
    }
}

fn stopped_within(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let limit = f64::from(ms_arg(args, 0)?);
    let call = w.call()?;
    if call.report.barge_ins.is_empty() {
        return fail("the caller never interrupted the agent while it was speaking");
    }
    let slow: Vec<String> = call
        .report
        .barge_ins
        .iter()
        .filter(|b| b.stop_latency_ms > limit)
        .map(|b| format!("{:?} took {:.0} ms", b.caller_said, b.stop_latency_ms))
        .collect();
    if slow.is_empty() { Ok(()) } else { fail(format!("the agent kept talking: {}", slow.join("; "))) }
}

fn every_turn_within(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let limit = f64::from(ms_arg(args, 0)?);
    let call = w.call()?;
    let mut problems = Vec::new();
    for turn in &call.report.turns {
        match turn.latency_ms {
            None => problems.push(format!("{:?} got no reply", turn.caller_said)),
            Some(ms) if ms > limit => problems.push(format!(
                "{:?} was answered after {ms:.0} ms ({})",
                turn.caller_said,
                turn.stages.as_ref().map(|s| s.summary()).unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { fail(problems.join("; ")) }
}

fn budget_exceeded(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    w.expected.insert(FindingKind::TurnLatencyBudget);
    let call = w.call()?;
    if call.report.findings.iter().any(|f| f.kind == FindingKind::TurnLatencyBudget) {
        Ok(())
    } else {
        let latencies: Vec<String> =
            call.report.turns.iter().filter_map(|t| t.latency_ms).map(|ms| format!("{ms:.0} ms")).collect();
        fail(format!("every turn stayed within the {} ms budget: {}", call.plan.budgets.turn_ms, latencies.join(", ")))
    }
}

fn llm_stage_at_least(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let limit = f64::from(ms_arg(args, 0)?);
    let call = w.call()?;
    let stages: Vec<_> = call.report.turns.iter().filter_map(|t| t.stages.as_ref()).collect();
    if stages.is_empty() {
        return fail("no turn was answered");
    }
    match stages.iter().find(|s| s.llm_first_token_ms < limit) {
        Some(s) => fail(format!("a turn's LLM stage took {:.0} ms: {}", s.llm_first_token_ms, s.summary())),
        None => Ok(()),
    }
}

fn stages_add_up(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    for turn in &call.report.turns {
        if let (Some(total), Some(stages)) = (turn.latency_ms, &turn.stages)
            && (stages.total_ms() - total).abs() > 0.001
        {
            return fail(format!("stages add up to {:.3} ms, the turn took {total:.3} ms", stages.total_ms()));
        }
    }
    Ok(())
}

fn llm_failed_and_recovered(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    let failed = call.outcome.record.events().any(|(_, e)| matches!(e, Event::LlmError { .. }));
    if !failed {
        return fail("the LLM never failed in this call");
    }
    let answered_after = call.report.turns.last().and_then(|t| t.latency_ms).is_some();
    if answered_after { Ok(()) } else { fail("the agent did not answer the caller's last turn after the failure") }
}

fn agent_hung_up(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    if call.outcome.record.events().any(|(_, e)| matches!(e, Event::HangupReceived)) {
        Ok(())
    } else {
        fail("the agent never ended the call")
    }
}

fn tool_ran(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tool = str_arg(args, 0)?.to_string();
    let call = w.call()?;
    let ran = call
        .outcome
        .record
        .history()
        .iter()
        .any(|m| m.role == Role::Tool && m.content.starts_with(&format!("{tool}:")));
    if ran { Ok(()) } else { fail(format!("the agent never ran {tool}")) }
}

fn never_cut_off(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    let clears: Vec<u64> = call
        .outcome
        .record
        .events()
        .filter(|(_, e)| matches!(e, Event::ClearReceived { .. }))
        .map(|(at, _)| at / 1000)
        .collect();
    if clears.is_empty() {
        Ok(())
    } else {
        fail(format!("the agent cut its own reply off (a false barge-in) at {clears:?} ms"))
    }
}

fn packets_lost(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    let lost = call.outcome.record.events().find_map(|(_, e)| match e {
        Event::PhoneLine { lost, late } => Some(lost.len() + late.len()),
        _ => None,
    });
    match lost {
        Some(n) if n > 0 => Ok(()),
        Some(_) => fail("the phone line lost no packets"),
        None => fail("the call did not go over a phone line"),
    }
}

fn heard_at_snr(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (low, high) = (super::float_arg(args, 0)?, super::float_arg(args, 1)?);
    let call = w.call()?;
    for (_, event) in call.outcome.record.events() {
        if let Event::CallerSpeech { text, snr_db, .. } = event {
            match snr_db {
                Some(snr) if (low..=high).contains(snr) => {}
                Some(snr) => return fail(format!("{text:?} was mixed at {snr:.2} dB SNR, not {low} to {high} dB")),
                None => return fail(format!("{text:?} had no noise mixed under it")),
            }
        }
    }
    Ok(())
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("the agent never cuts its own reply off", never_cut_off),
        def("the phone line lost packets", packets_lost),
        def("every caller utterance was mixed at {float} to {float} dB SNR", heard_at_snr),
        def("the caller hears {string}", hears),
        def("the caller does not hear {string}", does_not_hear),
        def("the agent asks the caller to say it again", asked_again),
        def("the agent's history holds only the words the caller heard", history_matches_heard),
        def("the agent's history keeps {string} of the interrupted reply", interrupted_reply_kept),
        def("the agent's history does not contain {string}", history_lacks),
        def("the agent's history contains {string}", history_has),
        def("the agent's history holds the caller's words {string} as one turn", caller_turn_whole),
        def("the agent stops speaking within {int} ms of the interruption", stopped_within),
        def("every turn is answered within {int} ms", every_turn_within),
        def("the turn latency budget is exceeded", budget_exceeded),
        def("every turn's LLM stage takes at least {int} ms", llm_stage_at_least),
        def("every turn's stages add up to its latency", stages_add_up),
        def("the agent recovers from the LLM failure", llm_failed_and_recovered),
        def("the agent ends the call", agent_hung_up),
        def("the agent runs {word}", tool_ran),
    ]
}
