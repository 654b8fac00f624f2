//! Which TTS response (and which of its samples) each piece of played
//! agent audio was. The agent sends each response from its first sample
//! on, in order, and may be cut off by a `Clear`; so within a stretch of
//! playback between clears, the next piece of audio is the start of the
//! earliest later response whose opening samples it matches, or the
//! continuation of the current one.

use super::call::PlayedStretch;
use crate::doubles::TtsResponse;

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

/// `samples` at `rate` as a length on the timeline.
fn on_timeline(samples: usize, rate: u32) -> usize {
    (samples as u64 * u64::from(crate::audio::LINE_RATE) / u64::from(rate.max(1))) as usize
}

/// Samples of `played` that continue `response` from `pos`, up to the
/// first that differs.
fn common(response: &[i16], pos: usize, played: &[i16]) -> usize {
    response.get(pos..).unwrap_or(&[]).iter().zip(played).take_while(|(a, b)| a == b).count()
}

/// A match shorter than this (10 ms at the line rate) is not evidence that
/// a response is playing, unless it is all that is left to compare.
const MIN_RUN: usize = 160;

/// The response (and position in it) that `rest` plays: the current one
/// continued, or else a later one from its start, preferring one that
/// matches all its samples that were played (responses may open alike).
fn next_piece(
    responses: &[TtsResponse],
    current: Option<(usize, usize)>,
    next_response: usize,
    rest: &[i16],
) -> Option<(usize, usize, usize)> {
    let enough = |n: usize, r: usize, pos: usize| {
        let available = rest.len().min(responses[r].samples.len().saturating_sub(pos));
        n > 0 && (n >= MIN_RUN || n == available)
    };
    if let Some((r, pos)) = current {
        let n = common(&responses[r].samples, pos, rest);
        if enough(n, r, pos) {
            return Some((r, pos, n));
        }
    }
    let matches: Vec<(usize, usize)> =
        (next_response..responses.len()).map(|r| (r, common(&responses[r].samples, 0, rest))).collect();
    let full = matches.iter().find(|&&(r, n)| n > 0 && n == rest.len().min(responses[r].samples.len()));
    let longest = matches.iter().filter(|&&(r, n)| enough(n, r, 0)).max_by_key(|&&(r, n)| (n, std::cmp::Reverse(r)));
    full.or(longest).map(|&(r, n)| (r, 0, n))
}

/// Attribute played audio to responses. Returns the pieces and the
/// stretches of played audio (timeline position, length on the timeline)
/// that matched no response. Samples are compared as the agent sent them,
/// at the stretch's rate; positions are on the caller's timeline.
///
/// A stretch is flattened first, so a response is recognised by all of its
/// samples that were played, not by a short prefix (responses may share
/// openings, such as leading silence). Audio that matches no response is
/// reported, and attribution picks up again where a response resumes.
pub fn attribute(stretches: &[PlayedStretch], responses: &[TtsResponse]) -> (Vec<PlayedPiece>, Vec<(usize, usize)>) {
    let mut pieces: Vec<PlayedPiece> = Vec::new();
    let mut unattributed = Vec::new();
    let mut next_response = 0;
    for stretch in stretches {
        let flat: Vec<i16> = stretch.runs.iter().flat_map(|(_, samples)| samples.iter().copied()).collect();
        // Timeline position of every flat sample's run: (flat offset, timeline position).
        let mut run_starts = Vec::with_capacity(stretch.runs.len());
        let mut offset = 0;
        for (at, samples) in &stretch.runs {
            run_starts.push((offset, *at));
            offset += samples.len();
        }
        let timeline = |flat_pos: usize| {
            let index = run_starts.partition_point(|&(start, _)| start <= flat_pos) - 1;
            let (start, at) = run_starts[index];
            (
                at + on_timeline(flat_pos - start, stretch.rate),
                run_starts.get(index + 1).map_or(flat.len(), |&(next, _)| next),
            )
        };
        let mut current: Option<(usize, usize)> = None;
        let mut cursor = 0;
        while cursor < flat.len() {
            let Some((r, pos, n)) = next_piece(responses, current, next_response, &flat[cursor..]) else {
                // Audio no response produced: skip to where one resumes.
                let skip = (cursor + 1..flat.len())
                    .find(|&c| next_piece(responses, current, next_response, &flat[c..]).is_some())
                    .unwrap_or(flat.len());
                let (at, _) = timeline(cursor);
                unattributed.push((at, on_timeline(skip - cursor, stretch.rate)));
                cursor = skip;
                continue;
            };
            // Split the matched samples at run boundaries to keep timeline positions.
            let mut done = 0;
            while done < n {
                let (at, run_end) = timeline(cursor + done);
                let take = (run_end - (cursor + done)).min(n - done);
                let from = pos + done;
                match pieces.last_mut() {
                    Some(last)
                        if last.response == r
                            && last.to == from
                            && last.at + on_timeline(last.to - last.from, stretch.rate) == at =>
                    {
                        last.to += take
                    }
                    _ => pieces.push(PlayedPiece { response: r, from, to: from + take, at }),
                }
                done += take;
            }
            cursor += n;
            next_response = r + 1;
            current = (pos + n < responses[r].samples.len()).then_some((r, pos + n));
        }
        // What the clear dropped was never heard, but the responses it
        // belongs to were begun: audio after the clear is a later one.
        let mut cursor = 0;
        while cursor < stretch.dropped.len() {
            match next_piece(responses, current, next_response, &stretch.dropped[cursor..]) {
                Some((r, pos, n)) => {
                    cursor += n;
                    next_response = r + 1;
                    current = (pos + n < responses[r].samples.len()).then_some((r, pos + n));
                }
                None => break,
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
        TtsResponse {
            request,
            requested_at: 0,
            text: String::new(),
            sample_rate: 16_000,
            samples: Arc::new(samples),
            words: vec![],
        }
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
            PlayedStretch {
                runs: vec![(0, a[..250].to_vec()), (300, a[250..].to_vec()), (500, b[..100].to_vec())],
                rate: 16_000,
                dropped: b[100..].to_vec(),
            },
            PlayedStretch { runs: vec![(900, c.clone())], rate: 16_000, dropped: Vec::new() },
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
    fn the_same_audio_sent_again_after_a_clear_is_the_later_response() {
        // The agent began a response, cut it before a sample played, and
        // said the same words again (a new TTS request, identical audio).
        let a: Vec<i16> = (1..=400).collect();
        let responses = vec![response(1, a.clone()), response(2, a.clone())];
        let stretches = vec![
            PlayedStretch { runs: vec![], rate: 16_000, dropped: a[..160].to_vec() },
            PlayedStretch { runs: vec![(1000, a.clone())], rate: 16_000, dropped: Vec::new() },
        ];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(unattributed.is_empty());
        assert_eq!(pieces, vec![PlayedPiece { response: 1, from: 0, to: 400, at: 1000 }]);
        // Without the dropped audio, the first response would be taken.
        let unseen = vec![PlayedStretch { runs: vec![(1000, a.clone())], rate: 16_000, dropped: Vec::new() }];
        assert_eq!(attribute(&unseen, &responses).0[0].response, 0);
    }

    #[test]
    fn audio_at_another_rate_is_matched_as_sent_and_placed_on_the_timeline() {
        let a: Vec<i16> = (1..=480).collect();
        let responses = vec![TtsResponse { sample_rate: 24_000, ..response(1, a.clone()) }];
        // 20 ms at 24 kHz is 480 samples; played as two ticks of 240.
        let stretches = vec![PlayedStretch {
            runs: vec![(0, a[..240].to_vec()), (160, a[240..].to_vec())],
            rate: 24_000,
            dropped: Vec::new(),
        }];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(unattributed.is_empty());
        assert_eq!(pieces, vec![PlayedPiece { response: 0, from: 0, to: 480, at: 0 }]);
    }

    #[test]
    fn audio_inserted_mid_response_is_reported_and_the_response_picked_up_after_it() {
        let a: Vec<i16> = (1..=1000).collect();
        let responses = vec![response(1, a.clone())];
        let mut played = a[..400].to_vec();
        played.extend(vec![-7i16; 300]);
        played.extend_from_slice(&a[400..]);
        let stretches = vec![PlayedStretch { runs: vec![(0, played)], rate: 16_000, dropped: Vec::new() }];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert_eq!(unattributed, vec![(400, 300)]);
        assert_eq!(
            pieces,
            vec![
                PlayedPiece { response: 0, from: 0, to: 400, at: 0 },
                PlayedPiece { response: 0, from: 400, to: 1000, at: 700 },
            ]
        );
    }

    #[test]
    fn responses_that_open_alike_are_told_apart_by_what_follows() {
        let mut a = vec![0i16; 480];
        a.extend(1..=100);
        let mut b = vec![0i16; 480];
        b.extend(201..=300);
        let responses = vec![response(1, a.clone()), response(2, b.clone())];
        // a was cleared before anything; b plays in 320-sample runs.
        let stretches = vec![PlayedStretch {
            runs: vec![(0, b[..320].to_vec()), (320, b[320..].to_vec())],
            rate: 16_000,
            dropped: Vec::new(),
        }];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(unattributed.is_empty());
        assert_eq!(pieces, vec![PlayedPiece { response: 1, from: 0, to: 580, at: 0 }]);
    }

    #[test]
    fn audio_that_matches_nothing_is_reported() {
        let responses = vec![response(1, vec![5; 300])];
        let stretches = vec![PlayedStretch { runs: vec![(0, vec![7; 50])], rate: 16_000, dropped: Vec::new() }];
        let (pieces, unattributed) = attribute(&stretches, &responses);
        assert!(pieces.is_empty());
        assert_eq!(unattributed, vec![(0, 50)]);
        // At 8 kHz, 50 samples last 100 timeline samples.
        let stretches = vec![PlayedStretch { runs: vec![(0, vec![7; 50])], rate: 8_000, dropped: Vec::new() }];
        assert_eq!(attribute(&stretches, &responses).1, vec![(0, 100)]);
    }
}
