-- Credentials: agents, PATs, enrollment tokens, service accounts and their tokens.
-- Secrets are stored only as SHA-256 of the whole token; the public id is in the token.

CREATE TABLE agents (
    id         TEXT    PRIMARY KEY NOT NULL,
    owner_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL COLLATE NOCASE,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, name)
) STRICT;

CREATE TABLE service_accounts (
    id         TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    grp        TEXT    NOT NULL CHECK (grp IN ('developer', 'reviewer', 'auditor', 'admin')),
    created_by TEXT    NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;

-- One table for every kind: user_pat, agent_pat, enrollment, service_token.
CREATE TABLE credentials (
    id                     TEXT    PRIMARY KEY NOT NULL,
    kind                   TEXT    NOT NULL CHECK (kind IN ('user_pat', 'agent_pat', 'enrollment', 'service_token')),
    secret_hash            BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    name                   TEXT    NOT NULL,
    owner_id               TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id               TEXT    REFERENCES agents (id) ON DELETE CASCADE,
    service_account_id     TEXT    REFERENCES service_accounts (id) ON DELETE CASCADE,
    audience               TEXT    NOT NULL CHECK (audience IN ('cli', 'mcp', 'both')),
    -- Space-separated scopes the credential may request.
    scopes                 TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    expires_at             INTEGER,
    revoked_at             INTEGER,
    -- Enrollment tokens: when redeemed, the agent name they require, and what the PAT gets.
    used_at                INTEGER,
    enroll_agent_name      TEXT,
    enroll_pat_days        INTEGER,
    -- Service tokens replaced by rotation (still accepted until expires_at).
    retired_at             INTEGER,
    last_used_at           INTEGER,
    last_fingerprint       TEXT,
    fingerprint_changed_at INTEGER
) STRICT;
CREATE INDEX credentials_owner ON credentials (owner_id, created_at);
CREATE INDEX credentials_agent ON credentials (agent_id);
CREATE INDEX credentials_service_account ON credentials (service_account_id);

-- Admin limits (one row).
CREATE TABLE credential_settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    max_pat_days     INTEGER NOT NULL,
    default_pat_days INTEGER NOT NULL
) STRICT;
INSERT INTO credential_settings (id, max_pat_days, default_pat_days) VALUES (1, 365, 90);
