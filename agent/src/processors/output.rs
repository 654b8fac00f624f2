//! The output side of the transport: sends reply audio with a mark after
//! every word, learns from the echoed marks which words the caller heard,
//! and writes the assistant's turn to history from those words only.
//!
//! Invariant: an assistant message in history holds exactly the words
//! whose mark came back before the reply
//! ended or was cut off. Marks that arrive after a `Clear` (Twilio echoes
//! the marks of cleared audio) belong to no reply and are ignored.

use std::collections::VecDeque;

use tokio::sync::{mpsc, watch};

use crate::frame::{Frame, UtteranceId};
use crate::history::SharedHistory;
use crate::pipeline::{Context, Origin, Processor};
use crate::services::{Role, WordTiming};
use crate::telemetry::EventKind;
use crate::transport::AgentMessage;

/// One reply on its way to the caller.
#[derive(Debug)]
struct Reply {
    utterance: UtteranceId,
    /// The full text the responder wrote, for the interruption event.
    generated: String,
    /// Words sent so far, in order; `heard` of them have been confirmed.
    sent_words: Vec<String>,
    heard: usize,
    /// Marks sent and not yet echoed: (mark name, index of the word it ends).
    marks: VecDeque<(String, usize)>,
    /// Words whose last sample has not been sent yet: (index, end offset
    /// in this reply's audio stream).
    open_words: VecDeque<(usize, usize)>,
    samples_sent: usize,
    text_done: bool,
    started_speaking: bool,
    /// Goes on with the last assistant message (a resumed reply).
    continues: bool,
}

impl Reply {
    fn new(utterance: UtteranceId) -> Self {
        Self {
            utterance,
            generated: String::new(),
            sent_words: Vec::new(),
            heard: 0,
            marks: VecDeque::new(),
            open_words: VecDeque::new(),
            samples_sent: 0,
            text_done: false,
            started_speaking: false,
            continues: false,
        }
    }

    fn finished(&self) -> bool {
        self.text_done && self.marks.is_empty() && self.open_words.is_empty()
    }

    fn heard_text(&self) -> String {
        self.sent_words[..self.heard].join(" ")
    }
}

pub struct OutputTransport {
    outbound: mpsc::UnboundedSender<AgentMessage>,
    hangup: watch::Sender<bool>,
    history: SharedHistory,
    replies: VecDeque<Reply>,
    end_after_reply: bool,
    next_mark: u64,
    /// `budgets.turn_ms`, reported against in `ReplyLatency`.
    turn_budget_ms: u32,
    /// When the caller's last turn ended, until its answer starts.
    turn_ended: Option<tokio::time::Instant>,
}

impl OutputTransport {
    pub fn new(
        outbound: mpsc::UnboundedSender<AgentMessage>,
        hangup: watch::Sender<bool>,
        history: SharedHistory,
    ) -> Self {
        Self {
            outbound,
            hangup,
            history,
            replies: VecDeque::new(),
            end_after_reply: false,
            next_mark: 0,
            turn_budget_ms: crate::config::Budgets::default().turn_ms,
            turn_ended: None,
        }
    }

    /// Report each answer's latency against this turn budget.
    pub fn turn_budget(mut self, turn_ms: u32) -> Self {
        self.turn_budget_ms = turn_ms;
        self
    }

    fn send(&self, message: AgentMessage) {
        // A caller that has gone away simply stops receiving.
        let _ = self.outbound.send(message);
    }

    fn reply_mut(&mut self, utterance: UtteranceId) -> &mut Reply {
        if let Some(index) = self.replies.iter().position(|r| r.utterance == utterance) {
            return &mut self.replies[index];
        }
        self.replies.push_back(Reply::new(utterance));
        self.replies.back_mut().expect("just pushed")
    }

    fn on_audio(
        &mut self,
        utterance: UtteranceId,
        samples: Vec<i16>,
        sample_rate: u32,
        words: Vec<WordTiming>,
        ctx: &mut Context,
    ) {
        let mut messages = Vec::new();
        let mark_base = self.next_mark;
        let reply = self.reply_mut(utterance);
        let first_audio = !reply.started_speaking;
        if first_audio {
            reply.started_speaking = true;
            ctx.emit(EventKind::BotStartedSpeaking { utterance: utterance.0 });
            ctx.push_up(Frame::BotStartedSpeaking { utterance });
        }
        ctx.push_up(Frame::PlaybackReference { samples: samples.clone(), sample_rate });
        let chunk_start = reply.samples_sent;
        for word in words {
            reply.open_words.push_back((reply.sent_words.len(), chunk_start + word.end));
            reply.sent_words.push(word.text);
        }
        // Split the chunk after every word that ends in it, and mark there.
        let chunk_end = chunk_start + samples.len();
        let mut cursor = chunk_start;
        let mut marks = 0;
        while let Some(&(index, end)) = reply.open_words.front() {
            if end > chunk_end {
                break;
            }
            reply.open_words.pop_front();
            if end > cursor {
                messages.push(AgentMessage::Media {
                    samples: samples[cursor - chunk_start..end - chunk_start].to_vec(),
                    sample_rate,
                });
                cursor = end;
            }
            let name = format!("u{}w{}m{}", utterance.0, index, mark_base + marks);
            marks += 1;
            reply.marks.push_back((name.clone(), index));
            messages.push(AgentMessage::Mark { name });
        }
        if cursor < chunk_end {
            messages.push(AgentMessage::Media { samples: samples[cursor - chunk_start..].to_vec(), sample_rate });
        }
        reply.samples_sent = chunk_end;
        self.next_mark += marks;
        for message in messages {
            self.send(message);
        }
        // The first audio of the answer to the caller's last turn (a
        // greeting, or a prompt after the caller's silence, answers none).
        if first_audio && let Some(ended) = self.turn_ended.take() {
            let ms = crate::telemetry::millis(ended.elapsed());
            ctx.emit(EventKind::ReplyLatency { utterance: utterance.0, ms, budget_ms: self.turn_budget_ms });
        }
    }

    fn on_mark(&mut self, name: &str, ctx: &mut Context) {
        let Some(reply) = self.replies.front_mut() else { return };
        let Some(position) = reply.marks.iter().position(|(mark, _)| mark == name) else { return };
        // Playback is in order: this mark confirms every word up to its own.
        let (_, index) = reply.marks.drain(..=position).next_back().expect("position is in range");
        reply.heard = reply.heard.max(index + 1);
        self.finish_completed(ctx);
    }

    /// Commit replies the caller heard to the end.
    fn finish_completed(&mut self, ctx: &mut Context) {
        while self.replies.front().is_some_and(Reply::finished) {
            let reply = self.replies.pop_front().expect("front exists");
            self.commit(&reply, ctx);
            let heard_words = reply.heard;
            ctx.push_up(Frame::BotStoppedSpeaking { utterance: reply.utterance, interrupted: false, heard_words });
            if self.replies.is_empty() && self.end_after_reply {
                ctx.emit(EventKind::Hangup { reason: "the flow ended the call".into() });
                self.send(AgentMessage::Hangup);
                let _ = self.hangup.send(true);
            }
        }
    }

    fn commit(&self, reply: &Reply, ctx: &mut Context) {
        let text = reply.heard_text();
        if text.trim().is_empty() {
            return;
        }
        if reply.continues {
            self.history.extend_last(Role::Assistant, &text);
        } else {
            self.history.push(Role::Assistant, text.as_str());
        }
        ctx.emit(EventKind::HistoryCommitted { role: "assistant".into(), text });
    }

    /// The caller cut in (or hung up): stop playback and keep what was heard.
    fn cut_off(&mut self, ctx: &mut Context) {
        let audio_pending = self.replies.iter().any(|r| r.samples_sent > 0 && !r.finished());
        if audio_pending {
            self.send(AgentMessage::Clear);
            ctx.emit(EventKind::ClearSent);
        }
        for reply in std::mem::take(&mut self.replies) {
            let generated_words = reply.generated.split_whitespace().count();
            ctx.emit(EventKind::Interrupted {
                utterance: reply.utterance.0,
                heard_words: reply.heard,
                generated_words,
            });
            self.commit(&reply, ctx);
            let heard_words = reply.heard;
            ctx.push_up(Frame::BotStoppedSpeaking { utterance: reply.utterance, interrupted: true, heard_words });
        }
        self.end_after_reply = false;
    }
}

impl Processor for OutputTransport {
    fn name(&self) -> &'static str {
        "output"
    }

    fn process(&mut self, frame: Frame, _origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::ReplyStarted { utterance } => {
                self.reply_mut(utterance);
            }
            Frame::ReplyResumes { utterance } => self.reply_mut(utterance).continues = true,
            Frame::ReplyText { utterance, text } => self.reply_mut(utterance).generated.push_str(&text),
            Frame::OutputAudio { utterance, samples, sample_rate, words } => {
                self.on_audio(utterance, samples, sample_rate, words, ctx);
            }
            Frame::ReplyTextDone { utterance } => {
                self.reply_mut(utterance).text_done = true;
                self.finish_completed(ctx);
            }
            Frame::EndAfterReply => self.end_after_reply = true,
            Frame::UserStoppedSpeaking { .. } => self.turn_ended = Some(tokio::time::Instant::now()),
            Frame::PlaybackMark { name } => self.on_mark(&name, ctx),
            Frame::Interruption | Frame::Stop => self.cut_off(ctx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{EventSink, test_sink};

    fn setup() -> (OutputTransport, mpsc::UnboundedReceiver<AgentMessage>, SharedHistory, Context) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (hangup, _) = watch::channel(false);
        let history = SharedHistory::default();
        let ctx = Context::new(test_sink());
        (OutputTransport::new(tx, hangup, history.clone()), rx, history, ctx)
    }

    fn word(text: &str, start: usize, end: usize) -> WordTiming {
        WordTiming { text: text.into(), start, end }
    }

    fn play_reply(out: &mut OutputTransport, ctx: &mut Context) {
        let u = UtteranceId(1);
        out.process(Frame::ReplyStarted { utterance: u }, Origin::FromUpstream, ctx);
        out.process(Frame::ReplyText { utterance: u, text: "one two three".into() }, Origin::FromUpstream, ctx);
        let words = vec![word("one", 0, 10), word("two", 12, 20), word("three", 22, 35)];
        let audio = Frame::OutputAudio { utterance: u, samples: vec![1; 30], sample_rate: 16_000, words };
        out.process(audio, Origin::FromUpstream, ctx);
        out.process(
            Frame::OutputAudio { utterance: u, samples: vec![2; 10], sample_rate: 16_000, words: vec![] },
            Origin::FromUpstream,
            ctx,
        );
        out.process(Frame::ReplyTextDone { utterance: u }, Origin::FromUpstream, ctx);
    }

    #[tokio::test(start_paused = true)]
    async fn the_answers_latency_is_reported_once_against_the_turn_budget() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let (hangup, _) = watch::channel(false);
        let mut out = OutputTransport::new(tx, hangup, SharedHistory::default()).turn_budget(900);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let sink = EventSink::new(test_sink().ids().clone(), tokio::time::Instant::now(), Some(events_tx));
        let mut ctx = Context::new(sink);
        // A reply that answers no turn (the greeting) is not reported.
        play_reply(&mut out, &mut ctx);
        out.process(Frame::Interruption, Origin::FromUpstream, &mut ctx);
        let stopped = Frame::UserStoppedSpeaking { media_time: std::time::Duration::ZERO };
        out.process(stopped, Origin::FromUpstream, &mut ctx);
        tokio::time::advance(std::time::Duration::from_millis(1250)).await;
        // Its answer is, for its first audio only (the reply has two chunks).
        play_reply(&mut out, &mut ctx);
        let mut latencies = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let EventKind::ReplyLatency { utterance, ms, budget_ms } = event.kind {
                latencies.push((utterance, ms, budget_ms));
            }
        }
        assert_eq!(latencies, [(1, 1250, 900)]);
    }

    fn marks(rx: &mut mpsc::UnboundedReceiver<AgentMessage>) -> Vec<String> {
        let mut names = Vec::new();
        while let Ok(message) = rx.try_recv() {
            if let AgentMessage::Mark { name } = message {
                names.push(name);
            }
        }
        names
    }

    #[tokio::test]
    async fn marks_follow_the_last_sample_of_every_word_even_across_chunks() {
        let (mut out, mut rx, _, mut ctx) = setup();
        play_reply(&mut out, &mut ctx);
        let mut media_lengths = Vec::new();
        let mut sequence = Vec::new();
        while let Ok(message) = rx.try_recv() {
            match message {
                AgentMessage::Media { samples, .. } => {
                    media_lengths.push(samples.len());
                    sequence.push("media");
                }
                AgentMessage::Mark { .. } => sequence.push("mark"),
                other => panic!("unexpected {other:?}"),
            }
        }
        // "three" ends at 35, inside the second chunk (30..40).
        assert_eq!(media_lengths, vec![10, 10, 10, 5, 5]);
        assert_eq!(sequence, vec!["media", "mark", "media", "mark", "media", "media", "mark", "media"]);
    }

    #[tokio::test]
    async fn a_barge_in_keeps_only_the_words_whose_marks_came_back() {
        let (mut out, mut rx, history, mut ctx) = setup();
        play_reply(&mut out, &mut ctx);
        let names = marks(&mut rx);
        out.process(Frame::PlaybackMark { name: names[0].clone() }, Origin::FromUpstream, &mut ctx);
        out.process(Frame::Interruption, Origin::FromUpstream, &mut ctx);
        // Twilio echoes the marks of cleared audio; they must not count.
        out.process(Frame::PlaybackMark { name: names[1].clone() }, Origin::FromUpstream, &mut ctx);
        let messages = history.snapshot();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].content, "one");
        assert!(matches!(rx.try_recv(), Ok(AgentMessage::Clear)));
    }

    #[tokio::test]
    async fn a_reply_heard_to_the_end_is_committed_whole_and_reported_upstream() {
        let (mut out, mut rx, history, mut ctx) = setup();
        play_reply(&mut out, &mut ctx);
        let names = marks(&mut rx);
        ctx.take_pushed();
        out.process(Frame::PlaybackMark { name: names[2].clone() }, Origin::FromUpstream, &mut ctx);
        assert_eq!(history.snapshot()[0].content, "one two three");
        let pushed = ctx.take_pushed();
        assert!(pushed.iter().any(|(_, f)| matches!(f, Frame::BotStoppedSpeaking { interrupted: false, .. })));
    }
}
