//! Which TTS response (and which of its samples) each piece of played
//! agent audio was. The agent sends each response from its first sample
//! on, in order, and may be cut off by a `Clear`; so within a stretch of
//! playback between clears, the next piece of audio is the start of the
//! earliest later response whose opening samples it matches, or the
//! continuation of the current one.

use super::call::PlayedStretch;
use crate::doubles::TtsResponse;

/// Samples compared to recognise the start of a response.
const PREFIX: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayedPiece {
    /// Index into the responses.
    pub response: usize,
    /// Samples of the response played: `[from, to)`.
    pub from: usize,
    pub to: usize,
    /// Timeline position (caller samples) of the first played sample.
    pub at: usize,
}

/// Attribute played audio to responses. Returns the pieces and the number
/// of played samples that matched no response.
pub fn attribute(stretches: &[PlayedStretch], responses: &[TtsResponse]) -> (Vec<PlayedPiece>, Vec<(usize, usize)>) {
    let mut pieces = Vec::new();
    let mut unattributed = Vec::new();
    let mut next_response = 0;
    for stretch in stretches {
        // (response, position within it) of the audio being played.
        let mut current: Option<(usize, usize)> = None;
        for &(at, ref samples) in &stretch.runs {
            let mut offset = 0;
            while offset < samples.len() {
                let rest = &samples[offset..];
                let continues = current.filter(|&(r, pos)| {
                    let response = &responses[r].samples;
                    pos < response.len() && response[pos..].starts_with(&rest[..rest.len().min(response.len() - pos)])
                });
                let (r, pos) = match continues {
                    Some(found) => found,
                    None => {
                        let start = (next_response..responses.len()).find(|&r| {
                            let response = &responses[r].samples;
                            let n = PREFIX.min(rest.len()).min(response.len());
                            n > 0 && response[..n] == rest[..n]
                        });
                        match start {
                            Some(r) => (r, 0),
                            None => {
                                unattributed.push((at + offset, rest.len()));
                                break;
                            }
                        }
                    }
                };
                let take = (responses[r].samples.len() - pos).min(rest.len());
                match pieces.last_mut() {
                    Some(PlayedPiece { response, to, at: piece_at, from }) if *response == r && *to == pos && *piece_at + (*to - *from) == at + offset => {
                        *to += take;
                    }
                    _ => pieces.push(PlayedPiece { response: r, from: pos, to: pos + take, at: at + offset }),
                }
                offset += take;
                next_response = r + 1;
                current = if pos + take < responses[r].samples.len() { Some((r, pos + take)) } else { None };
            }
        }
    }
    (pieces, unattributed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn response(request: usize, samples: Vec<i16>) -> TtsResponse {
        TtsResponse { request, text: String::new(), sample_rate: 16_000, samples: Arc::new(samples), words: vec![] }
    }

    #[test]
    fn follows_responses_across_underruns_and_skips_ones_never_played() {
        let a: Vec<i16> = (1..=400).collect();
        let b: Vec<i16> = (1001..=1400).collect();
        let c: Vec<i16> = (2001..=2400).collect();
        let responses = vec![response(1, a.clone()), response(2, b.clone()), response(3, c.clone())];
        // Stretch 1: a with an underrun in it, then 100 samples of b; cleared.
        // Stretch 2: c from its start (b's rest was dropped).
        let stretches = vec![
            PlayedStretch { runs: vec![(0, a[..250].to_vec()), (300, a[250..].to_vec()), (500, b[..100].to_vec())] },
            PlayedStretch { runs: vec![(900, c.clone())] },
        ];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(unattributed.is_empty());
        assert_eq!(
            pieces,
            vec![
                PlayedPiece { response: 0, from: 0, to: 250, at: 0 },
                PlayedPiece { response: 0, from: 250, to: 400, at: 300 },
                PlayedPiece { response: 1, from: 0, to: 100, at: 500 },
                PlayedPiece { response: 2, from: 0, to: 400, at: 900 },
            ]
        );
    }

    #[test]
    fn audio_that_matches_nothing_is_reported() {
        let responses = vec![response(1, vec![5; 300])];
        let stretches = vec![PlayedStretch { runs: vec![(0, vec![7; 50])] }];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(pieces.is_empty());
        assert_eq!(unattributed, vec![(0, 50)]);
    }
}
