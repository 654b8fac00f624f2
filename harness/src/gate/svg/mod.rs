//! A small SVG writer for the gate's HTML reports: shapes, text, axes with
//! round ticks, a legend and a line chart. Our own rather than a plotting
//! crate: the charts are few and simple (interval bars, latency CDFs, a
//! verdict timeline), and this needs no fonts at build time and no system
//! libraries. The SVG is meant to sit inline in an HTML page (so it has no
//! `xmlns`: HTML does not need one, and the page references nothing
//! outside itself). Every text and attribute value is escaped.
//!
//! This module has the shapes, scales and ticks; `chart` the axes, the
//! legend and the line chart.

use std::fmt::Write;

mod chart;
#[cfg(test)]
mod tests;

pub use chart::{
    ChartOptions, Corner, LegendEntry, Reference, Series, TickFormat, legend, legend_size, line_chart, x_axis, y_axis,
};

/// Text escaped for HTML and SVG: the report's XML escaping.
pub fn escape(text: &str) -> String {
    crate::report::escape(text)
}

/// A pixel coordinate with two decimals at most.
fn px(v: f64) -> String {
    let v = (v * 100.0).round() / 100.0;
    if v == 0.0 { "0".into() } else { format!("{v}") }
}

/// A linear map from data values to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
}

impl Scale {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Self { domain, range }
    }

    pub fn map(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let span = if d1 == d0 { 1.0 } else { d1 - d0 };
        self.range.0 + (v - d0) / span * (self.range.1 - self.range.0)
    }
}

/// The round step (1, 2 or 5 times a power of ten) that cuts `span` into
/// at most `max_ticks` intervals.
pub fn nice_step(span: f64, max_ticks: usize) -> f64 {
    let span = if span.is_finite() && span > 0.0 { span } else { 1.0 };
    let raw = span / max_ticks.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|&s| s >= raw * (1.0 - 1e-9));
    step.unwrap_or(10.0 * power)
}

/// `[low, high]` widened to multiples of its round step.
pub fn nice_range(low: f64, high: f64, max_ticks: usize) -> (f64, f64) {
    let (low, high) = if high > low { (low, high) } else { (low - 0.5, low + 0.5) };
    let step = nice_step(high - low, max_ticks);
    ((low / step).floor() * step, (high / step).ceil() * step)
}

/// Round ticks inside `[low, high]`, at most about `max_ticks` + 1 of them.
pub fn nice_ticks(low: f64, high: f64, max_ticks: usize) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return if low.is_finite() { vec![low] } else { Vec::new() };
    }
    let step = nice_step(high - low, max_ticks);
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    // Multiplying (not adding) keeps 0.1 * 3 from drifting to 0.30000000000000004.
    (first..=last).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect()
}

/// A tick's label, with as many decimals as the step needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step > 0.0 && step < 1.0 { (-step.log10().floor()) as usize } else { 0 };
    let text = format!("{v:.decimals$}");
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        format!("{:.decimals$}", 0.0)
    } else {
        text
    }
}

/// At most `max` items, evenly spaced by index, always keeping the first
/// and the last (a CDF keeps its minimum and its maximum).
pub fn downsample<T: Copy>(points: &[T], max: usize) -> Vec<T> {
    let n = points.len();
    if n <= max.max(2) {
        return points.to_vec();
    }
    let max = max.max(2);
    (0..max).map(|k| points[(k * (n - 1) + (max - 1) / 2) / (max - 1)]).collect()
}

/// The vertices of a step line through `points` (sorted by x): flat to
/// each next x, then up or down to its y, from `start_y`.
pub fn step_points(points: &[(f64, f64)], start_y: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    let mut y = start_y;
    for &(x, next) in points {
        out.push((x, y));
        out.push((x, next));
        y = next;
    }
    out
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke<'a> {
    pub colour: &'a str,
    pub width: f64,
    pub dashed: bool,
}

impl<'a> Stroke<'a> {
    pub fn solid(colour: &'a str, width: f64) -> Self {
        Self { colour, width, dashed: false }
    }

    pub fn dashed(colour: &'a str, width: f64) -> Self {
        Self { colour, width, dashed: true }
    }

    fn attributes(&self) -> String {
        let dash = if self.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        format!(r#"stroke="{}" stroke-width="{}"{dash}"#, escape(self.colour), px(self.width))
    }
}

/// Where a text is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Middle => "middle",
            Self::End => "end",
        }
    }
}

/// An SVG image being drawn.
#[derive(Debug, Clone)]
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Self {
        Self { width, height, body: String::new() }
    }

    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            px(x),
            px(y),
            px(width.max(0.0)),
            px(height.max(0.0)),
            escape(fill)
        );
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: Stroke) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>"#,
            px(from.0),
            px(from.1),
            px(to.0),
            px(to.1),
            stroke.attributes()
        );
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: Stroke) {
        if points.is_empty() {
            return;
        }
        let mut list = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(list, "{}{},{}", if i == 0 { "" } else { " " }, px(*x), px(*y));
        }
        let _ = writeln!(
            self.body,
            r#"<polyline points="{list}" fill="none" stroke-linejoin="round" {}/>"#,
            stroke.attributes()
        );
    }

    pub fn circle(&mut self, centre: (f64, f64), radius: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{}" stroke="white" stroke-width="1.5"/>"#,
            px(centre.0),
            px(centre.1),
            px(radius),
            escape(fill)
        );
    }

    /// Text of `size` px at (x, y), its baseline at y.
    pub fn text(&mut self, at: (f64, f64), text: &str, anchor: Anchor, size: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{}" font-size="{}" fill="{}">{}</text>"#,
            px(at.0),
            px(at.1),
            anchor.name(),
            px(size),
            escape(fill),
            escape(text)
        );
    }

    /// Text turned a quarter anticlockwise around (x, y): a y axis label.
    pub fn vertical_text(&mut self, at: (f64, f64), text: &str, size: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<text transform="translate({} {}) rotate(-90)" text-anchor="middle" font-size="{}" fill="{}">{}</text>"#,
            px(at.0),
            px(at.1),
            px(size),
            escape(fill),
            escape(text)
        );
    }

    /// The finished `<svg>` element; `label` is what a screen reader says.
    pub fn finish(self, label: &str) -> String {
        format!(
            "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{l}\" \
             font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<title>{l}</title>\n{}</svg>\n",
            self.body,
            w = px(self.width),
            h = px(self.height),
            l = escape(label)
        )
    }
}
