-- Sign-ins through the upstream OpenID provider under way (the same as SQLite's 0011).
CREATE TABLE sso_requests (
    state_hash BYTEA  PRIMARY KEY NOT NULL CHECK (octet_length(state_hash) = 32),
    request_id TEXT   NOT NULL,
    nonce      TEXT   NOT NULL,
    verifier   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);
