//! `voicegate canary plan`: before any traffic flows, what a bake can
//! detect, and what a margin needs. Rates only: the error rate at its
//! baseline, against a regression of `--effect` points.

use clap::Args;

use super::{EXIT_USAGE, values};
use crate::canary::{
    Traffic, bake_minutes_needed, canary_share_needed, detectable_effect, equally_spaced_fractions, power,
    sequential_cost,
};
use crate::gate::{GateConfig, Metric};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Stable's error rate (0.05 = 5%).
    #[arg(long, default_value_t = 0.05, allow_hyphen_values = true, value_parser = values::open_unit)]
    pub baseline: f64,
    /// Calls a minute over both versions.
    #[arg(long, default_value_t = 1000.0, allow_hyphen_values = true, value_parser = values::call_rate)]
    pub rate: f64,
    /// Share of calls to the canary.
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true, value_parser = values::open_unit)]
    pub share: f64,
    /// Bake length, minutes.
    #[arg(long, default_value_t = 10.0, allow_hyphen_values = true, value_parser = values::plan_minutes)]
    pub bake: f64,
    /// The regression to detect, as a rate (0.02 = +2 points).
    #[arg(long, default_value_t = 0.02, allow_hyphen_values = true, value_parser = values::open_unit)]
    pub effect: f64,
    /// One-sided alpha of the rollback test.
    #[arg(long, default_value_t = 0.05, allow_hyphen_values = true, value_parser = values::alpha)]
    pub alpha: f64,
    /// The power wanted.
    #[arg(long, default_value_t = 0.8, allow_hyphen_values = true, value_parser = values::power)]
    pub power: f64,
    /// Looks during the bake (one a minute by default).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = values::looks)]
    pub looks: usize,
}

/// `Err` when a bake of `rate` calls a minute split `share` to the canary
/// expects under one call in either arm: no plan, and no rollout.
pub(super) fn both_arms_get_calls(rate: f64, share: f64, bake: f64) -> Result<(), String> {
    let traffic = Traffic { calls_per_minute: rate, canary_share: share };
    let canary_calls = traffic.canary_calls(bake);
    let stable_calls = canary_calls * traffic.stable_per_canary();
    if canary_calls < 1.0 || stable_calls < 1.0 {
        return Err(format!(
            "--rate {rate} for --bake {bake} minutes with --share {share} gives {canary_calls:.2} canary and \
             {stable_calls:.2} stable calls: each arm needs at least one call"
        ));
    }
    Ok(())
}

/// The plan, as lines of text; `Err` names the bad argument.
pub fn plan_lines(args: &PlanArgs) -> Result<Vec<String>, String> {
    if args.baseline + args.effect >= 1.0 {
        return Err(format!(
            "--baseline {} plus --effect {} leaves no room: the regressed rate must stay below 1",
            args.baseline, args.effect
        ));
    }
    both_arms_get_calls(args.rate, args.share, args.bake)?;
    let traffic = Traffic { calls_per_minute: args.rate, canary_share: args.share };
    let k = traffic.stable_per_canary();
    let canary_calls = traffic.canary_calls(args.bake);
    let cost = sequential_cost(args.alpha, args.power, &equally_spaced_fractions(args.looks.max(1)))
        .map_err(|e| e.to_string())?;
    // A sequential design of n calls has about the power of a single test
    // of n / inflation calls (the inflation is what the looks cost).
    let effective = canary_calls / cost.max_inflation;
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let pts = |v: f64| format!("{:+.2} points", v * 100.0);
    let mut lines = vec![
        format!(
            "{}: {:.0} canary calls against {:.0} stable",
            crate::gate::RolloutPlan {
                calls_per_minute: args.rate,
                canary_share: args.share,
                bake_minutes: args.bake,
                ..Default::default()
            }
            .traffic_line(),
            canary_calls,
            canary_calls * k
        ),
        format!(
            "{} cost{} {:.3}x the calls of one test at the end (O'Brien-Fleming-type spending); with a real \
             regression the bake stops after {:.2}x on average",
            super::stdout::counted(args.looks, "look"),
            if args.looks == 1 { "s" } else { "" },
            cost.max_inflation,
            cost.expected_under_harm
        ),
    ];
    let at = |alpha: f64| -> Result<(f64, Option<f64>), String> {
        let p = power(args.baseline, args.effect, effective, k, alpha).map_err(|e| e.to_string())?;
        let smallest = detectable_effect(args.baseline, effective, k, alpha, args.power).map_err(|e| e.to_string())?;
        Ok((p, smallest))
    };
    let needs = |alpha: f64| -> Result<Vec<String>, String> {
        let minutes = bake_minutes_needed(args.baseline, args.effect, alpha, args.power, traffic)
            .map_err(|e| e.to_string())?
            * cost.max_inflation;
        let share = canary_share_needed(
            args.baseline,
            args.effect,
            alpha,
            args.power,
            args.rate,
            args.bake / cost.max_inflation,
        )
        .map_err(|e| e.to_string())?;
        Ok(vec![
            if minutes <= values::MAX_PLAN_MINUTES {
                format!("  a bake of {minutes:.1} minutes at this split and rate would")
            } else {
                "  no bake up to a week at this split and rate would".into()
            },
            match share {
                Some(share) => format!("  or a {} split in {:.0} minutes would", pct(share), args.bake),
                None => "  no split up to 50/50 would in this bake".into(),
            },
        ])
    };
    let default_alpha = GateConfig::default().alpha_of(Metric::ErrorRate);
    for (label, alpha) in [
        ("the error rate alone", args.alpha),
        ("every default metric guarded (the error rate's share of alpha)", default_alpha * args.alpha / 0.05),
    ] {
        let (p, smallest) = at(alpha)?;
        lines.push(format!(
            "with {label} (one-sided alpha {}): power {} to detect {} over a {} baseline; smallest \
             regression detected with {} power: {}",
            if alpha >= 0.001 { format!("{alpha:.3}") } else { format!("{alpha:.1e}") },
            pct(p),
            pts(args.effect),
            pct(args.baseline),
            pct(args.power),
            smallest.map_or("none up to a rate of 1".into(), pts)
        ));
        if p < args.power {
            lines.push(format!("  this bake cannot detect {} with {} power:", pts(args.effect), pct(args.power)));
            lines.extend(needs(alpha)?);
        }
    }
    Ok(lines)
}

pub fn run(args: PlanArgs) -> anyhow::Result<u8> {
    match plan_lines(&args) {
        Ok(lines) => {
            for line in lines {
                outln!("{line}");
            }
            Ok(0)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(EXIT_USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rate: f64, share: f64, bake: f64) -> PlanArgs {
        PlanArgs { baseline: 0.05, rate, share, bake, effect: 0.02, alpha: 0.05, power: 0.8, looks: 10 }
    }

    #[test]
    fn a_plan_with_no_call_in_an_arm_is_refused_not_given_a_power() {
        for (rate, share, bake) in [(1000.0, 0.1, 1e-9), (1000.0, 0.999_999_999, 10.0)] {
            let error = plan_lines(&args(rate, share, bake)).expect_err("no calls");
            assert!(error.contains("each arm needs at least one call"), "{error}");
        }
        let lines = plan_lines(&args(400.0, 0.1, 10.0)).expect("a plan");
        assert!(lines[0].starts_with("400 calls a minute, 10% to the canary, 10-minute bake: 400 canary calls"));
        assert!(lines.iter().any(|l| l.contains("this bake cannot detect +2.00 points")), "{lines:?}");
    }

    #[test]
    fn a_negative_number_reaches_its_check_instead_of_reading_as_a_flag() {
        use clap::Parser;
        for (args, expected) in [
            (&["voicegate", "canary", "plan", "--baseline", "-0.1"][..], "strictly between 0 and 1, got -0.1"),
            (&["voicegate", "canary", "plan", "--rate", "-400"][..], "-400"),
            (&["voicegate", "run", "--seed", "-3"][..], "invalid value '-3' for '--seed"),
        ] {
            let error = crate::cli::Cli::try_parse_from(args).expect_err("refused").to_string();
            assert!(error.contains(expected) && !error.contains("unexpected argument"), "{args:?}: {error}");
        }
    }

    #[test]
    fn one_look_is_one_look() {
        let lines = plan_lines(&PlanArgs { looks: 1, ..args(1000.0, 0.1, 10.0) }).expect("a plan");
        assert!(lines[1].starts_with("1 look costs 1.000x"), "{}", lines[1]);
    }
}
