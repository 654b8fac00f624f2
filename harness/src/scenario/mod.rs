//! Scenarios: loading `.feature` files and running them.

mod loader;
mod runner;
mod tags;

pub use loader::{LoadError, Scenario, ScenarioStep, load_features};
pub use runner::{
    RunOptions, ScenarioResult, Status, StepOutcome, StepStatus, replay_scenario, run_scenarios, scenario_seed,
};
pub use tags::TagExpr;
