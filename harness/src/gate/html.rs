//! `compare.html`: the comparison as one page for a release manager. The
//! verdict and why, the arms and the gate's settings, the metric table,
//! each metric's interval against its margin, both versions' latency
//! CDFs, the worst segments and example failing calls. It stands alone:
//! inline CSS and SVG, no script, nothing fetched.

use std::fmt::Write;

use super::config::Metric;
use super::evaluate::{MetricResult, Status, Verdict};
use super::report::{Cdf, ComparisonReport, difference, status_name, value};
use super::svg::{self, Anchor, ChartOptions, Corner, Reference, Scale, Series, Stroke, Svg, TickFormat, escape};

const STABLE: &str = "#2f6db5";
const CANARY: &str = "#e07b00";
/// Points per CDF curve at most, so a page of many thousand turns stays small.
const CDF_POINTS: usize = 400;
/// Rows of the worst segments shown.
pub(super) const SEGMENT_ROWS: usize = 10;
/// A segment's q-value under which it is flagged.
const SEGMENT_Q: f64 = 0.05;

/// A status's strong and light colour.
fn status_colours(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Harm => ("#c0392b", "#f5c6c0"),
        Status::WithinMargin => ("#1e8449", "#bfe6cc"),
        Status::Inconclusive => ("#b7770e", "#f6dfb0"),
        Status::InsufficientData => ("#7a7a7a", "#dddddd"),
        Status::Unguarded => ("#5d6d7e", "#d6dde4"),
    }
}

pub(super) fn verdict_colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Promote => "#1e7b45",
        Verdict::Hold => "#a86400",
        Verdict::Rollback => "#b3261e",
    }
}

pub(super) const STYLE: &str = "
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; color: #1b1b1b; margin: 24px auto;
       max-width: 1340px; padding: 0 16px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.verdict { display: flex; align-items: center; gap: 28px; padding: 18px 26px; border-radius: 8px; color: white; }
.verdict .word { font-size: 46px; font-weight: bold; letter-spacing: 3px; }
.verdict .what { font-size: 16px; }
ul.reasons li { margin: 4px 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { padding: 5px 12px; border-bottom: 1px solid #e2e2e2; text-align: left; vertical-align: top; }
th { background: #f4f5f7; font-weight: bold; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: white; font-size: 12px;
         white-space: nowrap; }
tr.flag td { background: #fdecea; }
.settings, .key { max-width: 1000px; }
.settings { color: #333; }
.interval { display: grid; grid-template-columns: 340px 780px; gap: 16px; align-items: center;
            border-bottom: 1px solid #eee; padding: 4px 0; }
.interval .name { font-weight: bold; }
.interval .note { color: #555; font-size: 12px; }
.key { color: #444; font-size: 13px; margin: 4px 0 8px; }
.charts { display: flex; flex-wrap: wrap; gap: 20px; }
code { font-size: 13px; background: #f4f5f7; padding: 0 4px; border-radius: 3px; }
.muted { color: #777; }
";

/// The whole page.
pub fn html(report: &ComparisonReport) -> String {
    let verdict = report.judgement.verdict;
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Canary comparison: {}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>Canary comparison</h1>\n",
        escape(verdict.name())
    );
    let _ = writeln!(
        page,
        "<div class=\"verdict\" style=\"background: {}\"><span class=\"word\">{}</span><span class=\"what\">{}</span></div>",
        verdict_colour(verdict),
        escape(verdict.name()),
        escape(&headline(report))
    );
    page.push_str("<h2>Why</h2>\n<ul class=\"reasons\">\n");
    for reason in &report.judgement.reasons {
        let _ = writeln!(page, "<li>{}</li>", escape(reason));
    }
    page.push_str("</ul>\n");
    arms(&mut page, report);
    metric_table(&mut page, report);
    intervals(&mut page, report);
    latency(&mut page, report);
    segments(&mut page, report);
    examples(&mut page, report);
    let _ =
        write!(page, "<p class=\"muted\">voicegate compare, report schema {}.</p>\n</body>\n</html>\n", report.schema);
    page
}

fn versions(versions: &[String]) -> String {
    if versions.is_empty() { "(no calls)".into() } else { versions.join(", ") }
}

fn headline(report: &ComparisonReport) -> String {
    format!(
        "canary {} ({} calls) against stable {} ({} calls)",
        versions(&report.canary.agent_versions),
        report.canary.calls,
        versions(&report.stable.agent_versions),
        report.stable.calls
    )
}

/// The interval's level: its upper end is the one-sided bound of harm.
fn level(report: &ComparisonReport) -> String {
    format!("{:.0}%", 100.0 * (1.0 - 2.0 * report.config.promote_alpha))
}

fn arms(page: &mut String, report: &ComparisonReport) {
    page.push_str(
        "<h2>Versions</h2>\n<table>\n<tr><th>arm</th><th>agent version</th><th>source</th><th>calls</th></tr>\n",
    );
    for (name, arm) in [("stable", &report.stable), ("canary", &report.canary)] {
        let _ = writeln!(
            page,
            "<tr><td>{name}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            escape(&versions(&arm.agent_versions)),
            escape(&arm.source),
            arm.calls
        );
    }
    page.push_str("</table>\n");
    let config = &report.config;
    let _ = writeln!(
        page,
        "<p class=\"settings\">Seed {}. Rollback alpha {} (one-sided, shared by the guarded metrics with weighted \
         Holm). Promotion when every guarded metric's one-sided {:.0}% bound of harm is inside its margin \
         (promote alpha {}). Power {:.0}%. Latency quantiles: {} bootstrap resamples over whole calls, judged \
         from {} samples above the quantile per arm.</p>",
        report.seed,
        config.alpha,
        100.0 * (1.0 - config.promote_alpha),
        config.promote_alpha,
        100.0 * config.power,
        config.resamples,
        config.tail_samples
    );
}

fn badge(m: &MetricResult) -> String {
    format!(
        "<span class=\"badge\" style=\"background: {}\">{}</span>",
        status_colours(m.status).0,
        escape(status_name(m))
    )
}

fn metric_table(page: &mut String, report: &ComparisonReport) {
    let _ = writeln!(
        page,
        "<h2>Metrics</h2>\n<table>\n<tr><th>metric</th><th>stable</th><th>canary</th><th>difference [{} interval]</th>\
         <th>margin</th><th>adj. p</th><th>status</th></tr>",
        level(report)
    );
    for m in &report.judgement.metrics {
        let diff = match (m.difference, m.interval) {
            (Some(d), Some((low, high))) => {
                format!("{} [{}, {}]", difference(m.metric, d), difference(m.metric, low), difference(m.metric, high))
            }
            _ => "-".into(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"num\">{} <span class=\"muted\">(n={})</span></td>\
             <td class=\"num\">{} <span class=\"muted\">(n={})</span></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&m.name),
            escape(&value(m.metric, m.stable)),
            m.stable_n,
            escape(&value(m.metric, m.canary)),
            m.canary_n,
            escape(&diff),
            escape(&difference(m.metric, m.margin)),
            escape(&m.adjusted_p.map_or("-".into(), |p| format!("{p:.3}"))),
            badge(m)
        );
    }
    page.push_str("</table>\n");
}

fn intervals(page: &mut String, report: &ComparisonReport) {
    let _ = writeln!(
        page,
        "<h2>Canary against stable, metric by metric</h2>\n<p class=\"key\">The bar is the difference's {} interval \
         (canary worse to the right), the dot its estimate; the solid line is no difference, the dashed line the \
         margin. Rates in points, latencies in percent of stable.</p>",
        level(report)
    );
    for m in &report.judgement.metrics {
        let _ = writeln!(
            page,
            "<div class=\"interval\"><div><span class=\"name\">{}</span> {}<div class=\"note\">{}</div></div>{}</div>",
            escape(&m.name),
            badge(m),
            escape(&m.note),
            interval_plot(m)
        );
    }
}

/// One metric's interval as a bar against 0 and its margin.
pub fn interval_plot(m: &MetricResult) -> String {
    let (width, height, side) = (780.0, 66.0, 34.0);
    let tick = if m.metric.is_rate() { TickFormat::Signed(" pt") } else { TickFormat::Signed("%") };
    // Points and percent: the difference times 100.
    let margin = m.margin * 100.0;
    let interval = m.interval.map(|(low, high)| (low * 100.0, high * 100.0));
    let estimate = m.difference.map(|d| d * 100.0);
    let mut low = 0f64.min(-0.25 * margin);
    let mut high = margin * 1.25;
    for v in interval.iter().flat_map(|&(a, b)| [a, b]).chain(estimate) {
        low = low.min(v);
        high = high.max(v);
    }
    let pad = (high - low) * 0.06;
    let domain = svg::nice_range(low - pad, high + pad, 7);
    let x = Scale::new(domain, (side, width - side));
    let (strong, light) = status_colours(m.status);
    let (bar_y, axis_y) = (28.0, 40.0);
    let mut plot = Svg::new(width, height);
    svg::x_axis(&mut plot, &x, axis_y, tick, "", Some(6.0));
    plot.line((x.map(0.0), 4.0), (x.map(0.0), axis_y), Stroke::solid("#222", 1.5));
    let (mx, label) = (x.map(margin), format!("margin {}", difference(m.metric, m.margin)));
    plot.line((mx, 4.0), (mx, axis_y), Stroke::dashed("#a32020", 1.5));
    let anchor = if mx > width * 0.75 { (mx - 4.0, Anchor::End) } else { (mx + 4.0, Anchor::Start) };
    plot.text((anchor.0, 13.0), &label, anchor.1, 11.0, "#a32020");
    match (interval, estimate) {
        (Some((a, b)), estimate) => {
            let (xa, xb) = (x.map(a), x.map(b));
            plot.rect(xa, bar_y - 7.0, (xb - xa).max(2.0), 14.0, light);
            plot.line((xa, bar_y), (xb, bar_y), Stroke::solid(strong, 2.0));
            plot.line((xa, bar_y - 7.0), (xa, bar_y + 7.0), Stroke::solid(strong, 2.0));
            plot.line((xb, bar_y - 7.0), (xb, bar_y + 7.0), Stroke::solid(strong, 2.0));
            if let Some(d) = estimate {
                plot.circle((x.map(d), bar_y), 5.5, strong);
            }
        }
        (None, _) => plot.text((width / 2.0, bar_y + 4.0), "insufficient data", Anchor::Middle, 13.0, "#777"),
    }
    plot.finish(&format!("{}: difference, {} and margin", m.name, status_name(m)))
}

fn latency(page: &mut String, report: &ComparisonReport) {
    page.push_str(
        "<h2>Latency distributions</h2>\n<p class=\"key\">Share of samples at or under each latency (empirical CDF), \
         all calls pooled; the dashed line is the quantile the gate compares.</p>\n<div class=\"charts\">\n",
    );
    let quantile = |metric: Metric| metric.quantile().unwrap_or(0.5);
    page.push_str(&cdf_chart(
        report,
        "Heard turn latency",
        &report.turn_latency,
        quantile(Metric::P95TurnLatency),
        "turn latency, ms (end of caller speech to first agent audio heard)",
    ));
    page.push_str(&cdf_chart(
        report,
        "Barge-in stop latency",
        &report.stop_latency,
        quantile(Metric::P99StopLatency),
        "stop latency, ms (caller's first word to agent's last audio heard)",
    ));
    page.push_str("</div>\n");
}

/// The points of an empirical CDF of sorted samples, at most `max`.
pub fn cdf_points(sorted: &[f64], max: usize) -> Vec<(f64, f64)> {
    let n = sorted.len() as f64;
    let points: Vec<(f64, f64)> = sorted.iter().enumerate().map(|(i, &v)| (v, (i + 1) as f64 / n)).collect();
    svg::downsample(&points, max)
}

fn cdf_chart(report: &ComparisonReport, title: &str, cdf: &Cdf, quantile: f64, x_label: &str) -> String {
    // The samples the gate judges: it leaves out latencies of 0 ms or less.
    let judged = |samples: &[f64]| samples.iter().copied().filter(|&v| v > 0.0).collect::<Vec<f64>>();
    let (stable, canary) = (judged(&cdf.stable), judged(&cdf.canary));
    let zeros = cdf.stable.len() + cdf.canary.len() - stable.len() - canary.len();
    let arm = |name: &str, versions_of: &[String], samples: &[f64], colour: &str| Series {
        name: format!("{name} {} (n={})", versions(versions_of), samples.len()),
        // Two vertices a step: half as many points as vertices.
        points: cdf_points(samples, CDF_POINTS / 2),
        colour: colour.into(),
        dashed: false,
        step: true,
    };
    let series = [
        arm("stable", &report.stable.agent_versions, &stable, STABLE),
        arm("canary", &report.canary.agent_versions, &canary, CANARY),
    ];
    // The axis ends past both arms' 99.9th percentile: a few stray calls
    // (a timeout of 30 s) would otherwise squeeze every other sample to
    // the left edge. Those beyond are counted in the title.
    let tail = |sorted: &[f64]| sorted.get(((sorted.len() as f64 * 0.999).ceil() as usize).saturating_sub(1)).copied();
    let highest = [tail(&stable), tail(&canary)].into_iter().flatten().filter(|v| v.is_finite()).fold(0.0, f64::max);
    let x_range = svg::nice_range(0.0, highest.max(1.0), 8);
    let beyond = stable.iter().chain(&canary).filter(|&&v| v > x_range.1).count();
    let mut notes = Vec::new();
    if beyond > 0 {
        notes.push(format!("{beyond} beyond {} ms not shown", x_range.1));
    }
    if zeros > 0 {
        notes.push(format!("{zeros} samples of 0 ms left out, as the gate does"));
    }
    let title = if notes.is_empty() { title.to_string() } else { format!("{title} ({})", notes.join("; ")) };
    let options = ChartOptions {
        width: 660.0,
        height: 380.0,
        title,
        x_range: Some(x_range),
        y_range: Some((0.0, 1.0)),
        x_format: TickFormat::Number,
        y_format: TickFormat::Percent,
        references: vec![Reference::Horizontal(quantile, format!("p{}", (quantile * 100.0).round()))],
        legend: Corner::BottomRight,
        max_points: CDF_POINTS,
    };
    svg::line_chart(&series, x_label, "share of samples", &options)
}

fn segments(page: &mut String, report: &ComparisonReport) {
    let _ = writeln!(
        page,
        "<h2>Worst segments</h2>\n<p class=\"key\">Failed calls (task not done, or an error the caller noticed) by \
         segment, canary's rate minus stable's; q is the Benjamini-Hochberg adjusted p-value across every segment \
         compared. Highlighted: q &lt; {SEGMENT_Q}.</p>"
    );
    if report.segments.is_empty() {
        page.push_str("<p class=\"muted\">No segment has calls in both arms.</p>\n");
        return;
    }
    page.push_str(
        "<table>\n<tr><th>dimension</th><th>segment</th><th>stable failed/calls</th><th>canary failed/calls</th>\
         <th>difference</th><th>q (BH)</th></tr>\n",
    );
    let share = |events: u64, calls: u64| {
        let rate = if calls == 0 { 0.0 } else { 100.0 * events as f64 / calls as f64 };
        format!("{events}/{calls} <span class=\"muted\">({rate:.1}%)</span>")
    };
    for s in report.segments.iter().take(SEGMENT_ROWS) {
        let _ = writeln!(
            page,
            "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:+.1} pt</td><td class=\"num\">{:.3}</td></tr>",
            if s.q_value < SEGMENT_Q { " class=\"flag\"" } else { "" },
            escape(&s.dimension),
            escape(&s.value),
            share(s.stable.events, s.stable.calls),
            share(s.canary.events, s.canary.calls),
            s.difference * 100.0,
            s.q_value
        );
    }
    page.push_str("</table>\n");
    if report.segments.len() > SEGMENT_ROWS {
        let _ = writeln!(page, "<p class=\"muted\">{} more in compare.json.</p>", report.segments.len() - SEGMENT_ROWS);
    }
}

/// A record's path as a link: a `file://` URL when absolute, else
/// relative to the page.
pub fn record_href(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => encoded.push(byte as char),
            _ => {
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
    }
    if path.starts_with('/') { format!("file://{encoded}") } else { encoded }
}

fn examples(page: &mut String, report: &ComparisonReport) {
    page.push_str("<h2>Example failing canary calls</h2>\n");
    if report.examples.is_empty() {
        page.push_str("<p class=\"muted\">No canary call failed.</p>\n");
        return;
    }
    page.push_str("<ul>\n");
    for e in &report.examples {
        let record = e
            .record
            .as_deref()
            .map(|r| format!(" (<a href=\"{}\">record</a>)", escape(&record_href(r))))
            .unwrap_or_default();
        let why = if e.why.is_empty() { "failed" } else { &e.why };
        let _ = writeln!(page, "<li><code>{}</code>: {}{record}</li>", escape(&e.call_id), escape(why));
    }
    page.push_str("</ul>\n");
}
