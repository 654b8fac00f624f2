//! Every SQL statement of the store, in one place, in portable SQL (`$N`
//! placeholders work on SQLite and PostgreSQL alike). `$1` is always the
//! tenant, except in `OWNER_SQL`.

pub(super) const LATEST_OVERLAY_VERSION_SQL: &str = "SELECT MAX(version) FROM overlay_versions WHERE tenant_id = $1";

pub(super) const INSERT_OVERLAY_SQL: &str = "INSERT INTO overlay_versions \
     (tenant_id, version, document, created_at_ms, restored_from) VALUES ($1, $2, $3, $4, $5)";

pub(super) const CURRENT_OVERLAY_SQL: &str = "SELECT version, document, created_at_ms, restored_from \
     FROM overlay_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1";

pub(super) const OVERLAY_VERSION_SQL: &str = "SELECT version, document, created_at_ms, restored_from \
     FROM overlay_versions WHERE tenant_id = $1 AND version = $2";

pub(super) const OVERLAY_VERSIONS_SQL: &str = "SELECT version, document, created_at_ms, restored_from \
     FROM overlay_versions WHERE tenant_id = $1 ORDER BY version";

pub(super) const INSERT_SESSION_SQL: &str = "INSERT INTO sessions \
     (tenant_id, session_id, trace_id, agent_version, overlay_version, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";

pub(super) const SESSION_SQL: &str = "SELECT session_id, trace_id, agent_version, overlay_version, created_at_ms, ended_at_ms \
     FROM sessions WHERE tenant_id = $1 AND session_id = $2";

pub(super) const END_SESSION_SQL: &str = "UPDATE sessions SET ended_at_ms = $3, summary = $4 \
     WHERE tenant_id = $1 AND session_id = $2 AND ended_at_ms IS NULL";

pub(super) const INSERT_HISTORY_SQL: &str =
    "INSERT INTO history (tenant_id, session_id, seq, role, content) VALUES ($1, $2, $3, $4, $5)";

pub(super) const HISTORY_SQL: &str =
    "SELECT role, content FROM history WHERE tenant_id = $1 AND session_id = $2 ORDER BY seq";

/// Unscoped on purpose: only to recognise (and count) a refused access to
/// another tenant's session. Its answer is never returned to a caller.
pub(super) const OWNER_SQL: &str = "SELECT tenant_id FROM sessions WHERE session_id = $1";
