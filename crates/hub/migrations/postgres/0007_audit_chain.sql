-- The audit log becomes a hash chain with a signed head (see `crates/hub/src/store/audit.rs` for
-- the encoding), as in the SQLite schema's 0007. `hash` is SHA-256 over the previous row's hash
-- and the row's own fields; rows written before this migration have none until the hub seals the
-- log (`sealed = 0`), which it does once, before its first append, chaining them in id order.
--
-- `audit_head` has exactly one row: the last row's id and hash, the number of rows, and the
-- hub's Ed25519 signature over them with the signing key's `kid`. Every append locks it
-- (`SELECT … FOR UPDATE`) and updates it in the transaction of the row, which serializes
-- appends from several hubs on one database.

ALTER TABLE audit_events ADD COLUMN hash BYTEA;

CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    last_id   BIGINT NOT NULL,
    last_hash BYTEA  NOT NULL,
    count     BIGINT NOT NULL,
    kid       TEXT,
    signature BYTEA,
    sealed    BIGINT NOT NULL DEFAULT 0
);

INSERT INTO audit_head (id, last_id, last_hash, count, kid, signature, sealed)
VALUES (1, 0, decode(repeat('00', 32), 'hex'), 0, NULL, NULL, 0);

CREATE INDEX audit_events_at ON audit_events (at, id);
