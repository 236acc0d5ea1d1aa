-- Sign-ins through the upstream OpenID provider under way: the hub's side of one hand-off to
-- the IdP, bound to the pending authorization request it continues (so any hub of the database
-- can take the IdP's answer). Found by the SHA-256 of the `state` sent to the IdP, taken once.
-- `verifier` is the PKCE code verifier the hub redeems the IdP's code with; `nonce` is what the
-- IdP's id_token must carry.
CREATE TABLE sso_requests (
    state_hash BLOB    PRIMARY KEY NOT NULL CHECK (length(state_hash) = 32),
    request_id TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    verifier   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);
