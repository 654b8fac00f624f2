//! The deterministic flow, driven by the definition's nodes. Routing,
//! re-prompts, tool authorisation and the end of the call are decided here,
//! in code; the LLM is asked only inside an LLM node, to write the reply
//! text or to propose a tool call, which code then accepts or refuses.

use std::sync::Arc;

use futures_util::StreamExt;

use super::spoken::{Spoken, no_turn};
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
    /// The reply whose LLM stream goes on while the caller cuts in, until
    /// their words show whether they took the turn.
    paused: Option<Reply>,
    /// What the agent last set out to say, to go on with after a false
    /// interruption.
    spoken: Option<Spoken>,
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
            paused: None,
            spoken: None,
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
            self.write(utterance, line, ctx);
            if node.end_call {
                self.ended = true;
                self.end_after_reply(ctx);
            }
            self.write_done(utterance, ctx);
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
        self.spoken = Some(Spoken::new(utterance));
        utterance
    }

    /// Every piece of reply text goes down through here, so that what was
    /// said can be taken up again after a false interruption.
    fn write(&mut self, utterance: UtteranceId, text: String, ctx: &mut Context) {
        if let Some(spoken) = self.spoken.as_mut().filter(|s| s.utterance == utterance) {
            spoken.text.push_str(&text);
        }
        ctx.push_down(Frame::ReplyText { utterance, text });
    }

    fn write_done(&mut self, utterance: UtteranceId, ctx: &mut Context) {
        if let Some(spoken) = self.spoken.as_mut().filter(|s| s.utterance == utterance) {
            spoken.done = true;
        }
        ctx.push_down(Frame::ReplyTextDone { utterance });
    }

    fn end_after_reply(&mut self, ctx: &mut Context) {
        if let Some(spoken) = self.spoken.as_mut() {
            spoken.end_call = true;
        }
        ctx.push_down(Frame::EndAfterReply);
    }

    /// Speak a fixed line as a complete reply.
    fn say(&mut self, text: &str, ctx: &mut Context) {
        let utterance = self.begin_reply(ctx);
        self.write(utterance, text.into(), ctx);
        self.write_done(utterance, ctx);
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
        // Kept through an interruption: a false one must not lose the reply.
        let job = ctx.start_job(stream, JobPolicy::Keep);
        if let Some(reply) = &mut self.reply {
            reply.llm_job = Some(job);
            reply.saw_token = false;
            reply.llm_done = false;
        }
    }

    fn on_user_turn(&mut self, text: String, continues_previous: bool, ctx: &mut Context) {
        self.cancel_no_input(ctx);
        if !continues_previous && no_turn(&text) && self.resume(ctx) {
            return;
        }
        // The caller took the turn: what was being written for the last one is dropped.
        for reply in [self.paused.take(), self.reply.take()].into_iter().flatten() {
            if let Some(job) = reply.llm_job {
                ctx.cancel_job(job);
            }
        }
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
            self.write(utterance, fallback, ctx);
        }
        let closing = self.current().and_then(|n| n.on_end_call.clone());
        if end_call && closing.is_none() {
            self.ended = true;
            self.end_after_reply(ctx);
        }
        self.write_done(utterance, ctx);
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
        self.write(reply.utterance, text, ctx);
        self.write_done(reply.utterance, ctx);
    }

    /// The caller cut in: the reply being written waits (its LLM stream
    /// goes on) until their words show whether they took the turn. A reply
    /// waiting on tools cannot wait: the tools were cancelled.
    fn pause(&mut self, ctx: &mut Context) {
        let Some(reply) = self.reply.take() else { return };
        if reply.pending_tools == 0 && !reply.follow_up {
            self.paused = Some(reply);
        } else {
            if let Some(job) = reply.llm_job {
                ctx.cancel_job(job);
            }
            self.spoken = None;
        }
    }

    fn drop_paused(&mut self, ctx: &mut Context) {
        if let Some(job) = self.paused.take().and_then(|r| r.llm_job) {
            ctx.cancel_job(job);
        }
        self.spoken = None;
    }

    /// After a false interruption (no words, or only a backchannel), go on
    /// with the cut reply from the first word the caller did not hear, as a
    /// reply whose heard words join the cut one's in history. Returns false
    /// when there is nothing to go on with.
    fn resume(&mut self, ctx: &mut Context) -> bool {
        let Some(cut) = self.spoken.take() else { return false };
        let Some(rest) = cut.unheard() else {
            self.spoken = Some(cut);
            return false;
        };
        let paused = self.paused.take();
        let utterance = self.begin_reply(ctx);
        ctx.push_down(Frame::ReplyResumes { utterance });
        let from_word = cut.cut_after.unwrap_or(0);
        ctx.emit(EventKind::ReplyResumed { utterance: utterance.0, cut: cut.utterance.0, from_word });
        if !rest.is_empty() {
            self.write(utterance, rest, ctx);
        }
        if cut.end_call {
            self.end_after_reply(ctx);
        }
        match paused {
            Some(mut reply) => {
                reply.utterance = utterance;
                let llm_done = reply.llm_done;
                self.reply = Some(reply);
                if llm_done {
                    self.maybe_end_round(ctx);
                }
            }
            None => self.write_done(utterance, ctx),
        }
        true
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
                self.cancel_no_input(ctx);
                self.pause(ctx);
            }
            Frame::LlmToken { text } => {
                if let Some(paused) = &mut self.paused {
                    // Kept, not spoken, until the caller's words are known.
                    paused.wrote_text = true;
                    if let Some(spoken) = self.spoken.as_mut().filter(|s| s.utterance == paused.utterance) {
                        spoken.text.push_str(&text);
                    }
                    return;
                }
                let Some(reply) = &mut self.reply else { return };
                if !reply.saw_token {
                    reply.saw_token = true;
                    ctx.emit(EventKind::LlmFirstToken);
                }
                reply.wrote_text = true;
                let utterance = reply.utterance;
                self.write(utterance, text, ctx);
            }
            Frame::LlmToolCall(_) | Frame::ServiceError { service: "llm", .. } if self.paused.is_some() => {
                // A tool or an error cannot wait for the caller: the reply is dropped.
                self.drop_paused(ctx);
            }
            Frame::LlmDone if self.paused.is_some() => {
                if let Some(paused) = &mut self.paused {
                    paused.llm_done = true;
                    paused.llm_job = None;
                }
            }
            Frame::LlmToolCall(call) => self.on_tool_call(call, ctx),
            Frame::ToolResult { name, result } => self.on_tool_result(name, result, ctx),
            Frame::LlmDone => {
                ctx.emit(EventKind::LlmDone);
                self.on_llm_done(ctx);
            }
            Frame::ServiceError { service: "llm", message } => self.on_llm_error(message, ctx),
            Frame::BotStoppedSpeaking { utterance, interrupted, heard_words } => {
                if let Some(spoken) = self.spoken.as_mut().filter(|s| s.utterance == utterance && interrupted) {
                    spoken.cut_after = Some(heard_words);
                }
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
#[path = "responder_tests.rs"]
mod tests;
