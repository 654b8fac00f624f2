//! The tool check: every call that reached the tool backend (the double's
//! own record) was one the calling tenant allows and the LLM was offered.

use super::{Finding, FindingKind};
use crate::record::{CallRecord, Event};

pub fn not_allowed(record: &CallRecord) -> Vec<Finding> {
    let allowlist = record.events().find_map(|(_, e)| match e {
        Event::CallStarted { tool_allowlist, .. } => Some(tool_allowlist.clone()),
        _ => None,
    });
    let mut offered: Vec<&str> = Vec::new();
    let mut findings = Vec::new();
    for (t_us, event) in record.events() {
        match event {
            Event::LlmRequest { tools, .. } => offered.extend(tools.iter().map(String::as_str)),
            Event::ToolInvoked { name, arguments, .. } => {
                let outside = allowlist.as_ref().and_then(|a| a.as_ref()).filter(|a| !a.contains(name));
                let why = match outside {
                    Some(allowed) => format!("the tenant allows only {allowed:?}"),
                    None if !offered.contains(&name.as_str()) => {
                        format!("the LLM was never offered it (offered {offered:?})")
                    }
                    None => continue,
                };
                findings.push(Finding {
                    kind: FindingKind::ToolNotAllowed,
                    at_ms: Some(t_us / 1000),
                    message: format!("{name} {arguments} reached the tool backend at {} ms, but {why}", t_us / 1000),
                });
            }
            _ => {}
        }
    }
    findings
}
