-- Signing keys sealed at rest, with rotation. Each Ed25519 seed is sealed under the hub key
-- (XChaCha20-Poly1305; associated data binds the kid): `seal_version`, `sealed_with` (the public
-- id of the hub key), a random 24-byte `nonce` and the 48-byte `sealed_seed`. The current key has
-- no `retired_at`; a previous key verifies the tokens it signed until `verify_until`, after which
-- its sealed seed is dropped and only its public key stays (for old signatures on records).
--
-- The seeds that `signing_keys` holds in clear are sealed into this table by the hub on its
-- first start with a hub key, and erased from `signing_keys` then (the hub does it: a
-- migration has no key).

CREATE TABLE hub_signing_keys (
    kid          TEXT    PRIMARY KEY NOT NULL,
    algorithm    TEXT    NOT NULL CHECK (algorithm = 'EdDSA'),
    public_key   BLOB    NOT NULL CHECK (length(public_key) = 32),
    seal_version INTEGER,
    sealed_with  TEXT,
    nonce        BLOB    CHECK (nonce IS NULL OR length(nonce) = 24),
    sealed_seed  BLOB    CHECK (sealed_seed IS NULL OR length(sealed_seed) = 48),
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    verify_until INTEGER,
    CHECK ((sealed_seed IS NULL) = (nonce IS NULL)),
    CHECK ((retired_at IS NULL) = (verify_until IS NULL)),
    CHECK (retired_at IS NOT NULL OR sealed_seed IS NOT NULL)
) STRICT;

-- At most one current key.
CREATE UNIQUE INDEX hub_signing_keys_one_current ON hub_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE key_settings (
    id            INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    rotation_days INTEGER NOT NULL CHECK (rotation_days BETWEEN 0 AND 3650)
) STRICT;
