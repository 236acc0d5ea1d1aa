-- The approval queue. `seq` orders requests by submission (the list cursor, stable under
-- inserts); `id` is the public id. Submitters are stored as kind + id + name (users, agents and
-- service accounts alike), with the owning user of an agent in `submitter_owner`.

CREATE TABLE review_requests (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    title           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    content_type    TEXT    NOT NULL CHECK (content_type IN ('text', 'markdown', 'json', 'diff')),
    links           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(links)),
    submitter_kind  TEXT    NOT NULL,
    submitter_id    TEXT    NOT NULL,
    submitter_name  TEXT    NOT NULL,
    submitter_owner TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    threshold       INTEGER NOT NULL CHECK (threshold >= 1),
    approvals       INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    decided_at      INTEGER
) STRICT;
CREATE INDEX review_requests_status ON review_requests (status, seq);
CREATE INDEX review_requests_kind ON review_requests (kind, seq);
CREATE INDEX review_requests_submitter ON review_requests (submitter_id, seq);
CREATE INDEX review_requests_submitter_name ON review_requests (submitter_name, seq);
CREATE INDEX review_requests_owner ON review_requests (submitter_owner, seq) WHERE submitter_owner IS NOT NULL;
CREATE INDEX review_requests_due ON review_requests (status, expires_at);

-- Votes and recorded transitions (approve, reject, expire, cancel). One vote per actor.
CREATE TABLE review_decisions (
    n          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT    NOT NULL REFERENCES review_requests (id) ON DELETE CASCADE,
    verdict    TEXT    NOT NULL CHECK (verdict IN ('approve', 'reject', 'expire', 'cancel')),
    actor_kind TEXT,
    actor_id   TEXT,
    actor_name TEXT,
    reason     TEXT,
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX review_decisions_request ON review_decisions (request_id, n);
CREATE UNIQUE INDEX review_decisions_one_vote ON review_decisions (request_id, actor_kind, actor_id)
    WHERE verdict IN ('approve', 'reject');

-- Admin limits (one row).
CREATE TABLE review_settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    default_ttl_secs INTEGER NOT NULL,
    max_ttl_secs     INTEGER NOT NULL
) STRICT;
