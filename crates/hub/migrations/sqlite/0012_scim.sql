-- What SCIM keeps of a provisioned user besides its name: the display name and primary email
-- the IdP sent, and when SCIM last changed the user (its meta.lastModified).
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN modified_at INTEGER;
