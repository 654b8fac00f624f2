//! Runs scenarios: every step is matched before anything runs (an unknown
//! step is an error naming file and line), then scenarios run in parallel,
//! each call on its own thread and virtual clock. Results come back in
//! file order, whatever the parallelism.

use std::sync::Arc;

use super::loader::{LoadError, Scenario};
use crate::audio::Corpus;
use crate::checks::Finding;
use voicegate_agent::AgentDefinition;

use crate::driver::{AgentOptions, CallPlan};
use crate::faults::Fault;
use crate::parallel::{map_in_order, panic_text};
use crate::seed::Rng;
use crate::steps::{Arg, CompletedCall, StepDef, StepError, World, registry};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    /// Worker threads; 0 means one per core.
    pub jobs: usize,
    /// Run the agent with a known bug injected around it, to see the
    /// harness catch it.
    pub fault: Option<Fault>,
    /// The agent's released definition; `None` for the built-in one.
    pub definition: Option<Arc<AgentDefinition>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { seed: 1, jobs: 0, fault: None, definition: None }
    }
}

impl RunOptions {
    /// The agent every call of the run talks to.
    pub fn agent(&self) -> AgentOptions {
        AgentOptions { definition: self.definition.clone(), fault: self.fault, ..AgentOptions::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// The scenario could not be run as written.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepOutcome {
    pub keyword: String,
    pub text: String,
    pub line: usize,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub seed: u64,
    pub status: Status,
    pub steps: Vec<StepOutcome>,
    /// Every call the scenario made, in order.
    pub calls: Vec<CompletedCall>,
    /// Findings no `Then` step declared expected: they fail the scenario.
    pub unexpected: Vec<Finding>,
}

/// The seed of one scenario: derived from the run's seed and the
/// scenario's feature and name, so it does not depend on run order.
pub fn scenario_seed(run_seed: u64, scenario: &Scenario) -> u64 {
    Rng::derive(run_seed, &format!("{}/{}", scenario.feature, scenario.name)).next_u64()
}

struct Bound<'r> {
    def: &'r StepDef,
    args: Vec<Arg>,
}

fn word_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split_whitespace().collect(), b.split_whitespace().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, wa) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, wb) in b.iter().enumerate() {
            let substitution = previous + usize::from(wa != wb && !wb.starts_with('{'));
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Match every step of every scenario; all problems are reported at once.
fn bind<'r>(scenarios: &[Scenario], defs: &'r [StepDef]) -> Result<Vec<Vec<Bound<'r>>>, LoadError> {
    let mut problems = Vec::new();
    let mut bound = Vec::new();
    for scenario in scenarios {
        let mut steps = Vec::new();
        for step in &scenario.steps {
            let matches: Vec<Bound<'r>> = defs
                .iter()
                .filter_map(|def| def.expression.matches(&step.text).map(|args| Bound { def, args }))
                .collect();
            let place = format!("{}:{}", scenario.file.display(), step.line);
            match matches.len() {
                1 if step.table.is_some() => problems.push(format!(
                    "{place}: the step `{} {}` has a data table, but it takes none (no step reads a table yet)",
                    step.keyword, step.text
                )),
                // Only steps written with a closing colon read a doc string.
                1 if step.docstring.is_some() && !matches[0].def.expression.source().ends_with(':') => {
                    problems.push(format!(
                        "{place}: the step `{} {}` has a doc string, but it takes none (steps that read one end \
                         with a colon)",
                        step.keyword, step.text
                    ))
                }
                1 => steps.extend(matches),
                0 => {
                    let closest = defs
                        .iter()
                        .min_by_key(|d| word_distance(&step.text, d.expression.source()))
                        .map(|d| d.expression.source())
                        .unwrap_or_default();
                    problems.push(format!(
                        "{place}: unknown step `{} {}` (the closest known step is `{closest}`)",
                        step.keyword, step.text
                    ));
                }
                _ => {
                    let sources: Vec<&str> = matches.iter().map(|m| m.def.expression.source()).collect();
                    problems
                        .push(format!("{place}: the step `{}` matches several definitions: {sources:?}", step.text));
                }
            }
        }
        bound.push(steps);
    }
    if problems.is_empty() { Ok(bound) } else { Err(LoadError { problems }) }
}

fn run_one(scenario: &Scenario, steps: &[Bound<'_>], corpus: &Corpus, options: &RunOptions) -> ScenarioResult {
    run_seeded(scenario, steps, corpus, scenario_seed(options.seed, scenario), options.agent())
}

/// Run one scenario again with the seed it ran with (from a fixture).
pub fn replay_scenario(
    scenario: &Scenario,
    seed: u64,
    agent: AgentOptions,
    corpus: &Corpus,
) -> Result<ScenarioResult, LoadError> {
    let defs = registry();
    let bound = bind(std::slice::from_ref(scenario), &defs)?;
    Ok(run_seeded(scenario, &bound[0], corpus, seed, agent))
}

fn run_seeded(
    scenario: &Scenario,
    steps: &[Bound<'_>],
    corpus: &Corpus,
    seed: u64,
    agent: AgentOptions,
) -> ScenarioResult {
    let mut plan = CallPlan::new(format!("{} / {}", scenario.feature, scenario.name), seed);
    plan.agent = agent;
    let mut world = World::new(plan, corpus);
    let mut outcomes = Vec::new();
    let mut status = Status::Passed;
    for (step, bound) in scenario.steps.iter().zip(steps) {
        let (step_status, message) = if status != Status::Passed {
            (StepStatus::Skipped, None)
        } else {
            world.docstring = step.docstring.clone();
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (bound.def.run)(&mut world, &bound.args)));
            world.note_script_line(step.line);
            match ran.unwrap_or_else(|payload| {
                Err(StepError::Invalid(format!("the step panicked: {}", panic_text(&*payload))))
            }) {
                Ok(()) => (StepStatus::Passed, None),
                Err(StepError::Failed(message)) => {
                    status = Status::Failed;
                    (StepStatus::Failed, Some(message))
                }
                Err(StepError::Invalid(message)) => {
                    status = Status::Error;
                    (StepStatus::Error, Some(format!("{}:{}: {message}", scenario.file.display(), step.line)))
                }
            }
        };
        outcomes.push(StepOutcome {
            keyword: step.keyword.clone(),
            text: step.text.clone(),
            line: step.line,
            status: step_status,
            message,
        });
    }
    let mut unexpected = Vec::new();
    if status == Status::Passed {
        // Every call is checked for truncation, budgets and script problems,
        // whether or not a step asked.
        let expected = world.expected.clone();
        let findings = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let calls = world.calls()?;
            Ok(calls
                .iter()
                .flat_map(|c| c.report.findings.iter())
                .filter(|f| !expected.contains(&f.kind))
                .cloned()
                .collect())
        }))
        .unwrap_or_else(|payload| Err(StepError::Invalid(format!("the call panicked: {}", panic_text(&*payload)))));
        match findings {
            Ok(findings) => {
                unexpected = findings;
                if !unexpected.is_empty() {
                    status = Status::Failed;
                }
            }
            Err(StepError::Invalid(message) | StepError::Failed(message)) => {
                status = Status::Error;
                outcomes.push(StepOutcome {
                    keyword: "*".into(),
                    text: "run the call".into(),
                    line: scenario.line,
                    status: StepStatus::Error,
                    message: Some(message),
                });
            }
        }
    }
    ScenarioResult { scenario: scenario.clone(), seed, status, steps: outcomes, calls: world.take_calls(), unexpected }
}

/// Run the scenarios; `Err` when a step is unknown or ambiguous (nothing
/// runs then).
pub fn run_scenarios(
    scenarios: &[Scenario],
    corpus: &Corpus,
    options: &RunOptions,
) -> Result<Vec<ScenarioResult>, LoadError> {
    run_with(scenarios, &registry(), corpus, options)
}

/// Run the scenarios against a given step library.
fn run_with(
    scenarios: &[Scenario],
    defs: &[StepDef],
    corpus: &Corpus,
    options: &RunOptions,
) -> Result<Vec<ScenarioResult>, LoadError> {
    let bound = bind(scenarios, defs)?;
    Ok(map_in_order(scenarios, options.jobs, |i, scenario| run_one(scenario, &bound[i], corpus, options)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ScenarioStep;

    #[test]
    fn unknown_steps_are_reported_with_file_line_and_a_suggestion() {
        let scenario = Scenario {
            feature: "f".into(),
            name: "n".into(),
            file: "scenarios/x.feature".into(),
            line: 3,
            tags: vec![],
            steps: vec![ScenarioStep {
                keyword: "When".into(),
                text: "the caller sings \"hello\"".into(),
                line: 7,
                docstring: None,
                table: None,
            }],
        };
        let defs = registry();
        let error = bind(&[scenario], &defs).err().expect("unknown step").to_string();
        assert!(error.starts_with("scenarios/x.feature:7: unknown step `When the caller sings \"hello\"`"), "{error}");
        assert!(error.contains("the caller says {string}"), "{error}");
    }

    #[test]
    fn a_data_table_on_a_step_that_takes_none_is_refused_with_file_and_line() {
        let mut s = scenario("t", &[("When", "the caller says \"what are your opening hours\"")]);
        s.steps[0].table = Some(vec![vec!["a".into()], vec!["b".into()]]);
        let defs = registry();
        let error = bind(&[s], &defs).err().expect("refused").to_string();
        assert!(error.contains("scenarios/robustness.feature:2:") && error.contains("has a data table"), "{error}");
    }

    #[test]
    fn a_doc_string_on_a_step_that_takes_none_is_refused_with_file_and_line() {
        let mut s = scenario("d", &[("When", "the caller says \"what are your opening hours\"")]);
        s.steps[0].docstring = Some("stray text".into());
        let defs = registry();
        let error = bind(&[s], &defs).err().expect("refused").to_string();
        assert!(error.contains("scenarios/robustness.feature:2:") && error.contains("has a doc string"), "{error}");
    }

    fn scenario(name: &str, steps: &[(&str, &str)]) -> Scenario {
        Scenario {
            feature: "robustness".into(),
            name: name.into(),
            file: "scenarios/robustness.feature".into(),
            line: 1,
            tags: vec![],
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, (keyword, text))| ScenarioStep {
                    keyword: (*keyword).into(),
                    text: (*text).into(),
                    line: i + 2,
                    docstring: None,
                    table: None,
                })
                .collect(),
        }
    }

    fn explode(_: &mut World<'_>, _: &[Arg]) -> crate::steps::StepResult {
        panic!("a step that explodes")
    }

    #[test]
    fn a_panicking_step_or_agent_stage_errors_its_scenario_and_the_run_goes_on() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let mut defs = registry();
        defs.push(crate::steps::StepDef {
            expression: crate::steps::Expression::parse("the step explodes"),
            run: explode,
        });
        let scenarios = vec![
            scenario(
                "step",
                &[("When", "the caller says \"what are your opening hours\""), ("Then", "the step explodes")],
            ),
            scenario(
                "agent",
                &[
                    ("Given", "the LLM service panics on request 1"),
                    ("When", "the caller says \"what are your opening hours\""),
                    ("Then", "the caller hears \"hello\""),
                ],
            ),
            scenario(
                "fine",
                &[("When", "the caller says \"what are your opening hours\""), ("Then", "the caller hears \"hello\"")],
            ),
        ];
        let results =
            run_with(&scenarios, &defs, &corpus, &RunOptions { jobs: 2, ..RunOptions::default() }).expect("binds");
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![Status::Error, Status::Error, Status::Passed]);
        let message =
            |r: &ScenarioResult| r.steps.iter().filter_map(|s| s.message.clone()).collect::<Vec<_>>().join(" ");
        assert!(message(&results[0]).contains("the step panicked: a step that explodes"), "{}", message(&results[0]));
        assert!(
            message(&results[1]).contains("the agent crashed: its responder stage panicked"),
            "{}",
            message(&results[1])
        );
        assert_eq!(results[1].calls.len(), 1, "the crashed call is kept as evidence");
    }

    /// A pattern's text with optional parts left out and the first of
    /// each alternation taken: `has/speaks( in) a(n)` reads `has a`.
    fn plain(pattern: &str) -> String {
        let mut out = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '(' => {
                    for skipped in chars.by_ref() {
                        if skipped == ')' {
                            break;
                        }
                    }
                }
                '/' => {
                    while chars.peek().is_some_and(|n| !n.is_whitespace() && *n != '(') {
                        chars.next();
                    }
                }
                other => out.push(other),
            }
        }
        out
    }

    #[test]
    fn no_two_step_definitions_claim_the_same_text() {
        let defs = registry();
        for def in &defs {
            // Instantiate each pattern with sample arguments and check it matches only itself.
            let sample = plain(def.expression.source())
                .replace("{string}", "\"x\"")
                .replace("{int}", "1")
                .replace("{float}", "1.5")
                .replace("{word}", "American");
            let claimed: Vec<&str> = defs
                .iter()
                .filter(|d| d.expression.matches(&sample).is_some())
                .map(|d| d.expression.source())
                .collect();
            assert_eq!(claimed, vec![def.expression.source()], "{sample}");
        }
    }
}
