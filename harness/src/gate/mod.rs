//! The promotion gate: what `voicegate compare` and `voicegate canary`
//! decide, from per-call metrics and the statistics in `canary`.

mod config;
mod evaluate;
mod html;
#[cfg(test)]
mod html_tests;
mod report;
mod rollout;
mod rollout_html;
mod rollout_report;
mod segments;
pub mod svg;

pub use config::{GateConfig, Guard, MAX_ALPHA, MIN_ALPHA, Metric, check_alpha, check_power};
pub use evaluate::{Judgement, MetricResult, Status, Verdict, judge};
pub use html::{cdf_points, html, interval_plot, record_href};
pub use report::{
    ArmInfo, COMPARE_SCHEMA, Cdf, ComparisonReport, Example, difference, examples, markdown, status_name,
    terminal_table, value,
};
pub use rollout::{
    Arm, Arrival, DecidedBy, LookRecord, MetricLook, Placer, Rollout, RolloutOutcome, RolloutPlan, routes_to_canary,
};
pub use rollout_report::{rollout_markdown, rollout_summary};
pub use segments::{SegmentRow, benjamini_hochberg, call_failed, worst_segments};

#[cfg(test)]
pub(crate) mod tests;
pub use rollout_html::rollout_html;
