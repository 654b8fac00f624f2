//! A deployment of the reference agent's control plane for one scenario:
//! its real `ControlPlane` over an in-memory SQLite store and its real HTTP
//! router, called in process. Store I/O runs on this deployment's own
//! runtime, never under a call's paused clock.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;
use voicegate_agent::AgentDefinition;
use voicegate_agent::control::{ControlPlane, NewSession};
use voicegate_agent::server::{AppState, router};
use voicegate_agent::services::ChatMessage;
use voicegate_agent::store::Store;
use voicegate_agent::telemetry::{SessionId, TenantId, TraceId};
use voicegate_agent::tenant::TokenKeys;

use crate::seed::Rng;

const TOKEN_SECRET: &[u8] = b"voicegate-scenario-secret";

/// An API answer: status and JSON body (or the body as a JSON string).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Value,
}

pub struct Deployment {
    runtime: tokio::runtime::Runtime,
    state: AppState,
}

impl Deployment {
    /// The control plane of an agent running `definition`.
    pub fn start(definition: Arc<AgentDefinition>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let store =
            runtime.block_on(Store::connect("sqlite::memory:")).map_err(|e| format!("cannot open the store: {e}"))?;
        let control = Arc::new(ControlPlane::new(store, definition));
        Ok(Self { runtime, state: AppState { control, keys: Arc::new(TokenKeys::new(TOKEN_SECRET)) } })
    }

    /// A valid token for `tenant`, or one that expired `-ttl` seconds ago.
    pub fn token(&self, tenant: &str, ttl_secs: i64) -> Result<String, String> {
        self.state.keys.mint(&TenantId::new(tenant), ttl_secs).map_err(|e| format!("tenant {tenant:?}: {e}"))
    }

    pub fn api(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> ApiAnswer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.unwrap_or_default().to_string())).expect("a well-formed request");
        let app = router(self.state.clone());
        self.runtime.block_on(async move {
            let response = app.oneshot(request).await.expect("the router never fails to answer");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
            ApiAnswer { status, body }
        })
    }

    /// A session for `tenant` with ids drawn from `seed`.
    pub fn create_session(&self, tenant: &str, seed: u64) -> Result<NewSession, String> {
        let control = self.state.control.clone();
        let tenant = TenantId::new(tenant);
        let mut rng = Rng::derive(seed, "session-ids");
        let trace_id = TraceId::new(format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()));
        let session_id = SessionId::new(format!("session-{:016x}", rng.next_u64()));
        self.runtime
            .block_on(async move { control.create_session_with_ids(&tenant, trace_id, session_id).await })
            .map_err(|e| format!("cannot create a session: {e}"))
    }

    pub fn finish_session(
        &self,
        tenant: &str,
        session: &SessionId,
        history: &[ChatMessage],
        summary: Value,
    ) -> Result<(), String> {
        let control = self.state.control.clone();
        let tenant = TenantId::new(tenant);
        self.runtime
            .block_on(async move { control.finish_session(&tenant, session, history, &summary).await })
            .map_err(|e| format!("cannot persist the call's history: {e}"))
    }
}
