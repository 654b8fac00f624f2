//! A cough: the caller's non-speech sound. A burst of breath noise shaped
//! by the vocal tract's broad resonance (a band around 400-2500 Hz) over a
//! voiced buzz (the vocal folds closing and opening), with a sharp onset
//! and a decay, twice; levelled to the caller's speech level. It has no
//! words: a recogniser hears nothing in it, though a voice activity
//! detector may well take it for speech.

use super::LINE_RATE;
use super::render::{Rendering, db_to_power};
use crate::seed::Rng;

/// Two bursts (ms): onset to onset, and each one's decay time constant.
const BURST_GAP_MS: f64 = 380.0;
const DECAY_MS: f64 = 140.0;
const LENGTH_MS: f64 = 800.0;
/// The buzz's fundamental, Hz.
const VOICING_HZ: f64 = 140.0;

/// A cough at the line rate, its power over the bursts at `speech_dbfs`.
pub fn cough(rendering: &Rendering, rng: &mut Rng) -> Vec<f32> {
    let rate = f64::from(LINE_RATE);
    let len = (LENGTH_MS * rate / 1000.0) as usize;
    let (mut low, mut high_state, mut previous) = (0.0f64, 0.0f64, 0.0f64);
    // One-pole low-pass near 2500 Hz and high-pass near 400 Hz.
    let a_low = (-std::f64::consts::TAU * 2500.0 / rate).exp();
    let a_high = (-std::f64::consts::TAU * 400.0 / rate).exp();
    let mut samples: Vec<f32> = (0..len)
        .map(|i| {
            let t_ms = i as f64 * 1000.0 / rate;
            let since = if t_ms >= BURST_GAP_MS { t_ms - BURST_GAP_MS } else { t_ms };
            let envelope = (1.0 - (-since / 4.0).exp()) * (-since / DECAY_MS).exp();
            let white = rng.gaussian();
            low = (1.0 - a_low) * white + a_low * low;
            high_state = a_high * (high_state + low - previous);
            previous = low;
            let phase = std::f64::consts::TAU * VOICING_HZ * i as f64 / rate;
            let buzz: f64 = (1..=20).map(|k| (phase * f64::from(k)).sin() / f64::from(k)).sum();
            ((high_state + 0.2 * buzz) * envelope) as f32
        })
        .collect();
    let power = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / len as f64;
    if power > 0.0 {
        // The bursts fill about a third of the sound: level them as words are.
        let gain = (db_to_power(rendering.speech_dbfs) / (power * 3.0)).sqrt() as f32;
        samples.iter_mut().for_each(|x| *x *= gain);
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cough_is_two_loud_bursts_and_the_same_seed_gives_the_same_cough() {
        let rendering = Rendering::default();
        let a = cough(&rendering, &mut Rng::new(7));
        assert_eq!(a, cough(&rendering, &mut Rng::new(7)));
        assert_ne!(a, cough(&rendering, &mut Rng::new(8)));
        let ms = |t: f64| (t * f64::from(LINE_RATE) / 1000.0) as usize;
        let power = |from: f64, to: f64| {
            let part = &a[ms(from)..ms(to)];
            10.0 * (part.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / part.len() as f64).log10()
        };
        // Each burst is far louder than the tail of its decay.
        assert!(power(0.0, 60.0) > power(320.0, 375.0) + 15.0);
        assert!(power(BURST_GAP_MS, BURST_GAP_MS + 60.0) > power(740.0, 795.0) + 15.0);
        let peak = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak < 1.0, "no clipping: {peak}");
    }
}
