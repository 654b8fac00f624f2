//! `report.json`: the machine-readable result of a run.

use serde_json::{Value, json};

use super::{Totals, record_name};
use crate::record::Event;
use crate::scenario::{ScenarioResult, Status};
use crate::steps::CompletedCall;

pub const REPORT_SCHEMA: u32 = 1;

fn call_json(result: &ScenarioResult, index: usize, number: usize, call: &CompletedCall) -> Value {
    let record = &call.outcome.record;
    let ids = record.events().find_map(|(_, e)| match e {
        Event::Agent(a) => Some(a.ids.clone()),
        _ => None,
    });
    let duration_ms = record.entries.last().map_or(0, |e| e.t_us / 1000);
    json!({
        "tenant": call.plan.tenant,
        "trace_id": ids.as_ref().map(|i| i.trace_id.to_string()),
        "session_id": ids.as_ref().map(|i| i.session_id.to_string()),
        "agent_version": ids.as_ref().map(|i| i.agent_version.clone()),
        "virtual_duration_ms": duration_ms,
        "record": format!("records/{}.jsonl", record_name(result, index, number)),
        "budgets": { "turn_ms": call.plan.budgets.turn_ms, "stop_ms": call.plan.budgets.stop_ms },
        "turns": call.report.turns,
        "barge_ins": call.report.barge_ins,
        "findings": call.report.findings,
    })
}

pub fn report_json(seed: u64, results: &[ScenarioResult]) -> String {
    let scenarios: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "feature": r.scenario.feature,
                "name": r.scenario.name,
                "file": r.scenario.file.display().to_string(),
                "line": r.scenario.line,
                "tags": r.scenario.tags,
                "seed": r.seed,
                "status": if r.status == Status::Passed { "passed" } else { "failed" },
                "scenario_error": r.status == Status::Error,
                "steps": r.steps,
                "unexpected_findings": r.unexpected,
                "calls": r.calls.iter().enumerate().map(|(n, c)| call_json(r, i, n, c)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let report = json!({
        "schema_version": REPORT_SCHEMA,
        "tool": format!("voicegate {}", env!("CARGO_PKG_VERSION")),
        "seed": seed,
        "totals": Totals::of(results),
        "scenarios": scenarios,
    });
    serde_json::to_string_pretty(&report).expect("a JSON value always serialises") + "\n"
}
