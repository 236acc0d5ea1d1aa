//! The signing keys on SQLite (`hub_signing_keys`, `key_settings`; the clear seeds of earlier
//! versions in `signing_keys`).

use keyway_api::keys::KeySettings;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, SqliteConnection};
use zeroize::Zeroizing;

use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::keys::{KeyStore, LegacySeed, Sealed, SigningKeyRecord};

pub(crate) const KEY_COLUMNS: &str =
    "kid, public_key, seal_version, sealed_with, nonce, sealed_seed, created_at, retired_at, verify_until";

pub(crate) fn key_from_row(row: &SqliteRow) -> Result<SigningKeyRecord, StoreError> {
    let kid: String = row.try_get("kid")?;
    let public: Vec<u8> = row.try_get("public_key")?;
    let public_key: [u8; 32] = public
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("signing key {kid}: the public key is not 32 bytes")))?;
    let ciphertext: Option<Vec<u8>> = row.try_get("sealed_seed")?;
    let sealed = match ciphertext {
        None => None,
        Some(ciphertext) => Some(Sealed {
            version: row.try_get::<Option<i64>, _>("seal_version")?.unwrap_or(0),
            key_id: row.try_get::<Option<String>, _>("sealed_with")?.unwrap_or_default(),
            nonce: row.try_get::<Option<Vec<u8>>, _>("nonce")?.unwrap_or_default(),
            ciphertext,
        }),
    };
    Ok(SigningKeyRecord {
        kid,
        public_key,
        sealed,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
        verify_until: row.try_get("verify_until")?,
    })
}

/// Inserts a key (`INSERT OR IGNORE`: a kid stored already stays as it is).
pub(super) async fn insert_key_in(conn: &mut SqliteConnection, key: &SigningKeyRecord) -> Result<u64, StoreError> {
    let sealed = key.sealed.as_ref();
    let done = sqlx::query(
        "INSERT OR IGNORE INTO hub_signing_keys \
            (kid, algorithm, public_key, seal_version, sealed_with, nonce, sealed_seed, created_at, retired_at, \
             verify_until) \
         VALUES (?1, 'EdDSA', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(&key.kid)
    .bind(&key.public_key[..])
    .bind(sealed.map(|s| s.version))
    .bind(sealed.map(|s| s.key_id.as_str()))
    .bind(sealed.map(|s| s.nonce.as_slice()))
    .bind(sealed.map(|s| s.ciphertext.as_slice()))
    .bind(key.created_at)
    .bind(key.retired_at)
    .bind(key.verify_until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Makes `next` the current key if `current` still is (another hub may have rotated first):
/// `false` and nothing written otherwise.
pub(super) async fn rotate_in(
    conn: &mut SqliteConnection,
    current: &str,
    next: &SigningKeyRecord,
    now: i64,
    verify_until: i64,
) -> Result<bool, StoreError> {
    let retired = sqlx::query(
        "UPDATE hub_signing_keys SET retired_at = ?1, verify_until = ?2 WHERE kid = ?3 AND retired_at IS NULL",
    )
    .bind(now)
    .bind(verify_until)
    .bind(current)
    .execute(&mut *conn)
    .await?;
    if retired.rows_affected() == 0 {
        return Ok(false);
    }
    Ok(insert_key_in(conn, next).await? == 1)
}

/// Stores the admin's key settings.
pub(super) async fn put_settings_in(conn: &mut SqliteConnection, s: &KeySettings) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "INSERT INTO key_settings (id, rotation_days) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET rotation_days = excluded.rotation_days",
    )
    .bind(i64::from(s.rotation_days))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM hub_signing_keys ORDER BY created_at DESC, retired_at IS NULL DESC, kid"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        let sealed = key.sealed.as_ref();
        // One statement, so two hubs starting on one fresh database cannot both store a key.
        let done = sqlx::query(
            "INSERT INTO hub_signing_keys \
                (kid, algorithm, public_key, seal_version, sealed_with, nonce, sealed_seed, created_at, retired_at, \
                 verify_until) \
             SELECT ?1, 'EdDSA', ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL \
             WHERE NOT EXISTS (SELECT 1 FROM hub_signing_keys)",
        )
        .bind(&key.kid)
        .bind(&key.public_key[..])
        .bind(sealed.map(|s| s.version))
        .bind(sealed.map(|s| s.key_id.as_str()))
        .bind(sealed.map(|s| s.nonce.as_slice()))
        .bind(sealed.map(|s| s.ciphertext.as_slice()))
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn legacy_seeds(&self) -> Result<Vec<LegacySeed>, StoreError> {
        let rows = sqlx::query("SELECT kid, seed, created_at FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(LegacySeed {
                    kid: row.try_get("kid")?,
                    seed: Zeroizing::new(row.try_get::<Vec<u8>, _>("seed")?),
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn seal_legacy_seeds(&self, keys: &[SigningKeyRecord]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        // Deleted rows are overwritten with zeros rather than left in free space.
        sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await?;
        let result = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for key in keys {
                insert_key_in(&mut tx, key).await?;
            }
            sqlx::query("DELETE FROM signing_keys").execute(&mut *tx).await?;
            tx.commit().await?;
            // Copy the scrubbed pages into the database file and empty the WAL, which held the
            // pages as they were.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
            Ok::<(), StoreError>(())
        }
        .await;
        sqlx::query("PRAGMA secure_delete = OFF").execute(&mut *conn).await?;
        result
    }

    async fn drop_expired_seeds(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE hub_signing_keys SET seal_version = NULL, sealed_with = NULL, nonce = NULL, sealed_seed = NULL \
             WHERE verify_until IS NOT NULL AND verify_until <= ?1 AND sealed_seed IS NOT NULL",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn key_settings(&self) -> Result<KeySettings, StoreError> {
        let days: Option<i64> = sqlx::query_scalar("SELECT rotation_days FROM key_settings WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match days {
            None => KeySettings::default(),
            Some(d) => KeySettings {
                rotation_days: u32::try_from(d)
                    .map_err(|_| StoreError::Corrupt(format!("rotation_days {d} is out of range")))?,
            },
        })
    }
}
