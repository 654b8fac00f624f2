//! Steps that check a tenant's call against what the scenario put in place,
//! by what the doubles saw: the overlay version by its effects, the voice,
//! the tools offered, refused and run, the credentials a tool call carried.

use serde_json::Value;

use super::tenancy::{credential, nth_call, tenant_calls};
use super::{Arg, StepDef, StepError, StepResult, World, def, fail, int_arg, str_arg};
use crate::audio::normalise_text;
use crate::record::Event;

fn call_overlay_version(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (n, version) = (int_arg(args, 0)?, int_arg(args, 1)?);
    let tenant = nth_call(w, n)?.plan.tenant.clone().unwrap_or_default();
    let overlay = u64::try_from(version).ok().and_then(|v| w.overlays.get(&(tenant.clone(), v))).cloned();
    let Some(overlay) = overlay else {
        return Err(StepError::Invalid(format!(
            "this scenario put no overlay version {version} of tenant {tenant:?} in place, so it cannot tell its effects"
        )));
    };
    let call = nth_call(w, n)?;
    // The agent's own label (its trace attributes) must say so...
    let label = call.outcome.record.events().find_map(|(_, e)| match e {
        Event::Agent(a) => Some(a.ids.overlay_version),
        _ => None,
    });
    if label != Some(u64::try_from(version).ok()) {
        return fail(format!("call {n} was labelled with overlay version {label:?}, expected {version}"));
    }
    // ...and what the doubles saw must show it.
    let mut voices = Vec::new();
    let mut first_text = None;
    let mut prompts = Vec::new();
    for (_, event) in call.outcome.record.events() {
        match event {
            Event::TtsRequest { voice, text, .. } => {
                voices.push(voice.clone());
                first_text.get_or_insert_with(|| text.clone());
            }
            Event::LlmRequest { system_prompt, .. } => prompts.push(system_prompt.clone()),
            _ => {}
        }
    }
    let mut seen = 0;
    if let Some(voice) = overlay.get("voice").and_then(Value::as_str) {
        seen += 1;
        if voices.is_empty() || voices.iter().any(|v| v != voice) {
            return fail(format!(
                "overlay version {version} sets the voice {voice:?}; the TTS was asked for {voices:?}"
            ));
        }
    }
    if let Some(greeting) = overlay.pointer("/prompt/greeting").and_then(Value::as_str) {
        seen += 1;
        // The TTS is asked for it sentence by sentence: the first is its start.
        let first = first_text.as_deref().map(normalise_text).filter(|t| !t.is_empty());
        if !first.is_some_and(|t| normalise_text(greeting).starts_with(&t)) {
            return fail(format!(
                "overlay version {version} greets with {greeting:?}; the agent first said {first_text:?}"
            ));
        }
    }
    if let Some(append) = overlay.pointer("/prompt/append").and_then(Value::as_str) {
        seen += 1;
        if prompts.is_empty() || prompts.iter().any(|p| !p.contains(append)) {
            return fail(format!("overlay version {version} adds {append:?} to the prompt; the LLM never got it"));
        }
    }
    if seen == 0 {
        return Err(StepError::Invalid(format!(
            "overlay version {version} sets nothing a call shows (voice, prompt.greeting or prompt.append)"
        )));
    }
    Ok(())
}

fn refuses_tool(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tool = str_arg(args, 0)?.to_string();
    let calls = super::then::all_calls(w)?;
    let proposed = calls
        .iter()
        .flat_map(|c| c.outcome.record.events())
        .any(|(_, e)| matches!(e, Event::LlmToolCall { name, .. } if *name == tool));
    if !proposed {
        return fail(format!("the LLM never proposed {tool}, so nothing was refused"));
    }
    if super::then::tools_invoked(calls).contains(&tool) {
        return fail(format!("{tool} reached the tool backend"));
    }
    Ok(())
}

fn tool_got_credential(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tool, tenant, name) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?, str_arg(args, 2)?.to_string());
    let expected = crate::doubles::fingerprint(&credential(w, tenant, &name)?);
    let mut invoked = false;
    // Every call of `tool` in the tenant's calls carried the tenant's own value.
    for call in tenant_calls(w, tenant)? {
        for (_, event) in call.outcome.record.events() {
            if let Event::ToolInvoked { name: invoked_name, credentials, .. } = event
                && *invoked_name == tool
            {
                invoked = true;
                if !credentials.iter().any(|c| c.name == name && c.fingerprint == expected) {
                    let carried: Vec<&str> = credentials.iter().map(|c| c.name.as_str()).collect();
                    return fail(format!(
                        "{tool} reached the backend without tenant {tenant:?}'s {name:?} (it carried {carried:?}, \
                         values not shown)"
                    ));
                }
            }
        }
    }
    if invoked { Ok(()) } else { fail(format!("{tool} never reached the tool backend in tenant {tenant:?}'s calls")) }
}

fn used_voice(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, wanted) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    let mut requests = 0;
    for call in tenant_calls(w, &tenant)? {
        for (_, event) in call.outcome.record.events() {
            if let Event::TtsRequest { voice, .. } = event {
                requests += 1;
                if *voice != wanted {
                    return fail(format!("tenant {tenant:?}'s TTS was asked for the voice {voice:?}"));
                }
            }
        }
    }
    if requests == 0 { fail(format!("tenant {tenant:?}'s calls made no TTS request")) } else { Ok(()) }
}

fn offered_only(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, tool) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    for call in tenant_calls(w, &tenant)? {
        for (_, event) in call.outcome.record.events() {
            if let Event::LlmRequest { tools, .. } = event
                && *tools != [tool.clone()]
            {
                return fail(format!("tenant {tenant:?}'s LLM was offered {tools:?}"));
            }
        }
    }
    Ok(())
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("call {int} used overlay version {int}", call_overlay_version),
        def("the agent refuses the tool {word}", refuses_tool),
        def("the tool {word} was called with tenant {string}'s credential {string}", tool_got_credential),
        def("tenant {string}'s calls were offered only the tool {string}", offered_only),
        def("tenant {string}'s calls spoke with the voice {string}", used_voice),
    ]
}

#[cfg(test)]
mod tests {
    use voicegate_agent::telemetry::{AgentEvent, EventKind, SessionId, SessionIds, TenantId, TraceId};

    use super::*;
    use crate::audio::Corpus;
    use crate::driver::CallPlan;
    use crate::record::{CallRecord, Entry};
    use crate::steps::CompletedCall;

    /// A call of tenant "acme" labelled with overlay version 1 whose agent
    /// first said `first` in `voice`.
    fn call(first: &str, voice: &str) -> CompletedCall {
        let ids = SessionIds {
            trace_id: TraceId::new("t"),
            session_id: SessionId::new("s"),
            customer_id: TenantId::new("acme"),
            agent_version: "support@1.1.0".into(),
            overlay_version: Some(1),
        };
        let label = Event::Agent(AgentEvent { at_us: 0, ids, kind: EventKind::SessionEnded { messages: 0 } });
        let tts = Event::TtsRequest {
            request: 1,
            text: first.into(),
            voice: voice.into(),
            sample_rate: 16_000,
            samples: 0,
            words: vec![],
            audio_digest: String::new(),
        };
        let record = CallRecord { entries: vec![Entry { t_us: 0, event: label }, Entry { t_us: 0, event: tts }] };
        let mut plan = CallPlan::new("overlay", 1);
        plan.tenant = Some("acme".into());
        CompletedCall::of_record(plan, record)
    }

    fn used_version_1(call: CompletedCall, overlay: Value) -> StepResult {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let mut world = World::new(CallPlan::new("overlay", 1), &corpus);
        world.overlays.insert(("acme".into(), 1), overlay);
        world.push_completed(call);
        call_overlay_version(&mut world, &[Arg::Int(1), Arg::Int(1)])
    }

    #[test]
    fn the_overlay_version_is_judged_by_its_effects_not_only_by_the_agents_label() {
        let overlay = serde_json::json!({"schema_version": 2, "voice": "verse", "prompt": {"greeting": "Welcome to Acme. How can I help?"}});
        assert!(used_version_1(call("Welcome to Acme.", "verse"), overlay.clone()).is_ok());
        // Labelled version 1, but the call shows another overlay's greeting or voice.
        assert!(matches!(
            used_version_1(call("Welcome to Globex.", "verse"), overlay.clone()),
            Err(StepError::Failed(_))
        ));
        assert!(matches!(used_version_1(call("Welcome to Acme.", "alloy"), overlay), Err(StepError::Failed(_))));
        // An overlay with nothing a call shows cannot be told apart.
        let silent = serde_json::json!({"schema_version": 2, "guardrails": {"redact_pii": true}});
        assert!(matches!(used_version_1(call("Hello.", "alloy"), silent), Err(StepError::Invalid(_))));
    }
}
