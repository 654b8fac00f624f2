//! The control plane: overlays per tenant, session creation with the merged
//! configuration, previews and history. Every operation takes the tenant
//! from the caller (a verified token), never from request data.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::{AgentDefinition, EffectiveConfig, FieldError, Overlay, Source, merge};
use crate::services::ChatMessage;
use crate::store::{OverlayVersion, SessionRecord, Store, StoreError};
use crate::telemetry::{SessionId, TenantId, TraceId};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Not there, or not this tenant's.
    #[error("not found")]
    NotFound,
    #[error("the overlay is invalid")]
    InvalidOverlay(Vec<FieldError>),
    /// The tenant's stored overlay no longer fits the running definition.
    #[error("the stored overlay (version {version}) does not fit {agent}: {problems}")]
    StaleOverlay { version: u64, agent: String, problems: String },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ControlError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ControlError::NotFound,
            other => ControlError::Store(other),
        }
    }
}

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub sessions_created: AtomicU64,
    pub overlay_updates: AtomicU64,
    pub overlay_rejections: AtomicU64,
    pub auth_failures: AtomicU64,
    pub history_persist_failures: AtomicU64,
}

/// A session ready to run.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub record: SessionRecord,
    pub config: Arc<EffectiveConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlayVersionInfo {
    pub version: u64,
    pub created_at_ms: i64,
    pub restored_from: Option<u64>,
}

pub struct ControlPlane {
    store: Store,
    definition: Arc<AgentDefinition>,
    metrics: Arc<Metrics>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl ControlPlane {
    pub fn new(store: Store, definition: Arc<AgentDefinition>) -> Self {
        Self { store, definition, metrics: Arc::default() }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn definition(&self) -> &Arc<AgentDefinition> {
        &self.definition
    }

    fn parse_stored(&self, stored: &OverlayVersion) -> Result<Overlay, ControlError> {
        let stale = |errors: Vec<FieldError>| ControlError::StaleOverlay {
            version: stored.version,
            agent: self.definition.id(),
            problems: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        };
        let overlay = Overlay::parse_json(&stored.document).map_err(stale)?;
        overlay.validate(&self.definition).map_err(stale)?;
        Ok(overlay)
    }

    /// The tenant's current settings: its latest overlay over the definition.
    pub async fn effective_config(&self, tenant: &TenantId) -> Result<EffectiveConfig, ControlError> {
        let stored = self.store.current_overlay(tenant).await?;
        let overlay = stored.as_ref().map(|s| self.parse_stored(s).map(|o| (o, s.version))).transpose()?;
        merge(self.definition.clone(), overlay.as_ref().map(|(o, v)| (o, *v))).map_err(|errors| {
            ControlError::StaleOverlay {
                version: overlay.as_ref().map_or(0, |(_, v)| *v),
                agent: self.definition.id(),
                problems: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            }
        })
    }

    /// Create a session with the tenant's current overlay. Overlay changes
    /// made later apply to later sessions only: the config is fixed here.
    pub async fn create_session(&self, tenant: &TenantId) -> Result<NewSession, ControlError> {
        self.create_session_with_ids(tenant, TraceId::random(), SessionId::random()).await
    }

    /// [`ControlPlane::create_session`] with given ids (deterministic runs
    /// derive them from a seed).
    pub async fn create_session_with_ids(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
        session_id: SessionId,
    ) -> Result<NewSession, ControlError> {
        let config = Arc::new(self.effective_config(tenant).await?);
        let record = SessionRecord {
            session_id,
            trace_id: trace_id.to_string(),
            agent_version: config.definition.id(),
            overlay_version: config.overlay_version,
            created_at_ms: now_ms(),
            ended_at_ms: None,
        };
        self.store.create_session(tenant, &record).await?;
        self.metrics.sessions_created.fetch_add(1, Ordering::Relaxed);
        let overlay_fields: Vec<&str> =
            config.provenance.iter().filter(|(_, s)| **s == Source::Overlay).map(|(p, _)| p.as_str()).collect();
        tracing::info!(
            trace_id = %record.trace_id,
            customer_id = %tenant,
            session_id = %record.session_id,
            agent_version = %record.agent_version,
            overlay_version = ?record.overlay_version,
            overlay_fields = ?overlay_fields,
            "session created with merged config"
        );
        Ok(NewSession { record, config })
    }

    /// Validate and store a new overlay version.
    pub async fn put_overlay(&self, tenant: &TenantId, document: &str) -> Result<OverlayVersion, ControlError> {
        let checked = Overlay::parse_json(document).and_then(|overlay| overlay.validate(&self.definition));
        if let Err(errors) = checked {
            self.metrics.overlay_rejections.fetch_add(1, Ordering::Relaxed);
            tracing::info!(customer_id = %tenant, problems = errors.len(), "overlay rejected");
            return Err(ControlError::InvalidOverlay(errors));
        }
        let stored = self.store.put_overlay(tenant, document).await?;
        self.metrics.overlay_updates.fetch_add(1, Ordering::Relaxed);
        tracing::info!(customer_id = %tenant, overlay_version = stored.version, "overlay stored");
        Ok(stored)
    }

    /// The tenant's current overlay, secrets redacted.
    pub async fn overlay(&self, tenant: &TenantId) -> Result<(u64, serde_json::Value), ControlError> {
        let stored = self.store.current_overlay(tenant).await?.ok_or(ControlError::NotFound)?;
        let overlay = self.parse_stored(&stored)?;
        Ok((stored.version, serde_json::to_value(&overlay).expect("overlays always serialise")))
    }

    pub async fn overlay_versions(&self, tenant: &TenantId) -> Result<Vec<OverlayVersionInfo>, ControlError> {
        let versions = self.store.overlay_versions(tenant).await?;
        Ok(versions
            .into_iter()
            .map(|v| OverlayVersionInfo {
                version: v.version,
                created_at_ms: v.created_at_ms,
                restored_from: v.restored_from,
            })
            .collect())
    }

    /// Make an earlier version current again (as a new version).
    pub async fn restore_overlay(&self, tenant: &TenantId, version: u64) -> Result<OverlayVersion, ControlError> {
        let earlier = self.store.overlay_version(tenant, version).await?.ok_or(ControlError::NotFound)?;
        self.parse_stored(&earlier)?;
        let restored = self.store.restore_overlay(tenant, version).await?;
        self.metrics.overlay_updates.fetch_add(1, Ordering::Relaxed);
        tracing::info!(customer_id = %tenant, overlay_version = restored.version, restored_from = version, "overlay restored");
        Ok(restored)
    }

    /// The merged config with each value's source, secrets redacted.
    pub async fn preview(&self, tenant: &TenantId) -> Result<serde_json::Value, ControlError> {
        Ok(self.effective_config(tenant).await?.preview())
    }

    pub async fn history(&self, tenant: &TenantId, session_id: &SessionId) -> Result<Vec<ChatMessage>, ControlError> {
        Ok(self.store.history(tenant, session_id).await?)
    }

    /// Persist a finished call's history (retried; a final failure is
    /// counted, logged and returned).
    pub async fn finish_session(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        history: &[ChatMessage],
        summary: &serde_json::Value,
    ) -> Result<(), ControlError> {
        match self.store.end_session_retrying(tenant, session_id, history, summary, 3).await {
            Ok(_) => Ok(()),
            Err(error) => {
                self.metrics.history_persist_failures.fetch_add(1, Ordering::Relaxed);
                Err(error.into())
            }
        }
    }

    /// Prometheus text exposition of the counters.
    pub fn render_metrics(&self) -> String {
        let m = &self.metrics;
        let counters = [
            ("voicegate_sessions_created_total", "Sessions created.", m.sessions_created.load(Ordering::Relaxed)),
            (
                "voicegate_overlay_updates_total",
                "Overlay versions stored (updates and restores).",
                m.overlay_updates.load(Ordering::Relaxed),
            ),
            (
                "voicegate_overlay_rejections_total",
                "Overlays refused by validation.",
                m.overlay_rejections.load(Ordering::Relaxed),
            ),
            (
                "voicegate_auth_failures_total",
                "Requests refused for a missing, malformed, forged or expired token.",
                m.auth_failures.load(Ordering::Relaxed),
            ),
            (
                "voicegate_isolation_violations_total",
                "Refused accesses to another tenant's data.",
                self.store.isolation_violations(),
            ),
            (
                "voicegate_history_persist_failures_total",
                "Histories that could not be persisted after retries.",
                m.history_persist_failures.load(Ordering::Relaxed),
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Role;

    #[tokio::test]
    async fn a_history_that_cannot_be_persisted_is_retried_reported_and_counted() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let control = ControlPlane::new(store.clone(), Arc::new(AgentDefinition::reference()));
        let tenant = TenantId::new("acme");
        let session = control.create_session(&tenant).await.expect("session");
        store.close().await;
        let history = vec![ChatMessage::new(Role::User, "hello")];
        let result =
            control.finish_session(&tenant, &session.record.session_id, &history, &serde_json::json!({})).await;
        assert!(matches!(result, Err(ControlError::Store(StoreError::Database(_)))), "{result:?}");
        assert_eq!(control.metrics().history_persist_failures.load(Ordering::Relaxed), 1);
        assert!(control.render_metrics().contains("voicegate_history_persist_failures_total 1"));
    }
}
