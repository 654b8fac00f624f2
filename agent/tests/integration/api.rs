//! The HTTP API, driven in process (no sockets) with a SQLite store.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use voicegate_agent::AgentDefinition;
use voicegate_agent::control::ControlPlane;
use voicegate_agent::server::{AppState, router};
use voicegate_agent::store::Store;
use voicegate_agent::tenant::{TenantId, TokenKeys};

const SECRET: &[u8] = b"test-secret-0123456789";
const CANARY_SECRET: &str = "sk-canary-secret-88231";

struct Api {
    state: AppState,
}

impl Api {
    async fn new() -> Self {
        logs();
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let control = Arc::new(ControlPlane::new(store, Arc::new(AgentDefinition::reference())));
        Self { state: AppState { control, keys: Arc::new(TokenKeys::new(SECRET)) } }
    }

    fn token(&self, tenant: &str) -> String {
        self.state.keys.mint(&TenantId::new(tenant), 300).expect("mint")
    }

    async fn put_overlay(&self, token: &str, document: &str) -> (StatusCode, Value) {
        self.call(Method::PUT, "/v1/overlay", Some(token), Some(document)).await
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.unwrap_or_default().to_string())).expect("request");
        let response = router(self.state.clone()).oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }
}

/// Captures every log line written while the guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// Every log line of this test binary, captured by one process-wide
/// subscriber (a thread-scoped one would miss callsites that other tests,
/// running in parallel, hit first).
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this binary");
        logs
    })
}

#[tokio::test]
async fn overlay_precedence_provenance_and_versions() {
    let api = Api::new().await;
    let acme = api.token("acme");
    let (status, body) =
        api.put_overlay(&acme, r#"{"schema_version": 2, "voice": "verse", "vad": {"end_of_turn_ms": 950}}"#).await;
    assert_eq!((status, body["version"].clone()), (StatusCode::OK, json!(1)));
    let (_, preview) = api.call(Method::GET, "/v1/config/preview", Some(&acme), None).await;
    assert_eq!(preview["settings"]["voice"], json!({"value": "verse", "source": "overlay"}));
    assert_eq!(preview["settings"]["vad.end_of_turn_ms"], json!({"value": 950, "source": "overlay"}));
    assert_eq!(preview["settings"]["vad.start_ms"], json!({"value": 96, "source": "base"}));
    assert_eq!(preview["settings"]["guardrails.redact_pii"], json!({"value": false, "source": "default"}));

    // A session fixes its overlay version; a later overlay affects later sessions only.
    let (status, first) = api.call(Method::POST, "/v1/sessions", Some(&acme), None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["overlay_version"], json!(1));
    assert_eq!(first["agent_version"], json!(AgentDefinition::reference().id()));
    api.put_overlay(&acme, r#"{"schema_version": 2, "voice": "alloy"}"#).await;
    let (_, second) = api.call(Method::POST, "/v1/sessions", Some(&acme), None).await;
    assert_eq!(second["overlay_version"], json!(2));
    let stored = api
        .state
        .control
        .store()
        .session(&TenantId::new("acme"), &serde_json::from_value(first["session_id"].clone()).expect("id"))
        .await
        .expect("session");
    assert_eq!(stored.overlay_version, Some(1), "the first session keeps the overlay it started with");

    // Restore version 1 as version 3.
    let (status, restored) = api.call(Method::POST, "/v1/overlay/versions/1/restore", Some(&acme), None).await;
    assert_eq!((status, restored), (StatusCode::OK, json!({"version": 3, "restored_from": 1})));
    let (_, current) = api.call(Method::GET, "/v1/overlay", Some(&acme), None).await;
    assert_eq!(current["overlay"]["voice"], json!("verse"));
    let (_, versions) = api.call(Method::GET, "/v1/overlay/versions", Some(&acme), None).await;
    let listed: Vec<u64> =
        versions["versions"].as_array().expect("list").iter().map(|v| v["version"].as_u64().expect("n")).collect();
    assert_eq!(listed, [1, 2, 3]);
    let (status, _) = api.call(Method::POST, "/v1/overlay/versions/9/restore", Some(&acme), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.call(Method::POST, "/v1/overlay/versions/x/restore", Some(&acme), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn invalid_overlays_are_rejected_with_every_field_path() {
    let api = Api::new().await;
    let acme = api.token("acme");
    let (status, body) = api
        .put_overlay(
            &acme,
            r#"{"schema_version": 2, "vad": {"end_of_turn_ms": 10}, "tools": {"allow": ["wire_transfer"]}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let paths: Vec<&str> =
        body["error"]["fields"].as_array().expect("fields").iter().map(|f| f["path"].as_str().expect("path")).collect();
    assert_eq!(paths, ["tools.allow[0]", "vad.end_of_turn_ms"]);
    let (status, body) = api.put_overlay(&acme, r#"{"schema_version": 2, "colour": "blue"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["fields"][0]["message"].as_str().expect("message").contains("unknown field `colour`"),
        "{body}"
    );
    let (status, _) = api.put_overlay(&acme, "{not json").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api.call(Method::GET, "/v1/overlay", Some(&acme), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing invalid was stored");
}

#[tokio::test]
async fn another_tenant_sees_nothing_by_id_guessing_forgery_expiry_or_wrong_key() {
    let api = Api::new().await;
    let (acme, globex) = (api.token("acme"), api.token("globex"));
    api.put_overlay(&acme, r#"{"schema_version": 2, "prompt": {"append": "canary-acme-prompt"}}"#).await;
    let (_, session) = api.call(Method::POST, "/v1/sessions", Some(&acme), None).await;
    let id = session["session_id"].as_str().expect("id").to_string();
    let history_path = format!("/v1/sessions/{id}/history");

    // Guessing A's session id with B's own valid token: "not found", the same as an id that does not exist.
    let (status, guessed) = api.call(Method::GET, &history_path, Some(&globex), None).await;
    let (_, missing) = api.call(Method::GET, "/v1/sessions/no-such-session/history", Some(&globex), None).await;
    assert_eq!((status, &guessed), (StatusCode::NOT_FOUND, &missing));
    let (_, overlay) = api.call(Method::GET, "/v1/overlay", Some(&globex), None).await;
    assert!(!overlay.to_string().contains("canary-acme-prompt"));

    // Tokens that do not prove a tenant are refused before anything is read.
    let expired = api.state.keys.mint(&TenantId::new("acme"), -300).expect("mint");
    let wrong_key = TokenKeys::new(b"another-secret-987654").mint(&TenantId::new("acme"), 300).expect("mint");
    let parts: Vec<&str> = globex.split('.').collect();
    let acme_parts: Vec<&str> = acme.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], acme_parts[1], parts[2]);
    for (token, why) in
        [(expired.as_str(), "expired"), (wrong_key.as_str(), "signature"), (forged.as_str(), "signature")]
    {
        let (status, body) = api.call(Method::GET, &history_path, Some(token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(body["error"]["message"].as_str().expect("message").contains(why), "{body}");
    }
    let (status, _) = api.call(Method::GET, &history_path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, metrics) = api.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().expect("text").to_string();
    assert!(metrics.contains("voicegate_isolation_violations_total 1"), "{metrics}");
    assert!(metrics.contains("voicegate_auth_failures_total 4"), "{metrics}");
    let (status, health) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn secrets_never_appear_in_responses_previews_errors_or_logs() {
    let api = Api::new().await;
    let acme = api.token("acme");
    let overlay = format!(r#"{{"schema_version": 2, "credentials": {{"crm_api_key": "{CANARY_SECRET}"}}}}"#);
    let mut seen = Vec::new();
    seen.push(api.put_overlay(&acme, &overlay).await.1);
    seen.push(api.call(Method::GET, "/v1/overlay", Some(&acme), None).await.1);
    seen.push(api.call(Method::GET, "/v1/config/preview", Some(&acme), None).await.1);
    seen.push(api.call(Method::POST, "/v1/sessions", Some(&acme), None).await.1);
    // An invalid overlay carrying the secret in a bad place: refused without echoing it.
    let bad = format!(r#"{{"schema_version": 2, "credentials": "{CANARY_SECRET}"}}"#);
    seen.push(api.put_overlay(&acme, &bad).await.1);
    let bad = format!(r#"{{"schema_version": 2, "credentials": {{"BAD NAME": "{CANARY_SECRET}"}}}}"#);
    seen.push(api.put_overlay(&acme, &bad).await.1);
    let config = api.state.control.effective_config(&TenantId::new("acme")).await.expect("config");
    let shown = format!("{seen:?} {config:?} {}", config.preview());
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("canary"), "a secret leaked: {shown}");
    let logged = logs().text();
    assert!(logged.contains("session created with merged config"), "logs were captured: {logged}");
    assert!(!logged.contains("canary"), "a secret leaked into the logs: {logged}");
    // Every line the control plane logged for a request carries its context.
    for line in logged.lines().filter(|l| l.contains("\"target\":\"voicegate_agent::control\"")) {
        let line: Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(line["span"]["trace_id"].as_str().is_some_and(|t| t.len() == 32), "{line}");
        assert!(line["span"]["customer_id"].is_string(), "{line}");
    }
    assert_eq!(config.settings.credentials["crm_api_key"].expose(), CANARY_SECRET, "the session can still use it");
}

#[tokio::test]
async fn business_hours_load_from_an_older_overlay_as_ignored_and_are_refused_from_schema_4() {
    let api = Api::new().await;
    let acme = api.token("acme");
    let hours = r#""business_hours": {"open": "09:00", "close": "17:00", "days": ["mon"]}"#;
    let (status, body) = api.put_overlay(&acme, &format!(r#"{{"schema_version": 4, "rules": {{{hours}}}}}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], json!("rules.business_hours"), "{body}");
    let older = format!(r#"{{"schema_version": 3, "voice": "verse", "rules": {{{hours}}}}}"#);
    let (status, body) = api.put_overlay(&acme, &older).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, preview) = api.call(Method::GET, "/v1/config/preview", Some(&acme), None).await;
    assert_eq!(preview["ignored"], json!(["rules.business_hours"]), "{preview}");
    assert_eq!(preview["settings"]["voice"], json!({"value": "verse", "source": "overlay"}));
    let settings = preview["settings"].as_object().expect("settings");
    assert!(settings.keys().all(|path| !path.contains("business_hours")), "{preview}");
}

#[tokio::test]
async fn a_w3c_traceparent_sets_the_trace_id_and_is_echoed() {
    let api = Api::new().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::builder()
        .uri("/healthz")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body(Body::empty())
        .expect("request");
    let response = router(api.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.headers()["x-trace-id"], trace);
    let request = Request::builder().uri("/healthz").body(Body::empty()).expect("request");
    let response = router(api.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.headers()["x-trace-id"].len(), 32, "a fresh trace id otherwise");
}
