//! Faults around the agent's transport: a task between the agent and the
//! line that changes what the agent sends or what reaches it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use voicegate_agent::transport::{AgentMessage, CallTransport, CallerMessage};

use super::Fault;

/// The caller's utterances as (first frame, end frame) on its timeline,
/// pushed by the caller as it starts each one. Frame k of the timeline is
/// the k-th media message the caller sends.
#[derive(Debug, Clone, Default)]
pub struct CallerTimeline(Arc<Mutex<Vec<(usize, usize)>>>);

impl CallerTimeline {
    pub fn push(&self, start: usize, end: usize) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((start, end));
    }

    fn get(&self) -> Vec<(usize, usize)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The agent's end of turn fires this many frames (300 ms) into each
/// utterance under [`Fault::RepliesOverCaller`].
const EARLY_END_FRAMES: usize = 15;
/// [`Fault::InsertsAudio`] adds its tone after this many media messages.
const INSERT_AFTER_MEDIA: usize = 10;
/// [`Fault::AnswersOwnEcho`]: the agent's voice comes back this late...
const ECHO_DELAY_FRAMES: usize = 30;
/// ...at this gain (-6 dB).
const ECHO_GAIN: f32 = 0.5;

struct Decorator {
    fault: Fault,
    timeline: CallerTimeline,
    /// Utterances in the caller's script.
    utterances: usize,
    to_agent: Option<mpsc::UnboundedSender<CallerMessage>>,
    to_line: Option<mpsc::UnboundedSender<AgentMessage>>,
    /// Caller media frames passed on so far.
    frames: usize,
    /// Marks sent to the line and not echoed yet.
    outstanding: Vec<String>,
    /// Marks the fault confirmed early: their real echo is dropped.
    confirmed: HashSet<String>,
    /// Nothing from the agent reaches the line any more.
    silenced: bool,
    /// [`Fault::LosesCutReply`]: the frame the agent's last `clear` came at.
    cleared_at: Option<usize>,
    /// [`Fault::CommitSent`]: the latest mark sent, not confirmed yet (so
    /// the agent still knows it is talking, and clears on a barge-in).
    held: Option<String>,
    media_sent: usize,
    /// [`Fault::AnswersOwnEcho`]: the agent's audio as the caller plays it,
    /// in real time, and the frame its echo starts at.
    echo: std::collections::VecDeque<i16>,
    echo_from: Option<usize>,
}

impl Decorator {
    fn agent(&self, message: CallerMessage) {
        if let Some(to_agent) = &self.to_agent {
            let _ = to_agent.send(message);
        }
    }

    fn line(&self, message: AgentMessage) {
        if let Some(to_line) = &self.to_line {
            let _ = to_line.send(message);
        }
    }

    fn on_caller(&mut self, message: CallerMessage) {
        match message {
            CallerMessage::Media { mut samples } => {
                let frame = self.frames;
                self.frames += 1;
                let timeline = self.timeline.get();
                match self.fault {
                    Fault::MarksOnClearHeard if timeline.iter().any(|&(start, _)| start == frame) => {
                        // The caller starts talking: whatever the gateway still
                        // holds will be cleared; count its marks as heard, all
                        // but the latest (so the agent still clears).
                        let latest = self.outstanding.pop();
                        for name in std::mem::replace(&mut self.outstanding, latest.into_iter().collect()) {
                            self.confirmed.insert(name.clone());
                            self.agent(CallerMessage::Mark { name });
                        }
                    }
                    Fault::NeverAnswersLastTurn
                        if timeline.len() == self.utterances && timeline.last().is_some_and(|&(s, _)| frame >= s) =>
                    {
                        self.silenced = true
                    }
                    Fault::RepliesOverCaller
                        if timeline.iter().any(|&(start, end)| frame >= start + EARLY_END_FRAMES && frame < end) =>
                    {
                        samples.fill(0)
                    }
                    Fault::LosesCutReply
                        if self.cleared_at.is_some_and(|at| timeline.iter().any(|&(s, _)| s > at && s == frame)) =>
                    {
                        self.silenced = false;
                        self.cleared_at = None;
                    }
                    Fault::AnswersOwnEcho if self.echo_from.is_some_and(|from| frame >= from) => {
                        let take = samples.len().min(self.echo.len());
                        for (out, echo) in samples.iter_mut().zip(self.echo.drain(..take)) {
                            *out = out.saturating_add((f32::from(echo) * ECHO_GAIN) as i16);
                        }
                        if self.echo.is_empty() {
                            self.echo_from = None;
                        }
                    }
                    _ => {}
                }
                self.agent(CallerMessage::Media { samples });
            }
            CallerMessage::Mark { name } => {
                self.outstanding.retain(|m| *m != name);
                if self.held.as_ref() == Some(&name) {
                    self.held = None;
                }
                if !self.confirmed.remove(&name) {
                    self.agent(CallerMessage::Mark { name });
                }
            }
            other => self.agent(other),
        }
    }

    fn on_agent(&mut self, message: AgentMessage) {
        match message {
            AgentMessage::Mark { .. } | AgentMessage::Media { .. } if self.silenced => {}
            AgentMessage::Mark { name } if self.fault == Fault::CommitSent => {
                if let Some(previous) = self.held.replace(name.clone()) {
                    self.outstanding.retain(|m| *m != previous);
                    self.confirmed.insert(previous.clone());
                    self.agent(CallerMessage::Mark { name: previous });
                }
                self.outstanding.push(name.clone());
                self.line(AgentMessage::Mark { name });
            }
            AgentMessage::Mark { name } => {
                self.outstanding.push(name.clone());
                self.line(AgentMessage::Mark { name });
            }
            AgentMessage::Media { samples, sample_rate } => {
                if self.fault == Fault::AnswersOwnEcho {
                    if self.echo.is_empty() {
                        self.echo_from = Some(self.frames + ECHO_DELAY_FRAMES);
                    }
                    self.echo.extend(samples.iter().copied());
                }
                self.line(AgentMessage::Media { samples, sample_rate });
                self.media_sent += 1;
                if self.fault == Fault::InsertsAudio && self.media_sent == INSERT_AFTER_MEDIA {
                    let tone = (0..sample_rate as usize * 3 / 10)
                        .map(|i| {
                            (6_000.0 * (std::f64::consts::TAU * 1_000.0 * i as f64 / f64::from(sample_rate)).sin())
                                as i16
                        })
                        .collect();
                    self.line(AgentMessage::Media { samples: tone, sample_rate });
                }
            }
            AgentMessage::Clear if self.fault == Fault::NeverClear => {}
            AgentMessage::Clear if self.fault == Fault::LosesCutReply => {
                self.silenced = true;
                self.cleared_at = Some(self.frames);
                self.line(AgentMessage::Clear);
            }
            AgentMessage::Clear => {
                self.held = None;
                self.echo.clear();
                self.echo_from = None;
                self.line(AgentMessage::Clear);
            }
            other => self.line(other),
        }
    }
}

/// Put `fault` between the agent and `line`: the agent gets the returned
/// transport. Faults that do not act on the transport leave it as it is.
pub fn around_transport(
    fault: Option<Fault>,
    line: CallTransport,
    timeline: CallerTimeline,
    utterances: usize,
) -> CallTransport {
    let Some(fault) = fault.filter(|f| *f != Fault::KeepGeneratedReply) else { return line };
    let (to_agent, inbound) = mpsc::unbounded_channel();
    let (outbound, mut from_agent) = mpsc::unbounded_channel();
    let CallTransport { inbound: mut from_line, outbound: to_line } = line;
    let mut decorator = Decorator {
        fault,
        timeline,
        utterances,
        to_agent: Some(to_agent),
        to_line: Some(to_line),
        frames: 0,
        outstanding: Vec::new(),
        confirmed: HashSet::new(),
        silenced: false,
        cleared_at: None,
        held: None,
        media_sent: 0,
        echo: std::collections::VecDeque::new(),
        echo_from: None,
    };
    tokio::spawn(async move {
        // Each side closes on its own: the caller's stop reaches the agent,
        // and the agent's end reaches the caller.
        while decorator.to_agent.is_some() || decorator.to_line.is_some() {
            tokio::select! {
                biased;
                message = from_line.recv(), if decorator.to_agent.is_some() => match message {
                    Some(message) => decorator.on_caller(message),
                    None => decorator.to_agent = None,
                },
                message = from_agent.recv(), if decorator.to_line.is_some() => match message {
                    Some(message) => decorator.on_agent(message),
                    None => decorator.to_line = None,
                },
            }
        }
    });
    CallTransport { inbound, outbound }
}
