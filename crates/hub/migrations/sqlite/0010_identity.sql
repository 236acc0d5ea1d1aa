-- People who come from the company's identity provider.
--
-- `managed_by` says who decides a user's roles: NULL for a local user (edited in Keyway), 'sso'
-- for a user created by a sign-in through the IdP (roles recomputed from its groups at each
-- sign-in), 'scim' for a user the IdP provisioned over SCIM (roles follow SCIM group membership).
-- `external_id` is SCIM's externalId, the IdP's subject for the person, unique when set.
ALTER TABLE users ADD COLUMN managed_by TEXT CHECK (managed_by IN ('sso', 'scim'));
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id) WHERE external_id IS NOT NULL;

-- A user's identities at upstream OpenID providers, linked by (issuer, subject), never by email.
CREATE TABLE user_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Bearer tokens an IdP uses for SCIM provisioning, stored as SHA-256 only.
CREATE TABLE scim_tokens (
    id         TEXT    PRIMARY KEY NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    label      TEXT    NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
