-- Standard OAuth for agents and MCP clients. Clients registered dynamically (RFC 7591): public
-- native clients, redirect URIs as a JSON array. Device authorizations (RFC 8628): the device
-- code stored as its SHA-256, the short user code in clear (it is typed by a person, lives
-- minutes and is single use). The `resource` (RFC 8707) a sign-in asked for, carried from the
-- request to its code and its token family, so refreshed tokens keep their audience.
CREATE TABLE oauth_clients (
    id           TEXT    PRIMARY KEY NOT NULL,
    name         TEXT    NOT NULL,
    redirect_uris TEXT   NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    address      TEXT
) STRICT;

CREATE TABLE device_authorizations (
    device_code_hash BLOB    PRIMARY KEY NOT NULL CHECK (length(device_code_hash) = 32),
    user_code        TEXT    NOT NULL UNIQUE,
    client_id        TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    resource         TEXT,
    address          TEXT,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
    user_id          TEXT    REFERENCES users (id) ON DELETE CASCADE,
    auth_time        INTEGER,
    decided_at       INTEGER
) STRICT;
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);

ALTER TABLE pending_authorizations ADD COLUMN resource TEXT;
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE token_families ADD COLUMN resource TEXT;
