//! The VAD's unit tests: the gates, the echo estimate and end of turn.

use super::*;
use crate::pipeline::Direction;
use crate::telemetry::{EventSink, test_sink};

fn ctx() -> Context {
    Context::new(test_sink())
}

/// The gate for a frame of `energy` at frame `index`.
fn gate(vad: &mut Vad, energy: f32, index: u64) -> bool {
    let reply = vad.reply_energy_around(index);
    vad.above_background(energy, reply)
}

#[test]
fn frames_must_stand_above_the_background_and_the_agents_own_echo() {
    let mut vad = Vad::new(VadSettings::default());
    for index in 0..60 {
        assert!(!gate(&mut vad, -50.0, index), "steady noise is not the caller");
    }
    assert!(gate(&mut vad, -30.0, 60), "20 dB above the background");
    assert!(!gate(&mut vad, -45.0, 61), "5 dB above the background");

    // The agent starts a reply at about -15 dBFS.
    let reply: Vec<i16> = (0..VAD_FRAME * 10).map(|i| ((i as f32 * 0.3).sin() * 0.25 * 32767.0) as i16).collect();
    vad.analysed = 62 * VAD_FRAME as u64;
    vad.schedule_playback(&reply, VAD_RATE);
    assert!(!gate(&mut vad, -38.0, 63), "its echo, 23 dB under the reply, is not the caller");
    assert!(gate(&mut vad, -20.0, 64), "the caller talking over the reply is");
    assert!(!gate(&mut vad, -38.0, 70 + ECHO_LOOKBACK as u64), "the reply still echoes after it ends");
    assert!(gate(&mut vad, -35.0, 72 + ECHO_LOOKBACK as u64), "and then no longer");

    // A reply cut off by the caller plays no further.
    vad.analysed = 100 * VAD_FRAME as u64;
    vad.schedule_playback(&reply, VAD_RATE);
    vad.cut_playback();
    assert!(gate(&mut vad, -35.0, 103 + ECHO_LOOKBACK as u64), "the cut-off rest does not echo");
}

#[test]
fn babble_with_brief_dips_sets_the_background_at_its_level_not_its_dips() {
    let mut vad = Vad::new(VadSettings::default());
    // Two seconds of babble around -30 dBFS that dips to -48 one frame in ten.
    for index in 0..125 {
        let energy = if index % 10 == 0 { -48.0 } else { -30.0 + (index % 3) as f32 };
        gate(&mut vad, energy, index);
    }
    let min_snr = vad.settings.min_snr_db;
    let burst = -30.0 + min_snr - 1.0;
    assert!(!gate(&mut vad, burst, 125), "a babble burst {burst} dBFS is not the caller");
    assert!(gate(&mut vad, -30.0 + min_snr + 3.0, 126), "a caller over the babble is");
}

/// A long reply at about -15 dBFS, and the level of one of its frames.
fn long_reply() -> (Vec<i16>, f32) {
    let reply: Vec<i16> = (0..VAD_FRAME * 200).map(|i| ((i as f32 * 0.3).sin() * 0.25 * 32767.0) as i16).collect();
    let level = energy_db(&reply[..VAD_FRAME]);
    (reply, level)
}

/// Drive the gate and the coupling estimate as `analyse` does, for a
/// frame of `energy` that earshot scores `score`.
fn scored_frame(vad: &mut Vad, energy: f32, score: f32, index: u64) -> bool {
    let reply = vad.reply_energy_around(index);
    let heard = vad.above_background(energy, reply);
    if let Some(coupling) = vad.coupling_evidence(energy, reply, score, heard) {
        vad.learn_coupling(coupling);
    }
    heard
}

#[test]
fn a_cough_over_the_reply_does_not_deafen_the_agent_to_the_caller() {
    let (reply, reply_db) = long_reply();
    let mut vad = Vad::new(VadSettings::default());
    vad.schedule_playback(&reply, VAD_RATE);
    // No echo: the estimate falls to the microphone's floor.
    for index in 0..40 {
        scored_frame(&mut vad, -65.0, 0.1, index);
    }
    let learned = vad.echo_coupling();
    // Half a second of cough at the reply's own level, scored as no voice.
    for index in 40..70 {
        scored_frame(&mut vad, reply_db - 2.0, 0.1, index);
    }
    assert_eq!(vad.echo_coupling(), learned, "a cough is not the echo");
    assert!(scored_frame(&mut vad, -35.0, 0.9, 70), "a caller at -35 dBFS still gets through");
}

#[test]
fn the_echo_coupling_is_measured_so_a_quiet_caller_gets_through_only_without_echo() {
    let (reply, reply_db) = long_reply();
    for (echo_db, caller_gets_through) in [(None, true), (Some(-15.0), false)] {
        let mut vad = Vad::new(VadSettings::default());
        for index in 0..10 {
            gate(&mut vad, -65.0, index);
        }
        vad.analysed = 10 * VAD_FRAME as u64;
        vad.schedule_playback(&reply, VAD_RATE);
        // Before anything is measured, the configured worst case holds
        // (a caller at -35 dBFS is under the reply less 15 dB plus margin).
        assert_eq!(vad.echo_coupling(), -15.0, "{echo_db:?}: the worst case at first");
        // One second of playback with only the floor (scored as noise),
        // or the echo (scored as a voice), coming back.
        let (back, score) = echo_db.map_or((-65.0, 0.1), |e| (reply_db + e, 0.9));
        for index in 12..72 {
            assert!(!scored_frame(&mut vad, back, score, index), "{echo_db:?}: frame {index} is not the caller");
        }
        assert_eq!(scored_frame(&mut vad, -35.0, 0.9, 72), caller_gets_through, "{echo_db:?}: a caller at -35 dBFS");
        assert!(!scored_frame(&mut vad, back, score, 73), "{echo_db:?}: the echo is still not the caller");
    }
}

#[test]
fn a_caller_under_the_gate_cannot_ratchet_the_echo_estimate_up() {
    let (reply, reply_db) = long_reply();
    let mut vad = Vad::new(VadSettings::default());
    vad.schedule_playback(&reply, VAD_RATE);
    // An echo 20 dB down, voice-like, for half a second: that is the estimate.
    for index in 0..40 {
        scored_frame(&mut vad, reply_db - 20.0, 0.9, index);
    }
    let learned = vad.echo_coupling();
    assert!((learned + 20.0).abs() < 0.5, "{learned}");
    // A voice just under the gate (2 dB over the estimate, the margin is 3)
    // must not push it up frame by frame until nothing gets through.
    for index in 40..100 {
        let under_the_gate = reply_db + vad.echo_coupling() + 2.0;
        assert!(!scored_frame(&mut vad, under_the_gate, 0.9, index));
        assert!(vad.echo_coupling() <= learned + 1e-3, "frame {index}: {} over {learned}", vad.echo_coupling());
    }
}

fn drive(vad: &mut Vad, scores: &[f32], ctx: &mut Context) -> Vec<Frame> {
    for (i, &score) in scores.iter().enumerate() {
        let start = Duration::from_millis(16 * i as u64);
        vad.step(score, true, start, start + Duration::from_millis(16), ctx);
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
    // Three frames, then 48 ms of quiet (longer than a closure), then one.
    let frames = drive(&mut vad, &[0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1], &mut ctx);
    assert!(frames.is_empty(), "{frames:?}");
}

#[tokio::test]
async fn once_the_callers_level_is_known_a_turn_needs_a_strong_onset() {
    let settings = VadSettings { start_ms: 96, ..VadSettings::default() };
    let mut ctx = ctx();
    let run = |strength: &[bool], ctx: &mut Context| {
        let mut vad = Vad::new(settings.clone());
        for (i, &strong) in strength.iter().enumerate() {
            let start = Duration::from_millis(16 * i as u64);
            vad.step(0.9, strong, start, start + Duration::from_millis(16), ctx);
        }
        ctx.take_pushed().into_iter().any(|(_, f)| matches!(f, Frame::UserStartedSpeaking { .. }))
    };
    assert!(!run(&[false; 12], &mut ctx), "babble well under the caller never starts a turn");
    assert!(!run(&[true, true, false, false, false, false, false, false], &mut ctx), "nor with a brief peak");
    assert!(run(&[true, true, true, false, false, false], &mut ctx), "a strong 48 ms then weak syllables do");
}

#[tokio::test]
async fn a_stop_consonant_inside_the_first_word_does_not_restart_the_onset() {
    let settings = VadSettings { start_ms: 64, ..VadSettings::default() };
    let mut vad = Vad::new(settings);
    let mut ctx = ctx();
    // "ac" (three frames), the closure of "t" (16 ms), "tu" (one frame).
    let frames = drive(&mut vad, &[0.9, 0.9, 0.9, 0.1, 0.9, 0.1], &mut ctx);
    assert_eq!(frames.first(), Some(&Frame::UserStartedSpeaking { media_time: Duration::ZERO }), "{frames:?}");
}

#[tokio::test]
async fn a_barge_in_over_a_reply_reports_the_speech_it_took_against_the_stop_budget() {
    let settings = VadSettings { start_ms: 64, ..VadSettings::default() };
    let mut detected = Vec::new();
    // No reply, a reply of four frames (over before the decision), a long one.
    for reply_frames in [0, 4, 20] {
        let mut vad = Vad::new(settings.clone()).stop_budget(321);
        vad.schedule_playback(&vec![8000; VAD_FRAME * reply_frames], VAD_RATE);
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let mut ctx = Context::new(EventSink::new(test_sink().ids().clone(), tokio::time::Instant::now(), Some(tx)));
        // Speech from 32 ms, through a closure, decided at the end of frame 6 (112 ms).
        drive(&mut vad, &[0.1, 0.1, 0.9, 0.1, 0.9, 0.9, 0.9], &mut ctx);
        while let Ok(event) = events.try_recv() {
            if let EventKind::BargeInDetected { detected_after_ms, budget_ms } = event.kind {
                detected.push((reply_frames, detected_after_ms, budget_ms));
            }
        }
    }
    assert_eq!(detected, [(20, 80, 321)], "only while a reply plays");
}

#[test]
fn linear_resampling_doubles_the_length_from_8_to_16_khz() {
    let out = resample_linear(&[0, 100, 200, 300], 8_000, 16_000);
    assert_eq!(out.len(), 8);
    assert_eq!(&out[..3], &[0, 50, 100]);
}
