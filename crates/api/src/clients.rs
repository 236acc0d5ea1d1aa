//! Standard OAuth for agents and MCP clients: dynamic client registration (RFC 7591), the
//! registered clients an admin lists and revokes, and device authorization (RFC 8628).

use serde::{Deserialize, Serialize};

/// The device-code grant (RFC 8628 §3.4).
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How many redirect URIs one registration may have.
pub const MAX_REDIRECT_URIS: usize = 10;
/// The longest `client_name` kept.
pub const MAX_CLIENT_NAME: usize = 100;
/// The longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 512;

/// `POST /oauth/register` (RFC 7591 §2): only what a native public client sends is read;
/// other members are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientRegistration {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The answer to a registration (RFC 7591 §3.2.1): the client's metadata as the hub keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisteredClientInfo {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
}

/// One registered client on `GET /api/clients`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// The address it registered from.
    #[serde(default)]
    pub address: Option<String>,
}

/// `GET /api/clients`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisteredClients {
    pub clients: Vec<RegisteredClient>,
}

/// The answer of `POST /oauth/device_authorization` (RFC 8628 §3.2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

/// The longest resource name kept.
pub const MAX_RESOURCE_NAME: usize = 100;
/// The longest canonical URI of a resource.
pub const MAX_RESOURCE_URI_LEN: usize = 512;
/// How many scopes one resource may have.
pub const MAX_RESOURCE_SCOPES: usize = 50;

/// `POST /api/resources`: a resource (an MCP server) the hub issues tokens for (RFC 8707).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateResource {
    /// The canonical URI: an absolute URI without a fragment, as clients send it in `resource`
    /// and as it appears in the token's `aud`.
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub name: String,
    /// The scopes a client may ask for this resource, beside the hub's own (`openid`,
    /// `profile`, `offline_access`).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// One resource on `GET /api/resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceView {
    /// `None` for a resource of the hub's settings (`KEYWAY_HUB_RESOURCES`), which cannot be
    /// deleted here.
    #[serde(default)]
    pub id: Option<String>,
    pub uri: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// Whether it comes from the hub's settings rather than an admin.
    #[serde(default)]
    pub configured: bool,
    #[serde(default)]
    pub created_at: Option<i64>,
    /// The person who registered it.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// `GET /api/resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resources {
    pub resources: Vec<ResourceView>,
}

/// The body of `POST /oauth/device/lookup`, `…/approve` and `…/deny`: the user code a person
/// typed (dashes, spaces and case do not matter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceUserCode {
    pub user_code: String,
}

/// A pending device sign-in as the person who would approve it sees it: which client asks, for
/// what, from which address and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRequest {
    /// The user code, normalised (`BCDF-GHJK`).
    pub user_code: String,
    pub client_id: String,
    /// The client's display name.
    pub client_name: String,
    /// The scopes asked, space-separated (may be empty).
    pub scope: String,
    /// The resource (RFC 8707) asked for; none: this hub's API.
    #[serde(default)]
    pub resource: Option<String>,
    /// The address the device asked from.
    #[serde(default)]
    pub address: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The answer of `POST /oauth/device/approve` and `…/deny`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceDecided {
    pub user_code: String,
    pub client_id: String,
    pub approved: bool,
}
