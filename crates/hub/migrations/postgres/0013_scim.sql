-- What SCIM keeps of a provisioned user besides its name (the same as SQLite's 0012).
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN modified_at BIGINT;
