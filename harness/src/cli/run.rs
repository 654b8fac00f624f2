//! `voicegate run`: run the scenarios, write the reports, exit 0/1/2.

use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use clap::Args;
use voicegate_agent::AgentDefinition;
use voicegate_agent::config::DefinitionRegistry;

use super::{EXIT_FAILED, EXIT_USAGE};
use crate::audio::Corpus;
use crate::fixture::{Fixture, check_regression, regression_dirs, save_fixtures};
use crate::report::{Totals, terminal_table, write_reports};
use crate::scenario::{RunOptions, TagExpr, load_features, run_scenarios};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A .feature file or a folder of them.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Only scenarios whose tags match, e.g. "@barge-in and not @slow".
    #[arg(long)]
    pub tags: Option<String>,
    /// The run's seed: the same seed gives the same audio, records and verdicts.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub seed: u64,
    /// Where reports go.
    #[arg(long, default_value = "reports/latest")]
    pub out: PathBuf,
    /// Parallel calls (default: one per core).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub jobs: usize,
    /// The speech corpus folder.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// The reference agent's released definition, as `name@version`
    /// (`support@1.2.0`); the built-in support@1.1.0 if not given.
    #[arg(long, value_name = "NAME@VERSION")]
    pub agent: Option<String>,
    /// Run the reference agent with a known bug, to see the checks catch it.
    #[arg(long, value_enum)]
    pub agent_fault: Option<crate::faults::Fault>,
    /// Which calls to save as replayable fixtures under OUT/fixtures.
    #[arg(long, value_enum, default_value = "failed")]
    pub keep_fixtures: KeepFixtures,
    /// Promoted regression fixtures, replayed in every run.
    #[arg(long, default_value = super::fixtures::REGRESSIONS)]
    pub regressions: PathBuf,
    /// Do not replay the regression fixtures.
    #[arg(long)]
    pub no_regressions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepFixtures {
    /// The calls of failed scenarios.
    Failed,
    /// Every call.
    All,
    /// None.
    None,
}

/// `path` as given, or the project's own `fallback` when run from elsewhere.
pub(super) fn resolve(path: &Path, fallback: &str) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(fallback);
    if path == Path::new(fallback) && project.exists() { project } else { path.to_path_buf() }
}

/// Creates the report folder `--out` names before any work is done, so a
/// path that cannot be a folder is refused at once, by name.
/// `names` are the reports the command writes in it (a trailing `/` marks
/// a folder): one already there as the other kind is refused now too.
pub(super) fn create_out(out: &Path, names: &[&str]) -> Result<(), String> {
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create the report folder: {e}", out.display()))?;
    for name in names {
        let (name, folder) = name.strip_suffix('/').map_or((*name, false), |n| (n, true));
        let path = out.join(name);
        let wrong = if folder { path.exists() && !path.is_dir() } else { path.is_dir() };
        if wrong {
            return Err(format!(
                "--out {}: {name} is there as a {}, where this command writes its {}",
                out.display(),
                if folder { "file" } else { "folder" },
                if folder { "folder" } else { "file" }
            ));
        }
    }
    // A folder that exists but cannot be written (read-only, another
    // user's) fails here, before any call, not when the reports are due.
    let probe = out.join(format!(".voicegate-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("--out {}: cannot write in the report folder: {e}", out.display()))
}

/// Writes a report file, naming it when it cannot be written.
pub(super) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
    std::fs::write(path, contents).map_err(|e| anyhow::anyhow!("{}: cannot write it: {e}", path.display()))
}

/// Creates a report folder, naming it when it cannot be created.
pub(super) fn create_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", path.display()))
}

/// A released definition compiled into the binary, by `name@version`. A
/// bare name is refused rather than read as "the latest": a gate that
/// compares versions must name them, or `--stable support` quietly becomes
/// the canary's own version.
pub(super) fn select_definition(id: &str) -> Result<Arc<AgentDefinition>, String> {
    let registry = DefinitionRegistry::embedded()
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
    if !id.contains('@') {
        let known: Vec<String> = registry.all().map(|l| l.definition.id()).collect();
        return Err(format!("{id:?}: expected name@version, one of: {}", known.join(", ")));
    }
    registry.select(id)
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let tags = match create_out(&args.out, &["report.json", "junit.xml", "summary.md", "records/", "fixtures/"])
        .and_then(|()| args.tags.as_deref().map(TagExpr::parse).transpose())
    {
        Ok(tags) => tags,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let scenarios_path = resolve(&args.scenarios, "scenarios");
    let mut scenarios = match load_features(&scenarios_path) {
        Ok(scenarios) => scenarios,
        Err(error) => {
            eprintln!("error: the scenarios cannot be loaded:\n{error}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(tags) = &tags {
        scenarios.retain(|s| tags.matches(&s.tags));
    }
    if scenarios.is_empty() {
        eprintln!("error: no scenarios selected from {}", scenarios_path.display());
        return Ok(EXIT_USAGE);
    }
    let corpus = Corpus::load(&args.corpus.unwrap_or_else(Corpus::default_dir))?;
    let definition = match args.agent.as_deref().map(select_definition).transpose() {
        Ok(definition) => definition,
        Err(message) => {
            eprintln!("error: --agent: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let options = RunOptions { seed: args.seed, jobs: args.jobs, fault: args.agent_fault, definition };
    let mut results = match run_scenarios(&scenarios, &corpus, &options) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("error: some steps are not understood (nothing was run):\n{error}");
            return Ok(EXIT_USAGE);
        }
    };
    if !args.no_regressions {
        let regressions = resolve(&args.regressions, super::fixtures::REGRESSIONS);
        for dir in regression_dirs(&regressions)? {
            let fixture = match Fixture::load(&dir) {
                Ok(fixture) => fixture,
                Err(error) => {
                    eprintln!("error: the regression fixture cannot be replayed: {error}");
                    return Ok(EXIT_USAGE);
                }
            };
            results.push(check_regression(&fixture, &corpus, &options)?);
        }
    }
    write_reports(&args.out, args.seed, &results)?;
    if args.keep_fixtures != KeepFixtures::None {
        save_fixtures(&args.out, &results, &options, args.keep_fixtures == KeepFixtures::All)?;
    }
    out!("{}", terminal_table(&results));
    let virtual_ms: u64 = results
        .iter()
        .flat_map(|r| r.calls.iter())
        .map(|c| c.outcome.record.entries.last().map_or(0, |e| e.t_us / 1000))
        .sum();
    outln!(
        "{} calls, {:.1} min of call time, in {:.2} s; reports in {}",
        results.iter().map(|r| r.calls.len()).sum::<usize>(),
        virtual_ms as f64 / 60_000.0,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    let totals = Totals::of(&results);
    Ok(if totals.errors > 0 {
        EXIT_USAGE
    } else if totals.failed > 0 {
        EXIT_FAILED
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_folder_that_cannot_be_written_is_refused_before_any_call() {
        // A read-only folder would be the natural case, but root (as in CI
        // containers) writes there anyway; /proc/self is a folder in which
        // no one can create a file.
        let folder = Path::new("/proc/self");
        if !folder.is_dir() {
            println!("skipped: no /proc/self on this system to stand for an unwritable folder");
            return;
        }
        let error = create_out(folder, &[]).expect_err("unwritable");
        assert!(error.starts_with("--out /proc/self: cannot write in the report folder"), "{error}");
        let dir = tempfile::tempdir().expect("temp dir");
        create_out(dir.path(), &[]).expect("a writable folder");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "the check leaves nothing behind");
        std::fs::create_dir(dir.path().join("calls.jsonl")).expect("mkdir");
        std::fs::write(dir.path().join("records"), "").expect("write");
        let error = create_out(dir.path(), &["calls.jsonl"]).expect_err("a folder where a file goes");
        assert!(error.ends_with("calls.jsonl is there as a folder, where this command writes its file"), "{error}");
        let error = create_out(dir.path(), &["records/"]).expect_err("a file where a folder goes");
        assert!(error.ends_with("records is there as a file, where this command writes its folder"), "{error}");
    }
}
