//! Shapes the document names that have no Rust type of their own: the forms and queries the
//! OAuth endpoints parse by hand (`crate::http::Params`), the JSON the hub builds in place
//! (introspection, JWKS, the mode), the OAuth error and the SCIM bodies (`serde_json::Value`
//! in the handlers). They are never constructed; they only describe the wire.

#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// An OAuth error (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7591 §3.2.2): `error` is the code,
/// `error_description` the reason; `message` repeats it, as on every Keyway error.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `invalid_target`, `authorization_pending`,
    /// `slow_down`, `expired_token`, `access_denied`, `invalid_redirect_uri`,
    /// `invalid_client_metadata`, `invalid_token`, `server_error` …
    error: String,
    error_description: String,
    message: String,
}

/// A SCIM error (RFC 7644 §3.12), `application/scim+json`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimError {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    /// `invalidFilter`, `invalidSyntax`, `invalidValue`, `invalidPath`, `mutability`,
    /// `uniqueness`, `tooMany` …
    scim_type: Option<String>,
    detail: Option<String>,
}

/// `POST /oauth/token` (`application/x-www-form-urlencoded`): the fields each grant reads.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `urn:ietf:params:oauth:grant-type:device_code`
    /// or `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    grant_type: String,
    /// The public client (every grant but token exchange).
    client_id: Option<String>,
    /// `authorization_code`.
    code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier (RFC 7636).
    code_verifier: Option<String>,
    /// `refresh_token`.
    refresh_token: Option<String>,
    /// Device code grant (RFC 8628).
    device_code: Option<String>,
    /// CIBA grant (`urn:openid:params:grant-type:ciba`), with the agent's JWT as bearer: the
    /// `auth_req_id` of `POST /oauth/bc-authorize`. Its answer is an `ApprovalToken`.
    auth_req_id: Option<String>,
    /// The protected resource (RFC 8707).
    resource: Option<String>,
    /// Space-separated; at most the scopes granted.
    scope: Option<String>,
    /// Token exchange: a PAT or a hub access token.
    subject_token: Option<String>,
    /// Token exchange: `urn:keyway:token-type:pat` or
    /// `urn:ietf:params:oauth:token-type:access_token`.
    subject_token_type: Option<String>,
    /// Token exchange: the class of the JWT asked for.
    requested_token_class: Option<String>,
    /// Token exchange: `cli` or `mcp`.
    audience: Option<String>,
    /// Token exchange: the agent a user PAT acts for.
    agent_id: Option<String>,
}

/// `POST /oauth/revoke` (RFC 7009).
#[derive(Serialize, ToSchema)]
pub(crate) struct RevokeRequest {
    token: String,
    /// `refresh_token` or `access_token`.
    token_type_hint: Option<String>,
    client_id: String,
}

/// `POST /oauth/introspect` (RFC 7662).
#[derive(Serialize, ToSchema)]
pub(crate) struct IntrospectRequest {
    /// A hub JWT or a Keyway credential (`kwp_…`).
    token: String,
    token_type_hint: Option<String>,
}

/// The answer of `POST /oauth/introspect` (RFC 7662 §2.2): only `active` for a token that is
/// dead or that the caller may not see.
#[derive(Serialize, ToSchema)]
pub(crate) struct Introspection {
    active: bool,
    /// `Bearer` for a JWT, the credential's kind for a credential.
    token_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    sub: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    token_class: Option<String>,
    principal: Option<String>,
    /// The owning person of an agent (or of a credential).
    owner: Option<String>,
    /// The credential the JWT was exchanged from, or the credential's id.
    cred: Option<String>,
    /// A credential's audience: `cli`, `mcp` or `both`.
    audience: Option<String>,
}

/// `POST /oauth/bc-authorize` (OpenID CIBA §7.1, RFC 9396), with the agent's `agent_access` JWT
/// as bearer.
#[derive(Serialize, ToSchema)]
pub(crate) struct BackchannelRequest {
    /// A JSON array of objects, each with a `type`: exactly what is to be approved.
    authorization_details: String,
    /// Shown to the reviewer as the request's title (at most 140 characters).
    binding_message: Option<String>,
    /// The user name of the one reviewer who may decide it; any reviewer when left out.
    login_hint: Option<String>,
    /// Scopes for the minted token, among the agent's own (`openid` is ignored).
    scope: Option<String>,
    /// The resource (RFC 8707) the minted token is for: its `aud`.
    resource: Option<String>,
    /// Seconds the request waits for a decision (the queue's default and maximum apply).
    requested_expiry: Option<u64>,
    /// Approvals needed (default 1).
    threshold: Option<u32>,
}

/// `POST /oauth/device_authorization` (RFC 8628 §3.1).
#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceAuthorizationRequest {
    client_id: String,
    scope: Option<String>,
    resource: Option<String>,
}

/// The query of `GET /oauth/authorize` (OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1).
#[derive(Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthorizeQuery {
    /// `code`.
    response_type: String,
    /// A built-in or registered client's id, or the `https` URL of the client's metadata
    /// document (Client ID Metadata Documents).
    client_id: String,
    redirect_uri: String,
    /// The PKCE challenge (RFC 7636), required.
    code_challenge: String,
    /// `S256`.
    code_challenge_method: String,
    /// The hub's scopes (`openid`, `profile`, `offline_access`) and those of `resource`;
    /// another is `invalid_scope`.
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    /// `login` or `none`.
    prompt: Option<String>,
    max_age: Option<u64>,
    /// RFC 8707: a resource the hub issues tokens for (the token's `aud`); another is
    /// `invalid_target`.
    resource: Option<String>,
    /// Set by the desktop app for a hub it runs itself.
    local: Option<String>,
}

/// `POST /login`: the sign-in form.
#[derive(Serialize, ToSchema)]
pub(crate) struct LoginForm {
    /// The pending authorization request the form belongs to.
    request: String,
    /// The double-submit CSRF token of the form.
    csrf: String,
    username: String,
    password: String,
}

/// `POST /login/set-password`: a new password for a person who signed in with a one-time code.
#[derive(Serialize, ToSchema)]
pub(crate) struct SetPasswordForm {
    request: String,
    csrf: String,
    password: String,
    /// The new password again.
    confirm: String,
}

/// `POST /login/sso`: hands a pending authorization request to the upstream OpenID provider.
#[derive(Serialize, ToSchema)]
pub(crate) struct SsoStartForm {
    request: String,
}

/// The query of `GET /sso/callback`: the upstream provider's authorization response.
#[derive(Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SsoCallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The query of `GET /device`: a `verification_uri_complete` link fills the code in.
#[derive(Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeviceQuery {
    user_code: Option<String>,
}

/// `POST /device`: the user code, and the person's credentials unless the browser is signed in.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceEnterForm {
    csrf: String,
    user_code: String,
    username: Option<String>,
    password: Option<String>,
}

/// `POST /device/decide`: the person's approval or denial of a device's sign-in.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceDecideForm {
    csrf: String,
    user_code: String,
    /// `approve` or `deny`.
    decision: String,
}

/// The hub's signing keys (RFC 7517): Ed25519 public keys (`kty` `OKP`, `crv` `Ed25519`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Jwks {
    #[schema(value_type = Vec<Object>)]
    keys: Vec<Value>,
}

/// `GET /auth/mode`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Mode {
    /// `protected`, or `learning` while the hub's authentication is off.
    mode: String,
}

/// A SCIM User (RFC 7643 §4.1) as the hub keeps it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimUser {
    /// `["urn:ietf:params:scim:schemas:core:2.0:User"]`.
    schemas: Vec<String>,
    id: Option<String>,
    external_id: Option<String>,
    user_name: String,
    display_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    name: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    emails: Option<Vec<Value>>,
    active: Option<bool>,
    /// Read only: the Keyway roles the user holds, as SCIM groups.
    #[schema(value_type = Option<Vec<Object>>)]
    groups: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    meta: Option<Value>,
}

/// A SCIM Group (RFC 7643 §4.2): one per Keyway role.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimGroup {
    /// `["urn:ietf:params:scim:schemas:core:2.0:Group"]`.
    schemas: Vec<String>,
    /// The role.
    id: Option<String>,
    display_name: String,
    /// `{value, display, $ref, type}` of each member.
    #[schema(value_type = Option<Vec<Object>>)]
    members: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    meta: Option<Value>,
}

/// A SCIM list (RFC 7644 §3.4.2): `Resources` are Users, Groups, ResourceTypes or Schemas.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimListResponse {
    /// `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    schemas: Vec<String>,
    total_results: u64,
    start_index: u64,
    items_per_page: u64,
    #[serde(rename = "Resources")]
    #[schema(value_type = Vec<Object>)]
    resources: Vec<Value>,
}

/// A SCIM search (RFC 7644 §3.4.3), `POST …/.search`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScimSearchRequest {
    /// `["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`.
    schemas: Vec<String>,
    filter: Option<String>,
    start_index: Option<u64>,
    count: Option<u64>,
    attributes: Option<Vec<String>>,
    excluded_attributes: Option<Vec<String>>,
}

/// A SCIM PATCH (RFC 7644 §3.5.2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScimPatchOp {
    /// `["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`.
    #[serde(rename = "schemas")]
    schemas: Vec<String>,
    /// `{op: add|replace|remove, path?, value?}` each.
    #[schema(value_type = Vec<Object>)]
    operations: Vec<Value>,
}

/// A SCIM discovery resource (RFC 7644 §4): ServiceProviderConfig, ResourceType or Schema.
#[derive(Serialize, ToSchema)]
pub(crate) struct ScimDiscovery {
    schemas: Vec<String>,
    id: Option<String>,
    #[schema(value_type = Option<Object>)]
    meta: Option<Value>,
}
