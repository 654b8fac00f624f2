//! Voice activity detection and end of turn (earshot), with hysteresis.
//!
//! Speech starts after `start_ms` of frames scoring at least
//! `start_threshold`; the turn ends after `end_of_turn_ms` of frames scoring
//! below `stop_threshold`. A start emits `UserStartedSpeaking` and an
//! `Interruption`; the end emits `UserStoppedSpeaking`.
//!
//! earshot hears any voice, including distant talkers and loud noise, so a
//! frame also has to be `min_snr_db` above the background: the 10th
//! percentile of the last two seconds' frame energies. While the agent
//! speaks, a frame must also be louder than the loudest echo its reply could
//! cause: the reply's energy around that moment plus the echo coupling. The
//! output stage sends the reply audio upstream as it goes out, and the
//! caller plays it as it arrives, so its schedule is known to within a few
//! frames. The coupling starts at `-echo_return_loss_db` (a worst case) and
//! is then measured: over the last two seconds of playback, the loudest
//! frame (relative to the reply) that was not a candidate for the caller's
//! speech. With no echo on the line it falls to the microphone's floor and
//! a quiet caller barges in at once; with an echo it stays at the echo's
//! level, so the agent still ignores its own voice.
//!
//! Once the caller is speaking, a frame also has to be within
//! `TALKER_RANGE_DB` of the loudest frame of their turn: talkers in the
//! background (a cafe) are much quieter than the caller, and should not hold
//! the caller's turn open. Between turns a voice must be within
//! `WEAK_RANGE_DB` of the caller's mean speech level in their last turn,
//! and a new turn needs `STRONG_ONSET_MS` of it within `CALLER_RANGE_DB`:
//! babble cannot start a turn (cancelling a reply in preparation, or
//! cutting one off) once the agent knows how loud the caller is, while the
//! caller's own weak syllables still carry an onset that began strongly.

use std::time::Duration;

use super::input::samples_to_duration;
use crate::config::VadSettings;
use crate::frame::Frame;
use crate::pipeline::{Context, Origin, Processor};
use crate::telemetry::{EventKind, millis};

/// earshot works on 16 ms frames at 16 kHz.
const VAD_RATE: u32 = 16_000;
const VAD_FRAME: usize = 256;
const VAD_FRAME_MS: u32 = 16;
/// Frames the background estimate looks back over (two seconds).
const BACKGROUND_FRAMES: usize = 125;
/// The background is this percentile of their energies: the minimum sits in
/// babble's brief dips, 10 dB or more under its level, so babble bursts
/// passed for speech and cut replies off; the 10th percentile follows the
/// babble's level and still ignores the caller's own speech.
const BACKGROUND_PERCENTILE: usize = 10;
/// The echo of a reply frame may arrive this many frames later (line
/// delays, framing, the acoustic path and its reflections: about 300 ms)...
const ECHO_LOOKBACK: usize = 19;
/// ...or, as playback and capture are not aligned exactly, this many earlier.
const ECHO_LOOKAHEAD: usize = 2;
/// How much louder than the loudest possible echo barge-in speech must be.
const ECHO_MARGIN_DB: f32 = 3.0;
/// Speech starting may pause this long (a stop consonant's closure, as in
/// "ac-tually") and still count as one onset.
const ONSET_GAP_MS: u32 = 32;
/// Within a turn, frames this far below its loudest are not the caller.
const TALKER_RANGE_DB: f32 = 15.0;
/// Between turns, a voice this far under the caller's mean speech level in
/// their last turn is not the caller (babble at 20 dB SNR peaks about 12 dB
/// under it; the caller's own onsets sit within about 10 dB).
const CALLER_RANGE_DB: f32 = 12.0;
/// A voice this far under it is not the caller at all...
const WEAK_RANGE_DB: f32 = 20.0;
/// ...and a turn starts only with this much speech within `CALLER_RANGE_DB`.
const STRONG_ONSET_MS: u32 = 48;
/// The echo coupling is measured over this many frames of playback (two
/// seconds)...
const COUPLING_FRAMES: usize = 125;
/// ...and trusted once this many (half a second) have been measured.
const COUPLING_MIN_FRAMES: usize = 30;
/// Only reply audio this loud (dBFS) tells anything about the echo path.
const AUDIBLE_REPLY_DB: f32 = -50.0;
/// A coupling measurement waits this many frames (160 ms) for speech to
/// begin before it counts.
const CONFIRM_FRAMES: usize = 10;
/// A measurement this far above the current estimate is not the echo path
/// changing but a sound on the caller's side that is not a voice (a cough,
/// a door): it is not learned, so it cannot deafen the agent to the
/// caller for the next two seconds.
const COUPLING_JUMP_DB: f32 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// `speech_ms` of speech since `candidate_start` (`strong_ms` of it at
    /// the caller's level), with `gap_ms` of silence since the last speech
    /// frame.
    Quiet {
        speech_ms: u32,
        strong_ms: u32,
        candidate_start: Duration,
        gap_ms: u32,
    },
    Speaking {
        silence_ms: u32,
        last_speech_end: Duration,
    },
}

pub struct Vad {
    detector: Box<earshot::Detector>,
    settings: VadSettings,
    input_rate: u32,
    pending: Vec<i16>,
    /// 16 kHz samples analysed so far; the media clock of the detector.
    analysed: u64,
    state: State,
    /// Energies of the most recent frames, dBFS.
    recent: std::collections::VecDeque<f32>,
    /// Energies of reply audio as the caller plays it, dBFS, by frame from
    /// `playback_base`.
    playback: std::collections::VecDeque<f32>,
    playback_base: u64,
    /// The loudest speech frame of the caller's current turn, dBFS.
    talker_peak: f32,
    /// Mean power of the speech frames of the caller's current turn (sum,
    /// frames) and, once a turn has ended, of the last turn, dBFS.
    talker_power: (f64, u32),
    caller_level: Option<f32>,
    /// Microphone energy less the reply's, dB, for recent playback frames
    /// that were not the caller's speech.
    coupling: std::collections::VecDeque<f32>,
    /// Measurements waiting [`CONFIRM_FRAMES`] before they count.
    unconfirmed: std::collections::VecDeque<f32>,
    /// `budgets.stop_ms`, reported against in `BargeInDetected`.
    stop_budget_ms: u32,
}

impl Vad {
    pub fn new(settings: VadSettings) -> Self {
        Self {
            detector: earshot::Detector::default_boxed(),
            settings,
            input_rate: VAD_RATE,
            pending: Vec::new(),
            analysed: 0,
            state: State::Quiet { speech_ms: 0, strong_ms: 0, candidate_start: Duration::ZERO, gap_ms: 0 },
            recent: std::collections::VecDeque::with_capacity(BACKGROUND_FRAMES),
            playback: std::collections::VecDeque::new(),
            playback_base: 0,
            talker_peak: f32::NEG_INFINITY,
            talker_power: (0.0, 0),
            caller_level: None,
            coupling: std::collections::VecDeque::with_capacity(COUPLING_FRAMES),
            unconfirmed: std::collections::VecDeque::new(),
            stop_budget_ms: crate::config::Budgets::default().stop_ms,
        }
    }

    /// Report how long each barge-in took to detect against this budget.
    pub fn stop_budget(mut self, stop_ms: u32) -> Self {
        self.stop_budget_ms = stop_ms;
        self
    }

    /// Is the caller playing reply audio during the frame starting at `at`?
    fn reply_playing(&self, at: Duration) -> bool {
        let index = millis(at) / u64::from(VAD_FRAME_MS);
        index.checked_sub(self.playback_base).is_some_and(|i| i < self.playback.len() as u64)
    }

    /// How loud the agent's own voice comes back, relative to the reply, dB:
    /// measured once there is enough playback, else the configured worst case.
    fn echo_coupling(&self) -> f32 {
        if self.coupling.len() < COUPLING_MIN_FRAMES {
            return -self.settings.echo_return_loss_db;
        }
        self.coupling.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }

    /// What a frame outside the caller's turn tells of the echo coupling.
    /// Playback frames that cannot be the caller tell how loud the echo is.
    /// A voice-like frame under the gate may be the echo or a quiet caller,
    /// so it can hold the estimate where it is but never raise it (else a
    /// caller talking under the gate would ratchet it up); a frame far above
    /// the estimate is no echo at all (see `COUPLING_JUMP_DB`).
    fn coupling_evidence(&self, energy: f32, reply: f32, raw_score: f32, heard: bool) -> Option<f32> {
        let coupling = energy - reply;
        if reply < AUDIBLE_REPLY_DB || coupling > self.echo_coupling() + COUPLING_JUMP_DB {
            None
        } else if raw_score < self.settings.stop_threshold {
            Some(coupling)
        } else {
            (!heard).then(|| coupling.min(self.echo_coupling()))
        }
    }

    fn learn_coupling(&mut self, coupling: f32) {
        if self.coupling.len() == COUPLING_FRAMES {
            self.coupling.pop_front();
        }
        self.coupling.push_back(coupling);
    }

    fn analyse(&mut self, ctx: &mut Context) {
        while self.pending.len() >= VAD_FRAME {
            let frame: Vec<i16> = self.pending.drain(..VAD_FRAME).collect();
            let index = self.analysed / VAD_FRAME as u64;
            let frame_start = samples_to_duration(self.analysed, VAD_RATE);
            self.analysed += VAD_FRAME as u64;
            let frame_end = samples_to_duration(self.analysed, VAD_RATE);
            let raw_score = self.detector.predict_i16(&frame);
            let energy = energy_db(&frame);
            let in_turn = matches!(self.state, State::Speaking { .. });
            let reply = self.reply_energy_around(index);
            // In a turn, the caller is the loudest talker of the turn; before
            // one, a voice well under the caller's level in the last turn is
            // someone else.
            let heard = self.above_background(energy, reply)
                && !(in_turn && energy < self.talker_peak - TALKER_RANGE_DB)
                && (in_turn || self.caller_level.is_none_or(|level| energy >= level - WEAK_RANGE_DB));
            let strong = self.caller_level.is_none_or(|level| energy >= level - CALLER_RANGE_DB);
            let score = if heard { raw_score } else { 0.0 };
            if score >= self.settings.start_threshold {
                self.talker_peak = self.talker_peak.max(energy);
                self.talker_power.0 += 10f64.powf(f64::from(energy) / 10.0);
                self.talker_power.1 += 1;
            }
            if !in_turn && let Some(coupling) = self.coupling_evidence(energy, reply, raw_score, heard) {
                self.unconfirmed.push_back(coupling);
            }
            self.step(score, strong, frame_start, frame_end, ctx);
            // A measurement counts once no speech has begun for a while after
            // it: the first frames of the caller's speech score low.
            if !matches!(self.state, State::Quiet { speech_ms: 0, .. }) {
                self.unconfirmed.clear();
            }
            while self.unconfirmed.len() > CONFIRM_FRAMES {
                if let Some(coupling) = self.unconfirmed.pop_front() {
                    self.learn_coupling(coupling);
                }
            }
            if !matches!(self.state, State::Speaking { .. }) && in_turn {
                let (sum, frames) = std::mem::take(&mut self.talker_power);
                if frames > 0 {
                    self.caller_level = Some((10.0 * (sum / f64::from(frames)).log10()) as f32);
                }
                self.talker_peak = f32::NEG_INFINITY;
            }
        }
    }

    /// Does this frame stand `min_snr_db` above the background, and above
    /// any echo of the agent's reply (`reply`: its loudest frame that could
    /// echo in this one)?
    fn above_background(&mut self, energy: f32, reply: f32) -> bool {
        if self.recent.len() == BACKGROUND_FRAMES {
            self.recent.pop_front();
        }
        self.recent.push_back(energy);
        let background = {
            // Selecting the percentile, not sorting: this runs every frame.
            let mut energies: Vec<f32> = self.recent.iter().copied().collect();
            let rank = (energies.len() - 1) * BACKGROUND_PERCENTILE / 100;
            *energies.select_nth_unstable_by(rank, f32::total_cmp).1
        };
        let loudest_echo = reply + self.echo_coupling();
        energy >= background + self.settings.min_snr_db && energy >= loudest_echo + ECHO_MARGIN_DB
    }

    /// The loudest reply frame whose echo could be in frame `index`.
    fn reply_energy_around(&mut self, index: u64) -> f32 {
        let oldest = index.saturating_sub(ECHO_LOOKBACK as u64);
        while self.playback_base < oldest && !self.playback.is_empty() {
            self.playback.pop_front();
            self.playback_base += 1;
        }
        (oldest..=index + ECHO_LOOKAHEAD as u64)
            .filter_map(|f| f.checked_sub(self.playback_base).and_then(|i| self.playback.get(i as usize)))
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Reply audio just sent: the caller plays it as soon as it arrives,
    /// after whatever is already queued.
    fn schedule_playback(&mut self, samples: &[i16], sample_rate: u32) {
        let now = self.analysed / VAD_FRAME as u64;
        if self.playback.is_empty() || self.playback_base + (self.playback.len() as u64) < now {
            self.playback.clear();
            self.playback_base = now;
        }
        for frame in resample_linear(samples, sample_rate, VAD_RATE).chunks(VAD_FRAME) {
            self.playback.push_back(energy_db(frame));
        }
    }

    /// The caller's playback was cleared: nothing more plays after now
    /// (what already played still echoes).
    fn cut_playback(&mut self) {
        let now = self.analysed / VAD_FRAME as u64 + ECHO_LOOKAHEAD as u64;
        let keep = now.saturating_sub(self.playback_base) as usize;
        self.playback.truncate(keep);
    }

    /// One frame's score; `strong` if it is at the caller's known level.
    fn step(&mut self, score: f32, strong: bool, frame_start: Duration, frame_end: Duration, ctx: &mut Context) {
        let s = &self.settings;
        self.state = match self.state {
            State::Quiet { speech_ms, strong_ms, candidate_start, .. } if score >= s.start_threshold => {
                let start = if speech_ms == 0 { frame_start } else { candidate_start };
                let speech_ms = speech_ms + VAD_FRAME_MS;
                let strong_ms = strong_ms + if strong { VAD_FRAME_MS } else { 0 };
                if speech_ms >= s.start_ms && strong_ms >= STRONG_ONSET_MS.min(s.start_ms) {
                    ctx.emit(EventKind::UserStartedSpeaking { media_ms: millis(start) });
                    if self.reply_playing(frame_start) {
                        let detected_after_ms = millis(frame_end.saturating_sub(start));
                        ctx.emit(EventKind::BargeInDetected { detected_after_ms, budget_ms: self.stop_budget_ms });
                    }
                    ctx.push_down(Frame::UserStartedSpeaking { media_time: start });
                    ctx.push_down(Frame::Interruption);
                    State::Speaking { silence_ms: 0, last_speech_end: frame_end }
                } else {
                    State::Quiet { speech_ms, strong_ms, candidate_start: start, gap_ms: 0 }
                }
            }
            // A stop consonant's closure does not end a word's onset.
            State::Quiet { speech_ms, strong_ms, candidate_start, gap_ms }
                if speech_ms > 0 && gap_ms + VAD_FRAME_MS <= ONSET_GAP_MS =>
            {
                State::Quiet { speech_ms, strong_ms, candidate_start, gap_ms: gap_ms + VAD_FRAME_MS }
            }
            State::Quiet { .. } => State::Quiet { speech_ms: 0, strong_ms: 0, candidate_start: frame_start, gap_ms: 0 },
            State::Speaking { silence_ms, last_speech_end } if score < s.stop_threshold => {
                let silence_ms = silence_ms + VAD_FRAME_MS;
                if silence_ms >= s.end_of_turn_ms {
                    ctx.emit(EventKind::UserStoppedSpeaking { media_ms: millis(last_speech_end) });
                    ctx.push_down(Frame::UserStoppedSpeaking { media_time: last_speech_end });
                    State::Quiet { speech_ms: 0, strong_ms: 0, candidate_start: frame_end, gap_ms: 0 }
                } else {
                    State::Speaking { silence_ms, last_speech_end }
                }
            }
            State::Speaking { .. } => State::Speaking { silence_ms: 0, last_speech_end: frame_end },
        };
    }
}

impl Processor for Vad {
    fn name(&self) -> &'static str {
        "vad"
    }

    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
        match frame {
            Frame::Start { sample_rate } => {
                self.input_rate = sample_rate;
                ctx.forward(frame, origin);
            }
            Frame::InputAudio { ref samples, .. } => {
                self.pending.extend(resample_linear(samples, self.input_rate, VAD_RATE));
                ctx.forward(frame, origin);
                self.analyse(ctx);
            }
            Frame::PlaybackReference { samples, sample_rate } => self.schedule_playback(&samples, sample_rate),
            Frame::BotStoppedSpeaking { interrupted: true, .. } => {
                self.cut_playback();
                ctx.forward(frame, origin);
            }
            Frame::Stop | Frame::Interruption => {}
            other => ctx.forward(other, origin),
        }
    }
}

/// Mean power of a frame, dBFS.
fn energy_db(frame: &[i16]) -> f32 {
    let power = frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
    (10.0 * (power / (32768.0f64 * 32768.0) + 1e-12).log10()) as f32
}

/// Linear-interpolation resampling, good enough for voice activity
/// detection (the recogniser gets the original audio).
fn resample_linear(samples: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || samples.is_empty() {
        return samples.to_vec();
    }
    let out_len = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let left = pos.floor() as usize;
            let right = (left + 1).min(samples.len() - 1);
            let frac = pos - left as f64;
            let value = f64::from(samples[left]) * (1.0 - frac) + f64::from(samples[right]) * frac;
            value.round() as i16
        })
        .collect()
}

#[cfg(test)]
#[path = "vad_tests.rs"]
mod tests;
