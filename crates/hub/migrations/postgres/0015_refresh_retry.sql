-- A refresh token that a retry of its predecessor replaced (the same as SQLite's 0014): used up,
-- and never itself in a grace period, so sending it again is a reuse.
ALTER TABLE refresh_tokens ADD COLUMN superseded_at BIGINT;
