//! The deterministic flow. Routing, re-prompts, tool authorisation and the
//! end of the call are decided here, in code; the LLM is asked only inside
//! the `Assist` node, to write the reply text or to propose a tool call.

use std::sync::Arc;

use futures_util::StreamExt;

use crate::config::AgentDefinition;
use crate::frame::{Frame, ToolCall, UtteranceId};
use crate::history::SharedHistory;
use crate::pipeline::{Context, JobId, JobPolicy, Origin, Processor};
use crate::services::{ChatMessage, LlmEvent, LlmRequest, LlmService, Role, ToolSpec};
use crate::telemetry::EventKind;

/// At most this many tool rounds per caller turn, whatever the LLM asks.
const MAX_TOOL_ROUNDS: u32 = 2;
const NO_INPUT_TIMER: &str = "no_input";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// Waiting for the call to start; the greeting is a fixed line.
    Greeting,
    /// The caller talks, the LLM writes the replies.
    Assist,
    /// Goodbye said; the call ends when it has been heard.
    Closing,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::Greeting => "greeting",
            Node::Assist => "assist",
            Node::Closing => "closing",
        }
    }
}

/// The reply being written for the current caller turn.
struct Reply {
    utterance: UtteranceId,
    llm_job: Option<JobId>,
    saw_token: bool,
    wrote_text: bool,
    tool_rounds: u32,
    /// A tool ran; ask the LLM again with its result when this round ends.
    follow_up: bool,
    end_call: bool,
}

pub struct Responder {
    definition: Arc<AgentDefinition>,
    llm: Arc<dyn LlmService>,
    history: SharedHistory,
    node: Node,
    next_utterance: u32,
    reply: Option<Reply>,
    no_input_timer: Option<JobId>,
    no_input_count: u32,
}

impl Responder {
    pub fn new(definition: Arc<AgentDefinition>, llm: Arc<dyn LlmService>, history: SharedHistory) -> Self {
        Self {
            definition,
            llm,
            history,
            node: Node::Greeting,
            next_utterance: 0,
            reply: None,
            no_input_timer: None,
            no_input_count: 0,
        }
    }

    fn enter(&mut self, node: Node, ctx: &mut Context) {
        self.node = node;
        ctx.emit(EventKind::FlowNode { node: node.name().into() });
    }

    fn begin_reply(&mut self, ctx: &mut Context) -> UtteranceId {
        self.next_utterance += 1;
        let utterance = UtteranceId(self.next_utterance);
        ctx.emit(EventKind::ReplyStarted { utterance: utterance.0 });
        ctx.push_down(Frame::ReplyStarted { utterance });
        utterance
    }

    /// Speak a fixed line as a complete reply.
    fn say(&mut self, text: &str, ctx: &mut Context) {
        let utterance = self.begin_reply(ctx);
        ctx.push_down(Frame::ReplyText { utterance, text: text.into() });
        ctx.push_down(Frame::ReplyTextDone { utterance });
        self.reply = None;
    }

    fn cancel_no_input(&mut self, ctx: &mut Context) {
        if let Some(job) = self.no_input_timer.take() {
            ctx.cancel_job(job);
        }
    }

    fn ask_llm(&mut self, ctx: &mut Context) {
        let mut messages = vec![ChatMessage::new(Role::System, self.definition.instructions.clone())];
        messages.extend(self.history.snapshot());
        let tools = self
            .definition
            .tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect();
        ctx.emit(EventKind::LlmRequested { messages: messages.len() });
        let stream = self
            .llm
            .complete(LlmRequest { messages, tools })
            .map(|event| match event {
                Ok(LlmEvent::Token(text)) => Frame::LlmToken { text },
                Ok(LlmEvent::ToolCall(call)) => Frame::LlmToolCall(call),
                Err(error) => Frame::ServiceError { service: "llm", message: error.message },
            })
            .chain(futures_util::stream::once(async { Frame::LlmDone }))
            .boxed();
        let job = ctx.start_job(stream, JobPolicy::CancelOnInterruption);
        if let Some(reply) = &mut self.reply {
            reply.llm_job = Some(job);
            reply.saw_token = false;
        }
    }

    fn on_user_turn(&mut self, text: String, continues_previous: bool, ctx: &mut Context) {
        self.cancel_no_input(ctx);
        if self.node == Node::Closing {
            return;
        }
        if text.trim().is_empty() {
            let reprompt = self.definition.prompts.reprompt.clone();
            self.say(&reprompt, ctx);
            return;
        }
        self.no_input_count = 0;
        if continues_previous {
            self.history.replace_last(Role::User, text.clone());
        } else {
            self.history.push(Role::User, text.clone());
        }
        ctx.emit(EventKind::HistoryCommitted { role: "user".into(), text });
        let utterance = self.begin_reply(ctx);
        self.reply = Some(Reply {
            utterance,
            llm_job: None,
            saw_token: false,
            wrote_text: false,
            tool_rounds: 0,
            follow_up: false,
            end_call: false,
        });
        self.ask_llm(ctx);
    }

    fn on_tool_call(&mut self, call: ToolCall, ctx: &mut Context) {
        ctx.emit(EventKind::ToolProposed { name: call.name.clone() });
        let known = self.definition.tools.iter().any(|t| t.name == call.name);
        let Some(reply) = &mut self.reply else { return };
        if !known {
            ctx.emit(EventKind::ToolRefused { name: call.name, reason: "not a tool of this agent".into() });
            return;
        }
        if reply.tool_rounds >= MAX_TOOL_ROUNDS {
            ctx.emit(EventKind::ToolRefused { name: call.name, reason: "tool round limit reached".into() });
            return;
        }
        match run_tool(&call) {
            Ok(ToolOutcome::Result(result)) => {
                reply.tool_rounds += 1;
                reply.follow_up = true;
                ctx.emit(EventKind::ToolExecuted { name: call.name.clone(), result: result.clone() });
                self.history.push(Role::Tool, format!("{}: {result}", call.name));
            }
            Ok(ToolOutcome::EndCall) => {
                reply.end_call = true;
                ctx.emit(EventKind::ToolExecuted { name: call.name, result: "ending the call".into() });
            }
            Err(reason) => ctx.emit(EventKind::ToolRefused { name: call.name, reason }),
        }
    }

    fn on_llm_done(&mut self, ctx: &mut Context) {
        let Some(reply) = &mut self.reply else { return };
        reply.llm_job = None;
        if reply.follow_up {
            reply.follow_up = false;
            self.ask_llm(ctx);
            return;
        }
        let utterance = reply.utterance;
        let end_call = reply.end_call;
        if !reply.wrote_text && !end_call {
            let line = self.definition.prompts.reprompt.clone();
            ctx.push_down(Frame::ReplyText { utterance, text: line });
        }
        if end_call {
            let goodbye = format!(" {}", self.definition.prompts.goodbye);
            ctx.push_down(Frame::ReplyText { utterance, text: goodbye });
            self.enter(Node::Closing, ctx);
            ctx.push_down(Frame::EndAfterReply);
        }
        ctx.push_down(Frame::ReplyTextDone { utterance });
        self.reply = None;
    }

    fn on_llm_error(&mut self, message: String, ctx: &mut Context) {
        ctx.emit(EventKind::ServiceFailed { service: "llm".into(), message });
        let Some(reply) = self.reply.take() else { return };
        if let Some(job) = reply.llm_job {
            ctx.cancel_job(job);
        }
        let line = self.definition.prompts.llm_error.clone();
        let text = if reply.wrote_text { format!(" {line}") } else { line };
        ctx.push_down(Frame::ReplyText { utterance: reply.utterance, text });
        ctx.push_down(Frame::ReplyTextDone { utterance: reply.utterance });
    }

    fn on_no_input(&mut self, ctx: &mut Context) {
        self.no_input_timer = None;
        self.no_input_count += 1;
        if self.no_input_count > self.definition.prompts.max_no_input {
            let goodbye = self.definition.prompts.goodbye.clone();
            self.enter(Node::Closing, ctx);
            let utterance = self.begin_reply(ctx);
            ctx.push_down(Frame::ReplyText { utterance, text: goodbye });
            ctx.push_down(Frame::EndAfterReply);
            ctx.push_down(Frame::ReplyTextDone { utterance });
        } else {
            let line = self.definition.prompts.no_input.clone();
            self.say(&line, ctx);
        }
    }
}

impl Processor for Responder {
    fn name(&self) -> &'static str {
        "responder"
    }

    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::Start { .. } => {
                ctx.forward(frame, origin);
                self.enter(Node::Greeting, ctx);
                let greeting = self.definition.prompts.greeting.clone();
                self.say(&greeting, ctx);
                self.enter(Node::Assist, ctx);
            }
            Frame::UserTurn { text, continues_previous } => self.on_user_turn(text, continues_previous, ctx),
            Frame::UserStartedSpeaking { .. } => {
                self.cancel_no_input(ctx);
                ctx.forward(frame, origin);
            }
            // The runner has already cancelled the LLM job.
            Frame::Interruption => {
                self.reply = None;
                self.cancel_no_input(ctx);
            }
            Frame::LlmToken { text } => {
                let Some(reply) = &mut self.reply else { return };
                if !reply.saw_token {
                    reply.saw_token = true;
                    ctx.emit(EventKind::LlmFirstToken);
                }
                reply.wrote_text = true;
                ctx.push_down(Frame::ReplyText { utterance: reply.utterance, text });
            }
            Frame::LlmToolCall(call) => self.on_tool_call(call, ctx),
            Frame::LlmDone => {
                ctx.emit(EventKind::LlmDone);
                self.on_llm_done(ctx);
            }
            Frame::ServiceError { service: "llm", message } => self.on_llm_error(message, ctx),
            Frame::BotStoppedSpeaking { interrupted, .. } => {
                if !interrupted && self.node == Node::Assist && self.reply.is_none() {
                    let after = std::time::Duration::from_millis(u64::from(self.definition.prompts.no_input_ms));
                    self.cancel_no_input(ctx);
                    self.no_input_timer = Some(ctx.start_timer(after, NO_INPUT_TIMER, JobPolicy::Keep));
                }
                ctx.forward(frame, origin);
            }
            Frame::Timer { name: NO_INPUT_TIMER } => self.on_no_input(ctx),
            Frame::Stop => {}
            other => ctx.forward(other, origin),
        }
    }
}

enum ToolOutcome {
    Result(String),
    EndCall,
}

/// The tools themselves: deterministic business logic in code.
fn run_tool(call: &ToolCall) -> Result<ToolOutcome, String> {
    match call.name.as_str() {
        "check_order" => {
            let order_id = call
                .arguments
                .get("order_id")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| "check_order needs a string argument `order_id`".to_string())?;
            if order_id.is_empty() || !order_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("order id {order_id:?} is not an order number"));
            }
            let digits: u32 = order_id.chars().filter_map(|c| c.to_digit(10)).sum();
            let status = ["is being packed", "has shipped", "was delivered"][(digits % 3) as usize];
            Ok(ToolOutcome::Result(format!("order {order_id} {status}")))
        }
        "end_call" => Ok(ToolOutcome::EndCall),
        other => Err(format!("no implementation for tool {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Direction;
    use crate::services::ServiceError;
    use crate::telemetry::test_sink;
    use futures_util::stream::BoxStream;

    struct NoLlm;
    impl LlmService for NoLlm {
        fn complete(&self, _: LlmRequest) -> BoxStream<'static, Result<LlmEvent, ServiceError>> {
            futures_util::stream::empty().boxed()
        }
    }

    fn ctx() -> Context {
        Context::new(test_sink())
    }

    fn texts(pushed: &[(Direction, Frame)]) -> String {
        pushed
            .iter()
            .filter_map(|(_, f)| match f {
                Frame::ReplyText { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn responder() -> Responder {
        Responder::new(Arc::new(AgentDefinition::reference()), Arc::new(NoLlm), SharedHistory::default())
    }

    #[tokio::test]
    async fn greets_on_start_without_the_llm() {
        let mut r = responder();
        let mut c = ctx();
        r.process(Frame::Start { sample_rate: 16_000 }, Origin::FromUpstream, &mut c);
        assert_eq!(texts(&c.take_pushed()), AgentDefinition::reference().prompts.greeting);
        assert_eq!(r.node, Node::Assist);
    }

    #[tokio::test]
    async fn an_unknown_tool_is_refused_and_never_runs() {
        let mut r = responder();
        let mut c = ctx();
        r.on_user_turn("transfer all my money".into(), false, &mut c);
        let call = ToolCall { name: "wire_transfer".into(), arguments: serde_json::json!({}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        let history = r.history.snapshot();
        assert!(history.iter().all(|m| m.role != Role::Tool), "{history:?}");
        // No text came from the LLM, so the caller is asked to repeat.
        assert_eq!(texts(&c.take_pushed()), AgentDefinition::reference().prompts.reprompt);
    }

    #[tokio::test]
    async fn an_llm_error_becomes_a_spoken_apology_and_the_flow_continues() {
        let mut r = responder();
        let mut c = ctx();
        r.process(Frame::Start { sample_rate: 16_000 }, Origin::FromUpstream, &mut c);
        c.take_pushed();
        r.on_user_turn("what are your hours".into(), false, &mut c);
        r.process(Frame::ServiceError { service: "llm", message: "503".into() }, Origin::Job(JobId(1)), &mut c);
        let pushed = c.take_pushed();
        assert_eq!(texts(&pushed), AgentDefinition::reference().prompts.llm_error);
        assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::ReplyTextDone { .. })));
        assert_eq!(r.node, Node::Assist);
    }

    #[test]
    fn check_order_validates_its_argument_in_code() {
        let bad = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "1; drop"}) };
        assert!(run_tool(&bad).is_err());
        let good = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "A123"}) };
        assert!(matches!(run_tool(&good), Ok(ToolOutcome::Result(r)) if r == "order A123 is being packed"));
    }
}
