-- Keyway hub schema (PostgreSQL), the same tables as the SQLite schema. Times are Unix seconds
-- (BIGINT); secrets are stored as SHA-256 (32-byte BYTEA), passwords as Argon2id PHC strings.
-- Names unique "case-insensitively" are unique on lower(name).

CREATE TABLE users (
    id            TEXT   PRIMARY KEY NOT NULL,
    username      TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('developer', 'reviewer', 'auditor', 'admin')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE signing_keys (
    kid        TEXT   PRIMARY KEY NOT NULL,
    algorithm  TEXT   NOT NULL CHECK (algorithm = 'EdDSA'),
    seed       BYTEA  NOT NULL CHECK (octet_length(seed) = 32),
    created_at BIGINT NOT NULL
);

CREATE TABLE pending_authorizations (
    id             TEXT   PRIMARY KEY NOT NULL,
    client_id      TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    nonce          TEXT,
    code_challenge TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE login_sessions (
    id_hash    BYTEA  PRIMARY KEY NOT NULL CHECK (octet_length(id_hash) = 32),
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

CREATE TABLE token_families (
    id         TEXT   PRIMARY KEY NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX token_families_expiry ON token_families (expires_at);

CREATE TABLE authorization_codes (
    code_hash      BYTEA  PRIMARY KEY NOT NULL CHECK (octet_length(code_hash) = 32),
    client_id      TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    user_id        TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope          TEXT   NOT NULL,
    nonce          TEXT,
    code_challenge TEXT   NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    -- The family issued from this code, kept so a replay can revoke it.
    family_id      TEXT   REFERENCES token_families (id) ON DELETE SET NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BYTEA  PRIMARY KEY NOT NULL CHECK (octet_length(token_hash) = 32),
    family_id  TEXT   NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_access_tokens (
    jti        TEXT   PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);
