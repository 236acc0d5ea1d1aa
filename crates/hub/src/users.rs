//! User accounts: name rules and Argon2id password hashing.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::secret::Password;

/// Minimum password length in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Maximum password length in bytes (bounds the hashing work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Maximum username length.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Argon2id with the OWASP minimum parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // These constants are valid; `Params::new` only fails on out-of-range values.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a username: 1–64 characters of `A-Z a-z 0-9 . _ - @ +`, starting with a letter or
/// digit, so an email address is a name too.
pub fn validate_username(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidUsername("it must not be empty"));
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(Error::InvalidUsername("it must be at most 64 characters long"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')) {
        return Err(Error::InvalidUsername("only letters, digits, '.', '_', '-', '@' and '+' are allowed"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::InvalidUsername("it must start with a letter or a digit"));
    }
    Ok(())
}

/// Checks a new password's length.
pub fn validate_password(password: &Password) -> Result<(), Error> {
    if password.expose().chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::WeakPassword);
    }
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Err(Error::PasswordTooLong);
    }
    Ok(())
}

/// Hashes and verifies passwords on the blocking pool, a few at a time (each run takes
/// 19 MiB and tens of milliseconds of CPU), with a bounded queue: when it is full a request is
/// refused at once (`503 unavailable`) instead of waiting behind a flood.
#[derive(Debug)]
pub(crate) struct Passwords {
    permits: Semaphore,
    /// Runs in progress or waiting.
    queue: Semaphore,
    /// Hash of a random password, verified against when the user does not exist so that
    /// "unknown user" takes as long as "wrong password".
    dummy: OnceLock<String>,
}

impl Passwords {
    /// `queue` runs in progress or waiting at most (0: four per core).
    pub(crate) fn new(queue: usize) -> Arc<Passwords> {
        let parallel = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(1);
        let queue = if queue == 0 { parallel * 4 } else { queue };
        Arc::new(Passwords {
            permits: Semaphore::new(parallel * 2),
            queue: Semaphore::new(queue),
            dummy: OnceLock::new(),
        })
    }

    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        job: impl FnOnce(&Passwords) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _slot = self
            .queue
            .try_acquire()
            .map_err(|_| Error::unavailable("the hub is busy checking passwords; try again in a moment", 1))?;
        let _permit = self.permits.acquire().await.map_err(|_| Error::Internal("password pool closed".into()))?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || job(&this))
            .await
            .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))
    }

    fn hash_blocking(password: &Password) -> Result<String, Error> {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing password: {e}")))
    }

    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            Self::hash_blocking(&Password::new(crate::secret::random_id())).unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not compute the dummy password hash");
                String::new()
            })
        })
    }

    /// Computes the dummy hash now rather than on the first failed login.
    pub(crate) async fn warm_up(self: &Arc<Self>) -> Result<(), Error> {
        self.run(|p| {
            p.dummy_hash();
        })
        .await
    }

    /// Argon2id PHC string of `password`.
    pub(crate) async fn hash(self: &Arc<Self>, password: Password) -> Result<String, Error> {
        self.run(move |_| Self::hash_blocking(&password)).await?
    }

    /// Verifies `password` against `stored`; with `None` (no such user) verifies against the
    /// dummy hash and returns false, taking the same time.
    pub(crate) async fn verify(self: &Arc<Self>, password: Password, stored: Option<String>) -> Result<bool, Error> {
        self.run(move |p| {
            let (phc, real) = match &stored {
                Some(hash) => (hash.as_str(), true),
                None => (p.dummy_hash(), false),
            };
            let ok = match PasswordHash::new(phc) {
                Ok(parsed) => argon2().verify_password(password.expose().as_bytes(), &parsed).is_ok(),
                Err(e) => {
                    if real {
                        tracing::error!(error = %e, "a stored password hash is unreadable");
                    }
                    false
                }
            };
            ok && real
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        for ok in ["alice", "Bob.Smith", "dev_1", "x", "a-b", "ann.lee+ci@example.com"] {
            validate_username(ok).unwrap();
        }
        for bad in ["", ".hidden", "-x", "@x", "has space", "émile", "a/b", &"a".repeat(65)] {
            assert!(matches!(validate_username(bad), Err(Error::InvalidUsername(_))), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        assert!(matches!(validate_password(&Password::new("short")), Err(Error::WeakPassword)));
        assert!(matches!(validate_password(&Password::new("1234567")), Err(Error::WeakPassword)));
        validate_password(&Password::new("12345678")).unwrap();
        assert!(matches!(validate_password(&Password::new("x".repeat(1025))), Err(Error::PasswordTooLong)));
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let p = Passwords::new(0);
        let hash = p.hash(Password::new("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(p.verify(Password::new("correct horse"), Some(hash.clone())).await.unwrap());
        assert!(!p.verify(Password::new("wrong horse"), Some(hash)).await.unwrap());
        assert!(!p.verify(Password::new("anything"), None).await.unwrap());
    }
}
