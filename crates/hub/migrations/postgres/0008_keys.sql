-- Signing keys sealed at rest, with rotation, as in the SQLite schema's 0008 (see there). The
-- current key has no `retired_at`; a previous key verifies the tokens it signed until
-- `verify_until`, after which its sealed seed is dropped and only its public key stays.

CREATE TABLE hub_signing_keys (
    kid          TEXT   PRIMARY KEY NOT NULL,
    algorithm    TEXT   NOT NULL CHECK (algorithm = 'EdDSA'),
    public_key   BYTEA  NOT NULL CHECK (octet_length(public_key) = 32),
    seal_version BIGINT,
    sealed_with  TEXT,
    nonce        BYTEA  CHECK (nonce IS NULL OR octet_length(nonce) = 24),
    sealed_seed  BYTEA  CHECK (sealed_seed IS NULL OR octet_length(sealed_seed) = 48),
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT,
    verify_until BIGINT,
    CHECK ((sealed_seed IS NULL) = (nonce IS NULL)),
    CHECK ((retired_at IS NULL) = (verify_until IS NULL)),
    CHECK (retired_at IS NOT NULL OR sealed_seed IS NOT NULL)
);

-- At most one current key.
CREATE UNIQUE INDEX hub_signing_keys_one_current ON hub_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE key_settings (
    id            BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    rotation_days BIGINT NOT NULL CHECK (rotation_days BETWEEN 0 AND 3650)
);
