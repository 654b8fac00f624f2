//! Steps for tenants, tokens, overlays, the agent's API and definitions.
//!
//! Every step that talks to the deployment first runs any call still being
//! described, so that steps take effect in the order they are written.

use std::path::Path;

use axum::http::Method;
use serde_json::{Value, json};
use voicegate_agent::config::{DefinitionRegistry, LOCK_FILE};
use voicegate_agent::tenant::{TenantId, TokenKeys};

use super::{Arg, CompletedCall, StepDef, StepError, StepResult, World, def, fail, int_arg, str_arg};
use crate::checks::{CallTruth, words};
use crate::deployment::ApiAnswer;
use crate::driver::CallerAction;
use crate::record::Event;

fn doc(w: &World<'_>) -> Result<String, StepError> {
    w.docstring
        .clone()
        .ok_or_else(|| StepError::Invalid("this step needs a doc string (a \"\"\" block) holding the overlay".into()))
}

/// Call the API as `tenant` (or with `token`), after any pending call.
fn api_as(
    w: &mut World<'_>,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> Result<ApiAnswer, StepError> {
    w.calls()?;
    let answer = w.deployment()?.api(method, path, Some(token), body);
    w.last_answer = Some(answer.clone());
    Ok(answer)
}

fn token_for(w: &mut World<'_>, tenant: &str) -> Result<String, StepError> {
    w.deployment()?.token(tenant, 600).map_err(StepError::Invalid)
}

fn put_overlay(w: &mut World<'_>, tenant: &str, document: &str) -> Result<ApiAnswer, StepError> {
    if let Ok(Value::Object(overlay)) = serde_json::from_str::<Value>(document)
        && let Some(Value::Object(credentials)) = overlay.get("credentials")
    {
        for (name, value) in credentials {
            if let Value::String(value) = value {
                w.credentials.insert((tenant.to_string(), name.clone()), value.clone());
            }
        }
    }
    let token = token_for(w, tenant)?;
    let answer = api_as(w, Method::PUT, "/v1/overlay", &token, Some(document))?;
    if (200..300).contains(&answer.status)
        && let Ok(overlay) = serde_json::from_str::<Value>(document)
    {
        w.tool_allowlists.insert(tenant.to_string(), allowlist_of(&overlay));
        if let Some(version) = answer.body["version"].as_u64() {
            w.overlays.insert((tenant.to_string(), version), overlay);
        }
    }
    Ok(answer)
}

/// The tools an overlay allows (`None`: every tool).
fn allowlist_of(overlay: &Value) -> Option<Vec<String>> {
    let names = overlay.get("tools")?.get("allow")?.as_array()?;
    Some(names.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
}

fn must_succeed(answer: ApiAnswer, what: &str) -> StepResult {
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(StepError::Invalid(format!("{what} was refused ({}): {}", answer.status, answer.body)))
    }
}

fn last_answer<'w>(w: &'w World<'_>) -> Result<&'w ApiAnswer, StepError> {
    w.last_answer
        .as_ref()
        .ok_or_else(|| StepError::Invalid("no request to the agent's API was made before this step".into()))
}

pub(super) fn tenant_calls<'w>(w: &'w mut World<'_>, tenant: &str) -> Result<Vec<&'w CompletedCall>, StepError> {
    let calls: Vec<&CompletedCall> = w.calls()?.iter().filter(|c| c.plan.tenant.as_deref() == Some(tenant)).collect();
    if calls.is_empty() {
        return Err(StepError::Invalid(format!("tenant {tenant:?} made no call in this scenario")));
    }
    Ok(calls)
}

fn last_session(w: &mut World<'_>, tenant: &str) -> Result<String, StepError> {
    let calls = tenant_calls(w, tenant)?;
    let call = calls.last().expect("tenant_calls is never empty");
    Ok(call.session_id.as_ref().map(|s| s.to_string()).unwrap_or_default())
}

// ---- Given ----

fn has_overlay(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, document) = (str_arg(args, 0)?.to_string(), doc(w)?);
    let answer = put_overlay(w, &tenant, &document)?;
    must_succeed(answer, &format!("tenant {tenant:?}'s overlay"))
}

fn allows_only(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, tool) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?);
    let document = json!({ "schema_version": 2, "tools": { "allow": [tool] } }).to_string();
    let answer = put_overlay(w, &tenant, &document)?;
    must_succeed(answer, &format!("tenant {tenant:?}'s overlay"))
}

// ---- When ----

fn calls(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tenant = str_arg(args, 0)?.to_string();
    w.deployment()?;
    w.new_call(Some(tenant))
}

fn updates_overlay(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, document) = (str_arg(args, 0)?.to_string(), doc(w)?);
    let answer = put_overlay(w, &tenant, &document)?;
    must_succeed(answer, &format!("tenant {tenant:?}'s overlay update"))
}

fn uploads_overlay(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, document) = (str_arg(args, 0)?.to_string(), doc(w)?);
    put_overlay(w, &tenant, &document).map(|_| ())
}

fn restores(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, version) = (str_arg(args, 0)?.to_string(), int_arg(args, 1)?);
    let token = token_for(w, &tenant)?;
    let answer = api_as(w, Method::POST, &format!("/v1/overlay/versions/{version}/restore"), &token, None)?;
    // The restored document, if this scenario put it in place, is now in
    // force under its new version; otherwise the harness no longer knows.
    let restored = answer.body["restored_from"]
        .as_u64()
        .zip(answer.body["version"].as_u64())
        .and_then(|(from, to)| Some((to, w.overlays.get(&(tenant.clone(), from))?.clone())));
    match restored {
        Some((to, overlay)) if (200..300).contains(&answer.status) => {
            w.tool_allowlists.insert(tenant.clone(), allowlist_of(&overlay));
            w.overlays.insert((tenant, to), overlay);
        }
        _ => {
            w.tool_allowlists.remove(&tenant);
        }
    }
    Ok(())
}

fn reads_overlay(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tenant = str_arg(args, 0)?.to_string();
    let token = token_for(w, &tenant)?;
    api_as(w, Method::GET, "/v1/overlay", &token, None).map(|_| ())
}

fn reads_others_history(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (reader, owner) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    let session = last_session(w, &owner)?;
    let token = token_for(w, &reader)?;
    api_as(w, Method::GET, &format!("/v1/sessions/{session}/history"), &token, None).map(|_| ())
}

fn reads_own_history(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tenant = str_arg(args, 0)?.to_string();
    let session = last_session(w, &tenant)?;
    let token = token_for(w, &tenant)?;
    api_as(w, Method::GET, &format!("/v1/sessions/{session}/history"), &token, None).map(|_| ())
}

/// A token whose payload claims `owner` but whose signature is another
/// tenant's: what an attacker gets by editing a token they hold.
fn forged_token(w: &mut World<'_>, owner: &str) -> Result<String, StepError> {
    let theirs = token_for(w, "mallory")?;
    let owners = token_for(w, owner)?;
    let (t, o): (Vec<&str>, Vec<&str>) = (theirs.split('.').collect(), owners.split('.').collect());
    Ok(format!("{}.{}.{}", t[0], o[1], t[2]))
}

fn reads_history_with(w: &mut World<'_>, args: &[Arg], kind: &str) -> StepResult {
    let owner = str_arg(args, 0)?.to_string();
    let session = last_session(w, &owner)?;
    let token = match kind {
        "forged" => forged_token(w, &owner)?,
        "expired" => w.deployment()?.token(&owner, -600).map_err(StepError::Invalid)?,
        _ => TokenKeys::new(b"a-key-this-deployment-never-used")
            .mint(&TenantId::new(owner.clone()), 600)
            .map_err(|e| StepError::Invalid(e.to_string()))?,
    };
    api_as(w, Method::GET, &format!("/v1/sessions/{session}/history"), &token, None).map(|_| ())
}

fn forged(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    reads_history_with(w, args, "forged")
}

fn expired(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    reads_history_with(w, args, "expired")
}

fn wrong_key(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    reads_history_with(w, args, "wrong-key")
}

fn concurrent_calls(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let tenants = [str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string()];
    let phrases = [str_arg(args, 2)?.to_string(), str_arg(args, 3)?.to_string()];
    w.calls()?;
    let mut plans = Vec::new();
    for (tenant, phrase) in tenants.into_iter().zip(phrases) {
        let mut plan = w.fresh_plan(Some(tenant));
        plan.script.push(CallerAction::Say { text: phrase, pauses: Vec::new() });
        plans.push(plan);
    }
    w.run_concurrently(plans)
}

fn edits_definition(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (name, version) = (str_arg(args, 0)?, str_arg(args, 1)?);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/definitions");
    let temp = tempfile::tempdir().map_err(|e| StepError::Invalid(e.to_string()))?;
    let dir = temp.path();
    let file = Path::new(name).join(format!("{version}.toml"));
    std::fs::create_dir_all(dir.join(name)).map_err(|e| StepError::Invalid(e.to_string()))?;
    std::fs::copy(source.join(LOCK_FILE), dir.join(LOCK_FILE)).map_err(|e| StepError::Invalid(e.to_string()))?;
    let text = std::fs::read_to_string(source.join(&file))
        .map_err(|e| StepError::Invalid(format!("{}: {e}", file.display())))?;
    let edited = text.replacen("Answer briefly", "Answer at length", 1);
    if edited == text {
        return Err(StepError::Invalid(format!("{} has nothing this step knows how to edit", file.display())));
    }
    std::fs::write(dir.join(&file), edited).map_err(|e| StepError::Invalid(e.to_string()))?;
    w.definitions_load = Some(
        DefinitionRegistry::load(dir)
            .map(|_| ())
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
    );
    Ok(())
}

// ---- Then ----

fn refused_not_found(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    let answer = last_answer(w)?;
    if answer.status == 404 && answer.body["error"]["code"] == "not_found" {
        Ok(())
    } else {
        fail(format!("expected 404 not_found, got {}: {}", answer.status, answer.body))
    }
}

fn refused_unauthorized(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let why = str_arg(args, 0)?;
    let answer = last_answer(w)?;
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    if answer.status == 401 && message.contains(why) {
        Ok(())
    } else {
        fail(format!("expected 401 mentioning {why:?}, got {}: {}", answer.status, answer.body))
    }
}

fn answer_contains(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let wanted = str_arg(args, 0)?;
    let answer = last_answer(w)?;
    if answer.body.to_string().contains(wanted) {
        Ok(())
    } else {
        fail(format!("the answer lacks {wanted:?}: {}", answer.body))
    }
}

fn answer_lacks(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let unwanted = str_arg(args, 0)?;
    let answer = last_answer(w)?;
    if answer.body.to_string().contains(unwanted) {
        fail(format!("the answer holds {unwanted:?}: {}", answer.body))
    } else {
        Ok(())
    }
}

fn answer_version(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (version, from) = (int_arg(args, 0)?, int_arg(args, 1)?);
    let answer = last_answer(w)?;
    if answer.body == json!({ "version": version, "restored_from": from }) {
        Ok(())
    } else {
        fail(format!("expected version {version} restored from {from}, got {}: {}", answer.status, answer.body))
    }
}

fn upload_rejected_naming(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let path = str_arg(args, 0)?;
    let answer = last_answer(w)?;
    let fields = answer.body["error"]["fields"].as_array().cloned().unwrap_or_default();
    if answer.status == 422 && fields.iter().any(|f| f["path"] == path) {
        Ok(())
    } else {
        fail(format!("expected a 422 naming {path:?}, got {}: {}", answer.status, answer.body))
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn preview_shows(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, path, value, source) =
        (str_arg(args, 0)?.to_string(), str_arg(args, 1)?, str_arg(args, 2)?, str_arg(args, 3)?);
    let token = token_for(w, &tenant)?;
    let answer = api_as(w, Method::GET, "/v1/config/preview", &token, None)?;
    let field = &answer.body["settings"][path];
    if render(&field["value"]) == value && field["source"] == source {
        Ok(())
    } else {
        fail(format!(
            "{path} is {} from the {}, expected {value} from the {source}",
            render(&field["value"]),
            render(&field["source"])
        ))
    }
}

/// The preview lists `path` as ignored (retired by a later overlay schema)
/// and holds no setting at or under it.
fn preview_ignores(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, path) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?);
    let token = token_for(w, &tenant)?;
    let answer = api_as(w, Method::GET, "/v1/config/preview", &token, None)?;
    let listed = answer.body["ignored"].as_array().is_some_and(|ignored| ignored.iter().any(|p| p == path));
    let settings: Vec<String> =
        answer.body["settings"].as_object().map(|s| s.keys().cloned().collect()).unwrap_or_default();
    let reached: Vec<&String> = settings.iter().filter(|p| *p == path || p.starts_with(&format!("{path}."))).collect();
    match (listed, reached.is_empty()) {
        (true, true) => Ok(()),
        (false, _) => fail(format!("the preview does not list {path:?} as ignored: {}", answer.body["ignored"])),
        (true, false) => fail(format!("{path:?} is listed as ignored, yet the preview has the settings {reached:?}")),
    }
}

fn overlay_is_version(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, version) = (str_arg(args, 0)?.to_string(), int_arg(args, 1)?);
    let token = token_for(w, &tenant)?;
    let answer = api_as(w, Method::GET, "/v1/overlay", &token, None)?;
    if answer.body["version"] == version {
        Ok(())
    } else {
        fail(format!("tenant {tenant:?}'s overlay is {}", answer.body))
    }
}

pub(super) fn nth_call<'w>(w: &'w mut World<'_>, n: i64) -> Result<&'w CompletedCall, StepError> {
    let calls = w.calls()?;
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| calls.get(i))
        .ok_or_else(|| StepError::Invalid(format!("there is no call {n}: the scenario made {}", calls.len())))
}

fn heard_in(call: &CompletedCall) -> Vec<String> {
    CallTruth::from_record(&call.outcome.record).replies.iter().flat_map(|r| r.heard_words()).collect()
}

fn call_heard(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (n, phrase) = (int_arg(args, 0)?, words(str_arg(args, 1)?));
    let heard = heard_in(nth_call(w, n)?);
    if heard.windows(phrase.len().max(1)).any(|window| window == phrase.as_slice()) {
        Ok(())
    } else {
        fail(format!("call {n} never heard {:?}; it heard {:?}", phrase.join(" "), heard.join(" ")))
    }
}

fn end_of_turn_at_least(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let limit = f64::from(super::ms_arg(args, 0)?);
    let call = w.call()?;
    let stages: Vec<f64> =
        call.report.turns.iter().filter_map(|t| t.stages.as_ref()).map(|s| s.end_of_turn_ms).collect();
    if stages.is_empty() {
        return fail("no turn was answered");
    }
    match stages.iter().find(|&&ms| ms < limit) {
        Some(ms) => fail(format!("a turn's end of turn took {ms:.0} ms")),
        None => Ok(()),
    }
}

fn tenant_records_contain(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, canary) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_string());
    let found = tenant_calls(w, &tenant)?.iter().any(|c| c.outcome.record.to_jsonl().contains(&canary));
    if found { Ok(()) } else { fail(format!("no record of tenant {tenant:?} holds {canary:?}")) }
}

fn tenant_never_contains(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, canary) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_lowercase());
    let calls: Vec<(String, Option<String>)> = tenant_calls(w, &tenant)?
        .iter()
        .map(|c| (c.outcome.record.to_jsonl(), c.session_id.as_ref().map(ToString::to_string)))
        .collect();
    let token = token_for(w, &tenant)?;
    for (record, session) in calls {
        if record.to_lowercase().contains(&canary) {
            return fail(format!("a call record of tenant {tenant:?} holds {canary:?}"));
        }
        if let Some(session) = session {
            let answer = api_as(w, Method::GET, &format!("/v1/sessions/{session}/history"), &token, None)?;
            if answer.status != 200 {
                return fail(format!("tenant {tenant:?} cannot read its own history: {}", answer.body));
            }
            if answer.body.to_string().to_lowercase().contains(&canary) {
                return fail(format!("tenant {tenant:?}'s persisted history holds {canary:?}"));
            }
        }
    }
    Ok(())
}

/// The stored history of every call `tenant` made, and the agent's own
/// events (its log lines) from those calls, as one lower-case text.
fn agent_output(w: &mut World<'_>, tenant: &str) -> Result<String, StepError> {
    let calls: Vec<(Vec<String>, Option<String>)> = tenant_calls(w, tenant)?
        .iter()
        .map(|c| {
            let events = c
                .outcome
                .record
                .events()
                .filter_map(|(_, e)| match e {
                    Event::Agent(a) => serde_json::to_string(a).ok(),
                    _ => None,
                })
                .collect();
            (events, c.session_id.as_ref().map(ToString::to_string))
        })
        .collect();
    let token = token_for(w, tenant)?;
    let mut text = String::new();
    for (events, session) in calls {
        text.push_str(&events.join("\n"));
        if let Some(session) = session {
            let answer = api_as(w, Method::GET, &format!("/v1/sessions/{session}/history"), &token, None)?;
            text.push_str(&answer.body.to_string());
        }
    }
    Ok(text.to_lowercase())
}

fn agent_output_lacks(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, unwanted) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_lowercase());
    if agent_output(w, &tenant)?.contains(&unwanted) {
        fail(format!("tenant {tenant:?}'s stored history or agent logs hold {unwanted:?}"))
    } else {
        Ok(())
    }
}

fn agent_output_has(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, wanted) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?.to_lowercase());
    if agent_output(w, &tenant)?.contains(&wanted) {
        Ok(())
    } else {
        fail(format!("tenant {tenant:?}'s stored history and agent logs lack {wanted:?}"))
    }
}

pub(super) fn credential(w: &World<'_>, tenant: &str, name: &str) -> Result<String, StepError> {
    w.credentials.get(&(tenant.to_string(), name.to_string())).cloned().ok_or_else(|| {
        StepError::Invalid(format!("tenant {tenant:?} uploaded no credential {name:?} in this scenario"))
    })
}

fn answer_hides_credential(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let secret = credential(w, str_arg(args, 0)?, str_arg(args, 1)?)?;
    let answer = last_answer(w)?;
    if answer.body.to_string().contains(&secret) { fail("the answer shows the credential") } else { Ok(()) }
}

fn records_hide_credential(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (tenant, name) = (str_arg(args, 0)?.to_string(), str_arg(args, 1)?);
    let secret = credential(w, &tenant, name)?;
    let records: Vec<String> = tenant_calls(w, &tenant)?.iter().map(|c| c.outcome.record.to_jsonl()).collect();
    if records.iter().any(|r| r.contains(&secret)) {
        return fail(format!("a call record of tenant {tenant:?} shows its credential {name:?}"));
    }
    if agent_output(w, &tenant)?.contains(&secret.to_lowercase()) {
        return fail(format!("tenant {tenant:?}'s stored history or agent logs show its credential {name:?}"));
    }
    Ok(())
}

fn definitions_refused(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let naming = str_arg(args, 0)?;
    match &w.definitions_load {
        Some(Err(message)) if message.contains(naming) && message.contains("immutable") => Ok(()),
        Some(Err(message)) => fail(format!("refused, but not naming {naming:?} as immutable: {message}")),
        Some(Ok(())) => fail("the edited definition loaded"),
        None => Err(StepError::Invalid("no definitions were loaded before this step".into())),
    }
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("tenant {string} has an overlay:", has_overlay),
        def("tenant {string} has an overlay that allows only {string}", allows_only),
        def("tenant {string} calls", calls),
        def("tenant {string} updates its overlay to:", updates_overlay),
        def("tenant {string} uploads the overlay:", uploads_overlay),
        def("tenant {string} restores overlay version {int}", restores),
        def("tenant {string} reads its overlay", reads_overlay),
        def("tenant {string} asks for the history of tenant {string}'s last call", reads_others_history),
        def("tenant {string} asks for the history of its last call", reads_own_history),
        def("someone asks for tenant {string}'s last call history with a forged token", forged),
        def("someone asks for tenant {string}'s last call history with an expired token", expired),
        def("someone asks for tenant {string}'s last call history with a token signed with the wrong key", wrong_key),
        def("tenants {string} and {string} call at the same time, saying {string} and {string}", concurrent_calls),
        def("the definition {string} version {string} is edited in place", edits_definition),
        def("the request is refused as not found", refused_not_found),
        def("the request is refused as unauthorized because of its {string}", refused_unauthorized),
        def("the answer contains {string}", answer_contains),
        def("the answer does not contain {string}", answer_lacks),
        def("the answer is version {int}, restored from version {int}", answer_version),
        def("the upload is rejected naming {string}", upload_rejected_naming),
        def("tenant {string}'s config preview shows {string} as {string} from the {word}", preview_shows),
        def("tenant {string}'s config preview ignores {string}", preview_ignores),
        def("tenant {string}'s overlay is version {int}", overlay_is_version),
        def("call {int} heard {string}", call_heard),
        def("every turn's end-of-turn stage takes at least {int} ms", end_of_turn_at_least),
        def("tenant {string}'s records contain {string}", tenant_records_contain),
        def("tenant {string}'s records and history never contain {string}", tenant_never_contains),
        def("tenant {string}'s stored history and agent logs never contain {string}", agent_output_lacks),
        def("tenant {string}'s stored history and agent logs contain {string}", agent_output_has),
        def("the answer does not show tenant {string}'s credential {string}", answer_hides_credential),
        def(
            "no record, history or agent log of tenant {string} shows its credential {string}",
            records_hide_credential,
        ),
        def("loading the definitions is refused naming {string}", definitions_refused),
    ]
}
