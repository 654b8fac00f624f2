//! `voicegate canary plan | run | selfcheck`: the release manager's gate
//! before, during and about a rollout.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use voicegate_agent::AgentDefinition;

use super::compare::{exit_code, write_outputs};
use super::run::{create_out, resolve, select_definition, write_file};
use super::traffic::load_profile;
use super::{EXIT_USAGE, values};
use crate::audio::Corpus;
use crate::faults::Fault;
use crate::gate::{
    Arm, ArmInfo, ComparisonReport, DecidedBy, GateConfig, Rollout, RolloutOutcome, RolloutPlan, examples,
    routes_to_canary,
};
use crate::metrics::{CALLS_FILE, write_calls};
use crate::traffic::{CallRequest, CallResult, run_calls};

#[derive(Debug, Subcommand)]
pub enum CanaryAction {
    /// Before any traffic flows: the power of a bake, the smallest
    /// regression it detects, and the bake or split a margin needs.
    Plan(super::canary_plan::PlanArgs),
    /// A live rollout in virtual time against the reference agent.
    Run(RunArgs),
    /// Check the gate itself: many A/A comparisons and many with a known
    /// injected effect, on real per-call data.
    Selfcheck(super::canary_selfcheck::SelfcheckArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The version taking most calls, `name@version`.
    #[arg(long, value_name = "NAME@VERSION")]
    pub stable: String,
    /// The version being rolled out.
    #[arg(long, value_name = "NAME@VERSION")]
    pub canary: String,
    /// Calls a minute over both versions.
    #[arg(long, default_value_t = 1000.0, allow_hyphen_values = true, value_parser = values::call_rate)]
    pub rate: f64,
    /// Share of new calls the router sends to the canary.
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true, value_parser = values::open_unit)]
    pub share: f64,
    /// Bake length, whole minutes of virtual time (a look a minute).
    #[arg(long, default_value_t = 10.0, allow_hyphen_values = true, value_parser = values::bake_minutes)]
    pub bake: f64,
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub seed: u64,
    /// The traffic profile (TOML); the shipped default if not given.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Margins, weights and alpha (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Inject a known bug around the canary, in a share of its calls.
    #[arg(long, value_enum)]
    pub canary_fault: Option<Fault>,
    /// Share of the canary's calls the fault hits (by a hash of the call id).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = values::unit)]
    pub canary_fault_share: f64,
    /// The always-valid guard's alpha.
    #[arg(long, default_value_t = 0.01, allow_hyphen_values = true, value_parser = values::alpha)]
    pub guard_alpha: f64,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub jobs: usize,
    #[arg(long, default_value = "reports/canary")]
    pub out: PathBuf,
    #[arg(long)]
    pub corpus: Option<PathBuf>,
}

pub fn run(action: CanaryAction) -> anyhow::Result<u8> {
    match action {
        CanaryAction::Plan(args) => super::canary_plan::run(args),
        CanaryAction::Run(args) => run_rollout(args),
        CanaryAction::Selfcheck(args) => super::canary_selfcheck::run(args),
    }
}

/// The gate config at `path`, or the defaults.
pub(super) fn gate_config(path: Option<&std::path::Path>) -> Result<GateConfig, String> {
    path.map(GateConfig::load).transpose().map(Option::unwrap_or_default)
}

/// What `canary run` writes in `--out`.
const CANARY_OUTPUTS: &[&str] = &[
    "stable/",
    "stable/calls.jsonl",
    "canary/",
    "canary/calls.jsonl",
    "after-decision/",
    "after-decision/stable/",
    "after-decision/stable/calls.jsonl",
    "after-decision/canary/",
    "after-decision/canary/calls.jsonl",
    "decisions.jsonl",
    "canary.json",
    "canary.md",
    "canary.html",
    "compare.json",
    "compare.md",
    "compare.html",
];

fn run_rollout(args: RunArgs) -> anyhow::Result<u8> {
    let corpus = Corpus::load(&args.corpus.clone().unwrap_or_else(Corpus::default_dir))?;
    let out = resolve(&args.out, "reports/canary");
    let inputs = (|| {
        super::canary_plan::both_arms_get_calls(args.rate, args.share, args.bake)?;
        create_out(&out, CANARY_OUTPUTS)?;
        let stable = select_definition(&args.stable).map_err(|e| format!("--stable: {e}"))?;
        let canary = select_definition(&args.canary).map_err(|e| format!("--canary: {e}"))?;
        let profile = load_profile(args.profile.as_deref(), &corpus, &[&stable, &canary])?;
        let config = gate_config(args.config.as_deref())?;
        Ok::<_, String>((profile, stable, canary, config))
    })();
    let (profile, stable, canary, config) = match inputs {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let plan = RolloutPlan {
        stable_version: stable.id(),
        canary_version: canary.id(),
        canary_fault: args.canary_fault.map(|fault| {
            let name = clap::ValueEnum::to_possible_value(&fault)
                .map_or_else(|| format!("{fault:?}"), |v| v.get_name().to_string());
            (name, args.canary_fault_share)
        }),
        calls_per_minute: args.rate,
        canary_share: args.share,
        bake_minutes: args.bake,
        guard_alpha: args.guard_alpha,
        seed: args.seed,
        ..RolloutPlan::default()
    };
    let definition =
        |arm: Arm| -> Arc<AgentDefinition> { if arm == Arm::Canary { canary.clone() } else { stable.clone() } };
    let mut place = |arrivals: &[crate::gate::Arrival]| {
        let requests: Vec<CallRequest> = arrivals
            .iter()
            .map(|a| CallRequest {
                call_id: a.call_id.clone(),
                definition: definition(a.arm),
                started_ms: a.started_ms,
                fault: args.canary_fault.filter(|_| {
                    a.arm == Arm::Canary && routes_to_canary(&format!("fault/{}", a.call_id), args.canary_fault_share)
                }),
            })
            .collect();
        run_calls(&profile, &requests, &corpus, args.jobs)
            .into_iter()
            .map(|r| match r {
                CallResult::Done { metrics, .. } => Ok(*metrics),
                CallResult::Broken { message, .. } => Err(message),
            })
            .collect()
    };
    let rollout = Rollout { plan, config: &config, router: &routes_to_canary };
    let outcome = rollout.run(&mut place);
    write_rollout(&out, &outcome, &config)?;
    out!("{}", crate::gate::rollout_summary(&outcome));
    outln!("reports in {}", out.display());
    if !outcome.broken.is_empty() {
        for line in &outcome.broken {
            eprintln!("error: {line}");
        }
        return Ok(EXIT_USAGE);
    }
    Ok(if outcome.decided_by == DecidedBy::BrokenRouter { EXIT_USAGE } else { exit_code(outcome.verdict) })
}

fn write_rollout(out: &std::path::Path, outcome: &RolloutOutcome, config: &GateConfig) -> anyhow::Result<()> {
    // Each arm's folder holds the calls the last judgement saw, so
    // `voicegate compare stable canary` reads what `compare.*` shows; the
    // calls that completed after it are kept apart.
    let (s, c) = outcome.judged;
    for (arm, calls, judged) in [("stable", &outcome.stable, s), ("canary", &outcome.canary, c)] {
        write_calls(&out.join(arm).join(CALLS_FILE), &calls[..judged])?;
        let later = out.join("after-decision").join(arm).join(CALLS_FILE);
        if judged < calls.len() {
            write_calls(&later, &calls[judged..])?;
        } else if later.exists() {
            std::fs::remove_file(&later).map_err(|e| anyhow::anyhow!("{}: cannot remove it: {e}", later.display()))?;
        }
    }
    let decisions: String =
        outcome.looks.iter().map(|l| serde_json::to_string(l).expect("a look serialises") + "\n").collect();
    write_file(&out.join("decisions.jsonl"), decisions)?;
    let summary = serde_json::json!({
        "plan": outcome.plan,
        "verdict": outcome.verdict,
        "decided_by": outcome.decided_by,
        "decided_at_minute": outcome.decided_at_minute,
        "last_canary_call_minute": outcome.last_canary_call_minute,
        "canary_exposed": outcome.canary_exposed,
        "judged_calls": { "stable": s, "canary": c },
        "completed_calls": { "stable": outcome.stable.len(), "canary": outcome.canary.len() },
        "looks": outcome.looks,
        "broken": outcome.broken,
    });
    write_file(&out.join("canary.json"), serde_json::to_string_pretty(&summary)?)?;
    write_file(&out.join("canary.md"), crate::gate::rollout_markdown(outcome))?;
    write_file(&out.join("canary.html"), crate::gate::rollout_html(outcome))?;
    if let Some(judgement) = &outcome.judgement {
        let (stable, canary) = (&outcome.stable[..s], &outcome.canary[..c]);
        let version = |calls: &[voicegate_agent::call_metrics::CallMetrics], path: &str| {
            ArmInfo::of(&out.join(path).join(CALLS_FILE), calls)
        };
        let report = ComparisonReport::new(
            (version(stable, "stable"), stable),
            (version(canary, "canary"), canary, examples(canary, None, 10)),
            config,
            judgement.clone(),
            outcome.plan.seed,
        );
        write_outputs(out, &report)?;
    }
    Ok(())
}
