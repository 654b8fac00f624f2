//! `canary.html`: the rollout's verdict timeline as a chart (each guarded
//! metric's evidence against its boundary, look by look) and a table, with
//! the decision's timing; the last look's metrics are in `compare.html`.

use std::fmt::Write;

use super::html::{STYLE, verdict_colour};
use super::rollout::RolloutOutcome;
use super::rollout_report::{metrics_of, timeline_rows, timing};
use super::svg::{ChartOptions, Series, escape, line_chart};

const COLOURS: [&str; 5] = ["#c0392b", "#2c7fb8", "#27ae60", "#8e44ad", "#d35400"];

/// Evidence is drawn between these z values; a boundary beyond them (an
/// early look spends almost nothing) sits on the edge.
const Z_RANGE: (f64, f64) = (-4.0, 8.0);

fn timeline_chart(outcome: &RolloutOutcome) -> String {
    let clamp = |z: f64| z.clamp(Z_RANGE.0, Z_RANGE.1);
    let mut series = Vec::new();
    for (i, metric) in metrics_of(outcome).into_iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()].to_string();
        let of = |pick: &dyn Fn(&super::rollout::MetricLook) -> Option<f64>| -> Vec<(f64, f64)> {
            outcome
                .looks
                .iter()
                .filter_map(|look| {
                    let m = look.metrics.iter().find(|m| m.metric == metric)?;
                    Some((look.minute, clamp(pick(m)?)))
                })
                .collect()
        };
        series.push(Series {
            name: format!("{} z", metric.name()),
            points: of(&|m| m.z),
            colour: colour.clone(),
            dashed: false,
            step: false,
        });
        series.push(Series {
            name: format!("{} boundary", metric.name()),
            points: of(&|m| Some(m.boundary_z)),
            colour,
            dashed: true,
            step: false,
        });
    }
    let options = ChartOptions {
        width: 900.0,
        height: 420.0,
        title: "Evidence of harm at each look against its boundary".into(),
        x_range: Some((0.0, outcome.plan.bake_minutes.max(1.0))),
        y_range: Some(Z_RANGE),
        ..ChartOptions::default()
    };
    line_chart(&series, "minutes of the bake", "harm z", &options)
}

pub fn rollout_html(outcome: &RolloutOutcome) -> String {
    let mut page = String::with_capacity(32 * 1024);
    let verdict = outcome.verdict;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Canary rollout: {}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>Canary rollout</h1>\n\
         <div class=\"verdict\" style=\"background: {}\"><span class=\"word\">{}</span><span class=\"what\">{}</span></div>\n<ul class=\"reasons\">\n",
        escape(verdict.name()),
        verdict_colour(verdict),
        escape(verdict.name()),
        escape(&outcome.plan.headline())
    );
    for line in timing(outcome) {
        let _ = writeln!(page, "<li>{}</li>", escape(line.trim_start_matches("  - ")));
    }
    page.push_str("</ul>\n<h2>Verdict timeline</h2>\n");
    page.push_str(&timeline_chart(outcome));
    let (header, rows) = timeline_rows(outcome);
    page.push_str("\n<table>\n<tr>");
    for h in &header {
        let _ = write!(page, "<th>{}</th>", escape(h));
    }
    page.push_str("</tr>\n");
    for row in rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str(
        "</table>\n<p>The metrics, intervals, latency distributions and worst segments of the last look: \
         <a href=\"compare.html\">compare.html</a>. Every look's inputs: <code>decisions.jsonl</code>.</p>\n</body>\n</html>\n",
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::tests::call;
    use crate::gate::{Arm, GateConfig, Rollout, RolloutPlan, routes_to_canary};
    use crate::seed::Rng;

    #[test]
    fn the_page_shows_the_timeline_and_fetches_nothing() {
        let config = GateConfig { tail_samples: 5.0, ..GateConfig::default() };
        let plan = RolloutPlan { calls_per_minute: 300.0, bake_minutes: 3.0, ..RolloutPlan::default() };
        let rollout = Rollout { plan, config: &config, router: &routes_to_canary };
        let mut rng = Rng::new(21);
        let outcome = rollout.run(&mut |arrivals| {
            arrivals
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    Ok(call(&mut rng, i, if a.arm == Arm::Canary { 0.05 } else { 0.03 }, 0.02, 1500.0, 220.0))
                })
                .collect()
        });
        let page = rollout_html(&outcome);
        assert!(page.contains("Verdict timeline") && page.contains("<svg") && page.contains("error rate z"));
        assert_eq!(page.matches("<tr>").count(), outcome.looks.len() + 1);
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
