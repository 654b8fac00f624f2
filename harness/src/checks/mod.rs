//! Checks computed from a call record. A failed check is data (a
//! [`Finding`]), never an error.

mod diff;
mod latency;
mod truncation;
mod truth;

use serde::{Deserialize, Serialize};

pub use diff::{WordDiff, word_diff, words};
pub use latency::{Stages, TurnReport};
pub use truncation::BargeInReport;
pub use truth::{CallTruth, Reply};

use crate::driver::Budgets;
use crate::record::{CallRecord, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// History does not hold exactly the words the caller heard.
    Truncation,
    TurnLatencyBudget,
    StopLatencyBudget,
    /// The caller heard audio that no TTS response produced.
    UnattributedAudio,
    /// The caller's script could not be carried out as written.
    Script,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub message: String,
}

/// Everything the checks found in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    pub turns: Vec<TurnReport>,
    pub barge_ins: Vec<BargeInReport>,
    pub findings: Vec<Finding>,
}

pub fn evaluate(record: &CallRecord, budgets: &Budgets) -> CallReport {
    let truth = CallTruth::from_record(record);
    let mut findings = Vec::new();
    let turns = latency::turns(record, &truth);
    for turn in &turns {
        if let Some(ms) = turn.latency_ms.filter(|&ms| ms > budgets.turn_ms as f64) {
            findings.push(Finding {
                kind: FindingKind::TurnLatencyBudget,
                message: format!(
                    "turn {} ({:?}): the agent answered after {ms:.0} ms, over the {} ms budget ({})",
                    turn.utterance + 1,
                    turn.caller_said,
                    budgets.turn_ms,
                    turn.stages.as_ref().map(Stages::summary).unwrap_or_default()
                ),
            });
        }
    }
    let (barge_ins, truncation_findings) = truncation::check(record, &truth);
    findings.extend(truncation_findings);
    for barge_in in &barge_ins {
        if barge_in.stop_latency_ms > budgets.stop_ms as f64 {
            findings.push(Finding {
                kind: FindingKind::StopLatencyBudget,
                message: format!(
                    "barge-in {:?}: the agent kept talking for {:.0} ms, over the {} ms budget",
                    barge_in.caller_said, barge_in.stop_latency_ms, budgets.stop_ms
                ),
            });
        }
    }
    for (_, event) in record.events() {
        match event {
            Event::UnattributedAgentAudio { samples, end_us } => findings.push(Finding {
                kind: FindingKind::UnattributedAudio,
                message: format!(
                    "{samples} samples of agent audio ending at {} ms match no TTS response",
                    end_us / 1000
                ),
            }),
            Event::ScriptNote { message } => {
                findings.push(Finding { kind: FindingKind::Script, message: message.clone() })
            }
            _ => {}
        }
    }
    CallReport { turns, barge_ins, findings }
}
