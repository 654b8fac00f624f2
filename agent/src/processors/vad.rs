//! Voice activity detection and end of turn (earshot), with hysteresis.
//!
//! Speech starts after `start_ms` of frames scoring at least
//! `start_threshold`; the turn ends after `end_of_turn_ms` of frames scoring
//! below `stop_threshold`. A start emits `UserStartedSpeaking` and an
//! `Interruption`; the end emits `UserStoppedSpeaking`.

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

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Quiet { speech_ms: u32, candidate_start: Duration },
    Speaking { silence_ms: u32, last_speech_end: Duration },
}

pub struct Vad {
    detector: Box<earshot::Detector>,
    settings: VadSettings,
    input_rate: u32,
    pending: Vec<i16>,
    /// 16 kHz samples analysed so far; the media clock of the detector.
    analysed: u64,
    state: State,
}

impl Vad {
    pub fn new(settings: VadSettings) -> Self {
        Self {
            detector: earshot::Detector::default_boxed(),
            settings,
            input_rate: VAD_RATE,
            pending: Vec::new(),
            analysed: 0,
            state: State::Quiet { speech_ms: 0, candidate_start: Duration::ZERO },
        }
    }

    fn analyse(&mut self, ctx: &mut Context) {
        while self.pending.len() >= VAD_FRAME {
            let frame: Vec<i16> = self.pending.drain(..VAD_FRAME).collect();
            let frame_start = samples_to_duration(self.analysed, VAD_RATE);
            self.analysed += VAD_FRAME as u64;
            let frame_end = samples_to_duration(self.analysed, VAD_RATE);
            let score = self.detector.predict_i16(&frame);
            self.step(score, frame_start, frame_end, ctx);
        }
    }

    fn step(&mut self, score: f32, frame_start: Duration, frame_end: Duration, ctx: &mut Context) {
        let s = &self.settings;
        self.state = match self.state {
            State::Quiet { speech_ms, candidate_start } if score >= s.start_threshold => {
                let start = if speech_ms == 0 { frame_start } else { candidate_start };
                let speech_ms = speech_ms + VAD_FRAME_MS;
                if speech_ms >= s.start_ms {
                    ctx.emit(EventKind::UserStartedSpeaking { media_ms: millis(start) });
                    ctx.push_down(Frame::UserStartedSpeaking { media_time: start });
                    ctx.push_down(Frame::Interruption);
                    State::Speaking { silence_ms: 0, last_speech_end: frame_end }
                } else {
                    State::Quiet { speech_ms, candidate_start: start }
                }
            }
            State::Quiet { .. } => State::Quiet { speech_ms: 0, candidate_start: frame_start },
            State::Speaking { silence_ms, last_speech_end } if score < s.stop_threshold => {
                let silence_ms = silence_ms + VAD_FRAME_MS;
                if silence_ms >= s.end_of_turn_ms {
                    ctx.emit(EventKind::UserStoppedSpeaking { media_ms: millis(last_speech_end) });
                    ctx.push_down(Frame::UserStoppedSpeaking { media_time: last_speech_end });
                    State::Quiet { speech_ms: 0, candidate_start: frame_end }
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
            Frame::Stop | Frame::Interruption => {}
            other => ctx.forward(other, origin),
        }
    }
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
mod tests {
    use super::*;
    use crate::pipeline::Direction;
    use crate::telemetry::test_sink;

    fn ctx() -> Context {
        Context::new(test_sink())
    }

    fn drive(vad: &mut Vad, scores: &[f32], ctx: &mut Context) -> Vec<Frame> {
        for (i, &score) in scores.iter().enumerate() {
            let start = Duration::from_millis(16 * i as u64);
            vad.step(score, start, start + Duration::from_millis(16), ctx);
        }
        ctx.take_pushed().into_iter().filter(|(d, _)| *d == Direction::Downstream).map(|(_, f)| f).collect()
    }

    #[tokio::test]
    async fn a_pause_shorter_than_end_of_turn_does_not_end_the_turn() {
        let settings = VadSettings { start_ms: 48, end_of_turn_ms: 160, ..VadSettings::default() };
        let mut vad = Vad::new(settings);
        let mut ctx = ctx();
        // 3 speech frames start the turn; 9 silent frames (144 ms) are a pause;
        // speech again; then 10 silent frames (160 ms) end it.
        let mut scores = vec![0.9; 3];
        scores.extend([0.1; 9]);
        scores.extend([0.9; 2]);
        scores.extend([0.1; 10]);
        let frames = drive(&mut vad, &scores, &mut ctx);
        let starts: Vec<_> = frames.iter().filter(|f| matches!(f, Frame::UserStartedSpeaking { .. })).collect();
        let stops: Vec<_> = frames.iter().filter(|f| matches!(f, Frame::UserStoppedSpeaking { .. })).collect();
        assert_eq!(starts, vec![&Frame::UserStartedSpeaking { media_time: Duration::ZERO }]);
        // The last speech frame is frame 13, which ends at 14 * 16 ms.
        assert_eq!(stops, vec![&Frame::UserStoppedSpeaking { media_time: Duration::from_millis(224) }]);
        assert!(frames.contains(&Frame::Interruption));
    }

    #[tokio::test]
    async fn a_blip_shorter_than_start_ms_is_not_speech() {
        let settings = VadSettings { start_ms: 64, ..VadSettings::default() };
        let mut vad = Vad::new(settings);
        let mut ctx = ctx();
        let frames = drive(&mut vad, &[0.9, 0.9, 0.9, 0.1, 0.9, 0.1], &mut ctx);
        assert!(frames.is_empty(), "{frames:?}");
    }

    #[test]
    fn linear_resampling_doubles_the_length_from_8_to_16_khz() {
        let out = resample_linear(&[0, 100, 200, 300], 8_000, 16_000);
        assert_eq!(out.len(), 8);
        assert_eq!(&out[..3], &[0, 50, 100]);
    }
}
