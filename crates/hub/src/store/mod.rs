//! Persistence, by area: [`UserStore`], [`OAuthStore`], [`AuditStore`], [`CredentialStore`],
//! [`ReviewStore`], [`KeyStore`], [`ThrottleStore`], [`NoticeStore`], [`ClientStore`],
//! [`ResourceStore`] and the others, together a [`Store`]. Handlers are generic over [`Store`]
//! so another backend (e.g. Postgres) can be added next to [`sqlite::SqliteStore`] without
//! touching them.
//!
//! Secrets never reach a store in clear: codes, refresh tokens and session ids are passed as
//! their SHA-256 ([`TokenHash`]), passwords as Argon2id PHC strings. Times are Unix seconds,
//! given by the caller (the hub's clock): a store never reads the time itself. Failures are
//! [`StoreError`]s, which know nothing of HTTP.

pub mod audit;
pub mod changes;
pub mod ciba;
pub mod clients;
pub mod credentials;
pub mod devices;
pub mod error;
pub mod identities;
pub mod keys;
pub mod notices;
pub mod oauth;
pub mod postgres;
pub mod resources;
pub mod reviews;
pub mod scim;
pub mod sqlite;
pub mod throttle;
pub mod users;

use std::future::Future;

pub use self::audit::{AuditEvent, AuditQuery, AuditStore};
pub use self::changes::ChangeStore;
pub use self::ciba::{CibaPoll, CibaRecord, CibaStore};
pub use self::clients::{ClientRecord, ClientStore};
pub(crate) use self::credentials::NewCredential;
pub use self::credentials::{
    AgentRecord, CredentialFilter, CredentialRecord, CredentialStore, CredentialUse, ServiceAccountRecord,
};
pub use self::devices::{DevicePoll, DeviceRecord, DeviceStatus, DeviceStore};
pub use self::error::StoreError;
pub use self::identities::{IdentityStore, ManagedBy, SsoRequest};
pub use self::keys::{KeyStore, LegacySeed, Sealed, SigningKeyRecord};
pub use self::notices::NoticeStore;
pub use self::oauth::{
    CodeRecord, Family, GrantAudit, LoginSession, NewFamily, OAuthStore, PendingAuthorization, Redemption, Rotation,
};
pub use self::resources::{ResourceRecord, ResourceStore};
pub use self::reviews::{CancelOutcome, Decided, ReviewAudit, ReviewFilter, ReviewRecord, ReviewStore, VoteOutcome};
pub use self::scim::{ScimStore, ScimTokenRecord, ScimUserRecord};
pub use self::throttle::{ThrottleRecord, ThrottleStore};
pub use self::users::{SetPasswordCode, UserFilter, UserRecord, UserStore};
pub use crate::secret::TokenHash;

/// Storage backend of the hub: every area, and the schema.
///
/// Methods return `Send` futures so handlers can be generic over the backend.
pub trait Store:
    UserStore
    + OAuthStore
    + AuditStore
    + CredentialStore
    + ReviewStore
    + ChangeStore
    + KeyStore
    + ThrottleStore
    + NoticeStore
    + ClientStore
    + ResourceStore
    + DeviceStore
    + CibaStore
    + IdentityStore
    + ScimStore
    + Send
    + Sync
    + 'static
{
    /// Creates or upgrades the schema.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
