//! The tenant-scoped store: overlays and their versions, sessions, and each
//! session's history. One implementation over sqlx's `Any` driver runs the
//! same portable SQL on SQLite (embedded default: a file or in memory) and
//! PostgreSQL (production); one test suite runs against both.
//!
//! Invariant: every method that reads or writes tenant data takes a
//! [`TenantId`] and every such query filters on it. The one unscoped query
//! (`OWNER_SQL`) only tells whether a refused id belongs to someone else, so
//! the refusal can be counted; it never returns data.

mod queries;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::services::{ChatMessage, Role};
use crate::telemetry::{SessionId, TenantId};
use queries::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not there, or not this tenant's: the two are never told apart.
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the store failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the store's migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverlayVersion {
    pub version: u64,
    /// The overlay document as submitted.
    pub document: String,
    pub created_at_ms: i64,
    pub restored_from: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: SessionId,
    pub trace_id: String,
    pub agent_version: String,
    pub overlay_version: Option<u64>,
    pub created_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    violations: Arc<AtomicU64>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative: {value}")))
}

fn role_name(role: &Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn parse_role(name: &str) -> Result<Role, StoreError> {
    Ok(match name {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => return Err(StoreError::Corrupt(format!("unknown role {other:?} in history"))),
    })
}

impl Store {
    /// Connect and migrate. `sqlite::memory:`, `sqlite://path?mode=rwc` or
    /// `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if url.contains(":memory:") || url.contains("mode=memory") {
            // Every connection to an in-memory SQLite database is a new,
            // empty database: keep exactly one.
            options = options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        } else {
            options = options.max_connections(if backend == Backend::Sqlite { 4 } else { 16 });
        }
        let pool = options.connect(url).await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await?;
        }
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, backend, violations: Arc::default() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Close every connection; later calls fail (used to shut down, and by
    /// tests to make the store fail).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Refused cross-tenant accesses since the store was opened.
    pub fn isolation_violations(&self) -> u64 {
        self.violations.load(Ordering::Relaxed)
    }

    /// Count a refusal if `session_id` belongs to another tenant.
    async fn note_refusal(&self, tenant: &TenantId, session_id: &SessionId, what: &str) -> Result<(), StoreError> {
        let owner: Option<String> =
            sqlx::query(OWNER_SQL).bind(session_id.as_str()).fetch_optional(&self.pool).await?.map(|row| row.get(0));
        if owner.is_some_and(|owner| owner != tenant.as_str()) {
            self.violations.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "isolation",
                customer_id = %tenant,
                session_id = %session_id,
                resource = what,
                "refused a cross-tenant access"
            );
        }
        Ok(())
    }

    // ---- overlays ----

    /// Store a new overlay version for `tenant`; returns it.
    pub async fn put_overlay(&self, tenant: &TenantId, document: &str) -> Result<OverlayVersion, StoreError> {
        self.insert_overlay(tenant, document, None).await
    }

    async fn insert_overlay(
        &self,
        tenant: &TenantId,
        document: &str,
        restored_from: Option<u64>,
    ) -> Result<OverlayVersion, StoreError> {
        // Two writers may pick the same next version; the primary key
        // refuses the second, which then tries again.
        for _ in 0..5 {
            let mut tx = self.pool.begin().await?;
            let latest: Option<i64> =
                sqlx::query(LATEST_OVERLAY_VERSION_SQL).bind(tenant.as_str()).fetch_one(&mut *tx).await?.get(0);
            let version = latest.unwrap_or(0) + 1;
            let created_at_ms = now_ms();
            let inserted = sqlx::query(INSERT_OVERLAY_SQL)
                .bind(tenant.as_str())
                .bind(version)
                .bind(document)
                .bind(created_at_ms)
                .bind(restored_from.map(|v| v as i64))
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {
                    tx.commit().await?;
                    let version = to_u64(version, "overlay version")?;
                    return Ok(OverlayVersion { version, document: document.into(), created_at_ms, restored_from });
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict("too many concurrent overlay updates; try again".into()))
    }

    /// The tenant's current (latest) overlay, if any.
    pub async fn current_overlay(&self, tenant: &TenantId) -> Result<Option<OverlayVersion>, StoreError> {
        let row = sqlx::query(CURRENT_OVERLAY_SQL).bind(tenant.as_str()).fetch_optional(&self.pool).await?;
        row.map(|row| overlay_from_row(&row)).transpose()
    }

    pub async fn overlay_version(&self, tenant: &TenantId, version: u64) -> Result<Option<OverlayVersion>, StoreError> {
        let row = sqlx::query(OVERLAY_VERSION_SQL)
            .bind(tenant.as_str())
            .bind(version as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| overlay_from_row(&row)).transpose()
    }

    /// Every version, oldest first.
    pub async fn overlay_versions(&self, tenant: &TenantId) -> Result<Vec<OverlayVersion>, StoreError> {
        let rows = sqlx::query(OVERLAY_VERSIONS_SQL).bind(tenant.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(overlay_from_row).collect()
    }

    /// Make an earlier version current again, as a new version.
    pub async fn restore_overlay(&self, tenant: &TenantId, version: u64) -> Result<OverlayVersion, StoreError> {
        let earlier = self.overlay_version(tenant, version).await?.ok_or(StoreError::NotFound)?;
        self.insert_overlay(tenant, &earlier.document, Some(version)).await
    }

    // ---- sessions and history ----

    pub async fn create_session(&self, tenant: &TenantId, session: &SessionRecord) -> Result<(), StoreError> {
        let result = sqlx::query(INSERT_SESSION_SQL)
            .bind(tenant.as_str())
            .bind(session.session_id.as_str())
            .bind(session.trace_id.as_str())
            .bind(session.agent_version.as_str())
            .bind(session.overlay_version.map(|v| v as i64))
            .bind(session.created_at_ms)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("session id already exists".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn session(&self, tenant: &TenantId, session_id: &SessionId) -> Result<SessionRecord, StoreError> {
        let row =
            sqlx::query(SESSION_SQL).bind(tenant.as_str()).bind(session_id.as_str()).fetch_optional(&self.pool).await?;
        let Some(row) = row else {
            self.note_refusal(tenant, session_id, "session").await?;
            return Err(StoreError::NotFound);
        };
        Ok(SessionRecord {
            session_id: SessionId::new(row.get::<String, _>(0)),
            trace_id: row.get(1),
            agent_version: row.get(2),
            overlay_version: row.get::<Option<i64>, _>(3).map(|v| to_u64(v, "overlay version")).transpose()?,
            created_at_ms: row.get(4),
            ended_at_ms: row.get(5),
        })
    }

    /// Persist the call's history and summary and mark the session ended,
    /// in one transaction. A session's history is written once.
    pub async fn end_session(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        history: &[ChatMessage],
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query(END_SESSION_SQL)
            .bind(tenant.as_str())
            .bind(session_id.as_str())
            .bind(now_ms())
            .bind(summary.to_string())
            .execute(&mut *tx)
            .await?;
        if ended.rows_affected() == 0 {
            drop(tx);
            return match self.session(tenant, session_id).await {
                Ok(_) => Err(StoreError::Conflict("the session's history was already persisted".into())),
                Err(e) => Err(e),
            };
        }
        for (seq, message) in history.iter().enumerate() {
            sqlx::query(INSERT_HISTORY_SQL)
                .bind(tenant.as_str())
                .bind(session_id.as_str())
                .bind(seq as i64)
                .bind(role_name(&message.role))
                .bind(message.content.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::end_session`], tried `attempts` times with growing pauses;
    /// the last error is returned (and logged), never swallowed.
    pub async fn end_session_retrying(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        history: &[ChatMessage],
        summary: &serde_json::Value,
        attempts: u32,
    ) -> Result<u32, StoreError> {
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=attempts.max(1) {
            match self.end_session(tenant, session_id, history, summary).await {
                Ok(()) => return Ok(attempt),
                Err(StoreError::Database(error)) if attempt < attempts => {
                    tracing::warn!(customer_id = %tenant, session_id = %session_id, attempt, %error, "persisting history failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 4;
                }
                Err(error) => {
                    tracing::error!(customer_id = %tenant, session_id = %session_id, attempt, %error, "persisting history failed");
                    return Err(error);
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// The persisted history of one of `tenant`'s sessions.
    pub async fn history(&self, tenant: &TenantId, session_id: &SessionId) -> Result<Vec<ChatMessage>, StoreError> {
        // Not this tenant's session: refuse before reading anything.
        self.session(tenant, session_id).await?;
        let rows =
            sqlx::query(HISTORY_SQL).bind(tenant.as_str()).bind(session_id.as_str()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| Ok(ChatMessage { role: parse_role(&row.get::<String, _>(0))?, content: row.get(1) }))
            .collect()
    }
}

fn overlay_from_row(row: &sqlx::any::AnyRow) -> Result<OverlayVersion, StoreError> {
    Ok(OverlayVersion {
        version: to_u64(row.get(0), "overlay version")?,
        document: row.get(1),
        created_at_ms: row.get(2),
        restored_from: row.get::<Option<i64>, _>(3).map(|v| to_u64(v, "restored_from")).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tenant predicate is what isolates: the history query with its
    /// tenant filter neutralised hands tenant A's history to tenant B.
    #[tokio::test]
    async fn removing_the_tenant_filter_from_the_history_query_leaks_history() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let (a, b) = (TenantId::new("acme"), TenantId::new("globex"));
        let id = SessionId::new("s-1");
        let record = SessionRecord {
            session_id: id.clone(),
            trace_id: "t".into(),
            agent_version: "support@1.0.0".into(),
            overlay_version: None,
            created_at_ms: 0,
            ended_at_ms: None,
        };
        store.create_session(&a, &record).await.expect("create");
        let history = vec![ChatMessage::new(Role::User, "canary-acme-7731")];
        store.end_session(&a, &id, &history, &serde_json::json!({})).await.expect("end");

        let scoped =
            sqlx::query(HISTORY_SQL).bind(b.as_str()).bind(id.as_str()).fetch_all(&store.pool).await.expect("query");
        assert!(scoped.is_empty(), "with the filter, B sees nothing");
        let unscoped_sql = HISTORY_SQL.replace("tenant_id = $1", "$1 = $1");
        assert_ne!(unscoped_sql, HISTORY_SQL, "the filter is in the query");
        let leaked = sqlx::query(sqlx::AssertSqlSafe(unscoped_sql))
            .bind(b.as_str())
            .bind(id.as_str())
            .fetch_all(&store.pool)
            .await
            .expect("query");
        assert_eq!(leaked.len(), 1, "without it, A's history reaches B");
        assert_eq!(leaked[0].get::<String, _>(1), "canary-acme-7731");
    }
}
