//! SCIM 2.0 provisioning over HTTP: users and groups, filters and pages, the effects of
//! `active: false`, group membership and `DELETE` on sign-ins, PATs and JWTs, and the SCIM
//! errors of bad requests, all on the real hub (both backends).

use keyway_api::Role;
use keyway_api::scim::{CreatedScimToken, ScimTokenView};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::credentials::{admin_jwt, exchange_ok, post_exchange, session, user_pat};
use crate::users::{audit_rows, call, ok, refresh_of};

pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A new SCIM token of `hub`, made by its admin over the API.
pub(crate) async fn scim_token(hub: &TestHub) -> String {
    let admin = admin_jwt(hub, USER).await;
    let made: CreatedScimToken = ok(
        call(hub, "POST", "/api/scim/tokens", &admin, Some(json!({"label": "test idp"}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(made.secret.starts_with("kwscim_"));
    made.secret
}

pub(crate) async fn scim(
    hub: &TestHub,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(method, hub.at(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.header("content-type", "application/scim+json").body(body.to_string());
    }
    req.send().await.unwrap()
}

/// The body of a SCIM answer with `status` (in the SCIM media type).
pub(crate) async fn scim_ok(resp: reqwest::Response, status: StatusCode) -> Value {
    let got = resp.status();
    let kind = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if status == StatusCode::NO_CONTENT {
        return Value::Null;
    }
    assert_eq!(kind.as_deref(), Some("application/scim+json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A SCIM error with `status` and `scim_type` (`None`: none); its detail.
pub(crate) async fn scim_err(resp: reqwest::Response, status: StatusCode, scim_type: Option<&str>) -> String {
    let body = scim_ok(resp, status).await;
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
    assert_eq!(body["status"], json!(status.as_u16().to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default().to_owned();
    assert!(!detail.is_empty(), "{body}");
    detail
}

pub(crate) async fn create_user(hub: &TestHub, token: &str, name: &str, external: &str) -> Value {
    let body = json!({
        "schemas": [USER_SCHEMA], "userName": name, "externalId": external,
        "name": {"givenName": "Given", "familyName": name}, "emails": [{"value": name, "primary": true}],
    });
    scim_ok(scim(hub, "POST", "/scim/v2/Users", token, Some(body)).await, StatusCode::CREATED).await
}

fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

async fn list(hub: &TestHub, token: &str, query: &str) -> Value {
    scim_ok(scim(hub, "GET", &format!("/scim/v2/Users?{query}"), token, None).await, StatusCode::OK).await
}

fn names(page: &Value) -> Vec<String> {
    page["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Gives a SCIM user a password, so the test can sign in as them without an IdP. The hub refuses
/// to set one for a user the IdP manages (`managed_externally`), so the test makes the user
/// local for the moment of the reset, in the database.
async fn give_password(hub: &TestHub, id: &str) {
    let admin = admin_jwt(hub, USER).await;
    let path = format!("/api/users/{id}/password");
    let refused = call(hub, "POST", &path, &admin, Some(json!({"password": PASSWORD}))).await;
    expect_error(refused, StatusCode::CONFLICT, "managed_externally").await;
    let local = format!("UPDATE users SET managed_by = NULL WHERE id = '{id}'");
    hub.execute_on_db(&local, &[&local]).await;
    let resp = call(hub, "POST", &path, &admin, Some(json!({"password": PASSWORD}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let scim = format!("UPDATE users SET managed_by = 'scim' WHERE id = '{id}'");
    hub.execute_on_db(&scim, &[&scim]).await;
}

#[tokio::test]
async fn users_are_created_read_filtered_paged_and_replaced() {
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let name = format!("user{i:02}@example.com");
        let made = create_user(&hub, &token, &name, &format!("ext-{i}")).await;
        assert_eq!(made["userName"], json!(name));
        assert_eq!(made["active"], json!(true));
        assert_eq!(made["displayName"], json!(format!("Given {name}")));
        assert_eq!(made["groups"], json!([]));
        assert!(made["meta"]["location"].as_str().unwrap().ends_with(made["id"].as_str().unwrap()));
        ids.push(made["id"].as_str().unwrap().to_owned());
    }
    // The local admin is not the IdP's: SCIM does not show it.
    let all = list(&hub, &token, "").await;
    assert_eq!(all["totalResults"], json!(12));
    assert!(!names(&all).contains(&USER.to_owned()));

    // Pages: 1-based startIndex, count, totalResults of the whole match.
    let page = list(&hub, &token, "startIndex=11&count=5").await;
    assert_eq!(
        (page["totalResults"].clone(), page["startIndex"].clone(), page["itemsPerPage"].clone()),
        (json!(12), json!(11), json!(2))
    );
    assert_eq!(names(&page), ["user10@example.com", "user11@example.com"]);
    assert_eq!(list(&hub, &token, "count=0").await["Resources"], json!([]));

    // Filters, pushed down to SQL.
    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "USER03@example.com""#, &["user03@example.com"]),
        (r#"externalId eq "ext-7""#, &["user07@example.com"]),
        (r#"userName sw "user1""#, &["user10@example.com", "user11@example.com"]),
        (
            r#"emails.value co "r05@" or displayName ew "r09@example.com""#,
            &["user05@example.com", "user09@example.com"],
        ),
        (r#"userName sw "user0" and not (userName co "0") "#, &[]),
        (r#"userName sw "user1" and (externalId eq "ext-10" or externalId eq "ext-3")"#, &["user10@example.com"]),
        (r#"emails[value ew "11@example.com"]"#, &["user11@example.com"]),
        (r#"externalId pr and active eq true and userName eq "user02@example.com""#, &["user02@example.com"]),
        (r#"meta.created gt "2000-01-01T00:00:00Z" and userName eq "user04@example.com""#, &["user04@example.com"]),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, &[]),
    ];
    for (filter, want) in cases {
        let page = list(&hub, &token, &format!("filter={}", enc(filter))).await;
        assert_eq!(names(&page), *want, "{filter}");
        assert_eq!(page["totalResults"], json!(want.len()), "{filter}");
    }

    // Read one; replace it whole (PUT): renamed, deactivated, email gone.
    let id = &ids[0];
    let one = scim_ok(scim(&hub, "GET", &format!("/scim/v2/Users/{id}"), &token, None).await, StatusCode::OK).await;
    assert_eq!(one["externalId"], json!("ext-0"));
    let put =
        json!({"schemas": [USER_SCHEMA], "userName": "renamed@example.com", "externalId": "ext-0", "active": false});
    let now =
        scim_ok(scim(&hub, "PUT", &format!("/scim/v2/Users/{id}"), &token, Some(put)).await, StatusCode::OK).await;
    assert_eq!((now["userName"].clone(), now["active"].clone()), (json!("renamed@example.com"), json!(false)));
    assert!(now.get("emails").is_none());
    let inactive = list(&hub, &token, &format!("filter={}", enc("active eq false"))).await;
    assert_eq!(names(&inactive), ["renamed@example.com"]);

    // Uniqueness: a taken userName (any case), a taken externalId.
    let detail = scim_err(
        scim(&hub, "POST", "/scim/v2/Users", &token, Some(json!({"userName": "USER05@example.com"}))).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    assert!(detail.contains("USER05@example.com"), "{detail}");
    scim_err(
        scim(
            &hub,
            "POST",
            "/scim/v2/Users",
            &token,
            Some(json!({"userName": "new@example.com", "externalId": "ext-5"})),
        )
        .await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    let rename = patch(json!([{"op": "replace", "path": "userName", "value": "user06@example.com"}]));
    scim_err(
        scim(&hub, "PATCH", &format!("/scim/v2/Users/{}", ids[1]), &token, Some(rename)).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    assert_eq!(list(&hub, &token, "").await["totalResults"], json!(12), "nothing was created");
    // Every change is audited with the SCIM token as the actor.
    let alice = session(&hub, USER).await;
    let rows = audit_rows(&hub, &alice, "user.create").await;
    assert_eq!(rows.len(), 12);
    assert!(
        rows.iter().all(|r| r.actor_kind == "scim_token" && r.actor_name.as_deref() == Some("test idp")),
        "{rows:?}"
    );
    assert_eq!(audit_rows(&hub, &alice, "user.disable").await.len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn group_membership_is_roles_at_once_and_a_jwt_with_a_removed_role_is_refused() {
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let ann = create_user(&hub, &token, "ann@example.com", "sub-ann").await;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let bob = create_user(&hub, &token, "bob@example.com", "sub-bob").await;
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": ann_id}, {"value": bob_id}]}]));
    let g = scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/developer", &token, Some(add)).await, StatusCode::OK).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": ann_id}]}]));
    scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/reviewer", &token, Some(add)).await, StatusCode::OK).await;
    let user =
        scim_ok(scim(&hub, "GET", &format!("/scim/v2/Users/{ann_id}"), &token, None).await, StatusCode::OK).await;
    let groups: Vec<&str> = user["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
    assert_eq!(groups, ["developer", "reviewer"]);

    // Ann signs in: her JWT carries both roles.
    give_password(&hub, &ann_id).await;
    let ann_jwt = session(&hub, "ann@example.com").await;
    let me: keyway_api::auth::Me = ok(call(&hub, "GET", "/api/me", &ann_jwt, None).await, StatusCode::OK).await;
    assert_eq!(me.roles, vec![Role::Developer, Role::Reviewer]);

    // Removed from developer (Okta's filter path): the JWT carrying it is refused at once.
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{ann_id}\"]")}]));
    let g = scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/developer", &token, Some(remove)).await, StatusCode::OK).await;
    assert_eq!(
        g["members"],
        json!([{"value": bob_id, "display": "bob@example.com", "$ref": format!("{}/scim/v2/Users/{bob_id}", hub.url), "type": "User"}])
    );
    expect_error(call(&hub, "GET", "/api/me", &ann_jwt, None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let again = session(&hub, "ann@example.com").await;
    let me: keyway_api::auth::Me = ok(call(&hub, "GET", "/api/me", &again, None).await, StatusCode::OK).await;
    assert_eq!(me.roles, vec![Role::Reviewer]);

    // Entra's shape of a removal; PUT sets the whole list; filters on groups.
    let remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": bob_id}]}]));
    let g = scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/developer", &token, Some(remove)).await, StatusCode::OK).await;
    assert_eq!(g["members"], json!([]));
    let put = json!({"displayName": "auditor", "members": [{"value": bob_id}]});
    scim_ok(scim(&hub, "PUT", "/scim/v2/Groups/auditor", &token, Some(put)).await, StatusCode::OK).await;
    let q = enc(&format!("members[value eq \"{bob_id}\"]"));
    let found =
        scim_ok(scim(&hub, "GET", &format!("/scim/v2/Groups?filter={q}"), &token, None).await, StatusCode::OK).await;
    let found: Vec<&str> = found["Resources"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(found, ["auditor"]);
    let q = enc(r#"displayName eq "Admin""#);
    let found = scim_ok(
        scim(&hub, "GET", &format!("/scim/v2/Groups?filter={q}&excludedAttributes=members"), &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((found["totalResults"].clone(), found["Resources"][0]["id"].clone()), (json!(1), json!("admin")));
    assert!(found["Resources"][0].get("members").is_none());

    // The groups are fixed.
    scim_err(
        scim(&hub, "POST", "/scim/v2/Groups", &token, Some(json!({"displayName": "admin"}))).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    scim_err(
        scim(&hub, "POST", "/scim/v2/Groups", &token, Some(json!({"displayName": "ops"}))).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    scim_err(
        scim(&hub, "DELETE", "/scim/v2/Groups/admin", &token, None).await,
        StatusCode::BAD_REQUEST,
        Some("mutability"),
    )
    .await;
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "root"}]));
    scim_err(
        scim(&hub, "PATCH", "/scim/v2/Groups/admin", &token, Some(rename)).await,
        StatusCode::BAD_REQUEST,
        Some("mutability"),
    )
    .await;
    scim_err(scim(&hub, "GET", "/scim/v2/Groups/ops", &token, None).await, StatusCode::NOT_FOUND, None).await;
    // A member that is not a user the IdP manages (the local admin): refused, nothing changed.
    let alice = session(&hub, USER).await;
    let alice_id = crate::users::user_named(&hub, &alice, USER).await.id;
    let provisioned = crate::users::user_named(&hub, &alice, "bob@example.com").await;
    assert_eq!((provisioned.id.as_str(), provisioned.managed_by.as_deref()), (bob_id.as_str(), Some("scim")));
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": bob_id}, {"value": alice_id}]}]));
    scim_err(
        scim(&hub, "PATCH", "/scim/v2/Groups/developer", &token, Some(add)).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    let g = scim_ok(scim(&hub, "GET", "/scim/v2/Groups/developer", &token, None).await, StatusCode::OK).await;
    assert_eq!(g["members"], json!([]));
    let rows = audit_rows(&hub, &alice, "group.remove").await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.actor_kind == "scim_token"));
    hub.stop().await;
}

#[tokio::test]
async fn deactivating_or_deleting_a_user_ends_their_sign_ins_and_credentials_at_once() {
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let made = create_user(&hub, &token, "carl@example.com", "sub-carl").await;
    let id = made["id"].as_str().unwrap().to_owned();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/developer", &token, Some(add)).await, StatusCode::OK).await;
    give_password(&hub, &id).await;
    let tokens =
        keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43311)), "carl@example.com", PASSWORD).await.unwrap();
    let carl_admin = admin_jwt(&hub, "carl@example.com").await;
    let pat = user_pat(&hub, &carl_admin).await;
    let from_pat = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;

    // active: false (Entra's string form): sign-ins, JWTs and the PAT stop at once.
    let off = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let u =
        scim_ok(scim(&hub, "PATCH", &format!("/scim/v2/Users/{id}"), &token, Some(off)).await, StatusCode::OK).await;
    assert_eq!(u["active"], json!(false));
    for jwt in [&tokens.access_token, &from_pat, &carl_admin] {
        expect_error(call(&hub, "GET", "/api/me", jwt, None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let exchange = post_exchange(&hub, &pat, json!({"requested_token_class": "user_access"})).await;
    expect_error(exchange, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    let refresh = tokens.refresh_token.clone().unwrap();
    expect_error(refresh_of(&hub, &refresh).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Active again: the PAT works again, the ended sign-in stays ended.
    let on = patch(json!([{"op": "replace", "value": {"active": true}}]));
    scim_ok(scim(&hub, "PATCH", &format!("/scim/v2/Users/{id}"), &token, Some(on)).await, StatusCode::OK).await;
    exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await;
    expect_error(refresh_of(&hub, &refresh).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // DELETE: the PAT is revoked, the user gone from SCIM, the externalId free again.
    scim_ok(scim(&hub, "DELETE", &format!("/scim/v2/Users/{id}"), &token, None).await, StatusCode::NO_CONTENT).await;
    let exchange = post_exchange(&hub, &pat, json!({"requested_token_class": "user_access"})).await;
    expect_error(exchange, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    scim_err(scim(&hub, "GET", &format!("/scim/v2/Users/{id}"), &token, None).await, StatusCode::NOT_FOUND, None).await;
    scim_err(scim(&hub, "DELETE", &format!("/scim/v2/Users/{id}"), &token, None).await, StatusCode::NOT_FOUND, None)
        .await;
    create_user(&hub, &token, "carl2@example.com", "sub-carl").await;
    let alice = session(&hub, USER).await;
    let gone = crate::users::user_named(&hub, &alice, "carl@example.com").await;
    assert!(gone.deleted_at.is_some() && gone.roles.is_empty());
    for action in ["user.disable", "user.enable", "user.delete"] {
        let rows = audit_rows(&hub, &alice, action).await;
        assert_eq!(rows.len(), 1, "{action}");
        assert_eq!(rows[0].actor_kind, "scim_token");
        assert_eq!(rows[0].target_id.as_deref(), Some(id.as_str()));
    }
    hub.stop().await;
}

#[tokio::test]
async fn removing_the_last_admin_is_refused_with_nothing_half_applied() {
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let dana = create_user(&hub, &token, "dana@example.com", "sub-dana").await["id"].as_str().unwrap().to_owned();
    let eve = create_user(&hub, &token, "eve@example.com", "sub-eve").await["id"].as_str().unwrap().to_owned();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": dana}, {"value": eve}]}]));
    scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/admin", &token, Some(add)).await, StatusCode::OK).await;
    let alice = session(&hub, USER).await;
    // The local admin steps down (outside SCIM): Dana and Eve are the admins.
    hub.execute_on_db(
        "DELETE FROM user_roles WHERE role = 'admin' AND user_id = (SELECT id FROM users WHERE username = 'alice')",
        &["DELETE FROM user_roles WHERE role = 'admin' AND user_id = (SELECT id FROM users WHERE username = 'alice')"],
    )
    .await;
    let admins = |g: &Value| -> Vec<String> {
        let mut m: Vec<String> =
            g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
        m.sort();
        m
    };
    let mut both = vec![dana.clone(), eve.clone()];
    both.sort();
    // Removing both in one PATCH: refused as a whole, neither removed.
    let out = patch(json!([
        {"op": "remove", "path": format!("members[value eq \"{dana}\"]")},
        {"op": "remove", "path": format!("members[value eq \"{eve}\"]")},
    ]));
    let detail =
        scim_err(scim(&hub, "PATCH", "/scim/v2/Groups/admin", &token, Some(out)).await, StatusCode::CONFLICT, None)
            .await;
    assert!(detail.contains("without an enabled admin"), "{detail}");
    let g = scim_ok(scim(&hub, "GET", "/scim/v2/Groups/admin", &token, None).await, StatusCode::OK).await;
    assert_eq!(admins(&g), both);
    assert!(audit_rows(&hub, &alice, "group.remove").await.is_empty(), "no audit row of a change not made");
    let put = json!({"displayName": "admin", "members": []});
    scim_err(scim(&hub, "PUT", "/scim/v2/Groups/admin", &token, Some(put)).await, StatusCode::CONFLICT, None).await;
    // Eve leaves: Dana is the last admin.
    let out = patch(json!([{"op": "remove", "path": format!("members[value eq \"{eve}\"]")}]));
    scim_ok(scim(&hub, "PATCH", "/scim/v2/Groups/admin", &token, Some(out)).await, StatusCode::OK).await;
    // Renaming and deactivating her in one PUT: refused whole, the name kept too.
    let put = json!({"userName": "dana2@example.com", "externalId": "sub-dana", "active": false});
    scim_err(scim(&hub, "PUT", &format!("/scim/v2/Users/{dana}"), &token, Some(put)).await, StatusCode::CONFLICT, None)
        .await;
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    scim_err(
        scim(&hub, "PATCH", &format!("/scim/v2/Users/{dana}"), &token, Some(off)).await,
        StatusCode::CONFLICT,
        None,
    )
    .await;
    scim_err(scim(&hub, "DELETE", &format!("/scim/v2/Users/{dana}"), &token, None).await, StatusCode::CONFLICT, None)
        .await;
    let u = scim_ok(scim(&hub, "GET", &format!("/scim/v2/Users/{dana}"), &token, None).await, StatusCode::OK).await;
    assert_eq!((u["userName"].clone(), u["active"].clone()), (json!("dana@example.com"), json!(true)));
    assert_eq!(u["groups"][0]["value"], json!("admin"));
    assert_eq!(audit_rows(&hub, &alice, "group.remove").await.len(), 1);
    assert!(audit_rows(&hub, &alice, "user.disable").await.is_empty());
    hub.stop().await;
}

#[tokio::test]
async fn bad_requests_get_scim_errors_and_only_this_hubs_live_tokens_pass() {
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let id = create_user(&hub, &token, "finn@example.com", "sub-finn").await["id"].as_str().unwrap().to_owned();
    for filter in [
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"nickName eq "a""#,
        r#"(userName eq "a""#,
        "active eq \"yes\"",
        "userName eq bob",
    ] {
        let resp = scim(&hub, "GET", &format!("/scim/v2/Users?filter={}", enc(filter)), &token, None).await;
        scim_err(resp, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    }
    let path = format!("/scim/v2/Users/{id}");
    let bad: &[(Value, &str)] = &[
        (json!({"Operations": [{"op": "add", "path": "displayName", "value": "x"}]}), "invalidSyntax"),
        (patch(json!([{"op": "jump", "path": "displayName", "value": "x"}])), "invalidSyntax"),
        (patch(json!([{"op": "replace", "path": "displayName"}])), "invalidSyntax"),
        (patch(json!([{"op": "replace", "path": "active", "value": 7}])), "invalidValue"),
        (patch(json!([{"op": "replace", "path": "userName", "value": "has space"}])), "invalidValue"),
        (patch(json!([{"op": "remove", "path": "userName"}])), "mutability"),
        (patch(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])), "invalidPath"),
        (patch(json!([{"op": "remove"}])), "noTarget"),
    ];
    for (body, scim_type) in bad {
        scim_err(
            scim(&hub, "PATCH", &path, &token, Some(body.clone())).await,
            StatusCode::BAD_REQUEST,
            Some(scim_type),
        )
        .await;
    }
    let raw = reqwest::Client::new().post(hub.at("/scim/v2/Users")).bearer_auth(&token);
    let resp = raw
        .try_clone()
        .unwrap()
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    scim_err(resp, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
    let resp = raw.header("content-type", "text/plain").body("{}").send().await.unwrap();
    scim_err(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
    // application/json is accepted too.
    let resp = reqwest::Client::new()
        .post(hub.at("/scim/v2/Users"))
        .bearer_auth(&token)
        .json(&json!({"userName": "gil"}))
        .send()
        .await
        .unwrap();
    scim_ok(resp, StatusCode::CREATED).await;
    let u = scim_ok(scim(&hub, "GET", &path, &token, None).await, StatusCode::OK).await;
    assert_eq!(
        (u["userName"].clone(), u["active"].clone()),
        (json!("finn@example.com"), json!(true)),
        "nothing changed"
    );

    // No token, a JWT, a made-up token, another hub's token, a revoked one: 401.
    let other = TestHub::start().await;
    let foreign = scim_token(&other).await;
    let jwt = session(&hub, USER).await;
    let fake = format!("kwscim_{}", "a".repeat(43));
    for bearer in ["", jwt.as_str(), fake.as_str(), foreign.as_str()] {
        scim_err(scim(&hub, "GET", "/scim/v2/Users", bearer, None).await, StatusCode::UNAUTHORIZED, None).await;
    }
    other.stop().await;
    let admin = admin_jwt(&hub, USER).await;
    let listed: Vec<ScimTokenView> =
        ok(call(&hub, "GET", "/api/scim/tokens", &admin, None).await, StatusCode::OK).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label, "test idp");
    let revoked: ScimTokenView =
        ok(call(&hub, "DELETE", &format!("/api/scim/tokens/{}", listed[0].id), &admin, None).await, StatusCode::OK)
            .await;
    assert!(revoked.revoked_at.is_some());
    scim_err(scim(&hub, "GET", "/scim/v2/Users", &token, None).await, StatusCode::UNAUTHORIZED, None).await;
    expect_error(
        call(&hub, "DELETE", "/api/scim/tokens/nope", &admin, None).await,
        StatusCode::NOT_FOUND,
        "unknown_scim_token",
    )
    .await;
    let long = json!({"label": "x".repeat(65)});
    expect_error(
        call(&hub, "POST", "/api/scim/tokens", &admin, Some(long)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let alice = session(&hub, USER).await;
    assert_eq!(audit_rows(&hub, &alice, "scim_token.revoke").await.len(), 1);
    hub.stop().await;
}
