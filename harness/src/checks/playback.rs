//! What the caller's playback shows by itself: silences inside a reply
//! (playout underruns), replies cut off with nobody talking over them
//! (false barge-ins), and replies a backchannel cost the caller.

use super::truth::{CallTruth, PlayedSpan, Reply};
use super::{Finding, FindingKind};

/// A cut this close to the end of the call is the call ending.
const CALL_END_US: u64 = 60_000;

fn last_words_before(reply: &Reply, t_us: u64) -> String {
    let words: Vec<String> = reply
        .word_ends()
        .into_iter()
        .filter(|(_, end, heard)| *heard && end.is_some_and(|e| e <= t_us))
        .map(|(w, _, _)| w)
        .collect();
    words[words.len().saturating_sub(4)..].join(" ")
}

/// Silences longer than `gap_us` inside one reply: within one response, or
/// between two when the agent had asked for the next before the first had
/// played out, or while the LLM was still writing the reply. A silence
/// after a `clear` is the agent stopping, not a gap.
pub fn gaps(truth: &CallTruth, gap_us: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, reply) in truth.replies.iter().enumerate() {
        let mut spans: Vec<(usize, &PlayedSpan)> =
            reply.responses.iter().enumerate().flat_map(|(r, resp)| resp.spans.iter().map(move |s| (r, s))).collect();
        spans.sort_by_key(|(_, s)| s.start_us);
        for pair in spans.windows(2) {
            let ((ra, a), (rb, b)) = (pair[0], pair[1]);
            let gap = b.start_us.saturating_sub(a.end_us);
            if gap <= gap_us || truth.clears_us.iter().any(|&c| a.end_us <= c && c <= b.start_us) {
                continue;
            }
            let continuing =
                ra == rb || reply.responses[rb].requested_us < a.end_us || truth.llm_streaming_at(a.end_us);
            if continuing {
                findings.push(Finding {
                    kind: FindingKind::PlayoutGap,
                    at_ms: Some(a.end_us / 1000),
                    message: format!(
                        "reply {}: the caller heard {} ms of silence in the middle of the reply, after \"{}\" at {} \
                         ms (budget {} ms)",
                        index + 1,
                        gap / 1000,
                        last_words_before(reply, a.end_us),
                        a.end_us / 1000,
                        gap_us / 1000
                    ),
                });
            }
        }
    }
    findings
}

/// Replies cut off while the caller was not speaking: not during an
/// utterance nor within `after_us` of its end, nor at the end of the call.
pub fn false_barge_ins(truth: &CallTruth, after_us: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, reply) in truth.replies.iter().enumerate() {
        let Some(cut) = reply.last_us().filter(|_| reply.cut()) else { continue };
        if cut + CALL_END_US >= truth.end_us || truth.utterance_at(cut, after_us).is_some() {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::FalseBargeIn,
            at_ms: Some(cut / 1000),
            message: format!(
                "reply {}: the agent stopped talking at {} ms, after \"{}\", with no caller speech",
                index + 1,
                cut / 1000,
                last_words_before(reply, cut)
            ),
        });
    }
    findings
}

/// Replies cut off while the caller was only backchannelling ("okay" while
/// the agent talks) that never went on: the rest of the reply was lost.
pub fn lost_to_backchannels(truth: &CallTruth, after_us: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, reply) in truth.replies.iter().enumerate() {
        let Some(cut) = reply.last_us().filter(|_| reply.cut()) else { continue };
        let mut over = truth.utterances.iter().filter(|u| u.start_us <= cut && cut <= u.end_us + after_us);
        let Some(backchannel) = over.clone().find(|u| u.backchannel) else { continue };
        if over.any(|u| !u.backchannel) {
            continue;
        }
        let unheard: Vec<String> =
            reply.word_ends().into_iter().filter(|(_, _, heard)| !heard).map(|(w, _, _)| w).collect();
        findings.push(Finding {
            kind: FindingKind::ReplyLost,
            at_ms: Some(cut / 1000),
            message: format!(
                "reply {}: the caller {} at {} ms, not taking the turn; the agent stopped at {} ms, after \"{}\", and \
                 never went on: the caller never heard \"{}\"",
                index + 1,
                if backchannel.text.is_empty() {
                    "coughed".to_string()
                } else {
                    format!("said {:?}", backchannel.text)
                },
                backchannel.start_us / 1000,
                cut / 1000,
                last_words_before(reply, cut),
                unheard.join(" ")
            ),
        });
    }
    findings
}
