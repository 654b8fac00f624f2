//! Known agent bugs, injected by the harness around an unmodified agent, so
//! that every check can be shown to catch the bug it is for.
//!
//! Nothing here is a mode of the agent. A fault is a decorator the harness
//! puts around the agent's transport (what it sends and what reaches it)
//! or services, or around the memory it hands over at the end of the call,
//! and it may use what only the harness knows (when the caller starts
//! speaking).

mod memory;
mod tools;
mod transport;

use serde::{Deserialize, Serialize};

pub use memory::keep_generated_reply;
pub use tools::around_llm;
pub use transport::{CallerTimeline, around_transport};

/// One injected bug; `--agent-fault NAME` and fixture manifests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// History keeps every word the LLM generated for a reply, heard or not.
    KeepGeneratedReply,
    /// History keeps what the agent sent, not what played: every mark is
    /// confirmed the moment the agent sends it.
    CommitSent,
    /// The marks the gateway still held when the caller cut in are counted
    /// as heard (as if the marks echoed on `clear` were playback).
    MarksOnClearHeard,
    /// The agent never sends `clear`: a barge-in does not stop playback.
    NeverClear,
    /// The agent's end of turn fires on the caller's first 300 ms: it
    /// replies while the caller is still speaking.
    RepliesOverCaller,
    /// The agent inserts 300 ms of tone no TTS response produced.
    InsertsAudio,
    /// The agent's echo suppression misses the line's echo: its own voice
    /// comes back 600 ms late at -6 dB, and it takes it for the caller.
    /// (Mixed sample for sample: for calls where the agent sends at the
    /// rate the caller sends, as the default calls do.)
    AnswersOwnEcho,
    /// Nothing the agent says after the caller's last turn begins reaches
    /// the line.
    NeverAnswersLastTurn,
    /// After a `clear`, nothing the agent sends reaches the line until the
    /// caller next starts to speak: a reply cut off by a false interruption
    /// (a cough, an "okay") is never finished.
    LosesCutReply,
    /// The agent sends every tool call the LLM proposes to the tool backend
    /// before its code decides: a tool outside the customer's allowlist runs.
    ToolOutsideAllowlist,
}

impl Fault {
    /// The name used on the command line and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::KeepGeneratedReply => "keep-generated-reply",
            Self::CommitSent => "commit-sent",
            Self::MarksOnClearHeard => "marks-on-clear-heard",
            Self::NeverClear => "never-clear",
            Self::RepliesOverCaller => "replies-over-caller",
            Self::InsertsAudio => "inserts-audio",
            Self::AnswersOwnEcho => "answers-own-echo",
            Self::NeverAnswersLastTurn => "never-answers-last-turn",
            Self::LosesCutReply => "loses-cut-reply",
            Self::ToolOutsideAllowlist => "tool-outside-allowlist",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::value_variants().iter().copied().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_round_trips_its_name() {
        for fault in <Fault as clap::ValueEnum>::value_variants() {
            assert_eq!(Fault::from_name(fault.name()), Some(*fault));
            let value = <Fault as clap::ValueEnum>::to_possible_value(fault).expect("named");
            assert_eq!(value.get_name(), fault.name(), "the command line uses the same name");
        }
        assert_eq!(Fault::from_name("keeps-everything"), None);
    }
}
