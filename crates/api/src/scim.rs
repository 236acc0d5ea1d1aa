//! SCIM provisioning tokens under `/api/scim/tokens` (the SCIM service itself, `/scim/v2`,
//! speaks RFC 7643/7644 JSON, not these types).

use serde::{Deserialize, Serialize};

/// Longest label of a SCIM token, in characters.
pub const MAX_SCIM_TOKEN_LABEL: usize = 64;

/// A SCIM token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScimTokenView {
    pub id: String,
    pub label: String,
    /// The admin who created it (`None`: `keyway-hub scim token create` on the database).
    pub created_by: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// `POST /api/scim/tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for (the IdP's name); "scim" when left out.
    #[serde(default)]
    pub label: Option<String>,
}

/// The answer to `POST /api/scim/tokens`: the secret, shown this once.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedScimToken {
    pub token: ScimTokenView,
    pub secret: String,
}

impl std::fmt::Debug for CreatedScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedScimToken").field("token", &self.token).field("secret", &"[redacted]").finish()
    }
}
