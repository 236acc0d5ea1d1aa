-- Credentials: agents, PATs, enrollment tokens, service accounts and their tokens.
-- Secrets are stored only as SHA-256 of the whole token; the public id is in the token.

CREATE TABLE agents (
    id         TEXT    PRIMARY KEY NOT NULL,
    owner_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL
);
CREATE UNIQUE INDEX agents_owner_name ON agents (owner_id, lower(name));

CREATE TABLE service_accounts (
    id         TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    grp        TEXT    NOT NULL CHECK (grp IN ('developer', 'reviewer', 'auditor', 'admin')),
    created_by TEXT    NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL
);
CREATE UNIQUE INDEX service_accounts_name ON service_accounts (lower(name));

-- One table for every kind: user_pat, agent_pat, enrollment, service_token.
CREATE TABLE credentials (
    id                     TEXT   PRIMARY KEY NOT NULL,
    kind                   TEXT   NOT NULL CHECK (kind IN ('user_pat', 'agent_pat', 'enrollment', 'service_token')),
    secret_hash            BYTEA  NOT NULL CHECK (octet_length(secret_hash) = 32),
    name                   TEXT   NOT NULL,
    owner_id               TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id               TEXT   REFERENCES agents (id) ON DELETE CASCADE,
    service_account_id     TEXT   REFERENCES service_accounts (id) ON DELETE CASCADE,
    audience               TEXT   NOT NULL CHECK (audience IN ('cli', 'mcp', 'both')),
    -- Space-separated scopes the credential may request.
    scopes                 TEXT   NOT NULL,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT,
    revoked_at             BIGINT,
    -- Enrollment tokens: when redeemed, the agent name they require, and what the PAT gets.
    used_at                BIGINT,
    enroll_agent_name      TEXT,
    enroll_pat_days        BIGINT,
    -- Service tokens replaced by rotation (still accepted until expires_at).
    retired_at             BIGINT,
    last_used_at           BIGINT,
    last_fingerprint       TEXT,
    fingerprint_changed_at BIGINT
);
CREATE INDEX credentials_owner ON credentials (owner_id, created_at);
CREATE INDEX credentials_agent ON credentials (agent_id);
CREATE INDEX credentials_service_account ON credentials (service_account_id);

-- Admin limits (one row).
CREATE TABLE credential_settings (
    id               BIGINT PRIMARY KEY CHECK (id = 1),
    max_pat_days     BIGINT NOT NULL,
    default_pat_days BIGINT NOT NULL
);
INSERT INTO credential_settings (id, max_pat_days, default_pat_days) VALUES (1, 365, 90);
