//! `voicegate compare --stable A --canary B`: the promotion gate on two
//! sets of per-call metrics. Exit 0 promote, 1 rollback, 3 hold, 2 usage.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Args;
use voicegate_agent::call_metrics::CallMetrics;

use super::EXIT_USAGE;
use crate::gate::{ArmInfo, ComparisonReport, GateConfig, Verdict, examples, html, judge, markdown, terminal_table};
use crate::metrics::{calls_path, read_calls};

pub const EXIT_ROLLBACK: u8 = 1;
pub const EXIT_HOLD: u8 = 3;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Stable's calls: a run folder or a calls.jsonl.
    #[arg(long)]
    pub stable: PathBuf,
    /// The canary's calls: a run folder or a calls.jsonl.
    #[arg(long)]
    pub canary: PathBuf,
    /// Margins, weights and alpha (TOML); the defaults otherwise.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where compare.json, compare.md and compare.html go.
    #[arg(long, default_value = "reports/compare")]
    pub out: PathBuf,
    /// Seed of the bootstrap: the same inputs and seed give the same report.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub seed: u64,
}

/// The exit code of a verdict.
pub fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Promote => 0,
        Verdict::Rollback => EXIT_ROLLBACK,
        Verdict::Hold => EXIT_HOLD,
    }
}

/// The `records/` folder beside a calls.jsonl, if there is one.
fn records_beside(path: &Path) -> Option<PathBuf> {
    let file = calls_path(path);
    let dir = file.parent()?.join("records");
    dir.is_dir().then_some(dir)
}

/// Write under `out`: compare.json (everything, for tools), compare.md (for
/// a release ticket) and compare.html (the page a release manager reads:
/// the verdict, intervals against margins, latency CDFs; it stands alone).
pub fn write_outputs(out: &Path, report: &ComparisonReport) -> anyhow::Result<()> {
    super::run::create_dir(out)?;
    // The page links records relative to itself, so a report folder
    // uploaded with its arms (a CI artifact) keeps its links.
    let mut linked = report.clone();
    // Real paths (no `..`, no symlinks) on both sides, or the page keeps
    // the absolute link.
    if let Ok(base) = out.canonicalize() {
        for example in &mut linked.examples {
            if let Some(record) = example.record.as_mut()
                && let Ok(target) = Path::new(record).canonicalize()
            {
                *record = relative_to(&base, &target).display().to_string();
            }
        }
    }
    for (name, text) in
        [("compare.json", report.to_json()), ("compare.md", markdown(report)), ("compare.html", html(&linked))]
    {
        super::run::write_file(&out.join(name), text)?;
    }
    Ok(())
}

/// `target` as a path from the folder `base` (both absolute): up to their
/// common ancestor, then down.
fn relative_to(base: &Path, target: &Path) -> PathBuf {
    let (base, target): (Vec<_>, Vec<_>) = (base.components().collect(), target.components().collect());
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target.iter().collect();
    }
    let mut path: PathBuf = base[common..].iter().map(|_| "..").collect();
    path.extend(&target[common..]);
    path
}

/// An arm is one agent version, measured one way: `Err` names the flag and
/// the file when `calls` mix versions or measurers.
pub(super) fn one_version(flag: &str, path: &Path, calls: &[CallMetrics]) -> Result<(), String> {
    let versions: BTreeSet<&str> = calls.iter().map(|c| c.agent_version.as_str()).collect();
    if versions.len() > 1 {
        return Err(format!(
            "{flag} {}: calls of {} agent versions ({}); an arm is one version",
            path.display(),
            versions.len(),
            versions.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if calls.iter().map(|c| c.source).collect::<BTreeSet<_>>().len() > 1 {
        return Err(format!(
            "{flag} {}: calls measured both by the harness and by the agent; an arm is measured one way",
            path.display()
        ));
    }
    Ok(())
}

/// Why two arms cannot be compared, if they cannot: the same file twice,
/// an arm mixing agent versions, or calls of different kinds (scenario
/// calls have no task goal, traffic calls do).
fn comparable(args: &CompareArgs, stable: &[CallMetrics], canary: &[CallMetrics]) -> Result<(), String> {
    let same = |a: &Path, b: &Path| match (calls_path(a).canonicalize(), calls_path(b).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&args.stable, &args.canary) {
        return Err(format!(
            "--stable and --canary are the same calls ({}): compare two versions' calls",
            calls_path(&args.stable).display()
        ));
    }
    for (flag, path, calls) in [("--stable", &args.stable, stable), ("--canary", &args.canary, canary)] {
        one_version(flag, path, calls)?;
    }
    let sources = |calls: &[CallMetrics]| calls.iter().map(|c| c.source).collect::<BTreeSet<_>>();
    if sources(stable) != sources(canary) {
        let names = |calls: &[CallMetrics]| {
            sources(calls)
                .iter()
                .map(|s| {
                    if *s == voicegate_agent::call_metrics::MetricsSource::Harness {
                        "the harness"
                    } else {
                        "the agent"
                    }
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        return Err(format!(
            "--stable calls were measured by {} and --canary calls by {}: the harness sees what the caller heard, \
             the agent does not; compare calls measured the same way",
            names(stable),
            names(canary)
        ));
    }
    let traffic = |calls: &[CallMetrics]| calls.iter().any(|c| c.task_completed.is_some());
    if traffic(stable) != traffic(canary) {
        let kind = |calls: &[CallMetrics]| {
            if traffic(calls) {
                "traffic calls (with task goals)"
            } else {
                "calls without task goals (scenario calls?)"
            }
        };
        return Err(format!(
            "--stable holds {} and --canary {}: compare calls of the same kind, from `voicegate traffic` on both sides",
            kind(stable),
            kind(canary)
        ));
    }
    Ok(())
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let config = match args.config.as_deref().map(GateConfig::load).transpose() {
        Ok(config) => config.unwrap_or_default(),
        Err(message) => {
            eprintln!("error: --config {message}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Err(message) = super::run::create_out(&args.out, &["compare.json", "compare.md", "compare.html"]) {
        eprintln!("error: {message}");
        return Ok(EXIT_USAGE);
    }
    let (stable, canary) = match (read_calls(&args.stable), read_calls(&args.canary)) {
        (Ok(stable), Ok(canary)) => (stable, canary),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Err(message) = comparable(&args, &stable, &canary) {
        eprintln!("error: {message}");
        return Ok(EXIT_USAGE);
    }
    let judgement = judge(&stable, &canary, &config, &|m| config.alpha_of(m), true, args.seed);
    let records = records_beside(&args.canary);
    let report = ComparisonReport::new(
        (ArmInfo::of(&args.stable, &stable), &stable),
        (ArmInfo::of(&args.canary, &canary), &canary, examples(&canary, records.as_deref(), 10)),
        &config,
        judgement,
        args.seed,
    );
    write_outputs(&args.out, &report)?;
    out!("{}", terminal_table(&report));
    outln!("reports in {}", args.out.display());
    Ok(exit_code(report.judgement.verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::tests::arm;
    use crate::metrics::{CALLS_FILE, write_calls};

    fn args(dir: &Path, stable: PathBuf, canary: PathBuf) -> CompareArgs {
        CompareArgs { stable, canary, config: None, out: dir.join("out"), seed: 1 }
    }

    #[test]
    fn bad_inputs_are_usage_errors_never_a_verdict() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = dir.path().join("good").join(CALLS_FILE);
        write_calls(&good, &arm(1, 50, 0.02, 0.02, 1500.0)).expect("writes");
        let line = std::fs::read_to_string(&good).expect("read").lines().next().expect("a line").to_string();
        let cases = [
            ("malformed", format!("{line}\n{{\"schema\": 1, \"call_id\"\n")),
            ("missing", format!("{line}\n{}\n", line.replace(",\"duration_ms\":15000", ""))),
            ("newer", format!("{line}\n{}\n", line.replace("\"schema\":1", "\"schema\":7"))),
            ("empty", String::new()),
        ];
        for (name, text) in cases {
            let bad = dir.path().join(name).join(CALLS_FILE);
            std::fs::create_dir_all(bad.parent().expect("parent")).expect("mkdir");
            std::fs::write(&bad, text).expect("write");
            for (stable, canary) in [(good.clone(), bad.clone()), (bad.clone(), good.clone())] {
                let code = run(args(dir.path(), stable, canary)).expect("answers");
                assert_eq!(code, EXIT_USAGE, "{name}");
            }
        }
        assert!(!dir.path().join("out").join("compare.json").exists(), "no report from bad input");
    }

    #[test]
    fn arms_that_cannot_be_compared_are_usage_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, calls: &[CallMetrics]| {
            let path = dir.path().join(name).join(CALLS_FILE);
            write_calls(&path, calls).expect("writes");
            path.parent().expect("a folder").to_path_buf()
        };
        let stable = write("stable", &arm(1, 300, 0.02, 0.02, 1500.0));
        let mut mixed = arm(2, 300, 0.02, 0.02, 1500.0);
        mixed[7].agent_version = "support@9.9.9".into();
        let mixed = write("mixed", &mixed);
        let mut scenario = arm(3, 300, 0.02, 0.02, 1500.0);
        scenario.iter_mut().for_each(|c| c.task_completed = None);
        let scenario = write("scenario", &scenario);
        let mut logged = arm(4, 300, 0.02, 0.02, 1500.0);
        logged.iter_mut().for_each(|c| c.source = voicegate_agent::call_metrics::MetricsSource::Agent);
        let logged = write("logged", &logged);
        for (canary, expected) in [
            (stable.join(CALLS_FILE), "are the same calls"),
            (mixed, "calls of 2 agent versions"),
            (scenario, "compare calls of the same kind"),
            (logged, "measured by the harness and --canary calls by the agent"),
        ] {
            let args = args(dir.path(), stable.clone(), canary);
            let (s, c) = (read_calls(&args.stable).expect("reads"), read_calls(&args.canary).expect("reads"));
            let error = comparable(&args, &s, &c).expect_err(expected);
            assert!(error.contains(expected), "{error}");
            assert_eq!(run(args).expect("answers"), EXIT_USAGE);
        }
    }

    #[test]
    fn a_record_is_linked_from_the_report_folder() {
        let rel = |base: &str, target: &str| relative_to(Path::new(base), Path::new(target)).display().to_string();
        assert_eq!(rel("/r/compare", "/r/canary/records/c.jsonl"), "../canary/records/c.jsonl");
        assert_eq!(rel("/r", "/r/canary/c.jsonl"), "canary/c.jsonl");
        assert_eq!(rel("/a/b/c", "/x/y.jsonl"), "../../../x/y.jsonl");
    }

    #[test]
    fn a_verdict_is_written_and_given_as_the_exit_code() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (stable, canary) = (dir.path().join("s.jsonl"), dir.path().join("c.jsonl"));
        write_calls(&stable, &arm(2, 3000, 0.02, 0.02, 1500.0)).expect("writes");
        write_calls(&canary, &arm(3, 300, 0.20, 0.02, 1500.0)).expect("writes");
        assert_eq!(run(args(dir.path(), stable.clone(), canary)).expect("answers"), EXIT_ROLLBACK);
        for file in ["compare.json", "compare.md", "compare.html"] {
            assert!(dir.path().join("out").join(file).is_file(), "{file}");
        }
        let small = dir.path().join("small.jsonl");
        write_calls(&small, &arm(4, 100, 0.02, 0.02, 1500.0)).expect("writes");
        assert_eq!(run(args(dir.path(), stable, small)).expect("answers"), EXIT_HOLD, "100 calls never promote");
    }
}
