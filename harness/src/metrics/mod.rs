//! Per-call metrics (`calls.jsonl`): what the canary gate compares.

mod call;
mod jsonl;

pub use call::{call_metrics, noise_band};
pub use jsonl::{CALLS_FILE, MetricsError, calls_path, read_calls, write_calls};
