//! The gateway's side of the caller: taking in what the agent sent, and
//! playing it out 20 ms at a time at the agent's declared rate, down the
//! access leg to the caller's ear.

use tokio::sync::mpsc;
use voicegate_agent::transport::AgentMessage;

use super::call::PlayedStretch;
use super::caller::{BRIDGE, Caller, FRAME, PlayItem, State, to_line};
use crate::audio::LINE_RATE;
use crate::record::{Event, samples_to_us};

impl Caller {
    /// Take in what the agent sent; false once the agent's side of the
    /// line has closed.
    pub(super) fn receive(&mut self, s: &mut State) -> bool {
        loop {
            let message = match self.line.try_recv() {
                Ok(message) => message,
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            };
            match message {
                AgentMessage::Media { samples, sample_rate } => {
                    s.queue.push_back(PlayItem::Audio { samples, rate: sample_rate })
                }
                AgentMessage::Mark { name } => s.queue.push_back(PlayItem::Mark(name)),
                AgentMessage::Clear => {
                    s.last_clear_heard = Some(s.frames * FRAME + self.ear_delay);
                    let mut dropped = 0;
                    if s.stretches.is_empty() {
                        s.stretches.push(PlayedStretch::default());
                    }
                    let stretch = s.stretches.last_mut().expect("one stretch at least");
                    for item in s.queue.drain(..) {
                        match item {
                            PlayItem::Audio { samples, rate } => {
                                dropped += to_line(samples.len(), rate);
                                if stretch.runs.is_empty() && stretch.dropped.is_empty() {
                                    stretch.rate = rate;
                                }
                                if stretch.rate == rate {
                                    stretch.dropped.extend_from_slice(&samples);
                                }
                            }
                            PlayItem::Mark(name) => self.line.echo_mark(name, std::time::Duration::ZERO),
                        }
                    }
                    self.recorder.push(self.clock.now_us(), Event::ClearReceived { dropped_samples: dropped });
                    if s.stretches.last().is_some_and(|st| !st.runs.is_empty() || !st.dropped.is_empty()) {
                        s.stretches.push(PlayedStretch::default());
                    }
                }
                AgentMessage::Hangup => {
                    self.recorder.push(self.clock.now_us(), Event::HangupReceived);
                    s.hung_up_by_agent = true;
                }
            }
        }
    }

    /// Echo a mark `after_samples` (at `rate`) into this tick's packet.
    fn echo_mark(&self, name: String, after_samples: usize, rate: u32) {
        let after = std::time::Duration::from_micros(samples_to_us(after_samples, rate));
        self.recorder.push(self.clock.now_us() + after.as_micros() as u64, Event::MarkEchoed { name: name.clone() });
        self.line.echo_mark(name, after);
    }

    /// Play out the next 20 ms of agent audio at the gateway (at the rate of
    /// the audio at the head of the queue), and pass it down to the ear.
    pub(super) fn play(&mut self, s: &mut State, now: usize) {
        let rate = s
            .queue
            .iter()
            .find_map(|item| match item {
                PlayItem::Audio { rate, .. } => Some(*rate),
                PlayItem::Mark(_) => None,
            })
            .unwrap_or(s.last_rate);
        let frame = rate as usize / 50;
        let mut played: Vec<i16> = Vec::new();
        loop {
            match s.queue.front_mut() {
                Some(PlayItem::Mark(_)) => {
                    if let Some(PlayItem::Mark(name)) = s.queue.pop_front() {
                        self.echo_mark(name, played.len(), rate);
                    }
                }
                Some(PlayItem::Audio { samples, rate: r }) if *r == rate && played.len() < frame => {
                    let take = (frame - played.len()).min(samples.len());
                    played.extend(samples.drain(..take));
                    if samples.is_empty() {
                        s.queue.pop_front();
                    }
                }
                _ => break,
            }
        }
        let mut packet = played.clone();
        packet.resize(frame, 0);
        let ear = match self.downlink.frame(&packet, rate) {
            Ok(ear) => ear,
            Err(error) => {
                self.note(format!("the agent's audio at {rate} Hz could not be played, silence heard: {error}"));
                vec![0; FRAME]
            }
        };
        let at = now + self.ear_delay;
        if s.heard.len() < at {
            s.heard.resize(at, 0);
        }
        s.heard.truncate(at);
        s.heard.extend_from_slice(&ear);
        if played.is_empty() {
            return;
        }
        if s.stretches.last().is_none_or(|st| st.rate != rate && !st.runs.is_empty()) {
            s.stretches.push(PlayedStretch { rate, ..PlayedStretch::default() });
        }
        if let Some(stretch) = s.stretches.last_mut() {
            stretch.rate = rate;
            stretch.runs.push((at, played.clone()));
        }
        s.last_rate = rate;
        if *s.raw_rate.get_or_insert(rate) == rate {
            let from = at * rate as usize / LINE_RATE as usize;
            s.raw.resize(from, 0);
            s.raw.extend_from_slice(&played);
        }
        if s.reply_start.is_none() && at >= s.my_turn_end && s.speaking.is_none() {
            s.reply_start = Some(at);
        }
        if s.last_agent_sample.is_none_or(|last| at > last + BRIDGE) {
            s.talking_since = Some(at);
        }
        s.last_agent_sample = Some(at + to_line(played.len(), rate) - 1);
    }
}
