//! `Then` steps: checks on the finished call's record and report.

use voicegate_agent::services::Role;

use super::{Arg, CompletedCall, StepDef, StepError, StepResult, World, def, fail, ms_arg, str_arg};
use crate::checks::{CallTruth, FindingKind, words};
use crate::record::Event;

fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn heard_words(call: &CompletedCall) -> Vec<String> {
    CallTruth::from_record(&call.outcome.record).replies.iter().flat_map(|r| r.heard_words()).collect()
}

/// What the caller heard, or a failure when it heard no agent word at all
/// (a step about what was heard proves nothing then).
fn heard_something(call: &CompletedCall) -> Result<Vec<String>, StepError> {
    let heard = heard_words(call);
    if heard.is_empty() { fail("the caller heard no word from the agent in this call") } else { Ok(heard) }
}

/// The agent's assistant messages, or a failure when history has none.
fn some_assistant_words(call: &CompletedCall) -> Result<Vec<Vec<String>>, StepError> {
    let messages = assistant_words(call);
    if messages.is_empty() { fail("the agent's history holds no assistant message") } else { Ok(messages) }
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

/// The caller heard one of the agent's fixed prompts (picked from its
/// settings by `pick`), whole.
fn heard_prompt(w: &mut World<'_>, pick: fn(&voicegate_agent::config::Prompts) -> Vec<String>) -> StepResult {
    let call = w.call()?;
    let config = crate::driver::agent_config(&call.plan, None);
    let heard = heard_something(call)?;
    let prompts = pick(&config.settings.prompts);
    if prompts.iter().any(|p| contains_words(&heard, &words(p))) {
        Ok(())
    } else {
        fail(format!("the caller never heard {prompts:?}; it heard: {:?}", heard.join(" ")))
    }
}

/// The re-prompt for speech the agent could not make out, heard whole (the
/// no-input prompt is a different behaviour: "the caller hears ...").
fn asked_again(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    heard_prompt(w, |p| vec![p.reprompt.clone()])
}

/// Either prompt, whole: for speech so buried in noise that whether the
/// agent notices it at all is a coin toss (the step says so in its name).
fn asked_again_or_still_there(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    heard_prompt(w, |p| vec![p.reprompt.clone(), p.no_input.clone()])
}

fn does_not_hear(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let unwanted = words(str_arg(args, 0)?);
    let heard = heard_something(w.call()?)?;
    if contains_words(&heard, &unwanted) { fail(format!("the caller heard {:?}", unwanted.join(" "))) } else { Ok(()) }
}

fn history_matches_heard(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    if call.report.replies.is_empty() {
        return fail("the agent never replied in this call: there is no history to check");
    }
    let problems: Vec<&str> =
        call.report.findings.iter().filter(|f| f.kind == FindingKind::Truncation).map(|f| f.message.as_str()).collect();
    if problems.is_empty() { Ok(()) } else { fail(problems.join("\n")) }
}

fn interrupted_reply_kept(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = words(str_arg(args, 0)?);
    let call = w.call()?;
    let barge_in = match call.report.barge_ins.as_slice() {
        [] => return fail("the caller never interrupted the agent while it was speaking"),
        [one] => one,
        several => {
            return Err(StepError::Invalid(format!(
                "the call has {} barge-ins: this step cannot tell which interrupted reply it means",
                several.len()
            )));
        }
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
    let messages = some_assistant_words(w.call()?)?;
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
    if call.report.turns.is_empty() {
        return fail("the caller took no turn in this call");
    }
    let mut problems = Vec::new();
    for turn in &call.report.turns {
        match turn.latency_ms {
            None if turn.talked_over_ms.is_some() => {
                problems.push(format!("{:?} was talked over by the agent", turn.caller_said))
            }
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

/// The tools that reached the backend in the scenario's calls, as its
/// double recorded them.
pub(super) fn tools_invoked(calls: &[CompletedCall]) -> Vec<String> {
    let invoked = calls.iter().flat_map(|c| c.outcome.record.events()).filter_map(|(_, e)| match e {
        Event::ToolInvoked { name, .. } => Some(name.clone()),
        _ => None,
    });
    invoked.collect()
}

/// Every call of the scenario (running the one being described).
pub(super) fn all_calls<'w>(w: &'w mut World<'_>) -> Result<&'w [CompletedCall], StepError> {
    w.call()?;
    w.calls()
}

fn tool_ran(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tool = str_arg(args, 0)?.to_string();
    let invoked = tools_invoked(all_calls(w)?);
    if invoked.contains(&tool) {
        Ok(())
    } else {
        fail(format!("{tool} never reached the tool backend (it got {invoked:?})"))
    }
}

fn never_cut_off(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let call = w.call()?;
    heard_something(call)?;
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

/// A finding this step expects: it must be there, naming `words_said`.
fn expect_finding(w: &mut World<'_>, kind: FindingKind, words_said: &str, what: &str) -> StepResult {
    w.expected.insert(kind);
    let call = w.call()?;
    let wanted = words(words_said);
    let found = call.report.findings.iter().any(|f| f.kind == kind && contains_words(&words(&f.message), &wanted));
    if found {
        Ok(())
    } else {
        let kinds: Vec<String> = call.report.findings.iter().map(|f| format!("{:?}", f.kind)).collect();
        fail(format!("{what} did not happen for {words_said:?}; the call's findings: {kinds:?}"))
    }
}

fn never_answers(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let said = str_arg(args, 0)?.to_string();
    expect_finding(w, FindingKind::NoReply, &said, "the agent leaving the turn unanswered")
}

fn hangs_up_before(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let said = str_arg(args, 0)?.to_string();
    expect_finding(w, FindingKind::ScriptIncomplete, &said, "the agent hanging up before the caller spoke")
}

fn stop_budget_exceeded(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let said = str_arg(args, 0)?.to_string();
    expect_finding(w, FindingKind::StopLatencyBudget, &said, "the agent talking on over the caller")
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("the agent never cuts its own reply off", never_cut_off),
        def("the caller hears {string}", hears),
        def("the caller does not hear {string}", does_not_hear),
        def("the agent asks the caller to say it again", asked_again),
        def("the agent asks the caller to say it again or whether they are still there", asked_again_or_still_there),
        def("the agent's history holds only the words the caller heard", history_matches_heard),
        def("the agent's history keeps {string} of the interrupted reply", interrupted_reply_kept),
        def("the agent's history does not contain {string}", history_lacks),
        def("the agent's history contains {string}", history_has),
        def("the agent's history holds the caller's words {string} as one turn", caller_turn_whole),
        def("the agent stops speaking within {int} ms of the interruption", stopped_within),
        def("every turn is answered within {int} ms", every_turn_within),
        def("the turn latency budget is exceeded", budget_exceeded),
        def("the agent recovers from the LLM failure", llm_failed_and_recovered),
        def("the agent ends the call", agent_hung_up),
        def("the agent runs {word}", tool_ran),
        def("the agent never answers {string}", never_answers),
        def("the agent hangs up before the caller can say {string}", hangs_up_before),
        def("the agent talks on over {string} past the stop budget", stop_budget_exceeded),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Corpus;
    use crate::driver::CallPlan;
    use crate::record::{CallRecord, Entry, Event};

    /// A call in which nothing happened: no speech either way, no history.
    fn empty_call() -> CompletedCall {
        let entries = vec![
            Entry {
                t_us: 0,
                event: Event::CallEnded {
                    reason: "the caller hung up".into(),
                    heard_digest: String::new(),
                    sent_digest: String::new(),
                },
            },
            Entry { t_us: 0, event: Event::History { messages: vec![] } },
        ];
        CompletedCall::of_record(CallPlan::new("empty", 1), CallRecord { entries })
    }

    #[test]
    fn no_then_step_passes_on_a_call_with_no_evidence() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        for def in steps() {
            let mut world = World::new(CallPlan::new("empty", 1), &corpus);
            world.push_completed(empty_call());
            let args: Vec<Arg> = def
                .expression
                .source()
                .split('{')
                .skip(1)
                .map(|part| match part.split('}').next() {
                    Some("int") => Arg::Int(100),
                    Some("float") => Arg::Float(1.0),
                    Some("word") => Arg::Word("check_order".into()),
                    _ => Arg::Str("we are open".into()),
                })
                .collect();
            let result = (def.run)(&mut world, &args);
            assert!(result.is_err(), "`{}` passed on a call with no evidence", def.expression.source());
        }
    }

    #[test]
    fn an_empty_quoted_text_is_a_usage_error() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let mut world = World::new(CallPlan::new("empty", 1), &corpus);
        world.push_completed(empty_call());
        let result = hears(&mut world, &[Arg::Str("  ".into())]);
        assert!(matches!(result, Err(StepError::Invalid(ref m)) if m.contains("empty quoted text")), "{result:?}");
    }
}
