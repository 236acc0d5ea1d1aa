-- A refresh token that a retry of its predecessor replaced (the client never received it, or
-- says so by sending the predecessor again within the grace period). It is used up, and never
-- itself in a grace period: sending it again is a reuse.
ALTER TABLE refresh_tokens ADD COLUMN superseded_at INTEGER;
