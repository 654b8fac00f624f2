//! Synthetic traffic: a population of calls drawn from a profile, for the
//! canary gate.

mod draw;
mod profile;
mod run;

pub use draw::{call_id, call_seed, draw_call};
pub use profile::{DEFAULT_PROFILE, Profile, ProfileError, TRAFFIC_SCHEMA};
pub use run::{CallRequest, CallResult, run_calls, run_one};

#[cfg(test)]
mod tests;
