//! The step library: every Gherkin step voicegate understands, matched by
//! Cucumber expressions. `Given` and `When` steps build the call plan; the
//! first `Then` step runs the call; `Then` steps check its record.

mod expr;
mod given;
mod then;
mod when;

use std::collections::BTreeSet;

pub use expr::{Arg, Expression};

use crate::audio::Corpus;
use crate::checks::{CallReport, FindingKind, evaluate};
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
    steps.extend(when::steps());
    steps.extend(then::steps());
    steps
}

/// A finished call and what the checks found in it.
#[derive(Debug, Clone)]
pub struct CompletedCall {
    pub plan: CallPlan,
    pub outcome: CallOutcome,
    pub report: CallReport,
}

/// The state of one scenario; it lives for exactly one scenario.
pub struct World<'a> {
    pub plan: CallPlan,
    pub corpus: &'a Corpus,
    call: Option<CompletedCall>,
    /// Finding kinds a `Then` step declared expected (they do not fail the scenario).
    pub expected: BTreeSet<FindingKind>,
}

impl<'a> World<'a> {
    pub fn new(plan: CallPlan, corpus: &'a Corpus) -> Self {
        Self { plan, corpus, call: None, expected: BTreeSet::new() }
    }

    /// For `Given`/`When` steps: the plan, as long as the call has not run.
    pub fn plan_mut(&mut self) -> Result<&mut CallPlan, StepError> {
        if self.call.is_some() {
            return Err(StepError::Invalid(
                "this step changes the call, so it must come before the first Then step".into(),
            ));
        }
        Ok(&mut self.plan)
    }

    /// The call, run on first use.
    pub fn call(&mut self) -> Result<&CompletedCall, StepError> {
        if self.call.is_none() {
            let outcome = run_call(&self.plan, self.corpus).map_err(|e| StepError::Invalid(e.to_string()))?;
            let report = evaluate(&outcome.record, &self.plan.budgets);
            self.call = Some(CompletedCall { plan: self.plan.clone(), outcome, report });
        }
        Ok(self.call.as_ref().expect("just set"))
    }

    pub fn take_call(self) -> Option<CompletedCall> {
        self.call
    }
}

fn str_arg(args: &[Arg], i: usize) -> Result<&str, StepError> {
    match args.get(i) {
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
