-- Users managed through the API: disabled and deleted accounts, one-time set-password codes,
-- where and when each sign-in (token family) was last used, and the session lifetimes.
--
-- A deleted user stays as a tombstone row: `deleted_at` set, no password, no roles, its
-- credentials revoked and agents disabled. The name stays taken, so reviews and audit rows
-- keep naming one person, and nothing that points at the user is cascaded away.

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE users ADD COLUMN deleted_at INTEGER;

-- One live code per user (a new one replaces it); stored as SHA-256. `request_id` is the
-- pending authorization the person entered it for, which may then set the password.
CREATE TABLE set_password_codes (
    user_id    TEXT    PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL CHECK (length(code_hash) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    request_id TEXT
) STRICT;

ALTER TABLE token_families ADD COLUMN last_used_at INTEGER;
ALTER TABLE token_families ADD COLUMN address TEXT;
CREATE INDEX token_families_user ON token_families (user_id, created_at);

CREATE TABLE session_settings (
    id            INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    absolute_secs INTEGER NOT NULL,
    idle_secs     INTEGER NOT NULL
) STRICT;
