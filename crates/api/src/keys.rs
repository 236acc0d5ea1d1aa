//! The hub's signing keys: the admin's rotation setting (`/api/settings/keys`).

use serde::{Deserialize, Serialize};

/// Default of [`KeySettings::rotation_days`].
pub const DEFAULT_ROTATION_DAYS: u32 = 90;
/// Longest rotation period an admin may set.
pub const MAX_ROTATION_DAYS: u32 = 3650;

/// How the hub rotates its signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// A new signing key takes over when the current one is this many days old; `0` never
    /// rotates by itself (`keyway-hub keys rotate` still does). The previous key keeps
    /// verifying the tokens it signed until they expire.
    pub rotation_days: u32,
}

impl Default for KeySettings {
    fn default() -> KeySettings {
        KeySettings { rotation_days: DEFAULT_ROTATION_DAYS }
    }
}
