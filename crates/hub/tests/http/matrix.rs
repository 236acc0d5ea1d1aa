//! The route × role matrix, walked over the real router: every path the hub registers
//! (`keyway_hub::route_paths`) is probed with every method, and each routed (method, path) must
//! have a row below; each row is called as every caller and must answer the exact status and
//! error code it states. The rows are this file's own literal, not the hub's rule table, so a
//! change to either that the other does not share fails here.
//!
//! Adding a route: add one row. Path parameters are called with [`ID`], a body with `{}`, so a
//! caller the route admits gets the route's own answer to that (`404`, `422`, a list) and a
//! caller it refuses gets the refusal.

use keyway_api::Role;
use keyway_api::auth::TokenClass;
use keyway_api::credentials::{CreatedServiceAccount, ExchangeResponse};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;
use crate::credentials::{exchange_ok, http, mint, post_exchange, post_json, session};

/// What a path parameter is called with: nothing has it.
const ID: &str = "nope";

const DEV: &str = "dev";
const REV: &str = "rev";
const AUD: &str = "aud";
const ADM: &str = "adm";

/// The callers, in the order of a row's cells.
const CALLERS: [&str; 11] = [
    "developer",
    "developer*",
    "reviewer",
    "auditor",
    "admin",
    "admin*",
    "agent",
    "sa:developer",
    "sa:reviewer",
    "sa:auditor",
    "anonymous",
];

/// An expected answer: status and error code (`""`: a success, no error body).
type E = (u16, &'static str);
const OK: E = (200, "");
const MADE: E = (201, "");
const BAD: E = (400, "invalid_request");
const UNAUTH: E = (401, "invalid_token");
const CRED: E = (401, "invalid_credential");
const ADMIN: E = (403, "admin_required");
const ROLE: E = (403, "role_required");
const KIND: E = (403, "principal_not_allowed");
const NOPE: E = (404, "not_found");
const INVALID: E = (422, "validation_failed");
const CLASS: E = (422, "class_not_allowed");
const SCOPE: E = (403, "insufficient_scope");
const NOADMIN: E = (403, "user_admin_not_allowed");
const NOUSER: E = (404, "unknown_user");
const NOGROUP: E = (404, "unknown_role");
/// A client registration without redirect URIs (RFC 7591).
const REDIRECT: E = (400, "invalid_redirect_uri");
const NOSCIM: E = (404, "unknown_scim_token");
/// A SCIM error (`urn:ietf:params:scim:api:messages:2.0:Error`): the SCIM routes take only a
/// SCIM token, so every caller of the matrix is refused.
const SCIM: E = (401, "<scim>");
/// Any other path under `/scim/v2`: a SCIM `404`, to anyone.
const SCIM404: E = (404, "<scim>");
/// An HTML page (the sign-in's own errors are shown to the person, not coded).
const PAGE: E = (400, "<page>");
/// A backchannel request by a caller that is not an agent (OpenID CIBA §13).
const NOTAGENT: E = (400, "unauthorized_client");
/// A backchannel request without a live JWT (OpenID CIBA §13).
const NOCLIENT: E = (401, "invalid_client");

/// One row: `"METHOD /path[?query][ body]"` (the body is JSON, `{}` when left out) and the answer
/// for each of [`CALLERS`]:
/// developer, developer with user_admin, reviewer, auditor, admin, admin with user_admin, an agent,
/// service accounts of the developer, reviewer and auditor groups, no token.
type Row = (&'static str, [E; 11]);

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    //                                   dev      dev*     rev      aud      adm      adm*     agent    sa:dev   sa:rev   sa:aud   anon
    ("GET /healthz",                    [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("GET /openapi.json",               [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("GET /auth/mode",                  [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("GET /.well-known/openid-configuration", [OK, OK,     OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("GET /oauth/jwks",                 [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("GET /oauth/authorize",            [PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE]),
    ("POST /login",                     [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("POST /oauth/token",               [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("POST /oauth/revoke",              [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("GET /oauth/userinfo",             [OK,      OK,      OK,      OK,      OK,      OK,      UNAUTH,  UNAUTH,  UNAUTH,  UNAUTH,  UNAUTH]),
    ("POST /oauth/userinfo",            [OK,      OK,      OK,      OK,      OK,      OK,      UNAUTH,  UNAUTH,  UNAUTH,  UNAUTH,  UNAUTH]),
    ("GET /api/me",                     [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      UNAUTH]),
    ("GET /api/audit",                  [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    ROLE,    ROLE,    OK,      UNAUTH]),
    ("GET /api/credentials",            [OK,      OK,      ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("GET /api/credentials?all=true",   [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/credentials {\"agent\": \"prober\"}", [ADMIN, MADE, ADMIN, ADMIN, ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/credentials/enrollment", [ADMIN,  MADE,    ADMIN,   ADMIN,   ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/credentials/{id}/revoke", [ADMIN, NOPE,    ADMIN,   ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/credentials/{id}/rotate", [ADMIN, NOPE,    ADMIN,   ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/settings/credentials",   [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("PUT /api/settings/credentials",   [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   BAD,     ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/agents",                 [OK,      OK,      ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("GET /api/agents?all=true",        [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/agents {\"name\": \"scout\"}", [ADMIN, MADE, ADMIN,   ADMIN,   ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("PATCH /api/agents/{id}",          [ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/service-accounts",       [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/service-accounts {\"name\": \"sa-made\"}", [ADMIN, ROLE, ADMIN, ADMIN, ADMIN, MADE,   ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/service-accounts/{id}/rotate", [ADMIN, ROLE, ADMIN, ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/service-accounts/{id}/revoke", [ADMIN, ROLE, ADMIN, ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/reviews {\"title\": \"t\"}", [MADE, SCOPE,  ROLE,    ROLE,    ROLE,    ROLE,    MADE,    MADE,    ROLE,    ROLE,    UNAUTH]),
    ("GET /api/reviews",                [OK,      SCOPE,   OK,      OK,      OK,      SCOPE,   OK,      OK,      OK,      OK,      UNAUTH]),
    ("GET /api/reviews/events",         [OK,      SCOPE,   OK,      OK,      OK,      SCOPE,   OK,      OK,      OK,      OK,      UNAUTH]),
    ("GET /api/reviews/{id}",           [NOPE,    SCOPE,   NOPE,    NOPE,    NOPE,    SCOPE,   NOPE,    NOPE,    NOPE,    NOPE,    UNAUTH]),
    ("POST /api/reviews/{id}/decision {\"verdict\": \"approve\"}", [ROLE, ROLE, NOPE, ROLE, ROLE, ROLE, KIND, KIND, KIND, KIND, UNAUTH]),
    ("POST /api/reviews/{id}/cancel",   [NOPE,    SCOPE,   ROLE,    ROLE,    ROLE,    ROLE,    NOPE,    NOPE,    ROLE,    ROLE,    UNAUTH]),
    ("GET /api/reviews/{id}/wait",      [NOPE,    SCOPE,   NOPE,    NOPE,    NOPE,    SCOPE,   NOPE,    NOPE,    NOPE,    NOPE,    UNAUTH]),
    ("GET /api/settings/reviews",       [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      UNAUTH]),
    ("PUT /api/settings/reviews",       [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   BAD,     ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/settings/keys",          [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("PUT /api/settings/keys",          [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   BAD,     ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /auth/exchange {\"requested_token_class\": \"user_admin\"}", [OK, CRED, NOADMIN, NOADMIN, OK, CRED, CRED, CRED, CRED, CRED, UNAUTH]),
    ("POST /auth/exchange {\"requested_token_class\": \"user_access\"}", [OK, CRED, OK, OK, OK, CRED, CRED, CRED, CRED, CRED, UNAUTH]),
    ("POST /auth/enroll",               [CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    UNAUTH]),
    ("POST /auth/service-account/token", [CRED,   CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED,    CRED]),
    ("POST /oauth/introspect",          [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     UNAUTH]),
    ("POST /login/set-password",        [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("GET /.well-known/oauth-authorization-server", [OK, OK, OK,     OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    // RFC 8414 path insertion: this hub's issuer has no path, so no inserted path is its.
    ("GET /.well-known/oauth-authorization-server/{*issuer_path}", [NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE]),
    ("GET /.well-known/openid-configuration/{*issuer_path}", [NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE, NOPE]),
    ("POST /oauth/register",            [REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT]),
    ("POST /oauth/device_authorization", [BAD,    BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("POST /oauth/bc-authorize",        [NOTAGENT, NOTAGENT, NOTAGENT, NOTAGENT, NOTAGENT, NOTAGENT, BAD,  NOTAGENT, NOTAGENT, NOTAGENT, NOCLIENT]),
    ("GET /device",                     [OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK,      OK]),
    ("POST /device",                    [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("POST /device/decide",             [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("POST /oauth/device/lookup",       [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /oauth/device/approve",      [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /oauth/device/deny",         [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("GET /api/clients",                [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/clients/{id}/revoke",   [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/resources",              [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/resources",             [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   INVALID, ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("DELETE /api/resources/{id}",      [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOPE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /login/sso",                 [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     BAD]),
    ("GET /sso/callback",               [PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE,    PAGE]),
    ("GET /api/users",                  [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/users {\"username\": \"made\", \"password\": \"a long enough secret\"}", [ADMIN, ROLE, ADMIN, ADMIN, ADMIN, MADE, ADMIN, ADMIN, ADMIN, ADMIN, UNAUTH]),
    ("GET /api/users/{id}",             [ROLE,    ROLE,    ROLE,    NOUSER,  NOUSER,  NOUSER,  KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("DELETE /api/users/{id}",          [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOUSER,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/users/{id}/disable",    [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOUSER,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/users/{id}/enable",     [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOUSER,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("PUT /api/users/{id}/roles {\"roles\": [\"developer\"]}", [ADMIN, ROLE, ADMIN, ADMIN, ADMIN, NOUSER, ADMIN, ADMIN, ADMIN, ADMIN, UNAUTH]),
    ("POST /api/users/{id}/password",   [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOUSER,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("POST /api/users/{id}/logout",     [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOUSER,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/groups",                 [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("GET /api/groups/{role}",          [ROLE,    ROLE,    ROLE,    NOGROUP, NOGROUP, NOGROUP, KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("PUT /api/groups/{role}/members/{user_id}", [ADMIN, ROLE,    ADMIN,   ADMIN,   ADMIN,   NOGROUP, ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("DELETE /api/groups/{role}/members/{user_id}", [ADMIN, ROLE, ADMIN,   ADMIN,   ADMIN,   NOGROUP, ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/settings/sessions",      [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("PUT /api/settings/sessions",      [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   BAD,     ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /api/me/sessions",            [OK,      OK,      OK,      OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("DELETE /api/me/sessions/{id}",    [NOPE,    NOPE,    NOPE,    NOPE,    NOPE,    NOPE,    KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("PUT /api/me/password",            [BAD,     BAD,     BAD,     BAD,     BAD,     BAD,     KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("GET /api/scim/tokens",            [ROLE,    ROLE,    ROLE,    OK,      OK,      OK,      KIND,    KIND,    KIND,    KIND,    UNAUTH]),
    ("POST /api/scim/tokens",           [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   MADE,    ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("DELETE /api/scim/tokens/{id}",    [ADMIN,   ROLE,    ADMIN,   ADMIN,   ADMIN,   NOSCIM,  ADMIN,   ADMIN,   ADMIN,   ADMIN,   UNAUTH]),
    ("GET /scim/v2/Users",              [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("POST /scim/v2/Users",             [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/Users/{id}",         [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("PUT /scim/v2/Users/{id}",         [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("PATCH /scim/v2/Users/{id}",       [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("DELETE /scim/v2/Users/{id}",      [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/Groups",             [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("POST /scim/v2/Groups",            [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/Groups/{id}",        [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("PUT /scim/v2/Groups/{id}",        [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("PATCH /scim/v2/Groups/{id}",      [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("DELETE /scim/v2/Groups/{id}",     [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/ServiceProviderConfig", [SCIM, SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/ResourceTypes",      [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/ResourceTypes/{id}", [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/Schemas",            [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/Schemas/{id}",       [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("POST /scim/v2/Users/.search",     [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("POST /scim/v2/.search",           [SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM,    SCIM]),
    ("GET /scim/v2/{*rest}",            [SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404]),
    ("POST /scim/v2/{*rest}",           [SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404]),
    ("PUT /scim/v2/{*rest}",            [SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404]),
    ("PATCH /scim/v2/{*rest}",          [SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404]),
    ("DELETE /scim/v2/{*rest}",         [SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404, SCIM404]),
    // Last: it ends each person's sign-ins, and with them the user_admin JWTs exchanged from
    // them (the developer's and the admin's, called right after).
    ("DELETE /api/me/sessions",         [OK,      UNAUTH,  OK,      OK,      OK,      UNAUTH,  KIND,    KIND,    KIND,    KIND,    UNAUTH]),
];

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// The bearer tokens of [`CALLERS`] (`None`: anonymous).
async fn callers(hub: &TestHub) -> Vec<Option<String>> {
    let admin_of = |access: String| async move {
        exchange_ok(hub, &access, json!({"requested_token_class": "user_admin"})).await.access_token
    };
    let dev = session(hub, DEV).await;
    let dev_admin = admin_of(dev.clone()).await;
    let adm = session(hub, ADM).await;
    let adm_admin = admin_of(adm.clone()).await;
    let agent_pat = mint(hub, &dev_admin, json!({"agent": "prober", "create_agent": true})).await;
    let agent =
        exchange_ok(hub, &agent_pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    let mut service = Vec::new();
    for group in ["developer", "reviewer", "auditor"] {
        let name = format!("sa-{group}");
        let resp = post_json(hub, "/api/service-accounts", &adm_admin, json!({"name": name, "group": group})).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let created: CreatedServiceAccount = resp.json().await.unwrap();
        let resp = http()
            .post(hub.at("/auth/service-account/token"))
            .basic_auth(&name, Some(&created.secret))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let r: ExchangeResponse = resp.json().await.unwrap();
        assert_eq!(r.token_class, TokenClass::ServiceAccess);
        service.push(r.access_token);
    }
    let mut out = vec![Some(dev), Some(dev_admin), Some(session(hub, REV).await), Some(session(hub, AUD).await)];
    out.extend([Some(adm), Some(adm_admin), Some(agent)]);
    out.extend(service.into_iter().map(Some));
    out.push(None);
    out
}

/// A row's method, target (path and query) and body.
fn split(key: &str) -> (Method, &str, serde_json::Value) {
    let (method, rest) = key.split_once(' ').expect("a row is 'METHOD /path'");
    let (target, body) = rest.split_once(' ').unwrap_or((rest, "{}"));
    let body = serde_json::from_str(body).expect("a row's body is JSON");
    (Method::from_bytes(method.as_bytes()).expect("a method"), target, body)
}

/// The route a row calls: `METHOD /path`.
fn route_of(key: &str) -> String {
    let (method, target, _) = split(key);
    format!("{method} {}", target.split('?').next().unwrap_or(target))
}

async fn call(
    hub: &TestHub,
    method: Method,
    target: &str,
    body: &serde_json::Value,
    bearer: Option<&str>,
) -> reqwest::Response {
    let url = hub.at(&target.replace("{id}", ID).replace("{role}", ID).replace("{user_id}", ID));
    let mut req = http().request(method.clone(), url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

/// The answer as the matrix writes it: status, and the error code of an error body.
async fn answer(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    if status < 400 {
        // A success is not read (the event stream would not end).
        return (status, String::new());
    }
    let text = resp.text().await.unwrap_or_default();
    let code = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error" => "<scim>".to_owned(),
        Ok(v) => v.get("error").and_then(|e| e.as_str()).unwrap_or("<no code>").to_owned(),
        Err(_) if text.starts_with("<!DOCTYPE html>") => "<page>".to_owned(),
        Err(_) => format!("<not JSON: {}>", text.chars().take(60).collect::<String>()),
    };
    (status, code)
}

fn name_of(e: &(u16, String)) -> String {
    let known: [(&str, E); 20] = [
        ("REDIRECT", REDIRECT),
        ("NOSCIM", NOSCIM),
        ("SCIM404", SCIM404),
        ("SCIM", SCIM),
        ("NOUSER", NOUSER),
        ("NOGROUP", NOGROUP),
        ("SCOPE", SCOPE),
        ("OK", OK),
        ("MADE", MADE),
        ("BAD", BAD),
        ("UNAUTH", UNAUTH),
        ("CRED", CRED),
        ("ADMIN", ADMIN),
        ("ROLE", ROLE),
        ("KIND", KIND),
        ("NOPE", NOPE),
        ("INVALID", INVALID),
        ("CLASS", CLASS),
        ("NOADMIN", NOADMIN),
        ("PAGE", PAGE),
    ];
    known
        .iter()
        .find(|(_, k)| k.0 == e.0 && k.1 == e.1)
        .map(|(n, _)| (*n).to_owned())
        .unwrap_or_else(|| format!("({}, {:?})", e.0, e.1))
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_matrix_says() {
    let users: [(&str, &[Role]); 4] =
        [(DEV, &[Role::Developer]), (REV, &[Role::Reviewer]), (AUD, &[Role::Auditor]), (ADM, &[Role::Admin])];
    let hub = TestHub::start_with_users(|_| {}, &users).await;

    // The routes, from the router itself: every registered path with every method that is routed.
    let paths = keyway_hub::route_paths();
    let mut unique = paths.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), paths.len(), "a path is registered twice: {paths:?}");
    let mut routed: Vec<String> = Vec::new();
    for path in &paths {
        for method in METHODS {
            let status = call(&hub, method.clone(), path, &json!({}), None).await.status();
            if status != StatusCode::METHOD_NOT_ALLOWED {
                routed.push(format!("{method} {path}"));
            }
        }
    }
    let rows: Vec<String> = MATRIX.iter().map(|(key, _)| route_of(key)).collect();
    let missing: Vec<&String> = routed.iter().filter(|r| !rows.contains(r)).collect();
    assert!(missing.is_empty(), "routes without a row in the matrix: {missing:#?}");
    let stale: Vec<&String> = rows.iter().filter(|r| !routed.contains(r)).collect();
    assert!(stale.is_empty(), "rows for routes the hub does not have: {stale:#?}");

    // Every row as every caller.
    let tokens = callers(&hub).await;
    let mut wrong = Vec::new();
    for (key, expected) in MATRIX {
        let (method, target, body) = split(key);
        let mut got = Vec::new();
        for token in &tokens {
            got.push(answer(call(&hub, method.clone(), target, &body, token.as_deref()).await).await);
        }
        let differs = got.iter().zip(expected).any(|(g, e)| g.0 != e.0 || g.1 != e.1);
        if differs {
            let cells: Vec<String> = got.iter().map(name_of).collect();
            let diff: Vec<String> = CALLERS
                .iter()
                .zip(got.iter().zip(expected))
                .filter(|(_, (g, e))| g.0 != e.0 || g.1 != e.1)
                .map(|(c, (g, e))| format!("{c}: got {} {}, expected {} {}", g.0, g.1, e.0, e.1))
                .collect();
            wrong.push(format!("(\"{key}\", [{}]),  // {}", cells.join(", "), diff.join("; ")));
        }
    }
    assert!(wrong.is_empty(), "answers that differ from the matrix (as rows):\n{}", wrong.join("\n"));
    println!(
        "route x role matrix: {} routes ({} rows) x {} callers = {} calls",
        routed.len(),
        MATRIX.len(),
        CALLERS.len(),
        MATRIX.len() * CALLERS.len()
    );
    hub.stop().await;
}

#[tokio::test]
async fn people_whose_roles_allow_no_change_get_no_user_admin() {
    let users: [(&str, &[Role]); 4] = [
        (DEV, &[Role::Developer]),
        (REV, &[Role::Reviewer]),
        (AUD, &[Role::Auditor]),
        ("both", &[Role::Reviewer, Role::Auditor]),
    ];
    let (hub, pats) = TestHub::start_with_pats(|_| {}, &users, &[AUD, REV, DEV]).await;
    let ask = json!({"requested_token_class": "user_admin"});
    // From a browser sign-in, at /auth/exchange and with the RFC 8693 grant.
    for user in [REV, AUD, "both"] {
        let access = session(&hub, user).await;
        let body = expect_error(
            post_exchange(&hub, &access, ask.clone()).await,
            StatusCode::FORBIDDEN,
            "user_admin_not_allowed",
        )
        .await;
        assert!(body.message.contains("developer"), "{}", body.message);
        let resp = token_request(
            &hub,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                ("subject_token", &access),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{user}");
        // The everyday class is still theirs.
        exchange_ok(&hub, &access, json!({"requested_token_class": "user_access"})).await;
    }
    // From a user PAT: refused for the auditor and the reviewer, issued to the developer.
    for pat in &pats[..2] {
        expect_error(post_exchange(&hub, pat, ask.clone()).await, StatusCode::FORBIDDEN, "user_admin_not_allowed")
            .await;
        exchange_ok(&hub, pat, json!({"requested_token_class": "user_access"})).await;
    }
    let dev = exchange_ok(&hub, &pats[2], ask.clone()).await;
    assert_eq!(dev.token_class, TokenClass::UserAdmin);
    // Each refusal is audited with its reason, in the summary rows written behind (each counts
    // its refusals).
    let admin = session(&hub, USER).await;
    let for_roles = |rows: &[keyway_api::auth::AuditEntry]| -> u64 {
        rows.iter().filter(|e| e.detail["reason"] == "roles").map(|e| e.detail["count"].as_u64().unwrap_or(1)).sum()
    };
    let rows = crate::audit::wait_for(&hub, &admin, "exchange.refused", |rows| for_roles(rows) >= 8).await;
    assert_eq!(for_roles(&rows), 3 * 2 + 2);
    assert!(rows.iter().all(|e| e.detail["reason"] != "roles" || e.outcome == "user_admin_not_allowed"));
    hub.stop().await;
}
