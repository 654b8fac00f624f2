//! Run traffic calls in parallel, each on its own thread and virtual
//! clock, and turn each into its metrics. Results come back in request
//! order whatever the parallelism; a call that panics or cannot be run is
//! reported as such and never stops the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use voicegate_agent::AgentDefinition;
use voicegate_agent::call_metrics::CallMetrics;

use super::draw::draw_call;
use super::profile::Profile;
use crate::audio::Corpus;
use crate::checks::evaluate;
use crate::driver::run_call;
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

/// Worker threads for `jobs` (0: one per core).
pub fn workers(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
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
        let failed = metrics.error || metrics.task_completed == Some(false);
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
    let jobs = workers(jobs).min(requests.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CallResult>>> = Mutex::new(vec![None; requests.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(request) = requests.get(i) else { break };
                    let result = run_one(profile, request, corpus);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
}
