//! What the desktop shell (src-tauri) and the Leptos UI say to each other over Tauri IPC.
//! Every command returns `Result<T, CommandError>`; the error is serialized as `{kind, message}`.

use serde::{Deserialize, Serialize};

/// Machine-readable class of a command failure, for the UI to choose how to show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The user gave something unusable (malformed URL, short password, …).
    InvalidInput,
    /// The hub could not be reached.
    Unreachable,
    /// The hub refused (wrong password, revoked session, …).
    Refused,
    /// No OS keychain is available or it is locked.
    Keychain,
    /// The browser did not come back in time.
    Timeout,
    /// The person pressed Cancel.
    Cancelled,
    /// Anything else; the message says what.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where the app stands at start-up, returned by `app_status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppStatus {
    /// No profile yet: offer "Use a local hub" or "Connect to a server".
    NeedsSetup,
    /// A profile exists and no session could be restored: offer "Sign in with browser".
    SignedOut {
        profile: ProfileView,
        /// Why the earlier session is gone, when there was one (revoked, expired, …).
        #[serde(default)]
        notice: Option<String>,
    },
    SignedIn {
        profile: ProfileView,
        session: SessionView,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub name: String,
    pub server: String,
    /// True when the server is the hub embedded in the app.
    pub local: bool,
    /// The hub said it runs in learning mode (`GET /auth/mode`): authentication is off and every
    /// role is available locally. The app shows a banner on every page while it is true.
    #[serde(default)]
    pub learning: bool,
}

/// One profile in the switcher (answer of `profiles_list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChoice {
    pub name: String,
    pub server: String,
    pub local: bool,
    /// The profile the app is showing.
    pub current: bool,
    /// The keychain holds a sign-in (or a PAT) for it.
    pub signed_in: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub subject: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    /// Unix seconds when the session ends for good (the refresh token's absolute lifetime).
    pub session_expires_at: Option<i64>,
    /// Unix seconds when the in-memory access token expires (it is renewed silently).
    pub access_expires_at: i64,
    /// False when the provider issued no refresh token: the session cannot be renewed and ends
    /// with its access token.
    pub renewable: bool,
}

/// Arguments of `setup_local_hub`: the owner account created on first run.
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalHubSetup {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LocalHubSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHubSetup").field("username", &self.username).field("password", &"[redacted]").finish()
    }
}

/// Arguments of `connect_server`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectServer {
    pub url: String,
}

/// Answer of `local_hub_info`: whether the embedded hub already has its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalHubInfo {
    pub initialized: bool,
}

/// A page of the app, as `keyway://` links and in-app navigation name it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "page", rename_all = "snake_case")]
pub enum Route {
    /// The signed-in home page (who you are, the session).
    #[default]
    Session,
    /// `keyway://credentials`: PATs, enrollment tokens, service accounts.
    Credentials,
    /// `keyway://approvals` or `keyway://approvals/<id>`: the review queue, optionally one request.
    Approvals {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// `keyway://audit`: the audit log (auditors and admins).
    Audit,
    /// `keyway://admin`, `keyway://admin/groups`, …: the organisation (admins; auditors read).
    Admin {
        #[serde(default)]
        section: AdminSection,
    },
    /// `keyway://device[?code=BCDF-GHJK]`: the "Approve a device" dialog, the code filled in.
    /// Opening it approves nothing: that takes a click on Approve.
    Device {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

/// A part of the Admin page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminSection {
    #[default]
    Users,
    Groups,
    Settings,
    /// The SCIM provisioning tokens the company's IdP uses.
    Scim,
    /// OAuth clients that registered themselves, and the resources tokens are issued for.
    Clients,
}

impl AdminSection {
    pub const ALL: [AdminSection; 5] =
        [AdminSection::Users, AdminSection::Groups, AdminSection::Settings, AdminSection::Scim, AdminSection::Clients];

    /// The name in `keyway://admin/<name>` links.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminSection::Users => "users",
            AdminSection::Groups => "groups",
            AdminSection::Settings => "settings",
            AdminSection::Scim => "scim",
            AdminSection::Clients => "clients",
        }
    }

    pub fn parse(s: &str) -> Option<AdminSection> {
        AdminSection::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Arguments of `audit_page` and `audit_export`: what to show of the audit log. Empty strings
/// mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// The actor's id or name.
    #[serde(default)]
    pub actor: String,
    /// An action or the start of one (`session.`).
    #[serde(default)]
    pub action: String,
    /// `ok`, or the error code of a refusal.
    #[serde(default)]
    pub outcome: String,
    /// From this time on (Unix seconds).
    #[serde(default)]
    pub since: Option<i64>,
    /// Before this time (Unix seconds).
    #[serde(default)]
    pub until: Option<i64>,
}

/// Answer of `audit_export`: where the file went and how many rows it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    pub path: String,
    pub rows: u64,
}

/// The Admin → Settings page: every admin setting the hub has, read and written together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSettings {
    pub credentials: crate::credentials::CredentialSettings,
    pub reviews: crate::reviews::ReviewSettings,
    pub sessions: crate::users::SessionSettings,
}

/// Tauri event the shell emits to move the UI to a page (payload: [`Route`]).
pub const EVENT_NAVIGATE: &str = "keyway://navigate";
/// Tauri event carrying a message to show in the banner (payload: `String`), e.g. a refused
/// callback or a link that was not understood.
pub const EVENT_NOTICE: &str = "keyway://notice";

/// Tauri event carrying each live change of the review queue (payload:
/// [`crate::reviews::ReviewEvent`]); the shell subscribes on `reviews_subscribe`.
pub const EVENT_REVIEW: &str = "keyway://review";
/// Tauri event telling whether the live review stream is connected (payload: `bool`).
pub const EVENT_REVIEWS_LIVE: &str = "keyway://reviews-live";

/// Answer of `copy_secret`: the secret is on the clipboard until `clear_after_secs` pass (then
/// the app clears it, unless something else was copied meanwhile).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    pub clear_after_secs: u64,
}
