-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Every table is keyed by tenant_id; every query filters on it.

CREATE TABLE overlay_versions (
    tenant_id     TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    -- The overlay document as submitted (validated JSON).
    document      TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    -- Set when this version restores an earlier one.
    restored_from BIGINT,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE sessions (
    tenant_id       TEXT   NOT NULL,
    session_id      TEXT   NOT NULL,
    trace_id        TEXT   NOT NULL,
    agent_version   TEXT   NOT NULL,
    overlay_version BIGINT,
    created_at_ms   BIGINT NOT NULL,
    ended_at_ms     BIGINT,
    -- JSON call summary, written with the history when the call ends.
    summary         TEXT,
    PRIMARY KEY (tenant_id, session_id)
);

-- Session ids are unique across tenants, so a guessed id can be recognised
-- as another tenant's (and counted) without ever being returned.
CREATE UNIQUE INDEX sessions_by_id ON sessions (session_id);

CREATE TABLE history (
    tenant_id  TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    role       TEXT   NOT NULL,
    content    TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq)
);
