-- MCP authorization. Resources (RFC 8707) an admin registers: the MCP servers the hub issues
-- tokens for, by canonical URI (unique: it is the token's `aud`), with a name and the scopes a
-- client may ask for them (a JSON array). Dynamically registered clients that go unused are
-- purged: the index finds them by their last use (or registration, if never used).
CREATE TABLE oauth_resources (
    id         TEXT    PRIMARY KEY NOT NULL,
    uri        TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT
) STRICT;

CREATE INDEX oauth_clients_last_use ON oauth_clients (COALESCE(last_used_at, created_at));
