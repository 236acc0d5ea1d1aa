-- Review events for every hub on this database: a hub that makes a transition keeps its event
-- here and notifies its id (LISTEN/NOTIFY carries at most 8,000 bytes); every hub reads it by id
-- and pushes it to its SSE streams and waiters. Kept for ten minutes, for hubs that are behind.
CREATE TABLE review_events (
    id   BIGSERIAL PRIMARY KEY,
    at   BIGINT NOT NULL,
    body TEXT   NOT NULL
);
CREATE INDEX review_events_at ON review_events (at);
