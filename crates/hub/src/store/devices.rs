//! Device authorizations (RFC 8628), shared by the hubs of one database: the device code is
//! stored as its SHA-256, the user code (typed by a person, short-lived, single use) in clear.

use std::future::Future;

use super::AuditEvent;
use super::error::StoreError;
use super::oauth::{Family, NewFamily};
use crate::secret::TokenHash;

/// Where a device authorization stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Its tokens were issued: it answers nothing more.
    Used,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Used => "used",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        [DeviceStatus::Pending, DeviceStatus::Approved, DeviceStatus::Denied, DeviceStatus::Used]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One device authorization.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    pub device_code_hash: TokenHash,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub resource: Option<String>,
    /// The address the device asked from.
    pub address: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The least number of seconds between two polls.
    pub interval_secs: i64,
    pub last_polled_at: Option<i64>,
    pub status: DeviceStatus,
    /// Who approved or denied it.
    pub user_id: Option<String>,
    /// When that person signed in.
    pub auth_time: Option<i64>,
    pub decided_at: Option<i64>,
}

/// Outcome of [`DeviceStore::poll_device`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per poll")]
pub enum DevicePoll {
    /// No such device code.
    Unknown,
    /// Its tokens were issued already.
    Used,
    Expired,
    Denied,
    /// Not decided yet; `slow_down` when it was polled sooner than its interval (which has
    /// grown by 5 seconds).
    Pending {
        slow_down: bool,
    },
    /// Approved, now used up: the family `issue` returned was created.
    Issued {
        device: DeviceRecord,
        family: Family,
    },
    /// Approved, but `issue` refused (the person is gone, the session ended…); now used up.
    Refused(&'static str),
}

/// Storage of device authorizations.
pub trait DeviceStore: Send + Sync {
    /// Stores a new device authorization; `false` if its user code is taken (draw another).
    fn insert_device(&self, device: &DeviceRecord) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The pending, unexpired authorization of a user code.
    fn device_by_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send;
    /// Approves or denies a pending, unexpired authorization as `user_id` (signed in at
    /// `auth_time`), with its audit row, in one transaction; `false` if none was pending.
    fn decide_device(
        &self,
        user_code: &str,
        approve: bool,
        user_id: &str,
        auth_time: i64,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// One poll of the token endpoint, in one transaction: the interval is checked (and grown
    /// on `slow_down`), and an approved authorization is used up and its family created.
    /// Concurrent polls of one code cannot both get tokens.
    fn poll_device<F>(
        &self,
        device_code_hash: &TokenHash,
        now: i64,
        issue: F,
    ) -> impl Future<Output = Result<DevicePoll, StoreError>> + Send
    where
        F: FnOnce(&DeviceRecord) -> Result<NewFamily, &'static str> + Send;
}
