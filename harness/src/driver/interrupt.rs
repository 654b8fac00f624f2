//! Where a scripted interruption lands on the call's timeline.
//!
//! The interrupted reply is the one playing when the step begins, or the
//! next one to begin. Its position is found from the caller's own playback
//! and the TTS double's responses (ground truth the harness owns): the
//! latest response the agent asked for since the reply began is located in
//! what the caller has played or has queued, by its first audible samples.

use crate::doubles::TtsResponse;

/// Samples compared to locate a response in the playback.
const PROBE: usize = 160;

/// Where `response` starts on the caller's timeline, given the playback
/// from `from` on: what was played (`played`, starting at `from`) followed
/// by what is queued (starting at `queued_at`).
pub fn locate(response: &TtsResponse, from: usize, played: &[i16], queued_at: usize, queued: &[i16]) -> Option<usize> {
    let k0 = response.samples.iter().position(|&s| s.unsigned_abs() > 64)?;
    let probe = response.samples.get(k0..k0 + PROBE.min(response.samples.len() - k0))?;
    let find = |haystack: &[i16]| haystack.windows(probe.len()).position(|w| w == probe);
    if let Some(at) = find(played) {
        return (from + at).checked_sub(k0);
    }
    // The probe may straddle what was played and what is queued.
    let tail = played.len().saturating_sub(probe.len());
    let mut joined = played[tail..].to_vec();
    joined.extend_from_slice(queued);
    let at = find(&joined)?;
    (queued_at + at).checked_sub(played.len() - tail + k0)
}

/// The sample a percentage of the way into the last word of `response`,
/// relative to the response's start.
pub fn into_last_word(response: &TtsResponse, percent: u32) -> Option<usize> {
    let word = response.words.last()?;
    Some(word.start + (word.end - word.start) * percent as usize / 100)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use voicegate_agent::services::WordTiming;

    use super::*;

    fn response(samples: Vec<i16>) -> TtsResponse {
        let words = vec![
            WordTiming { text: "a".into(), start: 0, end: 200 },
            WordTiming { text: "b".into(), start: 300, end: 500 },
        ];
        TtsResponse {
            request: 1,
            requested_at: 0,
            text: "a b".into(),
            sample_rate: 16_000,
            samples: Arc::new(samples),
            words,
        }
    }

    #[test]
    fn a_response_is_found_in_the_playback_or_the_queue_past_its_leading_silence() {
        let mut samples = vec![0i16; 100];
        samples.extend((0..500).map(|i| 1000 + i as i16));
        let r = response(samples.clone());
        // Played from timeline 1000: 50 samples of something else, then r.
        let mut played = vec![7i16; 50];
        played.extend_from_slice(&samples[..400]);
        assert_eq!(locate(&r, 1000, &played, 1450, &samples[400..]), Some(1050));
        // Only its silence has played; the rest is queued.
        let played = vec![0i16; 100];
        assert_eq!(locate(&r, 2000, &played, 2100, &samples[100..]), Some(2000));
        assert_eq!(locate(&r, 0, &[5; 300], 300, &[5; 300]), None);
        assert_eq!(into_last_word(&r, 25), Some(350));
    }
}
