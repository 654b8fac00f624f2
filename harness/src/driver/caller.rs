//! The caller: a 20 ms loop on the call's (virtual) clock, at the far end
//! of the [`Line`](crate::line).
//!
//! At every tick it (1) sends the microphone frame captured over the last
//! 20 ms, (2) takes in what the agent's messages that reached the gateway,
//! (3) plays out the next 20 ms of agent audio at the agent's declared rate,
//! echoing each mark when the audio before it has gone out, and (4) moves
//! its script on. `Clear` empties the playback queue at once and, as Twilio
//! does, echoes the marks that were in it. What the gateway plays out
//! reaches the caller's ear through the downlink (codec, packets) one
//! playout buffer later: every position on the caller's timeline (what it
//! heard, when it speaks) is the ear's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use voicegate_agent::transport::CallerMessage;

use super::FRAME_MS;
use super::call::PlayedStretch;
use super::plan::{CallerAction, InterruptAt};
use crate::audio::render::{MicRenderer, word_power};
use crate::audio::{LINE_RATE, to_f32};
use crate::doubles::{Busy, Conditions, SharedConditions, Stem, TtsResponse};
use crate::faults::CallerTimeline;
use crate::line::{CallerEnd, Downlink, PacketFate};
use crate::record::{CallClock, Event, Recorder, TimedWord, samples_to_us};
use crate::seed::digest_samples;

pub(super) const FRAME: usize = (LINE_RATE as u64 * FRAME_MS / 1000) as usize;
/// The agent counts as done once it has been quiet this long.
const AGENT_DONE_SILENCE_MS: u64 = 800;
/// After a backchannel the agent may have paused to listen: it counts as
/// done only once it has been quiet this long.
const AFTER_BACKCHANNEL_SILENCE_MS: u64 = 3_000;
/// Give up waiting for a reply after this long and go on with the script.
const REPLY_TIMEOUT_MS: u64 = 12_000;
/// Agent audio resuming within this many samples (250 ms) is the same
/// stretch of talking.
pub(super) const BRIDGE: usize = LINE_RATE as usize / 4;
/// A call that takes longer than this in wall time is stopped.
const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(120);

pub(super) enum PlayItem {
    Audio { samples: Vec<i16>, rate: u32 },
    Mark(String),
}

/// `samples` at `rate` as a length on the timeline (line-rate samples).
pub(super) fn to_line(samples: usize, rate: u32) -> usize {
    (samples as u64 * u64::from(LINE_RATE) / u64::from(rate.max(1))) as usize
}

/// One of the caller's utterances, as placed on the timeline.
pub(super) struct Speaking {
    utterance: usize,
    stem: usize,
    position: usize,
    started_at: usize,
    backchannel: bool,
}

/// An interruption on its way: the step began at `began`; the reply it
/// targets began at `reply_start` (once known); its cut point is `target`.
pub(super) struct PendingInterrupt {
    at: InterruptAt,
    stem: usize,
    began: usize,
    reply_start: Option<usize>,
    /// Responses the agent had asked for when the reply began.
    first_response: usize,
    target: Option<usize>,
    backchannel: bool,
    /// Its place in the script.
    action: usize,
}

pub(super) enum Waiting {
    /// Nothing in progress: take the next action.
    Idle,
    Interrupt(PendingInterrupt),
    /// Staying silent until this timeline position.
    SilentUntil(usize),
}

pub(super) struct Caller {
    pub script: VecDeque<CallerAction>,
    /// How many actions the script had.
    pub actions: usize,
    pub stems: Arc<Vec<Stem>>,
    /// The microphone and line between the caller and the agent.
    pub renderer: MicRenderer,
    /// Each utterance's measured SNR and concealment, for the recogniser's
    /// error model.
    pub conditions: SharedConditions,
    pub line: CallerEnd,
    /// Where the caller's utterances fall, for faults injected around the agent.
    pub timeline: CallerTimeline,
    /// From the gateway's playout to the caller's ear.
    pub downlink: Downlink,
    /// The downlink's playout buffer, timeline samples.
    pub ear_delay: usize,
    /// From the caller's mouth to the agent, timeline samples.
    pub uplink_delay: usize,
    pub responses: Arc<Mutex<Vec<TtsResponse>>>,
    /// LLM and TTS streams under way (the doubles count them).
    pub busy: Busy,
    pub recorder: Recorder,
    pub clock: CallClock,
    pub max_samples: usize,
}

/// What the caller leaves behind: its two tracks and the played stretches.
pub(super) struct CallerResult {
    /// What the agent was sent, at the rendering's output rate.
    pub wire: Vec<i16>,
    /// Length of the call's timeline at the line rate.
    pub line_samples: usize,
    pub uplink_fate: PacketFate,
    pub downlink_fate: PacketFate,
    pub heard: Vec<i16>,
    pub stretches: Vec<PlayedStretch>,
    pub end_reason: String,
}

pub(super) struct State {
    pub(super) queue: VecDeque<PlayItem>,
    pub(super) stretches: Vec<PlayedStretch>,
    /// Frames sent so far; `frames * FRAME` is the timeline position.
    pub(super) frames: usize,
    /// The agent's audio as sent, at the rate of its first audio, on the
    /// timeline (for locating a reply's words).
    pub(super) raw: Vec<i16>,
    pub(super) raw_rate: Option<u32>,
    /// The rate of the last agent audio played.
    pub(super) last_rate: u32,
    pub(super) wire: Vec<i16>,
    pub(super) heard: Vec<i16>,
    pub(super) speaking: Option<Speaking>,
    pub(super) waiting: Waiting,
    pub(super) utterances: usize,
    pub(super) next_stem: usize,
    /// Timeline position of the last agent sample played.
    pub(super) last_agent_sample: Option<usize>,
    /// Where the agent's current stretch of talking began (breaks shorter
    /// than [`BRIDGE`] do not end it).
    pub(super) talking_since: Option<usize>,
    /// Where the caller's last utterance ended, and whether agent audio has
    /// played since.
    pub(super) my_turn_end: usize,
    pub(super) reply_start: Option<usize>,
    pub(super) hung_up_by_agent: bool,
    /// Where on the timeline the caller last heard a `clear` take effect.
    pub(super) last_clear_heard: Option<usize>,
    /// A backchannel since the caller's last turn.
    pub(super) backchannel_since_turn: bool,
}

impl Caller {
    pub async fn run(mut self) -> CallerResult {
        let mut s = State {
            queue: VecDeque::new(),
            stretches: vec![PlayedStretch::default()],
            frames: 0,
            raw: Vec::new(),
            raw_rate: None,
            last_rate: LINE_RATE,
            wire: Vec::new(),
            heard: Vec::new(),
            speaking: None,
            waiting: Waiting::Idle,
            utterances: 0,
            next_stem: 0,
            last_agent_sample: None,
            talking_since: None,
            my_turn_end: 0,
            reply_start: None,
            hung_up_by_agent: false,
            last_clear_heard: None,
            backchannel_since_turn: false,
        };
        self.line.send(CallerMessage::Start { sample_rate: self.renderer.output_rate() });
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(FRAME_MS));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut pending_frame: Option<Vec<i16>> = None;
        let wall = std::time::Instant::now();
        let end_reason = loop {
            ticker.tick().await;
            let now = s.frames * FRAME;
            if let Some(frame) = pending_frame.take() {
                self.line.send(CallerMessage::Media { samples: frame });
            }
            // Let messages due at this instant reach the gateway first.
            tokio::task::yield_now().await;
            let line_open = self.receive(&mut s);
            self.play(&mut s, now);
            let ended = if s.hung_up_by_agent {
                Some("the agent hung up")
            } else if !line_open && s.queue.is_empty() {
                Some("the agent's line closed")
            } else if now >= self.max_samples {
                self.note("the call reached its time limit");
                Some("time limit")
            } else if wall.elapsed() > WATCHDOG {
                self.note(format!("the call was stopped after {} s of wall time (watchdog)", WATCHDOG.as_secs()));
                Some("watchdog")
            } else {
                None
            };
            if let Some(reason) = ended {
                self.script_left(&s, reason);
                break reason.to_string();
            }
            if self.advance_script(&mut s, now) {
                break "the caller hung up".to_string();
            }
            pending_frame = Some(self.capture(&mut s, now));
        };
        self.line.send(CallerMessage::Stop);
        s.stretches.retain(|stretch| !stretch.runs.is_empty() || !stretch.dropped.is_empty());
        CallerResult {
            line_samples: s.frames * FRAME + self.ear_delay,
            wire: s.wire,
            uplink_fate: self.renderer.packet_fate().clone(),
            downlink_fate: self.downlink.fate().clone(),
            heard: s.heard,
            stretches: s.stretches,
            end_reason,
        }
    }

    pub(super) fn note(&self, message: impl Into<String>) {
        self.recorder.push(self.clock.now_us(), Event::ScriptNote { message: message.into() });
    }

    /// Script action `action` cannot be carried out as written: a scenario
    /// error.
    fn script_error(&self, action: usize, message: impl Into<String>) {
        let event = Event::ScriptError { message: message.into(), action: Some(action) };
        self.recorder.push(self.clock.now_us(), event);
    }

    /// The call ends with script left: record what the caller never did.
    fn script_left(&self, s: &State, reason: &str) {
        let mut actions: Vec<String> = Vec::new();
        if s.speaking.is_some() {
            actions.push("finish speaking".into());
        }
        if let Waiting::Interrupt(pending) = &s.waiting {
            actions.push(format!("interrupt saying {:?}", self.stems[pending.stem].text));
        }
        actions.extend(self.script.iter().filter_map(|action| match action {
            CallerAction::Say { text, .. } => Some(format!("say {text:?}")),
            CallerAction::Interrupt { text, .. } => Some(format!("interrupt saying {text:?}")),
            CallerAction::Silence { .. } | CallerAction::HangUp => None,
        }));
        if !actions.is_empty() {
            self.recorder.push(self.clock.now_us(), Event::ScriptLeft { reason: reason.into(), actions });
        }
    }

    /// Has the agent finished replying to the caller's last turn?
    fn agent_done(&self, s: &State, now: usize) -> bool {
        let silence_ms = if s.backchannel_since_turn { AFTER_BACKCHANNEL_SILENCE_MS } else { AGENT_DONE_SILENCE_MS };
        let quiet = |since: usize| now.saturating_sub(since) as u64 * 1000 >= silence_ms * u64::from(LINE_RATE);
        let replied = s.reply_start.is_some();
        let playing = !s.queue.is_empty();
        match s.last_agent_sample {
            Some(last) if replied => !playing && quiet(last),
            _ => now.saturating_sub(s.my_turn_end) as u64 * 1000 >= REPLY_TIMEOUT_MS * u64::from(LINE_RATE),
        }
    }

    /// Returns true when the caller hangs up.
    fn advance_script(&mut self, s: &mut State, now: usize) -> bool {
        if s.speaking.is_some() {
            return false;
        }
        match std::mem::replace(&mut s.waiting, Waiting::Idle) {
            Waiting::SilentUntil(until) if now < until => {
                s.waiting = Waiting::SilentUntil(until);
                return false;
            }
            Waiting::SilentUntil(_) | Waiting::Idle => {}
            Waiting::Interrupt(pending) => {
                self.interrupt_step(s, now, pending);
                return false;
            }
        }
        let Some(action) = self.script.front().cloned() else {
            return self.agent_done(s, now);
        };
        match action {
            CallerAction::Say { .. } | CallerAction::Silence { .. } | CallerAction::HangUp
                if !self.agent_done(s, now) =>
            {
                false
            }
            CallerAction::Say { .. } => {
                self.script.pop_front();
                let stem = self.take_stem(s);
                self.start_speaking(s, now, stem, false);
                false
            }
            CallerAction::Silence { ms } => {
                self.script.pop_front();
                s.waiting = Waiting::SilentUntil(now + (u64::from(ms) * u64::from(LINE_RATE) / 1000) as usize);
                false
            }
            CallerAction::HangUp => true,
            CallerAction::Interrupt { at, backchannel, .. } => {
                let action = self.actions - self.script.len();
                self.script.pop_front();
                let stem = self.take_stem(s);
                let pending = PendingInterrupt {
                    at,
                    stem,
                    began: now,
                    reply_start: None,
                    first_response: 0,
                    target: None,
                    backchannel,
                    action,
                };
                self.interrupt_step(s, now, pending);
                false
            }
        }
    }

    fn take_stem(&self, s: &mut State) -> usize {
        s.next_stem += 1;
        s.next_stem - 1
    }

    /// Is the agent audible now (or about to be: audio is queued)?
    fn agent_talking(&self, s: &State, now: usize) -> bool {
        !s.queue.is_empty() || s.last_agent_sample.is_some_and(|last| now <= last + BRIDGE)
    }

    fn interrupt_step(&mut self, s: &mut State, now: usize, mut p: PendingInterrupt) {
        let ms = |samples: usize| samples as u64 * 1000 / u64::from(LINE_RATE);
        if p.reply_start.is_none() {
            if self.agent_talking(s, now) && s.talking_since.is_some() {
                // After a backchannel the reply is the one the caller's turn
                // got, however often the agent paused to listen.
                p.reply_start = if s.backchannel_since_turn { s.reply_start } else { s.talking_since };
                let responses = self.responses.lock().unwrap_or_else(|e| e.into_inner());
                // The reply's responses: those asked for since the caller last spoke.
                p.first_response = responses
                    .iter()
                    .position(|r| r.requested_at >= s.my_turn_end + self.uplink_delay)
                    .unwrap_or(responses.len().saturating_sub(1));
            } else if now.saturating_sub(p.began) as u64 * 1000 >= REPLY_TIMEOUT_MS * u64::from(LINE_RATE) {
                self.note(format!(
                    "no reply came to interrupt within {} s; the caller spoke anyway",
                    REPLY_TIMEOUT_MS / 1000
                ));
                self.start_speaking(s, now, p.stem, p.backchannel);
                return;
            } else {
                s.waiting = Waiting::Interrupt(p);
                return;
            }
        }
        let start = p.reply_start.expect("set above");
        p.target = match p.at {
            InterruptAt::AfterMs(after) | InterruptAt::AfterMsOrQuiet(after) => {
                Some(start + (u64::from(after) * u64::from(LINE_RATE) / 1000) as usize)
            }
            InterruptAt::LastWord { percent, first_chunk } => self.last_word_target(s, now, &p, percent, first_chunk),
        }
        .or(p.target);
        // After a backchannel the agent may be pausing to listen: the caller
        // waits for it to go on (or to have been quiet long enough).
        let listening = s.backchannel_since_turn
            && !self.agent_talking(s, now)
            && s.last_agent_sample.is_some_and(|last| {
                (now.saturating_sub(last) as u64) * 1000 < AFTER_BACKCHANNEL_SILENCE_MS * u64::from(LINE_RATE)
            });
        match p.target {
            _ if listening => s.waiting = Waiting::Interrupt(p),
            Some(target) if target < p.began => {
                self.script_error(
                    p.action,
                    format!(
                        "the caller cannot {} at {} ms into the agent's reply: that reply began at {} ms, {} ms \
                     before this step did (at {} ms)",
                        if p.backchannel { "say its backchannel" } else { "interrupt" },
                        ms(target - start),
                        ms(start),
                        ms(p.began - start),
                        ms(p.began)
                    ),
                );
                s.waiting = Waiting::Idle;
            }
            // The last word of a reply is known once the agent has asked for all of it.
            Some(target)
                if now >= target
                    && (self.busy.idle() || !matches!(p.at, InterruptAt::LastWord { first_chunk: false, .. })) =>
            {
                self.start_speaking(s, now, p.stem, p.backchannel)
            }
            // The agent cut its own reply short: that is its doing, not the
            // scenario's (the checks report it); the caller says its piece.
            _ if !self.agent_talking(s, now) && matches!(p.at, InterruptAt::AfterMsOrQuiet(_)) => {
                self.note(format!(
                    "the agent's reply from {} ms went quiet at {} ms, before the interruption point ({}); the \
                     caller spoke then",
                    ms(start),
                    ms(s.last_agent_sample.unwrap_or(now)),
                    p.at
                ));
                self.start_speaking(s, now, p.stem, p.backchannel);
            }
            _ if !self.agent_talking(s, now) && s.last_clear_heard.is_some_and(|at| at >= start) => {
                self.note(format!(
                    "the agent cut its reply from {} ms off at {} ms, before the interruption point ({}); the caller \
                     spoke anyway",
                    ms(start),
                    ms(s.last_agent_sample.unwrap_or(now)),
                    p.at
                ));
                self.start_speaking(s, now, p.stem, p.backchannel);
            }
            _ if !self.agent_talking(s, now) => {
                self.script_error(
                    p.action,
                    format!(
                        "the agent's reply from {} ms ended at {} ms, before the interruption point ({})",
                        ms(start),
                        ms(s.last_agent_sample.unwrap_or(now)),
                        p.at
                    ),
                );
                s.waiting = Waiting::Idle;
            }
            _ => s.waiting = Waiting::Interrupt(p),
        }
    }

    /// The timeline position partway into the last word of the reply (the
    /// latest response asked for since it began) or of its first chunk.
    fn last_word_target(
        &self,
        s: &State,
        now: usize,
        p: &PendingInterrupt,
        percent: u32,
        first_chunk: bool,
    ) -> Option<usize> {
        let start = p.reply_start?;
        let responses = self.responses.lock().unwrap_or_else(|e| e.into_inner());
        let candidates = responses.get(p.first_response..)?;
        let response = if first_chunk { candidates.first()? } else { candidates.last()? };
        // Located in the agent's audio as sent, at its own rate.
        let rate = s.raw_rate.filter(|&r| r == response.sample_rate)?;
        let raw_index = |line: usize| line * rate as usize / LINE_RATE as usize;
        let played = s.raw.get(raw_index(start)..).unwrap_or(&[]);
        let queued: Vec<i16> = s
            .queue
            .iter()
            .flat_map(|item| match item {
                PlayItem::Audio { samples, rate: r } if *r == rate => samples.as_slice(),
                _ => &[],
            })
            .copied()
            .collect();
        let next = raw_index(now + FRAME + self.ear_delay);
        let at = super::interrupt::locate(response, raw_index(start), played, next, &queued)?;
        Some(to_line(at + super::interrupt::into_last_word(response, percent)?, rate))
    }

    fn start_speaking(&mut self, s: &mut State, now: usize, stem: usize, backchannel: bool) {
        let clean = &self.stems[stem];
        let noise = self.renderer.noise_power(now, now + clean.samples.len());
        let snr = (noise > 0.0).then(|| {
            let speech = word_power(&to_f32(&clean.samples), &clean.words);
            10.0 * (speech / noise).log10()
        });
        let mut shared = self.conditions.lock().unwrap_or_else(|p| p.into_inner());
        if shared.len() <= stem {
            shared.resize(stem + 1, Conditions::default());
        }
        shared[stem].snr_db = snr;
        drop(shared);
        self.timeline.push(now / FRAME, (now + clean.samples.len()).div_ceil(FRAME));
        s.speaking = Some(Speaking { utterance: s.utterances, stem, position: 0, started_at: now, backchannel });
        s.utterances += 1;
    }

    /// What the agent receives for the next 20 ms: the caller's speech (or
    /// silence) through the microphone and line, with noise and echo.
    fn capture(&mut self, s: &mut State, now: usize) -> Vec<i16> {
        let mut speech = vec![0.0f32; FRAME];
        if let Some(speaking) = &mut s.speaking {
            let stem = &self.stems[speaking.stem];
            let end = (speaking.position + FRAME).min(stem.samples.len());
            for (out, &sample) in speech.iter_mut().zip(&stem.samples[speaking.position..end]) {
                *out = f32::from(sample) / 32768.0;
            }
            speaking.position = end;
            if end == stem.samples.len() {
                let speaking = s.speaking.take().expect("speaking is set");
                self.finish_utterance(s, speaking);
            }
        }
        let heard = s.heard.get(now..(now + FRAME).min(s.heard.len())).unwrap_or(&[]);
        let wire = match self.renderer.frame(&speech, heard) {
            Ok(wire) => wire,
            Err(error) => {
                self.note(format!("the caller's audio could not be rendered, silence sent: {error}"));
                vec![0; self.renderer.output_rate() as usize / 50]
            }
        };
        s.frames += 1;
        s.wire.extend_from_slice(&wire);
        wire
    }

    fn finish_utterance(&mut self, s: &mut State, speaking: Speaking) {
        let stem = &self.stems[speaking.stem];
        let at = speaking.started_at;
        let words: Vec<TimedWord> = stem
            .words
            .iter()
            .map(|w| TimedWord {
                text: w.text.clone(),
                start_us: samples_to_us(at + w.start, LINE_RATE),
                end_us: samples_to_us(at + w.end, LINE_RATE),
            })
            .collect();
        let end = at + stem.words.last().map_or(stem.samples.len(), |w| w.end);
        // Packet k of the line carries timeline frame k.
        let fate = self.renderer.packet_fate();
        let concealed: Vec<f64> = stem
            .words
            .iter()
            .map(|w| {
                let (start, stop) = (at + w.start, at + w.end);
                let covered: usize = fate
                    .lost
                    .iter()
                    .chain(&fate.late)
                    .map(|&k| (stop.min((k + 1) * FRAME)).saturating_sub(start.max(k * FRAME)))
                    .sum();
                covered as f64 / (stop - start).max(1) as f64
            })
            .collect();
        let mut shared = self.conditions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conditions) = shared.get_mut(speaking.stem) {
            conditions.concealed = concealed;
        }
        let snr_db = shared.get(speaking.stem).and_then(|c| c.snr_db);
        drop(shared);
        self.recorder.push(
            samples_to_us(at, LINE_RATE),
            Event::CallerSpeech {
                utterance: speaking.utterance,
                text: stem.text.clone(),
                end_us: samples_to_us(end, LINE_RATE),
                words,
                audio_digest: digest_samples(&stem.samples),
                snr_db,
                backchannel: speaking.backchannel,
            },
        );
        // A backchannel is no turn: the caller still waits for the reply
        // it was said over to finish.
        s.backchannel_since_turn = speaking.backchannel;
        if !speaking.backchannel {
            s.my_turn_end = at + stem.samples.len();
            s.reply_start = None;
        }
    }
}
