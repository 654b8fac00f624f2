//! The scripted LLM double: replies chosen by rules on the caller's last
//! words, streamed token by token with a set time to first token and rate;
//! tool calls and failures on request.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use voicegate_agent::frame::ToolCall;
use voicegate_agent::services::{LlmEvent, LlmRequest, LlmService, Role, ServiceError};

use super::Latency;
use crate::audio::normalise_text;
use crate::record::{CallClock, Event, Recorder};
use crate::seed::Rng;

/// When the caller's last message contains `trigger`, answer with `reply`
/// (after running `tool` first, if given: `{result}` in the reply is
/// replaced by the tool's result).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRule {
    pub trigger: String,
    pub reply: String,
    pub tool: Option<ToolCall>,
}

/// Which of `rules` the LLM double answers `said` with: the first whose
/// trigger is contained in it (both as `normalise_text` makes them).
pub fn matching_rule(rules: &[LlmRule], said: &str) -> Option<usize> {
    let said = normalise_text(said);
    rules.iter().position(|r| said.contains(&normalise_text(&r.trigger)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmScript {
    pub rules: Vec<LlmRule>,
    pub default_reply: String,
    /// What the model says when a tool's result is an error (a JSON object
    /// with an `error` field): it does not claim the tool worked.
    pub tool_error_reply: String,
    pub first_token: Latency,
    pub tokens_per_second: f64,
    /// 1-based request numbers that fail.
    pub failing_requests: BTreeSet<usize>,
    /// 1-based request numbers whose stream panics when first polled (a
    /// provider client crashing inside the agent).
    pub panicking_requests: BTreeSet<usize>,
}

impl Default for LlmScript {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default_reply: "I can help with that. What would you like to know?".into(),
            tool_error_reply: "I'm sorry, I'm not able to do that.".into(),
            first_token: Latency { base_ms: 300, jitter_ms: 40 },
            tokens_per_second: 40.0,
            failing_requests: BTreeSet::new(),
            panicking_requests: BTreeSet::new(),
        }
    }
}

pub struct ScriptedLlm {
    busy: super::Busy,
    script: Arc<LlmScript>,
    rng: Mutex<Rng>,
    recorder: Recorder,
    clock: CallClock,
    requests: AtomicUsize,
}

impl ScriptedLlm {
    pub fn new(script: LlmScript, rng: Rng, recorder: Recorder, clock: CallClock) -> Self {
        Self {
            busy: super::Busy::default(),
            script: Arc::new(script),
            rng: Mutex::new(rng),
            recorder,
            clock,
            requests: AtomicUsize::new(0),
        }
    }

    /// Share a count of streams under way with the caller.
    pub fn with_busy(mut self, busy: super::Busy) -> Self {
        self.busy = busy;
        self
    }

    /// What to answer: a tool call, or reply text.
    fn answer(&self, request: &LlmRequest) -> Result<LlmEvent, String> {
        let last = request.messages.last().ok_or("the request has no messages")?;
        let last_user = request.messages.iter().rev().find(|m| m.role == Role::User);
        let rule =
            last_user.and_then(|said| matching_rule(&self.script.rules, &said.content)).map(|k| &self.script.rules[k]);
        let tool_error = last.role == Role::Tool && tool_result_is_error(&last.content);
        Ok(match (rule, last.role == Role::Tool) {
            (_, true) if tool_error => LlmEvent::Token(self.script.tool_error_reply.clone()),
            (Some(rule), true) => {
                let result = last.content.split_once(": ").map_or(last.content.as_str(), |(_, r)| r);
                LlmEvent::Token(rule.reply.replace("{result}", result))
            }
            (Some(LlmRule { tool: Some(tool), .. }), false) => LlmEvent::ToolCall(tool.clone()),
            (Some(rule), false) => LlmEvent::Token(rule.reply.clone()),
            (None, _) => LlmEvent::Token(self.script.default_reply.clone()),
        })
    }
}

/// A tool result (`name: {json}`) that is a JSON object with an `error`.
fn tool_result_is_error(content: &str) -> bool {
    let json = content.split_once(": ").map_or(content, |(_, rest)| rest);
    serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v.get("error").is_some())
}

/// Split text into streaming tokens: each word with the space before it.
fn tokens(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_string).collect()
}

impl LlmService for ScriptedLlm {
    fn complete(&self, request: LlmRequest) -> BoxStream<'static, Result<LlmEvent, ServiceError>> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let last_message = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
        let system_prompt = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let tools = request.tools.iter().map(|t| t.name.clone()).collect();
        let (recorder, clock) = (self.recorder.clone(), self.clock);
        let model = request.model.clone();
        recorder.push(clock.now_us(), Event::LlmRequest { request: n, model, system_prompt, tools, last_message });
        let first = self.script.first_token.draw(&mut self.rng.lock().unwrap_or_else(|p| p.into_inner()));
        let gap = Duration::from_secs_f64(1.0 / self.script.tokens_per_second.max(0.1));
        let answer = if self.script.failing_requests.contains(&n) {
            Err("503 Service Unavailable (scripted failure)".to_string())
        } else {
            self.answer(&request)
        };
        let items: Vec<Result<LlmEvent, String>> = match answer {
            Ok(LlmEvent::Token(text)) => tokens(&text).into_iter().map(|t| Ok(LlmEvent::Token(t))).collect(),
            other => vec![other],
        };
        let count = items.len();
        let full_text: String = items
            .iter()
            .filter_map(|item| match item {
                Ok(LlmEvent::Token(token)) => Some(token.as_str()),
                _ => None,
            })
            .collect();
        let guard = self.busy.guard();
        let panics = self.script.panicking_requests.contains(&n);
        futures_util::stream::iter(items.into_iter().enumerate())
            .then(move |(i, item)| {
                let recorder = recorder.clone();
                let full_text = full_text.clone();
                async move {
                    assert!(!panics, "the LLM client panicked on request {n} (injected fault)");
                    tokio::time::sleep(if i == 0 { first } else { gap }).await;
                    match &item {
                        Ok(LlmEvent::Token(_)) if i == 0 => {
                            recorder.push(clock.now_us(), Event::LlmFirstToken { request: n })
                        }
                        Ok(LlmEvent::ToolCall(call)) => {
                            recorder.push(clock.now_us(), Event::LlmToolCall { request: n, name: call.name.clone() })
                        }
                        Err(message) => {
                            recorder.push(clock.now_us(), Event::LlmError { request: n, message: message.clone() })
                        }
                        _ => {}
                    }
                    if i + 1 == count && item.is_ok() {
                        recorder.push(clock.now_us(), Event::LlmDone { request: n, text: full_text });
                    }
                    item.map_err(|message| ServiceError { service: "llm", message })
                }
            })
            .map(move |item| {
                let _under_way = &guard;
                item
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicegate_agent::services::ChatMessage;

    fn llm(script: LlmScript) -> ScriptedLlm {
        ScriptedLlm::new(script, Rng::new(1), Recorder::default(), CallClock::start())
    }

    fn request(messages: Vec<ChatMessage>) -> LlmRequest {
        LlmRequest { model: "test".into(), messages, tools: vec![] }
    }

    fn text(events: &[Result<LlmEvent, ServiceError>]) -> String {
        events
            .iter()
            .map(|e| match e {
                Ok(LlmEvent::Token(t)) => t.as_str(),
                _ => "",
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn streams_the_matching_reply_after_the_first_token_latency() {
        let script = LlmScript {
            rules: vec![LlmRule { trigger: "opening hours".into(), reply: "Nine to five.".into(), tool: None }],
            first_token: Latency { base_ms: 250, jitter_ms: 0 },
            ..LlmScript::default()
        };
        let llm = llm(script);
        let start = tokio::time::Instant::now();
        let events: Vec<_> =
            llm.complete(request(vec![ChatMessage::new(Role::User, "What are your opening hours?")])).collect().await;
        assert_eq!(text(&events), "Nine to five.");
        // 250 ms to the first token, then two more at 40 per second.
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn proposes_the_tool_then_answers_with_its_result() {
        let tool = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "A123"}) };
        let script = LlmScript {
            rules: vec![LlmRule {
                trigger: "order number".into(),
                reply: "Your {result}.".into(),
                tool: Some(tool.clone()),
            }],
            ..LlmScript::default()
        };
        let llm = llm(script);
        let mut messages = vec![ChatMessage::new(Role::User, "my order number is A one two three")];
        let first: Vec<_> = llm.complete(request(messages.clone())).collect().await;
        assert_eq!(first, vec![Ok(LlmEvent::ToolCall(tool))]);
        messages.push(ChatMessage::new(Role::Tool, "check_order: order A123 has shipped"));
        let second: Vec<_> = llm.complete(request(messages)).collect().await;
        assert_eq!(text(&second), "Your order A123 has shipped.");
    }

    #[tokio::test(start_paused = true)]
    async fn scripted_failures_fail_only_the_named_request() {
        let script = LlmScript { failing_requests: [1].into_iter().collect(), ..LlmScript::default() };
        let llm = llm(script);
        let first: Vec<_> = llm.complete(request(vec![ChatMessage::new(Role::User, "hi")])).collect().await;
        assert!(matches!(first.as_slice(), [Err(_)]));
        let second: Vec<_> = llm.complete(request(vec![ChatMessage::new(Role::User, "hi")])).collect().await;
        assert!(second.iter().all(Result::is_ok));
    }

    #[test]
    fn an_error_tool_result_is_told_from_a_result() {
        assert!(tool_result_is_error(r#"issue_refund: {"error":"refused: over the refund limit"}"#));
        assert!(!tool_result_is_error("check_order: order A123 is being packed"));
        assert!(!tool_result_is_error(r#"check_order: {"status":"packed"}"#));
    }
}
