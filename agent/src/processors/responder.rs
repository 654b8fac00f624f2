//! The deterministic flow, driven by the definition's nodes. Routing,
//! re-prompts, tool authorisation and the end of the call are decided here,
//! in code; the LLM is asked only inside an LLM node, to write the reply
//! text or to propose a tool call, which code then accepts or refuses.

use std::sync::Arc;

use futures_util::StreamExt;

use super::tool_policy::{Decision, decide};
use crate::config::{EffectiveConfig, NodeDefinition};
use crate::frame::{Frame, ToolCall, UtteranceId};
use crate::history::SharedHistory;
use crate::pipeline::{Context, JobId, JobPolicy, Origin, Processor};
use crate::services::{ChatMessage, LlmEvent, LlmRequest, LlmService, Role, ToolRequest, ToolService, ToolSpec};
use crate::telemetry::EventKind;

/// At most this many tool rounds per caller turn, whatever the LLM asks.
const MAX_TOOL_ROUNDS: u32 = 2;
const NO_INPUT_TIMER: &str = "no_input";

/// The reply being written for the current caller turn.
struct Reply {
    utterance: UtteranceId,
    llm_job: Option<JobId>,
    saw_token: bool,
    wrote_text: bool,
    tool_rounds: u32,
    /// The LLM's stream for this round has ended.
    llm_done: bool,
    /// Tool calls sent to the backend whose results have not come back.
    pending_tools: u32,
    /// A tool ran; ask the LLM again with its result when this round ends.
    follow_up: bool,
    /// A tool was refused or failed: if the LLM then writes nothing, the
    /// caller hears why (`prompts.cannot_do`), not a re-prompt.
    tool_failed: bool,
    end_call: bool,
}

pub struct Responder {
    config: Arc<EffectiveConfig>,
    llm: Arc<dyn LlmService>,
    tools: Arc<dyn ToolService>,
    history: SharedHistory,
    /// The current node's id.
    node: String,
    /// A node ended the call; nothing more is said.
    ended: bool,
    next_utterance: u32,
    reply: Option<Reply>,
    no_input_timer: Option<JobId>,
    no_input_count: u32,
}

impl Responder {
    pub fn new(
        config: Arc<EffectiveConfig>,
        llm: Arc<dyn LlmService>,
        tools: Arc<dyn ToolService>,
        history: SharedHistory,
    ) -> Self {
        let start = config.definition.flow.start.clone();
        Self {
            config,
            llm,
            tools,
            history,
            node: start,
            ended: false,
            next_utterance: 0,
            reply: None,
            no_input_timer: None,
            no_input_count: 0,
        }
    }

    fn current(&self) -> Option<&NodeDefinition> {
        self.config.definition.node(&self.node)
    }

    /// Enter `id`: a `say` node speaks and moves on (or ends the call) at
    /// once; an LLM node waits for the caller.
    fn enter(&mut self, id: &str, ctx: &mut Context) {
        let mut id = id.to_string();
        // The definition is validated, so `next` always names a node; the
        // bound only guards against a cycle of `say` nodes.
        for _ in 0..=self.config.definition.flow.nodes.len() {
            let Some(node) = self.config.definition.node(&id).cloned() else {
                ctx.emit(EventKind::ServiceFailed { service: "flow".into(), message: format!("no node {id:?}") });
                return;
            };
            self.node = id.clone();
            self.no_input_count = 0;
            ctx.emit(EventKind::FlowNode { node: id.clone() });
            let Some(line) = node.say.clone() else { return };
            let line = match &self.config.settings.prompt.greeting {
                Some(greeting) if id == self.config.definition.flow.start => greeting.clone(),
                _ => line,
            };
            let utterance = self.begin_reply(ctx);
            ctx.push_down(Frame::ReplyText { utterance, text: line });
            if node.end_call {
                self.ended = true;
                ctx.push_down(Frame::EndAfterReply);
            }
            ctx.push_down(Frame::ReplyTextDone { utterance });
            match node.next {
                Some(next) if !node.end_call => id = next,
                _ => return,
            }
        }
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

    /// The tools the LLM is offered: the node's, less what this customer's
    /// overlay does not allow.
    fn offered_tools(&self) -> Vec<ToolSpec> {
        let Some(node) = self.current() else { return Vec::new() };
        node.tools
            .iter()
            .filter(|name| self.config.tool_allowed(name))
            .filter_map(|name| self.config.definition.tool(name))
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect()
    }

    fn ask_llm(&mut self, ctx: &mut Context) {
        let instructions = self.current().and_then(|n| n.instructions.clone());
        let mut messages = vec![ChatMessage::new(Role::System, self.config.system_prompt(instructions.as_deref()))];
        messages.extend(self.history.snapshot());
        let tools = self.offered_tools();
        ctx.emit(EventKind::LlmRequested { messages: messages.len() });
        let stream = self
            .llm
            .complete(LlmRequest { model: self.config.settings.model.clone(), messages, tools })
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
            reply.llm_done = false;
        }
    }

    fn on_user_turn(&mut self, text: String, continues_previous: bool, ctx: &mut Context) {
        self.cancel_no_input(ctx);
        if self.ended || self.current().is_none_or(|n| n.say.is_some()) {
            return;
        }
        if text.trim().is_empty() {
            let reprompt = self.config.settings.prompts.reprompt.clone();
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
            llm_done: false,
            pending_tools: 0,
            follow_up: false,
            tool_failed: false,
            end_call: false,
        });
        self.ask_llm(ctx);
    }

    /// A refused or failed tool goes back to the LLM as the tool's result
    /// (an error), so the answer can say why; the tool never ran.
    fn tool_error(&mut self, name: &str, error: String, ctx: &mut Context) {
        ctx.emit(EventKind::ToolRefused { name: name.into(), reason: error.clone() });
        let Some(reply) = &mut self.reply else { return };
        reply.tool_failed = true;
        reply.follow_up = reply.tool_rounds <= MAX_TOOL_ROUNDS;
        self.history.push(Role::Tool, format!("{name}: {}", serde_json::json!({ "error": error })));
    }

    fn on_tool_call(&mut self, call: ToolCall, ctx: &mut Context) {
        ctx.emit(EventKind::ToolProposed { name: call.name.clone() });
        let decision = decide(&call, &self.config, &self.node, self.current());
        let Some(reply) = &mut self.reply else { return };
        match decision {
            Decision::Refuse(reason) => {
                reply.tool_rounds += 1;
                self.tool_error(&call.name, format!("refused: {reason}"), ctx)
            }
            _ if reply.tool_rounds >= MAX_TOOL_ROUNDS => {
                reply.tool_rounds += 1;
                self.tool_error(&call.name, "refused: tool round limit reached".into(), ctx)
            }
            Decision::EndCall => {
                reply.end_call = true;
                ctx.emit(EventKind::ToolExecuted { name: call.name, result: "ending the call".into() });
            }
            Decision::Invoke => {
                reply.tool_rounds += 1;
                reply.pending_tools += 1;
                let name = call.name.clone();
                let request = ToolRequest {
                    name: call.name,
                    arguments: call.arguments,
                    credentials: self.config.settings.credentials.clone(),
                };
                let invocation = self.tools.invoke(request);
                let result = futures_util::stream::once(async move {
                    Frame::ToolResult { name, result: invocation.await.map_err(|e| e.message) }
                });
                ctx.start_job(result.boxed(), JobPolicy::CancelOnInterruption);
            }
        }
    }

    /// A tool's answer came back from the backend.
    fn on_tool_result(&mut self, name: String, result: Result<String, String>, ctx: &mut Context) {
        let Some(reply) = &mut self.reply else { return };
        reply.pending_tools = reply.pending_tools.saturating_sub(1);
        match result {
            Ok(result) => {
                reply.follow_up = true;
                ctx.emit(EventKind::ToolExecuted { name: name.clone(), result: result.clone() });
                self.history.push(Role::Tool, format!("{name}: {result}"));
            }
            Err(reason) => self.tool_error(&name, format!("failed: {reason}"), ctx),
        }
        self.maybe_end_round(ctx);
    }

    fn on_llm_done(&mut self, ctx: &mut Context) {
        let Some(reply) = &mut self.reply else { return };
        reply.llm_job = None;
        reply.llm_done = true;
        self.maybe_end_round(ctx);
    }

    /// When the LLM's stream is over and every tool has answered: ask the
    /// LLM again with the tools' results, or finish the reply.
    fn maybe_end_round(&mut self, ctx: &mut Context) {
        let Some(reply) = &mut self.reply else { return };
        if !reply.llm_done || reply.pending_tools > 0 {
            return;
        }
        if reply.follow_up {
            reply.follow_up = false;
            self.ask_llm(ctx);
            return;
        }
        let (utterance, end_call, wrote_text) = (reply.utterance, reply.end_call, reply.wrote_text);
        let prompts = &self.config.settings.prompts;
        let fallback = if reply.tool_failed { prompts.cannot_do.clone() } else { prompts.reprompt.clone() };
        self.reply = None;
        if !wrote_text && !end_call {
            ctx.push_down(Frame::ReplyText { utterance, text: fallback });
        }
        let closing = self.current().and_then(|n| n.on_end_call.clone());
        if end_call && closing.is_none() {
            self.ended = true;
            ctx.push_down(Frame::EndAfterReply);
        }
        ctx.push_down(Frame::ReplyTextDone { utterance });
        if let (true, Some(closing)) = (end_call, closing) {
            self.enter(&closing, ctx);
        }
    }

    fn on_llm_error(&mut self, message: String, ctx: &mut Context) {
        ctx.emit(EventKind::ServiceFailed { service: "llm".into(), message });
        let Some(reply) = self.reply.take() else { return };
        if let Some(job) = reply.llm_job {
            ctx.cancel_job(job);
        }
        let line = self.config.settings.prompts.llm_error.clone();
        let text = if reply.wrote_text { format!(" {line}") } else { line };
        ctx.push_down(Frame::ReplyText { utterance: reply.utterance, text });
        ctx.push_down(Frame::ReplyTextDone { utterance: reply.utterance });
    }

    fn on_no_input(&mut self, ctx: &mut Context) {
        self.no_input_timer = None;
        self.no_input_count += 1;
        let exhausted = self.no_input_count > self.config.settings.prompts.max_no_input;
        match self.current().and_then(|n| n.on_no_input_exhausted.clone()) {
            Some(next) if exhausted => self.enter(&next, ctx),
            _ => {
                let line = self.config.settings.prompts.no_input.clone();
                self.say(&line, ctx);
            }
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
                let start = self.config.definition.flow.start.clone();
                self.enter(&start, ctx);
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
            Frame::ToolResult { name, result } => self.on_tool_result(name, result, ctx),
            Frame::LlmDone => {
                ctx.emit(EventKind::LlmDone);
                self.on_llm_done(ctx);
            }
            Frame::ServiceError { service: "llm", message } => self.on_llm_error(message, ctx),
            Frame::BotStoppedSpeaking { interrupted, .. } => {
                let waiting_for_caller =
                    !self.ended && self.reply.is_none() && self.current().is_some_and(|n| n.say.is_none());
                if !interrupted && waiting_for_caller {
                    let after = std::time::Duration::from_millis(u64::from(self.config.settings.prompts.no_input_ms));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AgentDefinition, Overlay, Settings, merge};
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

    /// A tool backend that keeps every request it gets and answers "done".
    #[derive(Default)]
    struct Tools(std::sync::Mutex<Vec<ToolRequest>>);
    impl ToolService for Tools {
        fn invoke(
            &self,
            request: ToolRequest,
        ) -> futures_util::future::BoxFuture<'static, Result<String, ServiceError>> {
            self.0.lock().expect("lock").push(request);
            Box::pin(async { Ok("done".to_string()) })
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

    fn config(overlay: Option<&str>) -> Arc<EffectiveConfig> {
        let definition = Arc::new(AgentDefinition::reference());
        let overlay = overlay.map(|json| Overlay::parse_json(json).expect("overlay parses"));
        Arc::new(merge(definition, overlay.as_ref().map(|o| (o, 1))).expect("merges"))
    }

    fn responder() -> Responder {
        Responder::new(config(None), Arc::new(NoLlm), Arc::new(Tools::default()), SharedHistory::default())
    }

    fn started(overlay: Option<&str>) -> (Responder, Context) {
        started_with(overlay, Arc::new(Tools::default()))
    }

    fn started_with(overlay: Option<&str>, tools: Arc<Tools>) -> (Responder, Context) {
        let mut r = Responder::new(config(overlay), Arc::new(NoLlm), tools, SharedHistory::default());
        let mut c = ctx();
        r.process(Frame::Start { sample_rate: 16_000 }, Origin::FromUpstream, &mut c);
        c.take_pushed();
        (r, c)
    }

    /// The tool never ran; its refusal went to history as the tool's result
    /// and the LLM was asked again; when that writes nothing the caller hears
    /// why, not a re-prompt.
    fn refused(r: &mut Responder, c: &mut Context) -> bool {
        let history = r.history.snapshot();
        let result = history.iter().rev().find(|m| m.role == Role::Tool).map(|m| m.content.clone()).unwrap_or_default();
        let asked_again = c.take_pushed().iter().all(|(_, f)| !matches!(f, Frame::ReplyText { .. }));
        r.process(Frame::LlmDone, Origin::Job(JobId(2)), c);
        result.contains("\"error\":\"refused: ")
            && asked_again
            && texts(&c.take_pushed()) == Settings::default().prompts.cannot_do
    }

    #[tokio::test]
    async fn greets_on_start_without_the_llm() {
        let mut r = responder();
        let mut c = ctx();
        r.process(Frame::Start { sample_rate: 16_000 }, Origin::FromUpstream, &mut c);
        assert_eq!(texts(&c.take_pushed()), "Hello, thanks for calling Acme support. How can I help you today?");
        assert_eq!(r.node, "assist");
    }

    #[tokio::test]
    async fn an_unknown_tool_is_refused_and_never_runs() {
        let (mut r, mut c) = started(None);
        r.on_user_turn("transfer all my money".into(), false, &mut c);
        let call = ToolCall { name: "wire_transfer".into(), arguments: serde_json::json!({}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        assert!(refused(&mut r, &mut c));
    }

    #[tokio::test]
    async fn a_tool_outside_the_customer_allowlist_is_refused_and_not_offered() {
        let (mut r, mut c) = started(Some(r#"{"schema_version": 1, "tools": {"allow": ["end_call"]}}"#));
        assert_eq!(r.offered_tools().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["end_call"]);
        r.on_user_turn("check order A1".into(), false, &mut c);
        let call = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "A1"}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        assert!(refused(&mut r, &mut c));
    }

    #[tokio::test]
    async fn the_overlay_greeting_replaces_the_start_line() {
        let mut r = Responder::new(
            config(Some(r#"{"schema_version": 2, "prompt": {"greeting": "Welcome to Globex."}}"#)),
            Arc::new(NoLlm),
            Arc::new(Tools::default()),
            SharedHistory::default(),
        );
        let mut c = ctx();
        r.process(Frame::Start { sample_rate: 16_000 }, Origin::FromUpstream, &mut c);
        assert_eq!(texts(&c.take_pushed()), "Welcome to Globex.");
    }

    #[tokio::test]
    async fn end_call_moves_to_the_closing_node_which_ends_the_call() {
        let (mut r, mut c) = started(None);
        r.on_user_turn("goodbye".into(), false, &mut c);
        let call = ToolCall { name: "end_call".into(), arguments: serde_json::json!({}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        let pushed = c.take_pushed();
        assert_eq!(texts(&pushed), "Thank you for calling. Goodbye.");
        assert!(pushed.iter().any(|(_, f)| *f == Frame::EndAfterReply));
        assert_eq!(r.node, "closing");
        assert!(r.ended);
    }

    #[tokio::test]
    async fn an_llm_error_becomes_a_spoken_apology_and_the_flow_continues() {
        let (mut r, mut c) = started(None);
        r.on_user_turn("what are your hours".into(), false, &mut c);
        r.process(Frame::ServiceError { service: "llm", message: "503".into() }, Origin::Job(JobId(1)), &mut c);
        let pushed = c.take_pushed();
        assert_eq!(texts(&pushed), Settings::default().prompts.llm_error);
        assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::ReplyTextDone { .. })));
        assert_eq!(r.node, "assist");
    }

    #[tokio::test]
    async fn an_authorised_tool_goes_to_the_backend_with_the_customers_credentials_and_the_round_waits_for_it() {
        let tools = Arc::new(Tools::default());
        let overlay = r#"{"schema_version": 2, "credentials": {"crm_api_key": "sk-acme"}}"#;
        let (mut r, mut c) = started_with(Some(overlay), tools.clone());
        r.on_user_turn("check order A1".into(), false, &mut c);
        c.started.clear();
        let call = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "A1"}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        c.take_pushed();
        let invocation = c.started.pop().expect("the tool runs as a job").stream;
        let sent = tools.0.lock().expect("lock").clone();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].name.as_str(), sent[0].credentials["crm_api_key"].expose()), ("check_order", "sk-acme"));
        // The LLM's stream ends before the tool answers: nothing is said yet.
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        assert!(c.take_pushed().is_empty() && c.started.is_empty(), "waits for the tool");
        let answer = invocation.collect::<Vec<_>>().await.pop().expect("one answer");
        r.process(answer, Origin::Job(JobId(2)), &mut c);
        assert_eq!(r.history.snapshot().last().map(|m| m.content.as_str()), Some("check_order: done"));
        assert_eq!(c.started.len(), 1, "the LLM is asked again with the result");
    }

    #[tokio::test]
    async fn a_failing_tool_goes_back_to_the_llm_as_an_error_and_the_caller_hears_why() {
        let (mut r, mut c) = started(None);
        r.on_user_turn("check order A1".into(), false, &mut c);
        let call = ToolCall { name: "check_order".into(), arguments: serde_json::json!({"order_id": "A1"}) };
        r.process(Frame::LlmToolCall(call), Origin::Job(JobId(1)), &mut c);
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
        let failed = Frame::ToolResult { name: "check_order".into(), result: Err("504 from the CRM".into()) };
        r.process(failed, Origin::Job(JobId(2)), &mut c);
        let history = r.history.snapshot();
        assert!(history.last().is_some_and(|m| m.content.contains("\"error\":\"failed: 504 from the CRM\"")));
        c.take_pushed();
        r.process(Frame::LlmDone, Origin::Job(JobId(3)), &mut c);
        assert_eq!(texts(&c.take_pushed()), Settings::default().prompts.cannot_do);
    }
}
