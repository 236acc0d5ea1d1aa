//! The backend a database URL names: `sqlite:…` or `postgres://…` / `postgresql://…`.

use crate::error::Error;

/// Which store a database URL is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme; an unknown scheme is an [`Error::InvalidSetting`]
    /// (the URL itself is not repeated: it may hold a password).
    pub fn of(url: &str) -> Result<Backend, Error> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Backend::Sqlite),
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            _ => Err(Error::InvalidSetting {
                name: "database_url",
                reason: "must start with sqlite:, postgres:// or postgresql://".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(Backend::of("sqlite://hub.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("PostgreSQL://h/db").unwrap(), Backend::Postgres);
        let err = Backend::of("mysql://u:s3cret@h/db").unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(Backend::of("hub.db").is_err());
    }
}
