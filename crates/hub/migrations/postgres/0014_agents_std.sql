-- Standard OAuth for agents and MCP clients (the same as SQLite's 0013): dynamically registered
-- clients (RFC 7591), device authorizations (RFC 8628, the device code as its SHA-256), and the
-- `resource` (RFC 8707) of a sign-in, carried from request to code to token family.
CREATE TABLE oauth_clients (
    id            TEXT   PRIMARY KEY NOT NULL,
    name          TEXT   NOT NULL,
    redirect_uris TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    address       TEXT
);

CREATE TABLE device_authorizations (
    device_code_hash BYTEA  PRIMARY KEY NOT NULL CHECK (length(device_code_hash) = 32),
    user_code        TEXT   NOT NULL UNIQUE,
    client_id        TEXT   NOT NULL,
    scope            TEXT   NOT NULL,
    resource         TEXT,
    address          TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    status           TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
    user_id          TEXT   REFERENCES users (id) ON DELETE CASCADE,
    auth_time        BIGINT,
    decided_at       BIGINT
);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);

ALTER TABLE pending_authorizations ADD COLUMN resource TEXT;
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE token_families ADD COLUMN resource TEXT;
