//! The pipeline: a chain of processors connected by channels the runner owns.

mod processor;
mod runner;

pub use processor::{Context, Direction, JobId, JobPolicy, Origin, Processor};
pub use runner::Pipeline;
