-- The order of an administrator's list of every credential (newest first), for its pages.
CREATE INDEX credentials_created ON credentials (created_at, id);
