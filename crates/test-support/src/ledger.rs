//! The secret ledger: every secret a test sees, written down for the secret scan that ends
//! `cargo xtask test`. Refresh tokens, codes and passwords have no shape a scanner could find;
//! the scan looks for each value recorded here instead.
//!
//! The ledger is the file named by [`LEDGER_ENV`] (the xtask creates it outside every scanned
//! directory, mode 0600); each [`record`] appends one JSON line `{"kind": …, "value": …}`.
//! Without the variable nothing is written.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use keyway_api::TokenResponse;
use serde_json::Value;

/// The environment variable naming the ledger file.
pub const LEDGER_ENV: &str = "KEYWAY_TEST_SECRET_LEDGER";

/// What a recorded secret is (the scan reports a leak by kind, never by value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    RefreshToken,
    Jwt,
    /// `kwp_…`: a PAT, service token or enrollment token.
    KwpToken,
    /// `kwscim_…`: a SCIM provisioning token.
    KwscimToken,
    AuthorizationCode,
    SetPasswordCode,
    Password,
    /// A hub's signing-key encryption key (the desktop's local hub keeps it in the keychain).
    HubKey,
}

impl Kind {
    /// The name in the ledger, as the scan reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RefreshToken => "refresh_token",
            Kind::Jwt => "jwt",
            Kind::KwpToken => "kwp_token",
            Kind::KwscimToken => "kwscim_token",
            Kind::AuthorizationCode => "authorization_code",
            Kind::SetPasswordCode => "set_password_code",
            Kind::Password => "password",
            Kind::HubKey => "hub_key",
        }
    }

    /// The kind a token's own shape says, if it has one.
    pub fn of_shape(value: &str) -> Option<Kind> {
        if value.starts_with("kwp_") {
            Some(Kind::KwpToken)
        } else if value.starts_with("kwscim_") {
            Some(Kind::KwscimToken)
        } else if value.starts_with("eyJ") && value.matches('.').count() == 2 {
            Some(Kind::Jwt)
        } else {
            None
        }
    }
}

/// Appends `value` to the ledger, if there is one. Empty values are not secrets and are skipped.
/// A ledger that cannot be written fails the test: a scan that misses values would pass.
pub fn record(kind: Kind, value: &str) {
    let Some(path) = std::env::var_os(LEDGER_ENV) else { return };
    if value.is_empty() {
        return;
    }
    let mut line = serde_json::json!({ "kind": kind.as_str(), "value": value }).to_string();
    line.push('\n');
    // One write of a whole line to a file opened for appending: the lines of tests running in
    // parallel processes do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot write the secret ledger {}: {e}", std::path::Path::new(&path).display());
    }
}

/// Records the tokens of a token endpoint answer.
pub fn record_token_response(t: &TokenResponse) {
    record(Kind::Jwt, &t.access_token);
    if let Some(r) = &t.refresh_token {
        record(Kind::RefreshToken, r);
    }
    if let Some(id) = &t.id_token {
        record(Kind::Jwt, id);
    }
}

/// Records every secret in a JSON answer (the CLI's `--json` output, a hub API answer): the
/// values of fields named after a secret, and any string shaped like a Keyway token or a JWT.
pub fn record_json(v: &Value) {
    match v {
        Value::Object(fields) => {
            for (name, value) in fields {
                if let Value::String(s) = value {
                    let named = match name.as_str() {
                        "refresh_token" => Some(Kind::RefreshToken),
                        "set_password_code" => Some(Kind::SetPasswordCode),
                        "password" | "new_password" => Some(Kind::Password),
                        _ => None,
                    };
                    if let Some(kind) = Kind::of_shape(s).or(named) {
                        record(kind, s);
                    }
                } else {
                    record_json(value);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(record_json),
        Value::String(s) => {
            if let Some(kind) = Kind::of_shape(s) {
                record(kind, s);
            }
        }
        _ => {}
    }
}
