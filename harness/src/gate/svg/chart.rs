//! Axes with round ticks, a legend, and a line chart built from them.

use std::fmt::Write;

use super::{Anchor, Scale, Stroke, Svg, downsample, nice_range, nice_step, nice_ticks, px, step_points, tick_label};

const AXIS: &str = "#444";
const GRID: &str = "#e3e3e3";

/// How an axis writes its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickFormat {
    Number,
    /// 0.25 as "25%".
    Percent,
    /// A signed number with a unit, e.g. "+2 pt".
    Signed(&'static str),
}

impl TickFormat {
    pub fn label(self, v: f64, step: f64) -> String {
        match self {
            Self::Number => tick_label(v, step),
            Self::Percent => format!("{}%", tick_label(v * 100.0, step * 100.0)),
            Self::Signed(unit) => {
                let text = tick_label(v, step);
                let sign = if text.starts_with('-') || v.abs() < step * 1e-6 { "" } else { "+" };
                format!("{sign}{text}{unit}")
            }
        }
    }
}

/// A horizontal axis along `y`: the line, tick marks and labels, light
/// grid lines up to `grid_top` (when given), and `label` centred below.
pub fn x_axis(svg: &mut Svg, scale: &Scale, y: f64, format: TickFormat, label: &str, grid_top: Option<f64>) {
    let (low, high) = scale.domain;
    let max_ticks = ((scale.range.1 - scale.range.0).abs() / 80.0).clamp(2.0, 10.0) as usize;
    let step = nice_step(high - low, max_ticks);
    for tick in nice_ticks(low, high, max_ticks) {
        let x = scale.map(tick);
        if let Some(top) = grid_top {
            svg.line((x, top), (x, y), Stroke::solid(GRID, 1.0));
        }
        svg.line((x, y), (x, y + 5.0), Stroke::solid(AXIS, 1.0));
        svg.text((x, y + 18.0), &format.label(tick, step), Anchor::Middle, 11.0, AXIS);
    }
    svg.line((scale.range.0, y), (scale.range.1, y), Stroke::solid(AXIS, 1.0));
    if !label.is_empty() {
        svg.text(((scale.range.0 + scale.range.1) / 2.0, y + 36.0), label, Anchor::Middle, 12.0, "#222");
    }
}

/// A vertical axis along `x`, with grid lines to `grid_right` when given.
pub fn y_axis(svg: &mut Svg, scale: &Scale, x: f64, format: TickFormat, label: &str, grid_right: Option<f64>) {
    let (low, high) = scale.domain;
    let max_ticks = ((scale.range.0 - scale.range.1).abs() / 45.0).clamp(2.0, 10.0) as usize;
    let step = nice_step(high - low, max_ticks);
    for tick in nice_ticks(low, high, max_ticks) {
        let y = scale.map(tick);
        if let Some(right) = grid_right {
            svg.line((x, y), (right, y), Stroke::solid(GRID, 1.0));
        }
        svg.line((x - 5.0, y), (x, y), Stroke::solid(AXIS, 1.0));
        svg.text((x - 8.0, y + 4.0), &format.label(tick, step), Anchor::End, 11.0, AXIS);
    }
    svg.line((x, scale.range.0), (x, scale.range.1), Stroke::solid(AXIS, 1.0));
    if !label.is_empty() {
        svg.vertical_text((x - 48.0, (scale.range.0 + scale.range.1) / 2.0), label, 12.0, "#222");
    }
}

/// One line of a legend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegendEntry<'a> {
    pub name: &'a str,
    pub stroke: Stroke<'a>,
}

/// The width and height a legend of `entries` takes.
pub fn legend_size(entries: &[LegendEntry]) -> (f64, f64) {
    let longest = entries.iter().map(|e| e.name.chars().count()).max().unwrap_or(0) as f64;
    (40.0 + longest * 7.0, 8.0 + 18.0 * entries.len() as f64)
}

/// A boxed legend with its top-left corner at `at`.
pub fn legend(svg: &mut Svg, at: (f64, f64), entries: &[LegendEntry]) {
    if entries.is_empty() {
        return;
    }
    let (width, height) = legend_size(entries);
    let _ = writeln!(
        svg.body,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="white" fill-opacity="0.9" stroke="#ccc"/>"##,
        px(at.0),
        px(at.1),
        px(width),
        px(height)
    );
    for (i, entry) in entries.iter().enumerate() {
        let y = at.1 + 16.0 + 18.0 * i as f64;
        svg.line(
            (at.0 + 8.0, y - 4.0),
            (at.0 + 30.0, y - 4.0),
            Stroke { width: entry.stroke.width.max(2.0), ..entry.stroke },
        );
        svg.text((at.0 + 36.0, y), entry.name, Anchor::Start, 12.0, "#222");
    }
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Sorted by x.
    pub points: Vec<(f64, f64)>,
    pub colour: String,
    pub dashed: bool,
    /// Drawn as steps (an empirical CDF, a count) rather than straight segments.
    pub step: bool,
}

/// A labelled reference line across the plot.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// At this x.
    Vertical(f64, String),
    /// At this y.
    Horizontal(f64, String),
}

/// Where a chart's legend goes inside the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomRight,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    pub width: f64,
    pub height: f64,
    pub title: String,
    /// The axes' ranges; from the data (rounded outwards) when `None`.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub x_format: TickFormat,
    pub y_format: TickFormat,
    pub references: Vec<Reference>,
    pub legend: Corner,
    /// Vertices drawn per series at most (a step series keeps half as
    /// many data points, each drawn as two vertices).
    pub max_points: usize,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            width: 640.0,
            height: 360.0,
            title: String::new(),
            x_range: None,
            y_range: None,
            x_format: TickFormat::Number,
            y_format: TickFormat::Number,
            references: Vec::new(),
            legend: Corner::TopLeft,
            max_points: 400,
        }
    }
}

/// The data's range along one coordinate, rounded outwards to round ticks.
fn data_range(series: &[Series], coordinate: fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let values = series.iter().flat_map(|s| s.points.iter().map(coordinate)).filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high { (0.0, 1.0) } else { nice_range(low, high, 8) }
}

/// A line chart of `series` with axes, grid, reference lines and a legend:
/// the latency CDFs, and a verdict timeline (evidence per look against
/// its boundary, x in minutes). Points outside the ranges are clipped.
pub fn line_chart(series: &[Series], x_label: &str, y_label: &str, options: &ChartOptions) -> String {
    let (left, right, top, bottom) = (70.0, 20.0, if options.title.is_empty() { 14.0 } else { 34.0 }, 50.0);
    let (x0, x1, y0, y1) = (left, options.width - right, options.height - bottom, top);
    let x = Scale::new(options.x_range.unwrap_or_else(|| data_range(series, |p| p.0)), (x0, x1));
    let y = Scale::new(options.y_range.unwrap_or_else(|| data_range(series, |p| p.1)), (y0, y1));
    let mut svg = Svg::new(options.width, options.height);
    if !options.title.is_empty() {
        svg.text((x0, 20.0), &options.title, Anchor::Start, 14.0, "#111");
    }
    x_axis(&mut svg, &x, y0, options.x_format, x_label, Some(y1));
    y_axis(&mut svg, &y, x0, options.y_format, y_label, Some(x1));
    // Ids are shared by the whole page: one from what the chart shows.
    let key = format!("{}|{x_label}|{y_label}|{}x{}", options.title, options.width, options.height);
    let clip = format!("clip{:08x}", key.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b)));
    let _ = writeln!(
        svg.body,
        r#"<clipPath id="{clip}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath><g clip-path="url(#{clip})">"#,
        // A little past the plot, so a line along its edge is drawn whole.
        px(x0 - 2.0),
        px(y1 - 2.0),
        px(x1 - x0 + 4.0),
        px(y0 - y1 + 4.0)
    );
    for reference in &options.references {
        let stroke = Stroke::dashed("#777", 1.0);
        match reference {
            Reference::Vertical(at, label) => {
                svg.line((x.map(*at), y0), (x.map(*at), y1), stroke);
                svg.text((x.map(*at) + 4.0, y1 + 12.0), label, Anchor::Start, 11.0, "#555");
            }
            Reference::Horizontal(at, label) => {
                svg.line((x0, y.map(*at)), (x1, y.map(*at)), stroke);
                // Below the line when there is no room above it.
                let below = y.map(*at) - y1 < 16.0;
                let label_y = if below { y.map(*at) + 14.0 } else { y.map(*at) - 4.0 };
                svg.text((x1 - 4.0, label_y), label, Anchor::End, 11.0, "#555");
            }
        }
    }
    for s in series {
        let points = if s.step {
            let start = y.domain.0.max(0.0).min(y.domain.1);
            step_points(&downsample(&s.points, options.max_points / 2), start)
        } else {
            downsample(&s.points, options.max_points)
        };
        let pixels: Vec<(f64, f64)> = points.iter().map(|&(a, b)| (x.map(a), y.map(b))).collect();
        let stroke = Stroke { colour: &s.colour, width: 2.0, dashed: s.dashed };
        svg.polyline(&pixels, stroke);
    }
    svg.body.push_str("</g>\n");
    if series.iter().all(|s| s.points.is_empty()) {
        svg.text(((x0 + x1) / 2.0, (y0 + y1) / 2.0), "no data", Anchor::Middle, 14.0, "#888");
    }
    let entries: Vec<LegendEntry> = series
        .iter()
        .map(|s| LegendEntry { name: &s.name, stroke: Stroke { colour: &s.colour, width: 2.0, dashed: s.dashed } })
        .collect();
    let (width, height) = legend_size(&entries);
    let at = match options.legend {
        Corner::TopLeft => (x0 + 10.0, y1 + 10.0),
        Corner::TopRight => (x1 - 10.0 - width, y1 + 10.0),
        Corner::BottomRight => (x1 - 10.0 - width, y0 - 10.0 - height),
    };
    legend(&mut svg, at, &entries);
    svg.finish(if options.title.is_empty() { y_label } else { &options.title })
}
