//! Run traffic calls in parallel, each on its own thread and virtual
//! clock, and turn each into its metrics. Results come back in request
//! order whatever the parallelism; a call that panics or cannot be run is
//! reported as such and never stops the others.

use std::sync::Arc;

use voicegate_agent::AgentDefinition;
use voicegate_agent::call_metrics::CallMetrics;

use super::draw::draw_call;
use super::profile::Profile;
use crate::audio::Corpus;
use crate::checks::evaluate;
use crate::driver::run_call;
use crate::parallel::{map_in_order, panic_text};
use crate::record::{CallRecord, Event};

/// One call to place.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub call_id: String,
    pub definition: Arc<AgentDefinition>,
    /// When it starts on the run's clock, ms.
    pub started_ms: u64,
    /// A known bug injected around the agent for this call.
    pub fault: Option<crate::faults::Fault>,
}

impl CallRequest {
    /// Calls `0..count` of a traffic run with `seed`, all to `definition`.
    pub fn run_of(seed: u64, count: u64, definition: &Arc<AgentDefinition>) -> Vec<Self> {
        (0..count)
            .map(|i| Self {
                call_id: super::call_id(seed, i),
                definition: definition.clone(),
                started_ms: 0,
                fault: None,
            })
            .collect()
    }
}

/// What one call gave.
#[derive(Debug, Clone)]
pub enum CallResult {
    Done {
        metrics: Box<CallMetrics>,
        /// The record, kept for calls that failed their task or hit an error.
        failed_record: Option<Box<CallRecord>>,
    },
    /// The harness could not run the call (a panic, or bad input).
    Broken { call_id: String, message: String },
}

/// Place one call and measure it.
pub fn run_one(profile: &Profile, request: &CallRequest, corpus: &Corpus) -> CallResult {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut plan = draw_call(profile, &request.call_id, request.definition.clone());
        plan.agent.fault = request.fault;
        let outcome = run_call(&plan, corpus, None).map_err(|e| e.to_string())?;
        if let Some(message) = outcome.record.events().find_map(|(_, e)| match e {
            Event::ScriptError { message, .. } => Some(message.clone()),
            _ => None,
        }) {
            return Err(format!("the drawn script could not be carried out: {message}"));
        }
        let report = evaluate(&outcome.record);
        let metrics =
            crate::metrics::call_metrics(&outcome.record, &report, &request.definition.id(), request.started_ms);
        // Kept as examples: any call that counts against a guarded rate.
        let failed = metrics.error
            || metrics.task_completed == Some(false)
            || metrics.barge_ins.iter().any(|b| b.truncation_ok == Some(false));
        Ok::<_, String>((metrics, failed.then(|| Box::new(outcome.record))))
    }));
    match ran {
        Ok(Ok((metrics, failed_record))) => CallResult::Done { metrics: Box::new(metrics), failed_record },
        Ok(Err(message)) => CallResult::Broken { call_id: request.call_id.clone(), message },
        Err(payload) => CallResult::Broken {
            call_id: request.call_id.clone(),
            message: format!("the call panicked: {}", panic_text(&*payload)),
        },
    }
}

/// Place every call, `jobs` at a time (0: one per core).
pub fn run_calls(profile: &Profile, requests: &[CallRequest], corpus: &Corpus, jobs: usize) -> Vec<CallResult> {
    map_in_order(requests, jobs, |_, request| run_one(profile, request, corpus))
}
