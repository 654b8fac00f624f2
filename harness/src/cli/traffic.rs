//! `voicegate traffic`: place N calls drawn from a traffic profile against
//! one agent version and write their metrics (`calls.jsonl`), the input of
//! `voicegate compare`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use voicegate_agent::AgentDefinition;
use voicegate_agent::call_metrics::CallMetrics;

use super::EXIT_USAGE;
use super::run::{create_dir, create_out, resolve, select_definition, write_file};
use crate::audio::Corpus;
use crate::metrics::{CALLS_FILE, write_calls};
use crate::traffic::{CallRequest, CallResult, DEFAULT_PROFILE, Profile, run_calls};

/// Records of failed calls kept per run, as examples for the report.
const EXAMPLE_RECORDS: usize = 100;

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// The traffic profile (TOML); the shipped default if not given.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// How many calls.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1000, allow_negative_numbers = true, value_parser = super::values::calls)]
    pub calls: u64,
    /// The agent's released definition, `name@version` (default: the built-in reference).
    #[arg(long, value_name = "NAME@VERSION", default_value = "support@1.1.0")]
    pub agent: String,
    /// The run's seed: call i is the same call in every run with this seed.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub seed: u64,
    /// Parallel calls (default: one per core).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub jobs: usize,
    /// Where `calls.jsonl` and example records go.
    #[arg(long, default_value = "reports/traffic")]
    pub out: PathBuf,
    /// The speech corpus folder.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
}

/// The profile at `path`, or the shipped one; checked against the corpus.
/// The profile at `path` (the shipped default if none), checked against
/// the corpus and against the tools of every definition that takes calls.
pub(super) fn load_profile(
    path: Option<&Path>,
    corpus: &Corpus,
    definitions: &[&AgentDefinition],
) -> Result<Profile, String> {
    let (profile, name) = match path {
        Some(path) => (Profile::load(path).map_err(|e| e.to_string())?, path.display().to_string()),
        None => (
            Profile::parse(DEFAULT_PROFILE, "scenarios/traffic/default.toml").map_err(|e| e.to_string())?,
            "scenarios/traffic/default.toml".to_string(),
        ),
    };
    profile.check_corpus(corpus, &name).map_err(|e| e.to_string())?;
    for definition in definitions {
        profile.check_tools(definition, &name).map_err(|e| e.to_string())?;
    }
    Ok(profile)
}

/// The share of `calls` for which `f` holds.
pub(super) fn share(calls: &[CallMetrics], f: impl Fn(&CallMetrics) -> bool) -> f64 {
    calls.iter().filter(|c| f(c)).count() as f64 / calls.len().max(1) as f64
}

pub fn run(args: TrafficArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let corpus = Corpus::load(&args.corpus.unwrap_or_else(Corpus::default_dir))?;
    let out = resolve(&args.out, "reports/traffic");
    let inputs = create_out(&out, &["calls.jsonl", "records/"])
        .and_then(|()| select_definition(&args.agent).map_err(|e| format!("--agent: {e}")))
        .and_then(|definition| {
            load_profile(args.profile.as_deref(), &corpus, &[&definition]).map(|profile| (profile, definition))
        });
    let (profile, definition) = match inputs {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let requests = CallRequest::run_of(args.seed, args.calls, &definition);
    let results = run_calls(&profile, &requests, &corpus, args.jobs);
    let records = out.join("records");
    if records.is_dir() {
        std::fs::remove_dir_all(&records)
            .map_err(|e| anyhow::anyhow!("{}: cannot clear the old example records: {e}", records.display()))?;
    }
    let (mut calls, mut broken, mut examples) = (Vec::new(), Vec::new(), 0);
    for result in results {
        match result {
            CallResult::Done { metrics, failed_record } => {
                if let Some(record) = failed_record.filter(|_| examples < EXAMPLE_RECORDS) {
                    create_dir(&records)?;
                    write_file(&records.join(format!("{}.jsonl", metrics.call_id)), record.to_jsonl())?;
                    examples += 1;
                }
                calls.push(*metrics);
            }
            CallResult::Broken { call_id, message } => broken.push(format!("{call_id}: {message}")),
        }
    }
    write_calls(&out.join(CALLS_FILE), &calls)?;
    let turn_latencies: Vec<f64> = calls.iter().flat_map(|c| c.turns.iter().filter_map(|t| t.latency_ms)).collect();
    let call_seconds: f64 = calls.iter().map(|c| c.duration_ms as f64 / 1000.0).sum();
    let elapsed = started.elapsed().as_secs_f64();
    outln!(
        "{} calls to {} ({} profile, seed {}): task completed {:.1}%, errors {:.1}%, truncation failures {:.1}%, \
         p95 turn latency {:.0} ms",
        calls.len(),
        definition.id(),
        profile.name,
        args.seed,
        100.0 * share(&calls, |c| c.task_completed == Some(true)),
        100.0 * share(&calls, |c| c.error),
        100.0 * share(&calls, CallMetrics::truncation_failed),
        crate::canary::quantile(&turn_latencies, 0.95).unwrap_or(f64::NAN),
    );
    outln!(
        "{:.0} min of calls in {:.1} s ({:.0} calls a second); metrics in {}",
        call_seconds / 60.0,
        elapsed,
        calls.len() as f64 / elapsed.max(1e-9),
        out.join(CALLS_FILE).display()
    );
    if !broken.is_empty() {
        for line in &broken {
            eprintln!("error: {line}");
        }
        return Ok(EXIT_USAGE);
    }
    Ok(0)
}
