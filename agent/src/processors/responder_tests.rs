//! The responder's unit tests: the flow, tools and false interruptions.

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
    fn invoke(&self, request: ToolRequest) -> futures_util::future::BoxFuture<'static, Result<String, ServiceError>> {
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

/// The caller says `said`; the LLM proposes `tool` and its stream ends.
fn propose(r: &mut Responder, c: &mut Context, said: &str, tool: &str, arguments: serde_json::Value) {
    r.on_user_turn(said.into(), false, c);
    r.process(Frame::LlmToolCall(ToolCall { name: tool.into(), arguments }), Origin::Job(JobId(1)), c);
    r.process(Frame::LlmDone, Origin::Job(JobId(1)), c);
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
    propose(&mut r, &mut c, "transfer all my money", "wire_transfer", serde_json::json!({}));
    assert!(refused(&mut r, &mut c));
}

#[tokio::test]
async fn a_tool_outside_the_customer_allowlist_is_refused_and_not_offered() {
    let (mut r, mut c) = started(Some(r#"{"schema_version": 1, "tools": {"allow": ["end_call"]}}"#));
    assert_eq!(r.offered_tools().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["end_call"]);
    propose(&mut r, &mut c, "check order A1", "check_order", serde_json::json!({"order_id": "A1"}));
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
    propose(&mut r, &mut c, "goodbye", "end_call", serde_json::json!({}));
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

/// The caller hears the first `heard` words of the reply being spoken, then
/// cuts in: the interruption goes down, the cut comes back up.
fn cut_in(r: &mut Responder, c: &mut Context, heard: usize) {
    let utterance = r.spoken.as_ref().expect("a reply is being spoken").utterance;
    r.process(Frame::Interruption, Origin::FromUpstream, c);
    let stopped = Frame::BotStoppedSpeaking { utterance, interrupted: true, heard_words: heard };
    r.process(stopped, Origin::FromDownstream, c);
}

fn llm_says(r: &mut Responder, c: &mut Context, text: &str) {
    for token in text.split_inclusive(' ') {
        r.process(Frame::LlmToken { text: token.into() }, Origin::Job(JobId(1)), c);
    }
}

/// The caller asks for the opening hours and the LLM has written `text`
/// (all of it, if `done`).
fn answering(text: &str, done: bool) -> (Responder, Context) {
    let (mut r, mut c) = started(None);
    r.on_user_turn("what are your opening hours".into(), false, &mut c);
    llm_says(&mut r, &mut c, text);
    if done {
        r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
    }
    (r, c)
}

#[tokio::test]
async fn after_an_okay_over_the_reply_it_goes_on_from_the_first_word_not_heard() {
    let (mut r, mut c) = answering("We are open from nine to five.", true);
    c.take_pushed();
    cut_in(&mut r, &mut c, 4);
    r.on_user_turn("okay".into(), false, &mut c);
    let pushed = c.take_pushed();
    assert_eq!(texts(&pushed), "nine to five.");
    assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::ReplyResumes { .. })), "joins the cut reply in history");
    assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::ReplyTextDone { .. })));
    assert!(!r.history.snapshot().iter().any(|m| m.content == "okay"), "a backchannel is no turn");
}

#[tokio::test]
async fn a_noise_with_no_words_while_the_llm_still_writes_loses_nothing() {
    let (mut r, mut c) = answering("We are open ", false);
    cut_in(&mut r, &mut c, 1);
    // The LLM goes on while the caller's sound is being recognised.
    llm_says(&mut r, &mut c, "from nine ");
    assert!(texts(&c.take_pushed()).ends_with("We are open "), "nothing more is said while the caller may talk");
    r.on_user_turn(String::new(), false, &mut c);
    assert_eq!(texts(&c.take_pushed()), "are open from nine ");
    llm_says(&mut r, &mut c, "to five.");
    r.process(Frame::LlmDone, Origin::Job(JobId(1)), &mut c);
    let pushed = c.take_pushed();
    assert_eq!(texts(&pushed), "to five.");
    assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::ReplyTextDone { .. })));
}

#[tokio::test]
async fn words_over_the_reply_take_the_turn_and_drop_what_was_being_written() {
    let (mut r, mut c) = answering("We are open ", false);
    cut_in(&mut r, &mut c, 1);
    c.cancelled.clear();
    r.on_user_turn("do you deliver on weekends".into(), false, &mut c);
    assert_eq!(c.cancelled, [JobId(1)], "the paused LLM stream is cancelled");
    assert!(r.paused.is_none());
    let history = r.history.snapshot();
    assert_eq!(history.last().map(|m| m.content.as_str()), Some("do you deliver on weekends"));
}

#[tokio::test]
async fn a_reply_heard_to_the_end_is_not_said_again() {
    let (mut r, mut c) = answering("Nine to five.", true);
    let utterance = r.spoken.as_ref().expect("spoken").utterance;
    let finished = Frame::BotStoppedSpeaking { utterance, interrupted: false, heard_words: 3 };
    r.process(finished, Origin::FromDownstream, &mut c);
    c.take_pushed();
    r.on_user_turn(String::new(), false, &mut c);
    assert_eq!(texts(&c.take_pushed()), Settings::default().prompts.reprompt);
}
