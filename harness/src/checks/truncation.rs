//! Check (1): after every reply — interrupted or not — the agent's history
//! holds exactly the words the caller heard, with a word-by-word diff when
//! it does not.

use serde::{Deserialize, Serialize};
use voicegate_agent::services::Role;

use super::diff::{WordDiff, render, word_diff, words};
use super::truth::CallTruth;
use super::{Finding, FindingKind};
use crate::record::CallRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BargeInReport {
    pub utterance: usize,
    pub caller_said: String,
    pub at_ms: f64,
    /// Words of the interrupted reply the caller heard.
    pub heard_words: Vec<String>,
    /// Words the agent's history kept for that reply.
    pub history_words: Vec<String>,
    /// From the barge-in's first speech sample to the last agent sample played.
    pub stop_latency_ms: f64,
    pub truncation_ok: bool,
}

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

pub fn check(record: &CallRecord, truth: &CallTruth) -> (Vec<BargeInReport>, Vec<Finding>) {
    let heard: Vec<Vec<String>> = truth.replies.iter().map(|r| r.heard_words()).collect();
    let messages: Vec<Vec<String>> =
        record.history().iter().filter(|m| m.role == Role::Assistant).map(|m| words(&m.content)).collect();
    let pairs = pair(&heard, &messages);
    let mut history_for_reply = vec![Vec::new(); heard.len()];
    let mut findings = Vec::new();
    for (reply, matched) in pairs {
        let empty = Vec::new();
        let heard_words = reply.map_or(&empty, |r| &heard[r]);
        let history_words: Vec<String> = matched.iter().flat_map(|&m| messages[m].iter().cloned()).collect();
        if let Some(r) = reply {
            history_for_reply[r] = history_words.clone();
        }
        let diff = word_diff(heard_words, &history_words);
        if diff.iter().all(|d| matches!(d, WordDiff::Same(_))) {
            continue;
        }
        let unheard: Vec<&str> =
            diff.iter().filter_map(|d| if let WordDiff::Unheard(w) = d { Some(w.as_str()) } else { None }).collect();
        let missing: Vec<&str> =
            diff.iter().filter_map(|d| if let WordDiff::Missing(w) = d { Some(w.as_str()) } else { None }).collect();
        let which = match reply {
            Some(r) => format!("reply {}", r + 1),
            None => "a message no reply was heard for".to_string(),
        };
        let mut message = format!("{which}: history does not match what the caller heard: {}", render(&diff));
        if !unheard.is_empty() {
            message.push_str(&format!("; kept words the caller never heard: \"{}\"", unheard.join(" ")));
        }
        if !missing.is_empty() {
            message.push_str(&format!("; lost words the caller heard: \"{}\"", missing.join(" ")));
        }
        findings.push(Finding { kind: FindingKind::Truncation, message });
    }

    let mut barge_ins = Vec::new();
    for utterance in &truth.utterances {
        // A barge-in: the caller started while a reply was playing.
        let Some(index) = truth.reply_playing_at(utterance.start_us) else { continue };
        let reply = &truth.replies[index];
        let heard_words = heard[index].clone();
        let history_words = history_for_reply[index].clone();
        barge_ins.push(BargeInReport {
            utterance: utterance.index,
            caller_said: utterance.text.clone(),
            at_ms: utterance.start_us as f64 / 1000.0,
            truncation_ok: heard_words == history_words,
            heard_words,
            history_words,
            stop_latency_ms: reply.last_us().saturating_sub(utterance.start_us) as f64 / 1000.0,
        });
    }
    (barge_ins, findings)
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
