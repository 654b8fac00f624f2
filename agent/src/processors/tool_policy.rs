//! Which tool calls may run. The LLM only proposes; code decides, from the
//! definition, the flow node, the customer's allowlist and business rules,
//! and the arguments themselves, before anything reaches the tool backend.

use crate::config::{EffectiveConfig, NodeDefinition};
use crate::frame::ToolCall;

/// What to do with a proposed tool call.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decision {
    /// Send it to the customer's tool backend.
    Invoke,
    /// The agent's own tool: end the call after this reply.
    EndCall,
    /// Never sent anywhere; the reason goes back to the LLM.
    Refuse(String),
}

/// Decide on `call`, proposed in flow node `node_id` (`node`).
pub(super) fn decide(
    call: &ToolCall,
    config: &EffectiveConfig,
    node_id: &str,
    node: Option<&NodeDefinition>,
) -> Decision {
    if config.definition.tool(&call.name).is_none() {
        return Decision::Refuse(format!("not a tool of {}", config.definition.id()));
    }
    if !node.is_some_and(|n| n.tools.contains(&call.name)) {
        return Decision::Refuse(format!("not a tool of flow node {node_id:?}"));
    }
    if !config.tool_allowed(&call.name) {
        return Decision::Refuse("not in this customer's tool allowlist".into());
    }
    let checked = match call.name.as_str() {
        "end_call" => return Decision::EndCall,
        "check_order" => order_id(call).map(|_| ()),
        "issue_refund" => order_id(call).and_then(|_| refund_within_limit(call, config.settings.rules.refund_limit)),
        _ => Ok(()),
    };
    match checked {
        Ok(()) => Decision::Invoke,
        Err(reason) => Decision::Refuse(reason),
    }
}

fn order_id(call: &ToolCall) -> Result<&str, String> {
    let order_id = call
        .arguments
        .get("order_id")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("{} needs a string argument `order_id`", call.name))?;
    if order_id.is_empty() || !order_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("order id {order_id:?} is not an order number"));
    }
    Ok(order_id)
}

/// The customer's refund limit is a business rule: applied here, whatever
/// the LLM asked for.
fn refund_within_limit(call: &ToolCall, limit: Option<f64>) -> Result<(), String> {
    let amount = call
        .arguments
        .get("amount")
        .and_then(serde_json::Value::as_f64)
        .filter(|a| a.is_finite() && *a > 0.0)
        .ok_or_else(|| "issue_refund needs a positive number `amount`".to_string())?;
    match limit {
        Some(limit) if amount > limit => {
            Err(format!("a refund of {amount} is over the customer's refund limit of {limit}"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{AgentDefinition, Overlay, merge};

    fn config(overlay: Option<&str>) -> EffectiveConfig {
        let definition = Arc::new(AgentDefinition::reference());
        let overlay = overlay.map(|json| Overlay::parse_json(json).expect("overlay parses"));
        merge(definition, overlay.as_ref().map(|o| (o, 1))).expect("merges")
    }

    fn decide_in_assist(call: &ToolCall, config: &EffectiveConfig) -> Decision {
        decide(call, config, "assist", config.definition.node("assist"))
    }

    fn call(name: &str, arguments: serde_json::Value) -> ToolCall {
        ToolCall { name: name.into(), arguments }
    }

    fn refused(decision: Decision, containing: &str) -> bool {
        matches!(decision, Decision::Refuse(reason) if reason.contains(containing))
    }

    #[test]
    fn check_order_validates_its_argument_in_code() {
        let config = config(None);
        let bad = call("check_order", serde_json::json!({"order_id": "1; drop"}));
        assert!(refused(decide_in_assist(&bad, &config), "not an order number"));
        let good = call("check_order", serde_json::json!({"order_id": "A123"}));
        assert_eq!(decide_in_assist(&good, &config), Decision::Invoke);
    }

    #[test]
    fn refunds_over_the_customer_limit_are_refused_in_code() {
        let refund = |amount: f64| call("issue_refund", serde_json::json!({"order_id": "A1", "amount": amount}));
        let open = config(None);
        assert_eq!(decide_in_assist(&refund(500.0), &open), Decision::Invoke, "no limit set");
        let limited = config(Some(r#"{"schema_version": 2, "rules": {"refund_limit": 50}}"#));
        assert_eq!(decide_in_assist(&refund(50.0), &limited), Decision::Invoke);
        assert!(refused(decide_in_assist(&refund(80.0), &limited), "refund limit of 50"));
        assert!(refused(decide_in_assist(&refund(-5.0), &limited), "positive number"));
    }

    #[test]
    fn unknown_tools_other_nodes_tools_and_disallowed_tools_are_refused() {
        let config = config(Some(r#"{"schema_version": 1, "tools": {"allow": ["end_call"]}}"#));
        let order = call("check_order", serde_json::json!({"order_id": "A1"}));
        assert!(refused(decide_in_assist(&call("wire_transfer", serde_json::json!({})), &config), "not a tool of"));
        assert!(refused(decide_in_assist(&order, &config), "allowlist"));
        assert!(refused(decide(&order, &config, "closing", config.definition.node("closing")), "flow node"));
        assert_eq!(decide_in_assist(&call("end_call", serde_json::json!({})), &config), Decision::EndCall);
    }
}
