-- Users managed through the API (the same as SQLite's 0006): disabled and deleted accounts,
-- one-time set-password codes, where and when each sign-in (token family) was last used, and
-- the session lifetimes.
--
-- A deleted user stays as a tombstone row: `deleted_at` set, no password, no roles, its
-- credentials revoked and agents disabled. The name stays taken, so reviews and audit rows
-- keep naming one person, and nothing that points at the user is cascaded away.

ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- One live code per user (a new one replaces it); stored as SHA-256. `request_id` is the
-- pending authorization the person entered it for, which may then set the password.
CREATE TABLE set_password_codes (
    user_id    TEXT   PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA  NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    request_id TEXT
);

ALTER TABLE token_families ADD COLUMN last_used_at BIGINT;
ALTER TABLE token_families ADD COLUMN address TEXT;
CREATE INDEX token_families_user ON token_families (user_id, created_at);

CREATE TABLE session_settings (
    id            INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    absolute_secs BIGINT  NOT NULL,
    idle_secs     BIGINT  NOT NULL
);
