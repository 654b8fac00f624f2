//! Drives one call: renders the caller, runs the agent in-process on a
//! paused (virtual) clock, plays the agent's audio on the caller's own
//! timeline and records everything.

mod attribution;
mod call;
mod caller;
mod interrupt;
mod plan;
mod playout;

pub use attribution::{PlayedPiece, attribute};
pub use call::{CallOutcome, agent_config, run_call};
pub use plan::{AgentOptions, Budgets, CallPlan, CallerAction, InterruptAt, Pause};

/// The caller's frame: 20 ms.
pub const FRAME_MS: u64 = 20;
