//! Rendering throughput: a 60 s call at 16 kHz with cafe noise at 10 dB
//! SNR, the agent's echo, and the phone line (band limit, 8 kHz mu-law, 2%
//! loss, 20 ms jitter), on one thread. Prints how many times faster than
//! real time it renders, with and without building the noise bed.
//!
//!     cargo bench -p voicegate --bench render

use std::time::Instant;

use voicegate::audio::Corpus;
use voicegate::audio::render::{
    Background, Echo, FRAME, MicRenderer, NoiseMix, Rendering, line_utterance, prepare_speech,
};

const CALL_SECONDS: usize = 60;
const RUNS: usize = 7;

fn main() {
    let corpus = Corpus::load(&Corpus::default_dir()).expect("the committed corpus loads");
    let rendering = Rendering {
        noise: Some(NoiseMix { background: Background::Cafe, snr_db: 10.0 }),
        phone: true,
        echo: Some(Echo { level_db: -25.0, delay_ms: 40 }),
        ..Rendering::default()
    };
    let (_, line, words) =
        line_utterance(&corpus, "what are your opening hours", "en-gb-scotland", "f").expect("phrase");
    let (speech, _) = prepare_speech(&line, &words, &rendering).expect("prepare");
    let frames = CALL_SECONDS * 50;
    // The caller talks half the time; the agent's reply plays the other half.
    let heard: Vec<i16> = speech.iter().map(|&x| (x * 20_000.0) as i16).collect();

    let mut with_setup = Vec::new();
    let mut frames_only = Vec::new();
    let mut checksum = 0i64;
    for run in 0..RUNS {
        let started = Instant::now();
        let mut mic = MicRenderer::new(
            &rendering,
            &voicegate::line::Network::default(),
            run as u64,
            &corpus,
            ("en-gb-scotland", "f"),
        )
        .expect("renderer");
        let built = Instant::now();
        let silence = vec![0.0f32; FRAME];
        for f in 0..frames {
            let at = (f * FRAME) % speech.len().saturating_sub(FRAME).max(1);
            let talking = (f / 150) % 2 == 0;
            let (s, h): (&[f32], &[i16]) =
                if talking { (&speech[at..at + FRAME], &[]) } else { (&silence, &heard[at..at + FRAME]) };
            let out = mic.frame(s, h).expect("frame");
            checksum = checksum.wrapping_add(i64::from(out[0]));
        }
        let done = Instant::now();
        with_setup.push(CALL_SECONDS as f64 / (done - started).as_secs_f64());
        frames_only.push(CALL_SECONDS as f64 / (done - built).as_secs_f64());
    }
    with_setup.sort_by(f64::total_cmp);
    frames_only.sort_by(f64::total_cmp);
    println!(
        "render: {CALL_SECONDS} s call, 16 kHz, cafe noise at 10 dB SNR, echo, phone line; {RUNS} runs, one thread"
    );
    println!(
        "  including the noise bed: median {:.0}x real time (min {:.0}x, max {:.0}x)",
        with_setup[RUNS / 2],
        with_setup[0],
        with_setup[RUNS - 1]
    );
    println!(
        "  frames only:             median {:.0}x real time (min {:.0}x, max {:.0}x)",
        frames_only[RUNS / 2],
        frames_only[0],
        frames_only[RUNS - 1]
    );
    println!("  (checksum {checksum})");
}
