-- MCP authorization (the same as SQLite's 0016): resources (RFC 8707) an admin registers, by
-- canonical URI (unique: the token's `aud`), with a name and scopes (a JSON array), and the
-- index that finds dynamically registered clients unused for long.
CREATE TABLE oauth_resources (
    id         TEXT   PRIMARY KEY NOT NULL,
    uri        TEXT   NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT
);

CREATE INDEX oauth_clients_last_use ON oauth_clients ((COALESCE(last_used_at, created_at)));
