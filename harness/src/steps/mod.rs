//! The step library: every Gherkin step voicegate understands, matched by
//! Cucumber expressions. `Given` and `When` steps build the call plan; the
//! first `Then` step runs the call; `Then` steps check its record.

mod audio;
#[cfg(test)]
mod evidence_tests;
mod expr;
mod given;
mod observed;
mod tenancy;
mod then;
mod when;

use std::collections::BTreeSet;

pub use expr::{Arg, Expression};

use voicegate_agent::telemetry::SessionId;

use crate::audio::Corpus;
use crate::checks::{CallReport, FindingKind, evaluate};
use crate::deployment::{ApiAnswer, Deployment};
use crate::driver::{CallOutcome, CallPlan, run_call};

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// The agent did not do what the step expects: the scenario fails.
    Failed(String),
    /// The step cannot be carried out as written (a phrase missing from the
    /// corpus, a step out of order): a scenario error.
    Invalid(String),
}

pub type StepResult = Result<(), StepError>;

pub struct StepDef {
    pub expression: Expression,
    pub run: fn(&mut World<'_>, &[Arg]) -> StepResult,
}

fn def(pattern: &'static str, run: fn(&mut World<'_>, &[Arg]) -> StepResult) -> StepDef {
    StepDef { expression: Expression::parse(pattern), run }
}

/// Every step definition, in one list.
pub fn registry() -> Vec<StepDef> {
    let mut steps = given::steps();
    steps.extend(audio::steps());
    steps.extend(when::steps());
    steps.extend(then::steps());
    steps.extend(tenancy::steps());
    steps.extend(observed::steps());
    steps
}

/// A finished call and what the checks found in it.
#[derive(Debug, Clone)]
pub struct CompletedCall {
    pub plan: CallPlan,
    pub outcome: CallOutcome,
    pub report: CallReport,
    /// The control-plane session, for calls placed by a tenant.
    pub session_id: Option<SessionId>,
}

#[cfg(test)]
impl CompletedCall {
    /// A call made of `record` alone (no audio), checked as a run checks it.
    pub(crate) fn of_record(plan: CallPlan, record: crate::record::CallRecord) -> Self {
        let report = crate::checks::evaluate(&record);
        let outcome = CallOutcome {
            record,
            caller_audio: vec![],
            caller_rate: 16_000,
            agent_audio: vec![],
            sample_rate: 16_000,
            persisted_history: vec![],
        };
        Self { plan, outcome, report, session_id: None }
    }
}

/// The state of one scenario; it lives for exactly one scenario.
pub struct World<'a> {
    /// The call being described by `Given`/`When` steps.
    pub plan: CallPlan,
    pub corpus: &'a Corpus,
    /// `plan` has been run (a new call needs `new_call`).
    plan_ran: bool,
    calls: Vec<CompletedCall>,
    /// Plans started so far: each call's seed is derived from its number.
    plans_started: u64,
    /// Finding kinds a `Then` step declared expected (they do not fail the scenario).
    pub expected: BTreeSet<FindingKind>,
    deployment: Option<Deployment>,
    /// The doc string of the step being run, if it has one.
    pub docstring: Option<String>,
    /// The last answer of the agent's API.
    pub last_answer: Option<ApiAnswer>,
    /// The outcome of a scenario's attempt to load definitions.
    pub definitions_load: Option<Result<(), String>>,
    /// Credential values from overlays the scenario uploaded, by (tenant,
    /// name), so steps can check for them without writing them out.
    pub credentials: std::collections::BTreeMap<(String, String), String>,
    /// Each tenant's tool allowlist from the overlay the scenario last put
    /// in place (`None`: every tool); a tenant missing here is not known.
    pub tool_allowlists: std::collections::BTreeMap<String, Option<Vec<String>>>,
    /// Every overlay the scenario put in place, by (tenant, version), as the
    /// agent's API numbered it (a restore copies the restored document).
    pub overlays: std::collections::BTreeMap<(String, u64), serde_json::Value>,
}

impl<'a> World<'a> {
    pub fn new(plan: CallPlan, corpus: &'a Corpus) -> Self {
        Self {
            plan,
            corpus,
            plan_ran: false,
            calls: Vec::new(),
            plans_started: 0,
            expected: BTreeSet::new(),
            deployment: None,
            docstring: None,
            last_answer: None,
            definitions_load: None,
            credentials: std::collections::BTreeMap::new(),
            tool_allowlists: std::collections::BTreeMap::new(),
            overlays: std::collections::BTreeMap::new(),
        }
    }

    /// For `Given`/`When` steps: the plan, as long as it has not run.
    pub fn plan_mut(&mut self) -> Result<&mut CallPlan, StepError> {
        if self.plan_ran {
            return Err(StepError::Invalid(
                "this step changes a call that has already run: put it before the first Then step, \
                 or start another call with `When tenant \"...\" calls`"
                    .into(),
            ));
        }
        Ok(&mut self.plan)
    }

    /// The scenario's deployment of the agent's control plane, started on first use.
    pub fn deployment(&mut self) -> Result<&Deployment, StepError> {
        if self.deployment.is_none() {
            let definition = self.plan.agent.definition();
            self.deployment = Some(Deployment::start(definition).map_err(StepError::Invalid)?);
        }
        Ok(self.deployment.as_ref().expect("just started"))
    }

    /// Run `plan` (as its tenant's session, if it has a tenant).
    fn run(&mut self, plan: CallPlan) -> Result<CompletedCall, StepError> {
        let session = match &plan.tenant {
            Some(tenant) => Some(self.deployment()?.create_session(tenant, plan.seed).map_err(StepError::Invalid)?),
            None => None,
        };
        let outcome = run_call(&plan, self.corpus, session.as_ref()).map_err(|e| StepError::Invalid(e.to_string()))?;
        if let (Some(tenant), Some(session)) = (&plan.tenant, &session) {
            let summary = serde_json::json!({ "scenario": plan.scenario, "seed": plan.seed });
            self.deployment()?
                .finish_session(tenant, &session.record.session_id, &outcome.persisted_history, summary)
                .map_err(StepError::Invalid)?;
        }
        let report = evaluate(&outcome.record);
        Ok(CompletedCall { session_id: session.map(|s| s.record.session_id), plan, outcome, report })
    }

    /// The latest call, run on first use. A script step the call could
    /// never carry out makes it a scenario error (the call is kept).
    pub fn call(&mut self) -> Result<&CompletedCall, StepError> {
        if !self.plan_ran {
            self.plan_ran = true;
            let call = self.run(self.plan.clone())?;
            let errors = script_errors(&call);
            self.calls.push(call);
            if !errors.is_empty() {
                return Err(StepError::Invalid(errors.join("; ")));
            }
        }
        Ok(self.calls.last().expect("a call ran"))
    }

    /// Every call of the scenario so far (running the pending one).
    pub fn calls(&mut self) -> Result<&[CompletedCall], StepError> {
        if !self.plan_ran && !self.plan.script.is_empty() {
            self.call()?;
        }
        Ok(&self.calls)
    }

    /// Start describing another call, for `tenant`. The service behaviour,
    /// budgets and agent options carry over; the caller's script does not.
    pub fn new_call(&mut self, tenant: Option<String>) -> Result<(), StepError> {
        if !self.plan_ran && !self.plan.script.is_empty() {
            self.call()?;
        }
        self.plan = self.fresh_plan(tenant);
        self.plan_ran = false;
        Ok(())
    }

    /// A plan for another call: the current one's services, budgets and
    /// agent options, an empty script, and a seed of its own.
    pub fn fresh_plan(&mut self, tenant: Option<String>) -> CallPlan {
        self.plans_started += 1;
        let mut next = self.plan.clone();
        next.seed = crate::seed::Rng::derive(self.plan.seed, &format!("call-{}", self.plans_started)).next_u64();
        next.script.clear();
        next.script_lines.clear();
        next.tool_allowlist = tenant.as_ref().and_then(|t| self.tool_allowlists.get(t).cloned().flatten());
        next.tenant = tenant;
        next
    }

    /// Run several plans at once, each on its own thread and virtual clock;
    /// sessions are created before and persisted after, in plan order.
    pub fn run_concurrently(&mut self, plans: Vec<CallPlan>) -> Result<(), StepError> {
        let mut sessions = Vec::new();
        for plan in &plans {
            let tenant =
                plan.tenant.as_deref().ok_or_else(|| StepError::Invalid("a concurrent call needs a tenant".into()))?;
            sessions.push(self.deployment()?.create_session(tenant, plan.seed).map_err(StepError::Invalid)?);
        }
        let corpus = self.corpus;
        let outcomes: Vec<Result<CallOutcome, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = plans
                .iter()
                .zip(&sessions)
                .map(|(plan, session)| {
                    scope.spawn(move || run_call(plan, corpus, Some(session)).map_err(|e| e.to_string()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a call's thread panicked".into()))).collect()
        });
        for ((plan, session), outcome) in plans.into_iter().zip(sessions).zip(outcomes) {
            let outcome = outcome.map_err(StepError::Invalid)?;
            let tenant = plan.tenant.clone().expect("checked above");
            let summary = serde_json::json!({ "scenario": plan.scenario, "seed": plan.seed });
            self.deployment()?
                .finish_session(&tenant, &session.record.session_id, &outcome.persisted_history, summary)
                .map_err(StepError::Invalid)?;
            let report = evaluate(&outcome.record);
            self.calls.push(CompletedCall { session_id: Some(session.record.session_id), plan, outcome, report });
        }
        self.plan_ran = true;
        let errors: Vec<String> = self.calls.iter().flat_map(script_errors).collect();
        if errors.is_empty() { Ok(()) } else { Err(StepError::Invalid(errors.join("; "))) }
    }

    /// A call that has already run (tests of `Then` steps on made-up records).
    #[cfg(test)]
    pub fn push_completed(&mut self, call: CompletedCall) {
        self.calls.push(call);
        self.plan_ran = true;
    }

    /// The step at `line` has run: any script actions it wrote are its.
    pub fn note_script_line(&mut self, line: usize) {
        if !self.plan_ran {
            let written = self.plan.script.len();
            self.plan.script_lines.resize(written, line);
        }
    }

    pub fn take_calls(self) -> Vec<CompletedCall> {
        self.calls
    }
}

/// Why this call is a scenario error rather than a verdict: a script step
/// it could never carry out, or the agent crashing.
fn script_errors(call: &CompletedCall) -> Vec<String> {
    use voicegate_agent::telemetry::EventKind;
    call.outcome
        .record
        .events()
        .filter_map(|(_, e)| match e {
            crate::record::Event::ScriptError { message, action } => {
                match action.and_then(|a| call.plan.script_lines.get(a)) {
                    Some(line) => Some(format!("the step at line {line} cannot be carried out: {message}")),
                    None => Some(message.clone()),
                }
            }
            crate::record::Event::Agent(event) => match &event.kind {
                EventKind::StageFailed { stage, message } => {
                    Some(format!("the agent crashed: its {stage} stage panicked: {message}"))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn str_arg(args: &[Arg], i: usize) -> Result<&str, StepError> {
    match args.get(i) {
        Some(Arg::Str(s)) if s.trim().is_empty() => {
            Err(StepError::Invalid(format!("argument {}: an empty quoted text; expected some words", i + 1)))
        }
        Some(Arg::Str(s) | Arg::Word(s)) => Ok(s),
        other => Err(StepError::Invalid(format!("argument {} should be text, found {other:?}", i + 1))),
    }
}

fn int_arg(args: &[Arg], i: usize) -> Result<i64, StepError> {
    match args.get(i) {
        Some(Arg::Int(n)) => Ok(*n),
        other => Err(StepError::Invalid(format!("argument {} should be a whole number, found {other:?}", i + 1))),
    }
}

fn ms_arg(args: &[Arg], i: usize) -> Result<u32, StepError> {
    let n = int_arg(args, i)?;
    u32::try_from(n).map_err(|_| StepError::Invalid(format!("{n} is not a duration in milliseconds")))
}

fn float_arg(args: &[Arg], i: usize) -> Result<f64, StepError> {
    match args.get(i) {
        Some(Arg::Float(x)) => Ok(*x),
        Some(Arg::Int(n)) => Ok(*n as f64),
        other => Err(StepError::Invalid(format!("argument {} should be a number, found {other:?}", i + 1))),
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, StepError> {
    Err(StepError::Failed(message.into()))
}
