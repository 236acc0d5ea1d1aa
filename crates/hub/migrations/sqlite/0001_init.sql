-- Keyway hub schema. Times are Unix seconds; secrets are stored as SHA-256 (32-byte BLOBs),
-- passwords as Argon2id PHC strings.

CREATE TABLE users (
    id            TEXT    PRIMARY KEY NOT NULL,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('developer', 'reviewer', 'auditor', 'admin')),
    PRIMARY KEY (user_id, role)
) STRICT;

CREATE TABLE signing_keys (
    kid        TEXT    PRIMARY KEY NOT NULL,
    algorithm  TEXT    NOT NULL CHECK (algorithm = 'EdDSA'),
    seed       BLOB    NOT NULL CHECK (length(seed) = 32),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE pending_authorizations (
    id             TEXT    PRIMARY KEY NOT NULL,
    client_id      TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    nonce          TEXT,
    code_challenge TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE login_sessions (
    id_hash    BLOB    PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

CREATE TABLE token_families (
    id         TEXT    PRIMARY KEY NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX token_families_expiry ON token_families (expires_at);

CREATE TABLE authorization_codes (
    code_hash      BLOB    PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),
    client_id      TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope          TEXT    NOT NULL,
    nonce          TEXT,
    code_challenge TEXT    NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    -- The family issued from this code, kept so a replay can revoke it.
    family_id      TEXT    REFERENCES token_families (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BLOB    PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    family_id  TEXT    NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_access_tokens (
    jti        TEXT    PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);
