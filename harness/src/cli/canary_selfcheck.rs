//! `voicegate canary selfcheck`: is the gate itself right? Many A/A
//! comparisons (stable against itself: calls resampled from real per-call
//! data) measure the false-rollback rate; many with a known injected
//! regression measure the power. Each simulation runs the bake's looks
//! with their group-sequential boundaries, as a rollout does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use voicegate_agent::call_metrics::CallMetrics;

use super::canary::gate_config;
use super::run::select_definition;
use super::traffic::load_profile;
use super::{EXIT_USAGE, values};
use crate::audio::Corpus;
use crate::canary::{Count, SequentialBoundary, wilson};
use crate::gate::{GateConfig, Metric, Status, Verdict, judge};
use crate::metrics::read_calls;
use crate::parallel::map_in_order;
use crate::seed::Rng;
use crate::traffic::{CallRequest, CallResult, run_calls};

#[derive(Debug, Args)]
pub struct SelfcheckArgs {
    /// Real per-call data to resample (a calls.jsonl or run folder); if not
    /// given, `--pool` traffic calls of `--agent` are placed first.
    #[arg(long)]
    pub calls: Option<PathBuf>,
    #[arg(long, default_value_t = 3000, allow_negative_numbers = true, value_parser = values::calls, conflicts_with = "calls")]
    pub pool: u64,
    /// The version whose fresh traffic calls make the pool (not with `--calls`).
    #[arg(long, value_name = "NAME@VERSION", default_value = "support@1.1.0", conflicts_with = "calls")]
    pub agent: String,
    /// Simulated comparisons of each kind.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true, value_parser = values::how_many)]
    pub simulations: usize,
    /// Canary calls a bake plans for (stable gets `--stable-per-canary` times as many).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true, value_parser = values::how_many)]
    pub canary_calls: usize,
    #[arg(long, default_value_t = 9.0, allow_hyphen_values = true, value_parser = values::arm_ratio)]
    pub stable_per_canary: f64,
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = values::looks)]
    pub looks: usize,
    /// The injected regression: extra canary calls with an error (0.02 = +2 points).
    #[arg(long, default_value_t = 0.02, allow_hyphen_values = true, value_parser = values::rate_rise)]
    pub effect: f64,
    /// Guard only the error rate (with the whole alpha), as the plan assumes.
    #[arg(long)]
    pub error_rate_only: bool,
    /// Margins, weights and alpha (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Bootstrap resamples and permutations of the latency tests (default:
    /// the gate config's, 2,000). 200 runs about ten times faster; the
    /// permutation test is then a little conservative (its p-value moves
    /// in steps of 1/201).
    #[arg(long, allow_negative_numbers = true, value_parser = values::resamples)]
    pub resamples: Option<usize>,
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub jobs: usize,
    #[arg(long)]
    pub corpus: Option<PathBuf>,
}

/// One simulated bake's end.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedBake {
    pub verdict: Verdict,
    /// Canary calls seen when it ended.
    pub canary_calls: usize,
    /// The metrics found harmful at a rollback.
    pub harmed: Vec<Metric>,
}

/// Run one bake over `stable` and `canary` (in arrival order) with
/// `looks` equally spaced looks.
pub fn simulate_bake(
    stable: &[CallMetrics],
    canary: &[CallMetrics],
    config: &GateConfig,
    looks: usize,
    seed: u64,
) -> SimulatedBake {
    let mut boundaries: BTreeMap<Metric, SequentialBoundary> = config
        .guarded()
        .into_iter()
        .filter_map(|m| SequentialBoundary::new(config.alpha_of(m)).ok().map(|b| (m, b)))
        .collect();
    let looks = looks.max(1);
    for k in 1..=looks {
        let fraction = k as f64 / looks as f64;
        let (s, c) = ((stable.len() * k) / looks, (canary.len() * k) / looks);
        let critical: BTreeMap<Metric, f64> =
            boundaries.iter_mut().filter_map(|(m, b)| b.look(fraction).ok().map(|look| (*m, look.nominal_p))).collect();
        let judgement =
            judge(&stable[..s], &canary[..c], config, &|m| critical.get(&m).copied().unwrap_or(0.0), k == looks, seed);
        if judgement.verdict == Verdict::Rollback || k == looks {
            let harmed = judgement.metrics.iter().filter(|m| m.status == Status::Harm).map(|m| m.metric).collect();
            return SimulatedBake { verdict: judgement.verdict, canary_calls: c, harmed };
        }
    }
    unreachable!("the last look always ends the bake")
}

/// `n` calls drawn with replacement from `pool`; with `effect`, calls with
/// no error get one with probability `effect / (1 - baseline)`, which
/// raises the error rate by `effect` in expectation.
pub fn resample(pool: &[CallMetrics], n: usize, effect: f64, rng: &mut Rng) -> Vec<CallMetrics> {
    let baseline = pool.iter().filter(|c| c.error).count() as f64 / pool.len().max(1) as f64;
    let flip = if baseline < 1.0 { effect / (1.0 - baseline) } else { 0.0 };
    (0..n)
        .map(|_| {
            let mut call = pool[rng.below(pool.len() as u64) as usize].clone();
            if effect > 0.0 && !call.error && rng.unit() < flip {
                call.note_error("injected");
            }
            call
        })
        .collect()
}

/// Fewer calls than this cannot stand for a traffic mix: a bake resampled
/// from them measures the pool, not the gate.
const MIN_POOL: usize = 100;

fn pool(args: &SelfcheckArgs) -> Result<Vec<CallMetrics>, String> {
    if let Some(path) = &args.calls {
        let calls = read_calls(path).map_err(|e| e.to_string())?;
        super::compare::one_version("--calls", path, &calls)?;
        return Ok(calls);
    }
    let corpus = Corpus::load(&args.corpus.clone().unwrap_or_else(Corpus::default_dir)).map_err(|e| e.to_string())?;
    let definition: Arc<_> = select_definition(&args.agent).map_err(|e| format!("--agent: {e}"))?;
    let profile = load_profile(None, &corpus, &[&definition])?;
    let requests = CallRequest::run_of(args.seed, args.pool, &definition);
    Ok(run_calls(&profile, &requests, &corpus, args.jobs)
        .into_iter()
        .filter_map(|r| match r {
            CallResult::Done { metrics, .. } => Some(*metrics),
            CallResult::Broken { .. } => None,
        })
        .collect())
}

pub fn run(args: SelfcheckArgs) -> anyhow::Result<u8> {
    let config = match gate_config(args.config.as_deref()) {
        Ok(config) if args.error_rate_only => config.guarding_only(Metric::ErrorRate),
        Ok(config) => GateConfig { resamples: args.resamples.unwrap_or(config.resamples), ..config },
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let pool = match pool(&args) {
        Ok(pool) if pool.len() >= MIN_POOL => pool,
        Ok(pool) => {
            eprintln!(
                "error: {} to resample: a selfcheck needs at least {MIN_POOL} real calls to stand for traffic \
                 (the default pool is 3000)",
                super::stdout::counted(pool.len(), "call")
            );
            return Ok(EXIT_USAGE);
        }
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let stable_n = (args.canary_calls as f64 * args.stable_per_canary).round() as usize;
    if stable_n + args.canary_calls > 10_000_000 {
        eprintln!(
            "error: --canary-calls {} with --stable-per-canary {} makes {} calls a bake: expected at most 10000000",
            args.canary_calls,
            args.stable_per_canary,
            stable_n + args.canary_calls
        );
        return Ok(EXIT_USAGE);
    }
    let baseline = pool.iter().filter(|c| c.error).count() as f64 / pool.len() as f64;
    outln!(
        "{} calls resampled (error rate {:.2}%); {} simulated bakes of each kind, {} canary and {} stable calls, {}, \
         guarding {}",
        pool.len(),
        baseline * 100.0,
        args.simulations,
        args.canary_calls,
        stable_n,
        super::stdout::counted(args.looks, "look"),
        config.guarded().iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
    );
    let injected = format!("injected {:+.2} points of errors", args.effect * 100.0);
    for (label, effect) in [("A/A (no difference)", 0.0), (injected.as_str(), args.effect)] {
        let mut rollbacks = 0u64;
        let mut calls_at_rollback = Vec::new();
        let mut by_metric: BTreeMap<Metric, u64> = BTreeMap::new();
        let simulations: Vec<u64> = (0..args.simulations as u64).collect();
        let bakes = map_in_order(&simulations, args.jobs, |_, &s| {
            let mut rng = Rng::derive(args.seed, &format!("selfcheck-{effect}-{s}"));
            let stable = resample(&pool, stable_n, 0.0, &mut rng);
            let canary = resample(&pool, args.canary_calls, effect, &mut rng);
            simulate_bake(&stable, &canary, &config, args.looks, args.seed ^ s)
        });
        for bake in bakes {
            if bake.verdict == Verdict::Rollback {
                rollbacks += 1;
                calls_at_rollback.push(bake.canary_calls as f64);
                for metric in bake.harmed {
                    *by_metric.entry(metric).or_default() += 1;
                }
            }
        }
        let count = Count { events: rollbacks, calls: args.simulations as u64 };
        let (low, high) = wilson(count, 0.025);
        let mean_calls = if calls_at_rollback.is_empty() {
            "no rollback".to_string()
        } else {
            format!(
                "mean canary calls at a rollback {:.0}",
                calls_at_rollback.iter().sum::<f64>() / calls_at_rollback.len() as f64
            )
        };
        let what = if effect == 0.0 {
            "false-rollback rate".to_string()
        } else {
            format!("power at {:+.1} points", effect * 100.0)
        };
        outln!(
            "{label}: {what} {:.1}% ({rollbacks}/{}; 95% CI {:.1}% to {:.1}%); {mean_calls}",
            count.rate() * 100.0,
            args.simulations,
            low * 100.0,
            high * 100.0
        );
        if !by_metric.is_empty() {
            let named: Vec<String> = by_metric
                .iter()
                .map(|(m, n)| format!("{} {:.1}%", m.name(), 100.0 * *n as f64 / args.simulations as f64))
                .collect();
            outln!("  rolled back on: {}", named.join(", "));
        }
    }
    Ok(0)
}
