//! Truncation: after every reply, interrupted or not, the agent's history
//! holds the words the caller heard, with a word-by-word diff and a count
//! of words wrong when it does not.
//!
//! Under a real line the agent learns what played one round trip late, so
//! the check states its tolerance: history must be a prefix of what the
//! agent asked to say, must hold every word whose playback ended before the
//! cut by more than the tolerance, and may go either way only on words that
//! ended within the tolerance of the cut.

use serde::{Deserialize, Serialize};
use voicegate_agent::services::Role;

use super::diff::{WordDiff, render, word_diff, words};
use super::truth::{CallTruth, Reply};
use super::{Finding, FindingKind};
use crate::record::CallRecord;

/// A reply may be answered by this many consecutive messages at most
/// (several agent turns with no caller speech between them, such as a
/// greeting followed by no-input prompts and a goodbye). Bounded, because
/// the alignment costs grow with it.
const MAX_SPAN: usize = 8;

/// Match replies to assistant messages in order: an edit-distance
/// alignment where a reply paired with one or more consecutive messages
/// costs their word diff, and a skipped reply or message costs its words.
/// One extra or missing message then does not shift every later comparison.
fn pair(replies: &[Vec<String>], messages: &[Vec<String>]) -> Vec<(Option<usize>, Vec<usize>)> {
    let (n, m) = (replies.len(), messages.len());
    let cost = |i: usize, j: usize, span: usize| {
        let joined: Vec<String> = messages[j..j + span].concat();
        word_diff(&replies[i], &joined).iter().filter(|d| !matches!(d, WordDiff::Same(_))).count()
    };
    let mut best = vec![vec![usize::MAX; m + 1]; n + 1];
    let mut choice = vec![vec![0usize; m + 1]; n + 1]; // 0: skip reply, usize::MAX: skip message, k: pair with k messages
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            if i == n && j == m {
                best[i][j] = 0;
                continue;
            }
            let mut candidates = Vec::new();
            if i < n {
                for span in 1..=MAX_SPAN.min(m - j) {
                    candidates.push((cost(i, j, span) + best[i + 1][j + span], span));
                }
                candidates.push((replies[i].len() + best[i + 1][j], 0));
            }
            if j < m {
                candidates.push((messages[j].len() + best[i][j + 1], usize::MAX));
            }
            // On equal cost prefer one message, then a skip, then a span.
            let rank = |pick: usize| match pick {
                1 => 0,
                0 | usize::MAX => 1,
                _ => 2,
            };
            let (value, pick) =
                candidates.into_iter().min_by_key(|&(v, pick)| (v, rank(pick))).expect("at least one move");
            best[i][j] = value;
            choice[i][j] = pick;
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        match choice[i][j] {
            0 => {
                out.push((Some(i), Vec::new()));
                i += 1;
            }
            usize::MAX => {
                out.push((None, vec![j]));
                j += 1;
            }
            span => {
                out.push((Some(i), (j..j + span).collect()));
                i += 1;
                j += span;
            }
        }
    }
    out
}

/// What the truncation check found for one reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyTruncation {
    /// Index into the call's replies.
    pub reply: usize,
    pub heard_words: Vec<String>,
    pub history_words: Vec<String>,
    /// Words history would have to gain or lose to be acceptable.
    pub words_wrong: usize,
}

/// The prefixes of a reply's words that history may hold: every word that
/// ended playing more than `tolerance_us` before the cut, and any of those
/// that ended within `tolerance_us` of it either side. A reply played to
/// its end allows exactly the words heard.
///
/// `barge_in` is when the caller first spoke over the reply and when the
/// agent had to have stopped by (that plus the stop budget). A reply that
/// played past that point was not stopped in time, which the stop check
/// reports; then history must hold only the words heard before the caller
/// spoke, and may hold any heard after.
fn allowed_prefixes(
    reply: &Reply,
    tolerance_us: u64,
    barge_in: Option<(u64, u64)>,
) -> (Vec<String>, std::ops::RangeInclusive<usize>) {
    let words = reply.word_ends();
    let heard = words.iter().take_while(|(_, _, heard)| *heard).count();
    let all: Vec<String> = words.iter().map(|(w, _, _)| w.clone()).collect();
    let overran = barge_in.filter(|&(_, by)| reply.last_us().is_some_and(|last| last > by)).map(|(onset, _)| onset);
    let Some(cut) = reply.last_us().filter(|_| reply.cut() || overran.is_some()) else {
        return (all, heard..=heard);
    };
    let must_until = cut.saturating_sub(tolerance_us).min(overran.unwrap_or(u64::MAX));
    let must = words.iter().take_while(|(_, end, heard)| *heard && end.is_some_and(|e| e <= must_until)).count();
    let may = words.iter().take_while(|(_, end, _)| end.is_some_and(|e| e <= cut + tolerance_us)).count();
    (all, must..=may.max(must))
}

/// Judge one reply's history against what the caller heard, within the
/// tolerance; returns the report and the diff against the closest
/// acceptable history.
fn judge(
    index: usize,
    reply: &Reply,
    history: &[String],
    tolerance_us: u64,
    barge_in: Option<(u64, u64)>,
) -> (ReplyTruncation, Vec<WordDiff>) {
    let (all, range) = allowed_prefixes(reply, tolerance_us, barge_in);
    let (words_wrong, diff) = range
        .map(|k| {
            let diff = word_diff(&all[..k], history);
            (diff.iter().filter(|d| !matches!(d, WordDiff::Same(_))).count(), diff)
        })
        .min_by_key(|(wrong, _)| *wrong)
        .expect("the range is never empty");
    let report = ReplyTruncation {
        reply: index,
        heard_words: reply.heard_words(),
        history_words: history.to_vec(),
        words_wrong,
    };
    (report, diff)
}

fn describe(which: &str, diff: &[WordDiff], words_wrong: usize, tolerance_us: u64) -> String {
    let pick = |unheard: bool| -> Vec<&str> {
        diff.iter()
            .filter_map(|d| match d {
                WordDiff::Unheard(w) if unheard => Some(w.as_str()),
                WordDiff::Missing(w) if !unheard => Some(w.as_str()),
                _ => None,
            })
            .collect()
    };
    let mut message = format!(
        "{which}: history does not match what the caller heard ({words_wrong} word(s) wrong, tolerance {:.0} ms): {}",
        tolerance_us as f64 / 1000.0,
        render(diff)
    );
    let (unheard, missing) = (pick(true), pick(false));
    if !unheard.is_empty() {
        message.push_str(&format!("; kept words the caller never heard: \"{}\"", unheard.join(" ")));
    }
    if !missing.is_empty() {
        message.push_str(&format!("; lost words the caller heard: \"{}\"", missing.join(" ")));
    }
    message
}

/// Pair every reply with the assistant messages that record it and judge
/// each; every mismatch is a finding.
pub fn check(
    record: &CallRecord,
    truth: &CallTruth,
    tolerance_us: u64,
    stop_budget_us: u64,
) -> (Vec<ReplyTruncation>, Vec<Finding>) {
    let heard: Vec<Vec<String>> = truth.replies.iter().map(|r| r.heard_words()).collect();
    let messages: Vec<Vec<String>> =
        record.history().iter().filter(|m| m.role == Role::Assistant).map(|m| words(&m.content)).collect();
    let mut reports = Vec::new();
    let mut findings = Vec::new();
    for (reply, matched) in pair(&heard, &messages) {
        let history_words: Vec<String> = matched.iter().flat_map(|&m| messages[m].iter().cloned()).collect();
        let (which, report, diff) = match reply {
            Some(r) => {
                let reply = &truth.replies[r];
                // The first caller speech over the reply, and the stop budget's end.
                let barge_in = match (reply.first_us(), reply.last_us()) {
                    (Some(first), Some(last)) => truth
                        .utterances
                        .iter()
                        .find(|u| !u.backchannel && first <= u.start_us && u.start_us < last)
                        .map(|u| (u.start_us, u.start_us + stop_budget_us)),
                    _ => None,
                };
                let (report, diff) = judge(r, reply, &history_words, tolerance_us, barge_in);
                (format!("reply {}", r + 1), Some(report), diff)
            }
            None => {
                let diff = word_diff(&[], &history_words);
                ("a message no reply was heard for".to_string(), None, diff)
            }
        };
        let wrong = report.as_ref().map_or(history_words.len(), |r| r.words_wrong);
        if wrong > 0 {
            let at_ms = reply.and_then(|r| truth.replies[r].last_us()).map(|us| us / 1000);
            findings.push(Finding {
                kind: FindingKind::Truncation,
                at_ms,
                message: describe(&which, &diff, wrong, tolerance_us),
            });
        }
        reports.extend(report);
    }
    (reports, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<String> {
        words(text)
    }

    #[test]
    fn pairing_survives_an_extra_message() {
        let replies = vec![w("hello how can i help"), w("we are")];
        let messages = vec![w("hello how can i help"), w("something unheard"), w("we are")];
        assert_eq!(pair(&replies, &messages), vec![(Some(0), vec![0]), (None, vec![1]), (Some(1), vec![2])]);
    }

    #[test]
    fn pairing_matches_a_cut_reply_with_its_full_message() {
        let replies = vec![w("hello"), w("we are open")];
        let messages = vec![w("hello"), w("we are open from nine to five")];
        assert_eq!(pair(&replies, &messages), vec![(Some(0), vec![0]), (Some(1), vec![1])]);
    }

    #[test]
    fn one_reply_may_span_consecutive_messages() {
        let replies = vec![w("hello how can i help are you still there"), w("we are open")];
        let messages = vec![w("hello how can i help"), w("are you still there"), w("we are open")];
        assert_eq!(pair(&replies, &messages), vec![(Some(0), vec![0, 1]), (Some(1), vec![2])]);
    }
}
