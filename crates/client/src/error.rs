use keyway_api::desktop::{CommandError, ErrorKind};

/// Every way a client operation can fail. `Display` is a sentence a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("Cannot reach {url}: {reason}. Check the address and that the server is running.")]
    Unreachable { url: String, reason: String },
    /// The server answered with an error body (`{error, message}`).
    #[error("{message}")]
    Refused { code: String, message: String },
    /// The stored session is gone for good (revoked, expired, reused): sign in again.
    #[error("Your session has ended ({0}). Sign in again.")]
    SessionEnded(String),
    #[error("Not signed in. Run `keyway login` (or press Sign in in the app) first.")]
    NotSignedIn,
    #[error("{0}")]
    Keychain(String),
    #[error("The browser did not come back within {0} seconds. Try again.")]
    Timeout(u64),
    #[error("Sign-in was cancelled.")]
    Cancelled,
    #[error("Configuration problem: {0}")]
    Config(String),
    #[error("The server's answer could not be used: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput(_) | Error::Config(_) => ErrorKind::InvalidInput,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
            Error::Refused { .. } | Error::SessionEnded(_) | Error::NotSignedIn => ErrorKind::Refused,
            Error::Keychain(_) => ErrorKind::Keychain,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Protocol(_) | Error::Io(_) => ErrorKind::Internal,
        }
    }

    /// The machine code for `--json` output and the UI.
    pub fn code(&self) -> &str {
        match self {
            Error::Refused { code, .. } => code,
            Error::InvalidInput(_) => "invalid_input",
            Error::Unreachable { .. } => "unreachable",
            Error::SessionEnded(_) => "session_ended",
            Error::NotSignedIn => "not_signed_in",
            Error::Keychain(_) => "keychain_unavailable",
            Error::Timeout(_) => "timeout",
            Error::Cancelled => "cancelled",
            Error::Config(_) => "config",
            Error::Protocol(_) => "protocol",
            Error::Io(_) => "io",
        }
    }

    pub(crate) fn unreachable(url: &str, e: &reqwest::Error) -> Error {
        let reason = if e.is_timeout() {
            "the request timed out".to_string()
        } else if e.is_connect() {
            "connection refused or no route".to_string()
        } else {
            // reqwest's Display never contains request bodies or headers.
            e.to_string()
        };
        Error::Unreachable { url: url.to_string(), reason }
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        CommandError { kind: e.kind(), message: e.to_string() }
    }
}
