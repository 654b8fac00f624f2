//! `Given` steps: the caller's voice, the services' behaviour, budgets and
//! agent settings.

use voicegate_agent::frame::ToolCall;

use super::{Arg, StepDef, StepError, StepResult, World, def, int_arg, ms_arg, str_arg};
use crate::doubles::{Latency, LlmRule};

fn llm_rule(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let rule = LlmRule { trigger: str_arg(args, 0)?.into(), reply: str_arg(args, 1)?.into(), tool: None };
    w.plan_mut()?.llm.rules.push(rule);
    Ok(())
}

fn llm_default(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.llm.default_reply = str_arg(args, 0)?.into();
    Ok(())
}

fn llm_tool_for_order(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tool =
        ToolCall { name: str_arg(args, 1)?.into(), arguments: serde_json::json!({ "order_id": str_arg(args, 2)? }) };
    let rule = LlmRule { trigger: str_arg(args, 0)?.into(), reply: str_arg(args, 3)?.into(), tool: Some(tool) };
    w.plan_mut()?.llm.rules.push(rule);
    Ok(())
}

fn llm_refund(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let amount = super::float_arg(args, 1)?;
    let arguments = serde_json::json!({ "order_id": str_arg(args, 2)?, "amount": amount });
    let tool = ToolCall { name: "issue_refund".into(), arguments };
    let rule = LlmRule { trigger: str_arg(args, 0)?.into(), reply: str_arg(args, 3)?.into(), tool: Some(tool) };
    w.plan_mut()?.llm.rules.push(rule);
    Ok(())
}

fn llm_tool_only(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tool = ToolCall { name: str_arg(args, 1)?.into(), arguments: serde_json::json!({}) };
    let rule = LlmRule { trigger: str_arg(args, 0)?.into(), reply: String::new(), tool: Some(tool) };
    w.plan_mut()?.llm.rules.push(rule);
    Ok(())
}

fn tool_answers(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tool, answer) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    w.plan_mut()?.tools.answers.insert(tool, Ok(answer));
    Ok(())
}

fn tool_fails(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tool, error) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    w.plan_mut()?.tools.answers.insert(tool, Err(error));
    Ok(())
}

fn llm_first_token(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.llm.first_token = Latency { base_ms: u64::from(ms_arg(args, 0)?), jitter_ms: 0 };
    Ok(())
}

fn llm_rate(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let rate = int_arg(args, 0)?;
    if rate <= 0 {
        return Err(StepError::Invalid(format!("{rate} tokens per second: expected a positive rate")));
    }
    w.plan_mut()?.llm.tokens_per_second = rate as f64;
    Ok(())
}

/// A 1-based request number.
fn request_arg(args: &[Arg]) -> Result<usize, StepError> {
    let n = int_arg(args, 0)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| StepError::Invalid(format!("request {n}: requests count from 1")))
}

fn llm_fails(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let n = request_arg(args)?;
    w.plan_mut()?.llm.failing_requests.insert(n);
    Ok(())
}

fn llm_panics(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let n = request_arg(args)?;
    w.plan_mut()?.llm.panicking_requests.insert(n);
    Ok(())
}

fn llm_fails_first(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    w.plan_mut()?.llm.failing_requests.insert(1);
    Ok(())
}

fn stt_latency(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.stt_latency = Latency { base_ms: u64::from(ms_arg(args, 0)?), jitter_ms: 0 };
    Ok(())
}

fn tts_latency(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.tts_first_audio = Latency { base_ms: u64::from(ms_arg(args, 0)?), jitter_ms: 0 };
    Ok(())
}

fn turn_budget(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.budgets.turn_ms = u64::from(ms_arg(args, 0)?);
    Ok(())
}

fn stop_budget(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.budgets.stop_ms = u64::from(ms_arg(args, 0)?);
    Ok(())
}

fn end_of_turn(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.agent.end_of_turn_ms = Some(ms_arg(args, 0)?);
    Ok(())
}

fn no_input(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let seconds = ms_arg(args, 0)?;
    w.plan_mut()?.agent.no_input_ms = Some(seconds.saturating_mul(1000));
    Ok(())
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("the LLM answers {string} with {string}", llm_rule),
        def("the tool {word} answers {string}", tool_answers),
        def("the tool {word} fails with {string}", tool_fails),
        def("the LLM answers anything else with {string}", llm_default),
        def("the LLM answers {string} by calling {word} for order {string} and then says {string}", llm_tool_for_order),
        def("the LLM answers {string} by calling {word}", llm_tool_only),
        def("the LLM answers {string} by refunding {float} on order {string} and then says {string}", llm_refund),
        def("the LLM takes {int} ms to the first token", llm_first_token),
        def("the LLM streams {int} tokens per second", llm_rate),
        def("the LLM fails on request {int}", llm_fails),
        def("the LLM fails on its first request", llm_fails_first),
        def("the LLM service panics on request {int}", llm_panics),
        def("the recogniser takes {int} ms", stt_latency),
        def("the TTS takes {int} ms to the first audio", tts_latency),
        def("a turn latency budget of {int} ms", turn_budget),
        def("a stop latency budget of {int} ms", stop_budget),
        def("the agent ends the caller's turn after {int} ms of silence", end_of_turn),
        def("the agent re-prompts after {int} seconds of silence", no_input),
    ]
}
