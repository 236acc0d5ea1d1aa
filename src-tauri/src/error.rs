//! Turning the errors of the crates underneath into the `{kind, message}` the UI reads.
//! Messages are readable sentences; internal details go to the log, never to the window.

use keyway_api::desktop::{CommandError, ErrorKind};

pub type CommandResult<T> = Result<T, CommandError>;

pub fn from_hub(error: keyway_hub::Error) -> CommandError {
    use keyway_hub::Error as E;
    let kind = match &error {
        E::UserExists | E::WeakPassword(_) | E::PasswordTooLong | E::InvalidUsername(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    };
    if kind == ErrorKind::Internal {
        tracing::error!(%error, "local hub failed");
        return internal(format!("The local hub could not start: {error}"));
    }
    CommandError { kind, message: error.to_string() }
}

/// A failed sign-in. keyway-client's timeout sentence suggests the CLI's `--no-browser`; in the
/// window the way forward is the sign-in button.
pub fn from_login(error: keyway_client::Error) -> CommandError {
    match error {
        keyway_client::Error::Timeout(secs) => CommandError {
            kind: ErrorKind::Timeout,
            message: format!(
                "The browser did not come back within {secs} seconds. Press “Sign in with browser” to try again."
            ),
        },
        other => other.into(),
    }
}

pub fn invalid_input(message: impl Into<String>) -> CommandError {
    CommandError { kind: ErrorKind::InvalidInput, message: message.into() }
}

pub fn internal(message: impl Into<String>) -> CommandError {
    CommandError { kind: ErrorKind::Internal, message: message.into() }
}
