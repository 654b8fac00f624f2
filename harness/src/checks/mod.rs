//! Checks computed from a call record alone (its budgets and tolerance
//! included). A failed check is data (a [`Finding`]), never an error.
//!
//! Every call gets every check: truncation of every reply, the turn and
//! stop budgets of every turn and every barge-in, the agent talking over
//! the caller, a turn left unanswered, a silence inside a reply, a reply
//! cut off with nobody talking, a reply a backchannel cost the caller,
//! audio no TTS response produced, a tool
//! call the tenant does not allow reaching the tool backend, and a script
//! the call ended before finishing.

mod bargein;
mod diff;
mod latency;
mod playback;
mod tools;
mod truncation;
mod truth;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use bargein::BargeInReport;
pub use diff::{WordDiff, word_diff, words};
pub use latency::{Stages, TurnReport};
pub use truncation::ReplyTruncation;
pub use truth::{CallTruth, Reply};

use crate::driver::Budgets;
use crate::record::{CallRecord, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// History does not hold the words the caller heard.
    Truncation,
    TurnLatencyBudget,
    StopLatencyBudget,
    /// The agent began a reply while the caller was still speaking.
    TalkedOver,
    /// A caller turn got no answer.
    NoReply,
    /// A silence inside a reply longer than the gap budget.
    PlayoutGap,
    /// The agent cut its own reply off with no caller speech.
    FalseBargeIn,
    /// The agent stopped for a backchannel and never finished the reply.
    ReplyLost,
    /// The caller heard audio that no TTS response produced.
    UnattributedAudio,
    /// A tool call reached the backend that the tenant does not allow or
    /// the LLM was not offered.
    ToolNotAllowed,
    /// The call ended before the caller's script was done.
    ScriptIncomplete,
    /// The caller's script could not be carried out as written.
    Script,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// When it happened, ms into the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    pub message: String,
}

/// Everything the checks found in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    pub turns: Vec<TurnReport>,
    pub barge_ins: Vec<BargeInReport>,
    pub replies: Vec<ReplyTruncation>,
    /// The truncation check's tolerance around a cut, ms.
    pub truncation_tolerance_ms: f64,
    pub budgets: Budgets,
    pub findings: Vec<Finding>,
}

/// The budgets and the line's round trip the record was made with.
fn conditions(record: &CallRecord) -> (Budgets, u64) {
    record
        .events()
        .find_map(|(_, e)| match e {
            Event::CallStarted { budgets, round_trip_us, .. } => Some((*budgets, *round_trip_us)),
            _ => None,
        })
        .unwrap_or_default()
}

/// `overran`: utterances that cut in on a reply the agent did not stop in
/// time. Their answer waits behind the rest of that reply; the stop check
/// reports it once, so a late answer is not also a turn-latency finding.
fn turn_findings(turns: &[TurnReport], budgets: &Budgets, end_reason: Option<&str>, overran: &[usize]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let at_ms = Some(turn.ended_ms as u64);
        let name = format!("turn {} ({:?}, ended at {:.0} ms)", turn.utterance + 1, turn.caller_said, turn.ended_ms);
        let late = turn.latency_ms.filter(|&ms| ms > budgets.turn_ms as f64);
        if let Some(ms) = late.filter(|_| !overran.contains(&turn.utterance)) {
            findings.push(Finding {
                kind: FindingKind::TurnLatencyBudget,
                at_ms,
                message: format!(
                    "{name}: the agent answered after {ms:.0} ms, over the {} ms budget ({})",
                    budgets.turn_ms,
                    turn.stages.as_ref().map(Stages::summary).unwrap_or_default()
                ),
            });
        }
        if let Some(over) = turn.talked_over_ms {
            findings.push(Finding {
                kind: FindingKind::TalkedOver,
                at_ms: Some((turn.ended_ms - over).max(0.0) as u64),
                message: format!(
                    "{name}: the agent began its answer {over:.0} ms before the caller had finished, saying \"{}\"",
                    turn.reply_heard
                ),
            });
        }
        if !turn.answered() {
            let why = if i + 1 < turns.len() {
                "before the caller spoke again".to_string()
            } else {
                format!("before the call ended ({})", end_reason.unwrap_or("no end recorded"))
            };
            findings.push(Finding {
                kind: FindingKind::NoReply,
                at_ms,
                message: format!("{name}: the agent never answered {why}"),
            });
        }
    }
    findings
}

pub fn evaluate(record: &CallRecord) -> CallReport {
    let (budgets, round_trip_us) = conditions(record);
    let truth = CallTruth::from_record(record);
    let end_reason = record.events().find_map(|(_, e)| match e {
        Event::CallEnded { reason, .. } => Some(reason.as_str()),
        _ => None,
    });
    let turns = latency::turns(record, &truth);
    let (replies, truncation_findings) = truncation::check(record, &truth, round_trip_us, budgets.stop_ms * 1000);
    let barge_ins = bargein::barge_ins(&truth, &replies);
    let overran: Vec<usize> =
        barge_ins.iter().filter(|b| b.stop_latency_ms > budgets.stop_ms as f64).map(|b| b.utterance).collect();
    let mut findings = turn_findings(&turns, &budgets, end_reason, &overran);
    findings.extend(truncation_findings);
    for barge_in in barge_ins.iter().filter(|b| overran.contains(&b.utterance)) {
        let answered = turns
            .iter()
            .find(|t| t.utterance == barge_in.utterance)
            .and_then(|t| t.latency_ms)
            .map(|ms| format!("; its answer came {ms:.0} ms after the caller finished"))
            .unwrap_or_default();
        findings.push(Finding {
            kind: FindingKind::StopLatencyBudget,
            at_ms: Some(barge_in.at_ms as u64),
            message: format!(
                "barge-in {:?} at {:.0} ms: the agent kept talking for {:.0} ms, over the {} ms budget{answered}",
                barge_in.caller_said, barge_in.at_ms, barge_in.stop_latency_ms, budgets.stop_ms
            ),
        });
    }
    findings.extend(playback::gaps(&truth, budgets.gap_ms * 1000));
    findings.extend(playback::false_barge_ins(&truth, budgets.stop_ms * 1000));
    findings.extend(playback::lost_to_backchannels(&truth, budgets.stop_ms * 1000));
    findings.extend(tools::not_allowed(record));
    for (t_us, event) in record.events() {
        let at_ms = Some(t_us / 1000);
        match event {
            Event::UnattributedAgentAudio { samples, end_us } => findings.push(Finding {
                kind: FindingKind::UnattributedAudio,
                at_ms,
                message: format!(
                    "{samples} samples of agent audio from {} ms to {} ms match no TTS response",
                    t_us / 1000,
                    end_us / 1000
                ),
            }),
            Event::ScriptLeft { reason, actions } => findings.push(Finding {
                kind: FindingKind::ScriptIncomplete,
                at_ms,
                message: format!("{reason} at {} ms, before the caller could {}", t_us / 1000, actions.join(", then ")),
            }),
            Event::ScriptNote { message } => {
                findings.push(Finding { kind: FindingKind::Script, at_ms, message: message.clone() })
            }
            _ => {}
        }
    }
    findings.sort_by_key(|f| f.at_ms.unwrap_or(u64::MAX));
    CallReport { turns, barge_ins, replies, truncation_tolerance_ms: round_trip_us as f64 / 1000.0, budgets, findings }
}
