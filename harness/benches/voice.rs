//! Synthesis throughput of the TTS double's voice, uncached: the agent's
//! greeting, prompts and a long scripted answer at 16 kHz, on one thread.
//! Prints how many times faster than real time it speaks.
//!
//!     cargo bench -p voicegate --bench voice

use std::time::Instant;

use voicegate::audio::synth_voice;

const RATE: u32 = 16_000;
const RUNS: usize = 7;
const TEXTS: [&str; 4] = [
    "Hello, thanks for calling Acme support.",
    "How can I help you today?",
    "We are open from nine in the morning until half past five in the evening,",
    "Monday to Friday, and from ten until four on Saturday.",
];

fn main() {
    let mut speeds = Vec::new();
    let mut checksum = 0i64;
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut samples = 0;
        for text in TEXTS {
            let (audio, _) = synth_voice(text, RATE);
            samples += audio.len();
            checksum = checksum.wrapping_add(audio.iter().map(|&s| i64::from(s)).sum::<i64>());
        }
        speeds.push(samples as f64 / f64::from(RATE) / started.elapsed().as_secs_f64());
    }
    speeds.sort_by(f64::total_cmp);
    println!("voice: {} sentences at {RATE} Hz, uncached; {RUNS} runs, one thread", TEXTS.len());
    println!("  median {:.0}x real time (min {:.0}x, max {:.0}x)", speeds[RUNS / 2], speeds[0], speeds[RUNS - 1]);
    println!("  (checksum {checksum})");
}
