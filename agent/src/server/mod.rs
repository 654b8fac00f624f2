//! The HTTP API. The tenant of every `/v1` request comes from its bearer
//! token; no path or body field can name another tenant. Another tenant's
//! session is "not found", exactly like one that does not exist.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tracing::Instrument;

use crate::config::FieldError;
use crate::control::{ControlError, ControlPlane};
use crate::telemetry::{SessionId, TenantId, TraceId};
use crate::tenant::{AuthError, TokenKeys};

#[derive(Clone)]
pub struct AppState {
    pub control: Arc<ControlPlane>,
    pub keys: Arc<TokenKeys>,
}

/// Every error the API returns: a status and a JSON body
/// `{"error": {"code", "message", "fields"?}}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(AuthError),
    NotFound,
    InvalidOverlay(Vec<FieldError>),
    BadRequest(String),
    Conflict(String),
    Internal,
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::NotFound => ApiError::NotFound,
            ControlError::InvalidOverlay(fields) => ApiError::InvalidOverlay(fields),
            ControlError::StaleOverlay { .. } => ApiError::Conflict(error.to_string()),
            ControlError::Store(crate::store::StoreError::Conflict(message)) => ApiError::Conflict(message),
            ControlError::Store(inner) => {
                tracing::error!(error = %inner, "store failure");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, fields) = match self {
            ApiError::Unauthorized(e) => (StatusCode::UNAUTHORIZED, "unauthorized", e.to_string(), None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such resource".to_string(), None),
            ApiError::InvalidOverlay(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_overlay",
                "the overlay is invalid".to_string(),
                Some(fields),
            ),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m, None),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, None),
            ApiError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its logs".to_string(), None)
            }
        };
        let mut body = json!({ "error": { "code": code, "message": message } });
        if let Some(fields) = fields {
            body["error"]["fields"] = json!(fields);
        }
        (status, Json(body)).into_response()
    }
}

/// The caller's tenant, from a verified bearer token.
pub struct Tenant(pub TenantId);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        state
            .keys
            .verify_header(header)
            .map(|tenant| {
                tracing::Span::current().record("customer_id", tenant.as_str());
                Tenant(tenant)
            })
            .map_err(|error| {
                state.control.metrics().auth_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "auth", reason = %error, path = %parts.uri.path(), "request refused");
                ApiError::Unauthorized(error)
            })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/metrics", get(metrics))
        .route("/v1/sessions", post(create_session))
        .route("/v1/sessions/{id}/history", get(history))
        .route("/v1/overlay", put(put_overlay).get(get_overlay))
        .route("/v1/overlay/versions", get(overlay_versions))
        .route("/v1/overlay/versions/{n}/restore", post(restore_overlay))
        .route("/v1/config/preview", get(preview))
        .layer(from_fn(trace_requests))
        .with_state(state)
}

/// The trace id of a W3C `traceparent` header (`00-<trace>-<span>-<flags>`).
fn trace_id_of(request: &Request) -> Option<TraceId> {
    let header = request.headers().get("traceparent")?.to_str().ok()?;
    let trace = header.split('-').nth(1)?;
    (trace.len() == 32 && trace.chars().all(|c| c.is_ascii_hexdigit()) && trace != "0".repeat(32))
        .then(|| TraceId::new(trace.to_ascii_lowercase()))
}

/// Every request runs in a span carrying its trace id and, once known, the
/// customer, session, agent and overlay versions, so every log line of the
/// request has them. The trace id is echoed in `x-trace-id`.
async fn trace_requests(request: Request, next: Next) -> Response {
    let trace_id = trace_id_of(&request).unwrap_or_else(TraceId::random);
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        method = %request.method(),
        path = %request.uri().path(),
        customer_id = tracing::field::Empty,
        session_id = tracing::field::Empty,
        agent_version = tracing::field::Empty,
        overlay_version = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(trace_id.as_str()) {
        response.headers_mut().insert("x-trace-id", value);
    }
    response
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.control.render_metrics())
}

async fn create_session(State(state): State<AppState>, Tenant(tenant): Tenant) -> Result<impl IntoResponse, ApiError> {
    let session = state.control.create_session(&tenant).await?;
    let span = tracing::Span::current();
    span.record("session_id", session.record.session_id.as_str());
    span.record("agent_version", session.record.agent_version.as_str());
    if let Some(version) = session.record.overlay_version {
        span.record("overlay_version", version);
    }
    let body = json!({
        "session_id": session.record.session_id,
        "trace_id": session.record.trace_id,
        "agent_version": session.record.agent_version,
        "overlay_version": session.record.overlay_version,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

async fn history(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let session_id = SessionId::new(id);
    let messages = state.control.history(&tenant, &session_id).await?;
    Ok(Json(json!({ "session_id": session_id, "messages": messages })))
}

async fn put_overlay(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: String,
) -> Result<impl IntoResponse, ApiError> {
    let stored = state.control.put_overlay(&tenant, &body).await?;
    Ok(Json(json!({ "version": stored.version, "created_at_ms": stored.created_at_ms })))
}

async fn get_overlay(State(state): State<AppState>, Tenant(tenant): Tenant) -> Result<impl IntoResponse, ApiError> {
    let (version, overlay) = state.control.overlay(&tenant).await?;
    Ok(Json(json!({ "version": version, "overlay": overlay })))
}

async fn overlay_versions(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({ "versions": state.control.overlay_versions(&tenant).await? })))
}

async fn restore_overlay(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(n): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let version: u64 = n.parse().map_err(|_| ApiError::BadRequest(format!("version {n:?} is not a whole number")))?;
    let restored = state.control.restore_overlay(&tenant, version).await?;
    Ok(Json(json!({ "version": restored.version, "restored_from": restored.restored_from })))
}

async fn preview(State(state): State<AppState>, Tenant(tenant): Tenant) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(state.control.preview(&tenant).await?))
}
