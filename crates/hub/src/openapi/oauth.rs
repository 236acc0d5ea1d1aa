//! Operations of the OAuth 2.1 / OpenID Connect endpoints, the sign-in pages and SSO
//! (`crate::oauth`, `crate::sso`, `crate::api::exchange`'s introspection). The OAuth endpoints
//! answer RFC 6749 errors; the pages answer HTML.

// The functions only carry their `#[utoipa::path]`: the document reads them, nothing calls them.
#![allow(dead_code)]

use keyway_api::ciba::{ApprovalToken, BackchannelAuthorization};
use keyway_api::clients::{
    ClientRegistration, DeviceAuthorization, DeviceDecided, DeviceRequest, DeviceUserCode, RegisteredClientInfo,
};
use keyway_api::{DiscoveryDocument, ErrorBody, TokenResponse, UserInfo};
use utoipa::OpenApi;

use super::responses::{InputRefusals, JwtRefusals, NotFound};

use super::schemas::{
    AuthorizeQuery, BackchannelRequest, DeviceAuthorizationRequest, DeviceDecideForm, DeviceEnterForm, DeviceQuery,
    IntrospectRequest, Introspection, Jwks, LoginForm, OAuthError, RevokeRequest, SetPasswordForm, SsoCallbackQuery,
    SsoStartForm, TokenRequest,
};

#[derive(OpenApi)]
#[openapi(
    paths(
        openid_configuration,
        authorization_server,
        authorization_server_inserted,
        openid_configuration_inserted,
        jwks,
        authorize,
        login,
        set_password,
        login_sso,
        sso_callback,
        token,
        revoke,
        introspect,
        userinfo_get,
        userinfo_post,
        register,
        device_authorization,
        bc_authorize,
        device_show,
        device_enter,
        device_decide,
        device_lookup,
        device_approve,
        device_deny,
    ),
    components(schemas(ApprovalToken))
)]
pub(crate) struct Doc;

/// OpenID Connect discovery (OIDC Discovery §4).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth", security(()),
    responses((status = 200, description = "The provider's metadata.", body = DiscoveryDocument)))]
fn openid_configuration() {}

/// Authorization server metadata (RFC 8414): the same document as OIDC discovery.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth", security(()),
    responses((status = 200, description = "The authorization server's metadata.", body = DiscoveryDocument)))]
fn authorization_server() {}

/// Authorization server metadata with the issuer's path inserted (RFC 8414 §3.1): for the
/// issuer `https://h.example/tenant`, at `/.well-known/oauth-authorization-server/tenant`.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server/{issuer_path}", tag = "oauth", security(()),
    params(("issuer_path" = String, Path, description = "The issuer's path, without its leading `/`.")),
    responses(
        (status = 200, description = "The authorization server's metadata.", body = DiscoveryDocument),
        (status = 404, description = "Not the issuer's path, or the issuer has none.", body = ErrorBody),
    ))]
fn authorization_server_inserted() {}

/// OpenID discovery with the issuer's path inserted, as MCP clients try after RFC 8414's.
#[utoipa::path(get, path = "/.well-known/openid-configuration/{issuer_path}", tag = "oauth", security(()),
    params(("issuer_path" = String, Path, description = "The issuer's path, without its leading `/`.")),
    responses(
        (status = 200, description = "The provider's metadata.", body = DiscoveryDocument),
        (status = 404, description = "Not the issuer's path, or the issuer has none.", body = ErrorBody),
    ))]
fn openid_configuration_inserted() {}

/// The public keys that verify the hub's JWTs.
#[utoipa::path(get, path = "/oauth/jwks", tag = "oauth", security(()),
    responses((status = 200, description = "A JWK set.", body = Jwks)))]
fn jwks() {}

/// Authorization request (OAuth 2.1 §4.1.1, PKCE required): the sign-in page, or a redirect
/// to the client with a code (a browser already signed in) or an error.
#[utoipa::path(get, path = "/oauth/authorize", tag = "browser", security(()), params(AuthorizeQuery),
    responses(
        (status = 200, description = "The sign-in page.", body = String, content_type = "text/html"),
        (status = 302, description = "To the client's redirect URI with `code`, `state` and `iss`, or with `error` \
            and `error_description` (RFC 6749 §4.1.2.1, RFC 9207).", headers(("location" = String))),
        (status = 400, description = "An unknown client, a refused client metadata document or an unregistered redirect URI: an error page, never a redirect.", body = String, content_type = "text/html"),
        (status = 429, description = "Too many authorization requests.", body = String, content_type = "text/html"),
    ))]
fn authorize() {}

/// The sign-in form: checks the CSRF token and the credentials, starts a browser session
/// (`kw_session` cookie) and redirects to the client with a code.
#[utoipa::path(post, path = "/login", tag = "browser", security(()),
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "To the client's redirect URI with the code.", headers(("location" = String))),
        (status = 200, description = "The set-password form, for a person who signed in with a one-time code.", body = String, content_type = "text/html"),
        (status = 400, description = "An expired or unknown sign-in request.", body = String, content_type = "text/html"),
        (status = 401, description = "Wrong username or password: the form again.", body = String, content_type = "text/html"),
        (status = 403, description = "A disabled account, or a missing or mismatched CSRF token.", body = String, content_type = "text/html"),
        (status = 429, description = "Too many attempts.", body = String, content_type = "text/html"),
    ))]
fn login() {}

/// A new password for a person who signed in with a one-time set-password code; then signed
/// in as by `/login`.
#[utoipa::path(post, path = "/login/set-password", tag = "browser", security(()),
    request_body(content = SetPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "To the client's redirect URI with the code.", headers(("location" = String))),
        (status = 400, description = "An expired or unknown sign-in request.", body = String, content_type = "text/html"),
        (status = 403, description = "A missing or mismatched CSRF token.", body = String, content_type = "text/html"),
        (status = 422, description = "A weak or mismatched password: the form again.", body = String, content_type = "text/html"),
    ))]
fn set_password() {}

/// Hands a pending authorization request to the upstream OpenID provider (SSO).
#[utoipa::path(post, path = "/login/sso", tag = "browser", security(()),
    request_body(content = SsoStartForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "To the upstream provider's authorization endpoint.", headers(("location" = String))),
        (status = 400, description = "No SSO configured, or an unknown sign-in request.", body = String, content_type = "text/html"),
        (status = 502, description = "The upstream provider could not be reached.", body = String, content_type = "text/html"),
    ))]
fn login_sso() {}

/// The upstream provider's answer: signs the person in (creating them on first sign-in when
/// allowed) and redirects to the client with a code.
#[utoipa::path(get, path = "/sso/callback", tag = "browser", security(()), params(SsoCallbackQuery),
    responses(
        (status = 302, description = "To the client's redirect URI with the code.", headers(("location" = String))),
        (status = 400, description = "A missing, unknown or replayed state, or the provider's error.", body = String, content_type = "text/html"),
        (status = 403, description = "The identity may not sign in here.", body = String, content_type = "text/html"),
        (status = 502, description = "The upstream provider's token or ID token was refused.", body = String, content_type = "text/html"),
    ))]
fn sso_callback() {}

/// The token endpoint (OAuth 2.1 §3.2): authorization code with PKCE, refresh token (rotated),
/// device code (RFC 8628) and token exchange (RFC 8693, answered as `ExchangeResponse`).
#[utoipa::path(post, path = "/oauth/token", tag = "oauth", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The tokens (for the CIBA grant, an `ApprovalToken`).", body = TokenResponse),
        (status = 400, description = "An RFC 6749 §5.2 error (`invalid_grant`, `authorization_pending`, `slow_down` …).", body = OAuthError),
        (status = 401, description = "`invalid_client`.", body = OAuthError),
        (status = 403, description = "A token exchange the subject may not make.", body = ErrorBody),
        (status = 429, description = "Too many requests (`Retry-After`).", body = ErrorBody),
    ))]
fn token() {}

/// Token revocation (RFC 7009): a refresh token (and its family) or an access token.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth", security(()),
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or a token that was not valid (RFC 7009 §2.2)."),
        (status = 400, description = "A malformed request, or a token of another client.", body = OAuthError),
        (status = 401, description = "`invalid_client`.", body = OAuthError),
    ))]
fn revoke() {}

/// Token introspection (RFC 7662): tokens the caller may not see are `active: false`.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth", security(("jwt" = [])),
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state.", body = Introspection),
        (status = 400, description = "No `token`, or a parameter given twice.", body = OAuthError),
        (status = 401, description = "A missing, expired or revoked bearer JWT.", body = OAuthError),
    ))]
fn introspect() {}

/// The signed-in person's claims (OIDC Core §5.3).
#[utoipa::path(get, path = "/oauth/userinfo", tag = "oauth", security(("jwt" = [])),
    responses(
        (status = 200, description = "The person's claims.", body = UserInfo),
        (status = 401, description = "A missing, expired or revoked bearer JWT (`WWW-Authenticate`).", body = OAuthError),
    ))]
fn userinfo_get() {}

/// The signed-in person's claims, by POST (OIDC Core §5.3.1).
#[utoipa::path(post, path = "/oauth/userinfo", tag = "oauth", security(("jwt" = [])),
    responses(
        (status = 200, description = "The person's claims.", body = UserInfo),
        (status = 401, description = "A missing, expired or revoked bearer JWT (`WWW-Authenticate`).", body = OAuthError),
    ))]
fn userinfo_post() {}

/// Dynamic client registration (RFC 7591) of a public native client.
#[utoipa::path(post, path = "/oauth/register", tag = "oauth", security(()), request_body = ClientRegistration,
    responses(
        (status = 201, description = "The registered client.", body = RegisteredClientInfo),
        (status = 400, description = "`invalid_redirect_uri` or `invalid_client_metadata`.", body = OAuthError),
        (status = 413, description = "The registration is too large.", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address.", body = ErrorBody),
    ))]
fn register() {}

/// Device authorization (RFC 8628 §3.1).
#[utoipa::path(post, path = "/oauth/device_authorization", tag = "oauth", security(()),
    request_body(content = DeviceAuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The device and user codes.", body = DeviceAuthorization),
        (status = 400, description = "An unknown client, scope or resource.", body = OAuthError),
        (status = 401, description = "`invalid_client`.", body = OAuthError),
        (status = 429, description = "Too many device authorizations.", body = ErrorBody),
    ))]
fn device_authorization() {}

/// Backchannel authentication (OpenID CIBA §7, poll mode): an agent asks for an approval of
/// exactly these `authorization_details` (RFC 9396). The request joins the review queue; the
/// agent then polls `/oauth/token` with `grant_type=urn:openid:params:grant-type:ciba` and its
/// `auth_req_id`, and gets an `ApprovalToken` once the threshold of approvals is met.
#[utoipa::path(post, path = "/oauth/bc-authorize", tag = "oauth", security(("jwt" = [])),
    request_body(content = BackchannelRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The request is queued.", body = BackchannelAuthorization),
        (status = 400, description = "`invalid_authorization_details`, `invalid_binding_message`, `unknown_user_id`, \
            `invalid_scope`, `invalid_target` or `invalid_request`.", body = OAuthError),
        (status = 401, description = "`invalid_client`: no live agent JWT.", body = OAuthError),
        (status = 429, description = "Too many backchannel requests from this agent.", body = ErrorBody),
    ))]
fn bc_authorize() {}

/// The device page: a form for the user code (RFC 8628 §3.3).
#[utoipa::path(get, path = "/device", tag = "browser", security(()), params(DeviceQuery),
    responses((status = 200, description = "The user-code form (sets the `kw_csrf_device` cookie).", body = String, content_type = "text/html")))]
fn device_show() {}

/// A user code, and the person's credentials unless the browser is signed in (`kw_session`).
#[utoipa::path(post, path = "/device", tag = "browser", security(()),
    request_body(content = DeviceEnterForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The confirmation page: which client asks for what.", body = String, content_type = "text/html"),
        (status = 400, description = "A wrong or expired code: the form again.", body = String, content_type = "text/html"),
        (status = 401, description = "Wrong username or password.", body = String, content_type = "text/html"),
        (status = 403, description = "A missing or mismatched CSRF token.", body = String, content_type = "text/html"),
        (status = 429, description = "Too many wrong codes or attempts.", body = String, content_type = "text/html"),
    ))]
fn device_enter() {}

/// The person's approval or denial of a device's sign-in (needs the `kw_session` cookie).
#[utoipa::path(post, path = "/device/decide", tag = "browser", security(()),
    request_body(content = DeviceDecideForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Approved or denied.", body = String, content_type = "text/html"),
        (status = 400, description = "No decision, or an expired code.", body = String, content_type = "text/html"),
        (status = 401, description = "The browser's sign-in has ended.", body = String, content_type = "text/html"),
        (status = 403, description = "A missing or mismatched CSRF token.", body = String, content_type = "text/html"),
    ))]
fn device_decide() {}

/// A pending device sign-in, as the person who would approve it sees it (a sign-in's JWT; wrong
/// codes count against the person and the address, with the device page's).
#[utoipa::path(post, path = "/oauth/device/lookup", tag = "oauth", security(("jwt" = [])),
    request_body(content = DeviceUserCode),
    responses(
        (status = 200, description = "Which client asks, for what, from where and when.", body = DeviceRequest),
        NotFound, JwtRefusals, InputRefusals,
    ))]
fn device_lookup() {}

/// Approves a pending device sign-in: the device signs in as the caller, for as long as the
/// caller's own sign-in lasts.
#[utoipa::path(post, path = "/oauth/device/approve", tag = "oauth", security(("jwt" = [])),
    request_body(content = DeviceUserCode),
    responses(
        (status = 200, description = "Approved: the device's next poll gets its tokens.", body = DeviceDecided),
        NotFound, JwtRefusals, InputRefusals,
    ))]
fn device_approve() {}

/// Denies a pending device sign-in: the device's next poll gets `access_denied`.
#[utoipa::path(post, path = "/oauth/device/deny", tag = "oauth", security(("jwt" = [])),
    request_body(content = DeviceUserCode),
    responses(
        (status = 200, description = "Denied.", body = DeviceDecided),
        NotFound, JwtRefusals, InputRefusals,
    ))]
fn device_deny() {}
