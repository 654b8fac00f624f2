//! The command line: argument parsing and exit codes.

#[macro_use]
mod stdout;
mod canary;
mod canary_plan;
mod canary_selfcheck;
mod compare;
mod corpus;
mod fixtures;
mod run;
mod traffic;
mod values;

pub use canary_selfcheck::{resample, simulate_bake};
pub use run::RunArgs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "voicegate", version, about = "Conformance and regression harness for voice agents")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Gherkin scenarios against the reference agent.
    Run(RunArgs),
    /// Place calls drawn from a traffic profile against one agent version
    /// and write their metrics (calls.jsonl) for `voicegate compare`.
    Traffic(traffic::TrafficArgs),
    /// The promotion gate on two sets of per-call metrics (run folders or
    /// calls.jsonl): exit 0 promote, 1 rollback, 3 hold, 2 usage.
    Compare(compare::CompareArgs),
    /// The release manager's gate: plan a bake, run a rollout in virtual
    /// time, or check the gate itself.
    Canary {
        #[command(subcommand)]
        action: canary::CanaryAction,
    },
    /// Manage the caller speech corpus.
    Corpus {
        #[command(subcommand)]
        action: corpus::CorpusAction,
    },
    /// Rerun a saved call from its fixture and say whether it reproduces
    /// the same verdict, call record and audio.
    Replay {
        fixture: std::path::PathBuf,
        /// The speech corpus folder.
        #[arg(long)]
        corpus: Option<std::path::PathBuf>,
    },
    /// List, inspect or promote fixtures.
    Fixtures {
        #[command(subcommand)]
        action: fixtures::FixturesAction,
    },
}

/// Exit codes: 0 all passed, 1 a scenario failed, 2 usage or input error.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    ExitCode::from(run_cli(args))
}

/// Run the command line and return its exit code: 0 all passed, 1 a
/// scenario failed, 2 a usage or input error. Every user error is mapped
/// here, in one place.
pub fn run_cli<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Traffic(args) => traffic::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Canary { action } => canary::run(action),
        Command::Corpus { action } => corpus::run(action),
        Command::Replay { fixture, corpus } => fixtures::run_replay(&fixture, corpus),
        Command::Fixtures { action } => fixtures::run(action),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_USAGE
        }
    }
}
