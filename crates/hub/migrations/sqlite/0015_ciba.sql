-- Approvals that mint the token (OpenID CIBA, poll mode, with RFC 9396 authorization_details).
-- A backchannel request is a review request (kind 'authorization', its payload the details)
-- plus this row: the auth_req_id as its SHA-256, the agent that asked, what the token will
-- carry, the polling state, and the one time its token was issued.
CREATE TABLE ciba_requests (
    auth_req_id_hash BLOB    PRIMARY KEY NOT NULL CHECK (length(auth_req_id_hash) = 32),
    review_id        TEXT    NOT NULL UNIQUE REFERENCES review_requests (id) ON DELETE CASCADE,
    agent_id         TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    cred             TEXT,
    scope            TEXT    NOT NULL,
    resource         TEXT,
    details          TEXT    NOT NULL CHECK (json_valid(details)),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    issued_at        INTEGER,
    issued_jti       TEXT
) STRICT;
CREATE INDEX ciba_requests_expiry ON ciba_requests (expires_at);

-- The one reviewer a request names (CIBA's login_hint); nobody else may decide it.
ALTER TABLE review_requests ADD COLUMN asked_of_id TEXT;
ALTER TABLE review_requests ADD COLUMN asked_of_name TEXT;
