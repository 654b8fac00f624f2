//! The checks on hand-written records: each case a small call in which one
//! thing goes wrong (or nothing does), and the findings it must produce.

use voicegate_agent::services::{ChatMessage, Role, WordTiming};

use super::{FindingKind, evaluate};
use crate::driver::Budgets;
use crate::record::{CallRecord, Entry, Event, TimedWord};

const RATE: u32 = 16_000;

fn us(ms: u64) -> u64 {
    ms * 1000
}

fn samples(ms: u64) -> usize {
    (ms * u64::from(RATE) / 1000) as usize
}

/// Builds a record entry by entry, times in ms.
struct Call {
    entries: Vec<Entry>,
    history: Vec<ChatMessage>,
    utterances: usize,
}

impl Call {
    fn new(budgets: Budgets, round_trip_ms: u64) -> Self {
        Self::with_allowlist(budgets, round_trip_ms, None)
    }

    fn with_allowlist(budgets: Budgets, round_trip_ms: u64, tool_allowlist: Option<Vec<String>>) -> Self {
        let started = Event::CallStarted {
            scenario: "hand-written".into(),
            seed: 1,
            accent: "en-us".into(),
            variant: "f".into(),
            sample_rate: RATE,
            rendering: Default::default(),
            budgets,
            round_trip_us: us(round_trip_ms),
            network: crate::line::Network::ideal(),
            tool_allowlist,
            fallback_prompts: Vec::new(),
            reprompt: None,
            goal: None,
        };
        Self { entries: vec![Entry { t_us: 0, event: started }], history: Vec::new(), utterances: 0 }
    }

    fn push(&mut self, at_ms: u64, event: Event) -> &mut Self {
        self.entries.push(Entry { t_us: us(at_ms), event });
        self
    }

    /// The caller says `text` from `start` to `end`, words evenly spread.
    fn caller(&mut self, text: &str, start: u64, end: u64) -> &mut Self {
        self.history.push(ChatMessage::new(Role::User, text));
        self.speech(text, start, end, false)
    }

    /// The caller says `text` only to show they are listening.
    fn backchannel(&mut self, text: &str, start: u64, end: u64) -> &mut Self {
        self.speech(text, start, end, true)
    }

    fn speech(&mut self, text: &str, start: u64, end: u64, backchannel: bool) -> &mut Self {
        let words: Vec<&str> = text.split(' ').collect();
        let step = (end - start) / words.len() as u64;
        let words = words
            .iter()
            .enumerate()
            .map(|(i, w)| TimedWord {
                text: (*w).into(),
                start_us: us(start + step * i as u64),
                end_us: us(start + step * (i as u64 + 1)),
            })
            .collect();
        let utterance = self.utterances;
        self.utterances += 1;
        self.push(
            start,
            Event::CallerSpeech {
                utterance,
                text: text.into(),
                end_us: us(end),
                words,
                audio_digest: String::new(),
                snr_db: None,
                backchannel,
            },
        )
    }

    /// The agent asks for `text`, each word 200 ms long.
    fn tts(&mut self, request: usize, at: u64, text: &str) -> &mut Self {
        let words: Vec<WordTiming> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| WordTiming {
                text: w.into(),
                start: samples(200 * i as u64),
                end: samples(200 * (i as u64 + 1)),
            })
            .collect();
        let length = words.last().map_or(0, |w| w.end);
        self.push(
            at,
            Event::TtsRequest {
                request,
                text: text.into(),
                voice: "v".into(),
                sample_rate: RATE,
                samples: length,
                words,
                audio_digest: String::new(),
            },
        )
    }

    /// The caller plays `[from, to)` ms of response `request`, starting at `at`.
    fn play(&mut self, request: usize, at: u64, from: u64, to: u64) -> &mut Self {
        let end_us = us(at + to - from);
        self.push(at, Event::AgentAudioPlayed { tts_request: request, from: samples(from), to: samples(to), end_us })
    }

    /// The agent asks the LLM at `at`; its first token comes at `first`.
    fn llm(&mut self, at: u64, first: u64) -> &mut Self {
        let request = Event::LlmRequest {
            request: 1,
            model: "m".into(),
            system_prompt: String::new(),
            tools: vec![],
            last_message: String::new(),
        };
        self.push(at, request).push(first, Event::LlmFirstToken { request: 1 })
    }

    fn clear(&mut self, at: u64) -> &mut Self {
        self.push(at, Event::ClearReceived { dropped_samples: 0 })
    }

    fn said(&mut self, text: &str) -> &mut Self {
        self.history.push(ChatMessage::new(Role::Assistant, text));
        self
    }

    fn record(&mut self, end: u64) -> CallRecord {
        let reason = "the caller hung up".to_string();
        self.push(end, Event::CallEnded { reason, heard_digest: String::new(), sent_digest: String::new() });
        let messages = self.history.clone();
        self.push(end, Event::History { messages });
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by_key(|e| e.t_us);
        CallRecord { entries }
    }
}

fn greeted() -> Call {
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello how can i help").play(1, 100, 0, 1000).said("hello how can i help");
    call
}

fn kinds(record: &CallRecord) -> Vec<FindingKind> {
    evaluate(record).findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_clean_call_has_no_findings_and_its_stages_tile_the_turn() {
    let mut call = greeted();
    call.caller("what are your hours", 1500, 2500)
        .push(3200, Event::SttRequest { request: 1, audio_ms: 1000 })
        .llm(3350, 3650)
        .tts(2, 3700, "we are open")
        .push(3800, Event::TtsFirstAudio { request: 2 })
        .play(2, 3810, 0, 600)
        .said("we are open");
    let report = evaluate(&call.record(6000));
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let turn = &report.turns[0];
    assert_eq!(turn.latency_ms, Some(1310.0));
    let stages = turn.stages.as_ref().expect("stages");
    assert_eq!(
        [
            stages.end_of_turn_ms,
            stages.stt_ms,
            stages.llm_first_token_ms,
            stages.first_sentence_ms,
            stages.tts_first_audio_ms,
            stages.playout_ms
        ],
        [700.0, 150.0, 300.0, 50.0, 100.0, 10.0]
    );
    assert_eq!(stages.total_ms(), 1310.0);
}

#[test]
fn a_slow_llm_stream_is_charged_to_the_first_sentence_not_to_tts() {
    let mut call = greeted();
    call.caller("what are your hours", 1500, 2500)
        .llm(3350, 3650)
        .tts(2, 8700, "we are open")
        .push(8800, Event::TtsFirstAudio { request: 2 })
        .play(2, 8810, 0, 600)
        .said("we are open");
    let record = call.record(10_000);
    let report = evaluate(&record);
    let stages = report.turns[0].stages.as_ref().expect("stages");
    assert_eq!(stages.first_sentence_ms, 5050.0);
    assert_eq!(stages.tts_first_audio_ms, 100.0);
    assert_eq!(kinds(&record), vec![FindingKind::TurnLatencyBudget]);
}

#[test]
fn an_answer_that_starts_before_the_caller_has_finished_is_talking_over_them() {
    let mut call = greeted();
    call.caller("what are your opening hours", 1500, 3500).tts(2, 2000, "we are open").play(2, 2300, 0, 600);
    call.said("we are open");
    let report = evaluate(&call.record(6000));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::TalkedOver]);
    assert!(report.findings[0].message.contains("1200 ms before the caller had finished"), "{:?}", report.findings);
    assert_eq!(report.findings[0].at_ms, Some(2300));
}

#[test]
fn a_turn_with_no_answer_is_a_finding_naming_the_turn() {
    let mut call = greeted();
    call.caller("what are your opening hours", 1500, 3500);
    let record = call.record(16_000);
    let report = evaluate(&record);
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::NoReply]);
    assert!(report.findings[0].message.contains("turn 1 (\"what are your opening hours\""), "{:?}", report.findings);
}

#[test]
fn every_barge_in_of_a_call_is_measured_and_judged() {
    let mut call = Call::new(Budgets::default(), 0);
    // Greeting cut after "hello how" by the first barge-in at 500 ms.
    call.tts(1, 0, "hello how can i help")
        .play(1, 100, 0, 500)
        .clear(600)
        .said("hello how")
        .caller("wait", 500, 800)
        .tts(2, 1600, "we are open from nine")
        .play(2, 1700, 0, 700)
        .clear(2400)
        .said("we are open from nine")
        .caller("stop", 2200, 2600);
    let report = evaluate(&call.record(5000));
    assert_eq!(report.barge_ins.len(), 2);
    assert_eq!(report.barge_ins[0].stop_latency_ms, 100.0);
    assert!(report.barge_ins[0].truncation_ok);
    assert_eq!(report.barge_ins[1].stop_latency_ms, 200.0);
    assert!(!report.barge_ins[1].truncation_ok);
    assert_eq!(report.barge_ins[1].words_wrong, 2, "history kept 'from nine', which never played");
    let truncation: Vec<_> = report.findings.iter().filter(|f| f.kind == FindingKind::Truncation).collect();
    assert_eq!(truncation.len(), 1);
    assert!(truncation[0].message.starts_with("reply 2:"), "{}", truncation[0].message);
    assert!(truncation[0].message.contains("never heard: \"from nine\""), "{}", truncation[0].message);
}

#[test]
fn a_caller_starting_on_the_tick_a_reply_or_its_next_chunk_starts_gets_the_real_stop_latency() {
    // The caller and the greeting start at the same instant.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello how can i help").play(1, 100, 0, 120).clear(220).caller("wait", 100, 600);
    let report = evaluate(&call.record(3000));
    assert_eq!(report.barge_ins.len(), 1);
    assert_eq!(report.barge_ins[0].stop_latency_ms, 120.0);

    // The caller starts exactly when the second chunk starts playing.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "we are open")
        .play(1, 100, 0, 600)
        .tts(2, 300, "from nine until five")
        .play(2, 700, 0, 100)
        .clear(800)
        .said("we are open")
        .caller("wait", 700, 1500)
        .tts(3, 2300, "sure")
        .play(3, 2400, 0, 200)
        .said("sure");
    let report = evaluate(&call.record(4000));
    assert_eq!(report.barge_ins.len(), 1);
    assert_eq!(report.barge_ins[0].reply, 0, "both chunks are one reply");
    assert_eq!(report.barge_ins[0].stop_latency_ms, 100.0);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn a_barge_in_the_agent_never_noticed_is_measured_to_the_end_of_its_talking() {
    // The caller talks over the end of the first chunk; the second chunk,
    // asked for earlier, plays on after a short break.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello thanks for calling")
        .play(1, 100, 0, 800)
        .tts(2, 400, "how can i help")
        .play(2, 1000, 0, 800)
        .said("hello thanks for calling how can i help")
        .caller("what are your opening hours", 730, 2300);
    let report = evaluate(&call.record(5000));
    assert_eq!(report.barge_ins[0].stop_latency_ms, 1070.0);
    let kinds: Vec<_> = report.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::StopLatencyBudget), "{kinds:?}");
}

#[test]
fn a_silence_in_the_middle_of_a_reply_is_a_gap_over_the_budget_only() {
    let build = |gap_ms: u64| {
        let mut call = Call::new(Budgets { gap_ms, ..Budgets::default() }, 0);
        call.tts(1, 0, "yes")
            .play(1, 100, 0, 200)
            .tts(2, 200, "we deliver on sundays")
            .play(2, 800, 0, 800)
            .said("yes we deliver on sundays");
        call.record(4000)
    };
    let record = build(300);
    let report = evaluate(&record);
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::PlayoutGap]);
    assert!(report.findings[0].message.contains("500 ms of silence"), "{}", report.findings[0].message);
    assert!(report.findings[0].message.contains("after \"yes\""), "{}", report.findings[0].message);
    assert!(evaluate(&build(700)).findings.is_empty());
}

#[test]
fn a_new_prompt_after_the_agent_fell_silent_is_not_a_gap() {
    let mut call = Call::new(Budgets { gap_ms: 300, ..Budgets::default() }, 0);
    call.tts(1, 0, "hello").play(1, 100, 0, 200).tts(2, 3300, "are you still there").play(2, 3400, 0, 800);
    call.said("hello").said("are you still there");
    assert!(evaluate(&call.record(6000)).findings.is_empty());
}

#[test]
fn a_reply_cut_with_no_caller_speech_is_a_false_barge_in() {
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello how can i help").play(1, 100, 0, 400).clear(500).said("hello how");
    let report = evaluate(&call.record(5000));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::FalseBargeIn]);
    assert_eq!(report.findings[0].at_ms, Some(500));
}

#[test]
fn a_reply_resumed_after_an_unheard_turn_stays_one_reply_over_all_its_responses() {
    // Noise cuts the two-chunk greeting after "hello"; the caller then
    // asks something the agent does not make out, and the agent goes on
    // with the rest of its greeting, again in two chunks. Its history
    // holds the greeting whole, as the caller heard it.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello thanks for calling").tts(2, 50, "how can i help").play(1, 100, 0, 200).clear(300);
    call.speech("i want a refund", 1000, 2000, false);
    call.tts(3, 2600, "thanks for calling").play(3, 2700, 0, 600);
    call.tts(4, 2800, "how can i help").play(4, 3300, 0, 800);
    call.said("hello thanks for calling how can i help");
    let record = call.record(6000);
    let truth = super::truth::CallTruth::from_record(&record);
    assert_eq!(truth.replies.len(), 1, "{:?}", truth.replies);
    let kinds = kinds(&record);
    assert!(!kinds.contains(&FindingKind::Truncation), "{kinds:?}");
    assert!(kinds.contains(&FindingKind::NoReply), "the caller's question went unanswered: {kinds:?}");

    // The same, but the agent asks the LLM before its next chunk: that is
    // an answer (to the rest of the caller's utterance), a reply of its own.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "hello thanks for calling").tts(2, 50, "how can i help").play(1, 100, 0, 200).clear(300);
    call.speech("i want a refund", 1000, 2000, false);
    call.tts(3, 2600, "thanks for calling").play(3, 2700, 0, 600).llm(2750, 2790);
    call.tts(4, 2800, "how can i help").play(4, 3300, 0, 800);
    call.said("hello thanks for calling").said("how can i help");
    let truth = super::truth::CallTruth::from_record(&call.record(6000));
    assert_eq!(truth.replies.len(), 2, "{:?}", truth.replies);
}

#[test]
fn a_resumed_segment_cut_before_a_word_and_said_again_from_its_start_is_still_the_reply() {
    // "we are open" heard, a false cut; the agent goes on "from nine in
    // the morning", is cut again before a word ends, and says that part
    // again from its start. The history keeps the answer whole.
    let mut call = Call::new(Budgets::default(), 0);
    call.tts(1, 0, "we are open from nine").play(1, 100, 0, 600).clear(700);
    call.tts(2, 1500, "from nine in the morning").play(2, 1600, 0, 100).clear(1700);
    call.speech("hmm i see", 1650, 2300, false);
    call.tts(3, 3000, "from nine in the morning").play(3, 3100, 0, 1000);
    call.said("we are open from nine in the morning");
    let record = call.record(6000);
    let truth = super::truth::CallTruth::from_record(&record);
    assert_eq!(truth.replies.len(), 1, "{:?}", truth.replies);
    assert_eq!(truth.replies[0].heard_words().join(" "), "we are open from nine in the morning");
    assert!(!kinds(&record).contains(&FindingKind::Truncation), "{:?}", kinds(&record));
}

#[test]
fn a_cut_on_a_word_boundary_is_judged_within_the_stated_tolerance() {
    // Playback stops exactly at the end of "how" (400 ms into the reply).
    let build = |round_trip_ms: u64, kept: &str| {
        let mut call = Call::new(Budgets::default(), round_trip_ms);
        call.tts(1, 0, "hello how can i help").play(1, 100, 0, 400).clear(500).said(kept).caller("wait", 390, 900);
        call.tts(2, 1700, "sure").play(2, 1800, 0, 200).said("sure");
        evaluate(&call.record(3000))
    };
    let exact = build(0, "hello how");
    assert!(exact.findings.is_empty(), "{:?}", exact.findings);
    let lost = build(0, "hello");
    assert_eq!(lost.barge_ins[0].words_wrong, 1);
    assert!(lost.findings.iter().any(|f| f.kind == FindingKind::Truncation));
    assert!(build(40, "hello").findings.is_empty(), "\"how\" ended within the 40 ms tolerance");
    let early = build(40, "hello how can");
    assert_eq!(early.barge_ins[0].words_wrong, 1, "\"can\" would have ended 200 ms after the cut: outside");
    let report = build(40, "hello how can i");
    assert_eq!(report.barge_ins[0].words_wrong, 2);
    assert_eq!(report.truncation_tolerance_ms, 40.0);
}

#[test]
fn an_agent_hanging_up_with_the_script_unfinished_is_a_finding() {
    let mut call = greeted();
    call.push(
        1200,
        Event::ScriptLeft {
            reason: "the agent hung up".into(),
            actions: vec!["say \"do you deliver on weekends\"".into()],
        },
    );
    let report = evaluate(&call.record(1200));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::ScriptIncomplete]);
    assert!(report.findings[0].message.contains("do you deliver on weekends"));
}

fn llm_offered(call: &mut Call, at: u64, request: usize, tools: &[&str]) {
    call.push(
        at,
        Event::LlmRequest {
            request,
            model: "m".into(),
            system_prompt: String::new(),
            tools: tools.iter().map(|t| t.to_string()).collect(),
            last_message: String::new(),
        },
    );
}

fn tool_invoked(call: &mut Call, at: u64, name: &str) {
    let arguments = serde_json::json!({"order_id": "A1"});
    call.push(at, Event::ToolInvoked { name: name.into(), arguments, credentials: vec![], result: Ok("done".into()) });
}

#[test]
fn a_tool_call_the_tenant_allows_and_the_llm_was_offered_is_no_finding() {
    let mut call = Call::with_allowlist(Budgets::default(), 2, Some(vec!["check_order".into()]));
    llm_offered(&mut call, 100, 1, &["check_order"]);
    tool_invoked(&mut call, 500, "check_order");
    assert_eq!(kinds(&call.record(1000)), []);
}

#[test]
fn a_tool_call_outside_the_tenants_allowlist_is_a_finding_even_if_the_llm_was_offered_it() {
    let mut call = Call::with_allowlist(Budgets::default(), 2, Some(vec!["end_call".into()]));
    llm_offered(&mut call, 100, 1, &["check_order", "end_call"]);
    tool_invoked(&mut call, 500, "check_order");
    assert_eq!(kinds(&call.record(1000)), [FindingKind::ToolNotAllowed]);
}

#[test]
fn a_tool_call_the_llm_was_never_offered_is_a_finding_with_no_allowlist_known() {
    let mut call = Call::new(Budgets::default(), 2);
    tool_invoked(&mut call, 50, "check_order");
    llm_offered(&mut call, 100, 1, &["check_order"]);
    let report = evaluate(&call.record(1000));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::ToolNotAllowed]);
    assert!(report.findings[0].message.contains("never offered"), "{}", report.findings[0].message);
}

/// The caller asks, and says "okay" over the answer's fifth word; the
/// agent stops at once.
fn okay_over_the_answer() -> Call {
    let mut call = greeted();
    call.caller("what are your hours", 1500, 2500)
        .tts(2, 2700, "we are open from nine to five")
        .play(2, 3000, 0, 800)
        .backchannel("okay", 3500, 3800)
        .clear(3800);
    call
}

#[test]
fn a_reply_that_goes_on_after_an_okay_is_one_reply_and_no_finding() {
    let mut call = okay_over_the_answer();
    call.tts(3, 4800, "nine to five").play(3, 5000, 0, 600).said("we are open from nine to five");
    let report = evaluate(&call.record(7000));
    assert_eq!(report.findings, []);
    assert_eq!(report.turns.len(), 1, "a backchannel is no turn");
    assert!(report.barge_ins.is_empty(), "nor a barge-in");
}

#[test]
fn a_reply_an_okay_cut_off_for_good_is_a_reply_lost_finding() {
    let mut call = okay_over_the_answer();
    call.said("we are open from");
    let report = evaluate(&call.record(7000));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::ReplyLost]);
    assert!(report.findings[0].message.contains("never heard \"nine to five\""), "{}", report.findings[0].message);
}

#[test]
fn an_answer_to_the_okay_instead_of_the_rest_is_a_reply_lost_finding() {
    let mut call = okay_over_the_answer();
    call.tts(3, 4800, "sorry i did not catch that").play(3, 5000, 0, 1200).said("we are open from");
    call.said("sorry i did not catch that");
    assert_eq!(kinds(&call.record(7000)), [FindingKind::ReplyLost]);
}

#[test]
fn going_on_with_the_cut_reply_after_a_real_interruption_leaves_it_unanswered() {
    let mut call = greeted();
    call.caller("what are your hours", 1500, 2500)
        .tts(2, 2700, "we are open from nine to five")
        .play(2, 3000, 0, 800)
        .caller("wait a moment", 3500, 4300)
        .clear(3800)
        .tts(3, 5000, "nine to five")
        .play(3, 5200, 0, 600)
        .said("we are open from nine to five");
    let report = evaluate(&call.record(8000));
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::NoReply], "{report:#?}");
    assert!(report.findings[0].message.contains("wait a moment"), "{}", report.findings[0].message);
}
