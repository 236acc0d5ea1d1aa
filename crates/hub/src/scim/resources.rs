//! The SCIM User and Group resources (RFC 7643 §4): Keyway's users as SCIM Users, and its four
//! roles as Groups whose ids are the role names. What the IdP sends is read into a
//! [`UserInput`]; attributes Keyway does not keep are ignored, as RFC 7644 §3.3 allows.

use keyway_api::Role;
use serde_json::{Value, json};

use super::error::ScimError;
use super::time;
use crate::state::AppState;
use crate::store::{ScimUserRecord, Store};

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The base of every SCIM location.
pub(crate) fn base<S: Store>(state: &AppState<S>) -> String {
    state.endpoint("/scim/v2")
}

/// A user as SCIM shows it.
pub(crate) fn user_json(base: &str, u: &ScimUserRecord) -> Value {
    let location = format!("{base}/Users/{}", u.user.id);
    let mut out = json!({
        "schemas": [USER_SCHEMA],
        "id": u.user.id,
        "userName": u.user.username,
        "active": !u.user.disabled,
        "groups": u.user.roles.iter().map(|r| json!({
            "value": r.as_str(), "display": r.as_str(), "$ref": format!("{base}/Groups/{}", r.as_str()), "type": "direct",
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": time::format(u.user.created_at),
            "lastModified": time::format(u.modified_at.unwrap_or(u.user.created_at)),
            "location": location,
        },
    });
    if let Some(x) = &u.external_id {
        out["externalId"] = json!(x);
    }
    if let Some(d) = &u.display_name {
        out["displayName"] = json!(d);
    }
    if let Some(e) = &u.email {
        out["emails"] = json!([{ "value": e }]);
    }
    out
}

/// The top-level attribute a listed name is about: `emails.value` and
/// `urn:ietf:params:scim:schemas:core:2.0:User:userName` are `emails` and `username`.
fn top_level(name: &str) -> String {
    let name = name.trim();
    let name = if name.to_ascii_lowercase().starts_with("urn:") { name.rsplit(':').next().unwrap_or("") } else { name };
    name.split('.').next().unwrap_or("").to_ascii_lowercase()
}

/// A resource with only the `attributes` asked for, or without the `excludedAttributes`
/// (RFC 7644 §3.9); `schemas` and `id` are always returned.
pub(crate) fn project(mut v: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let list = |s: &str| s.split(',').map(top_level).filter(|a| !a.is_empty()).collect::<Vec<_>>();
    if let Some(obj) = v.as_object_mut() {
        let always = |k: &str| k == "schemas" || k == "id";
        if let Some(keep) = attributes.map(list).filter(|l| !l.is_empty()) {
            obj.retain(|k, _| always(k) || keep.contains(&k.to_ascii_lowercase()));
        } else if let Some(drop) = excluded.map(list) {
            obj.retain(|k, _| always(k) || !drop.contains(&k.to_ascii_lowercase()));
        }
    }
    v
}

/// A group (role) as SCIM shows it; `members` (id, username), or none when excluded.
pub(crate) fn group_json(base: &str, role: Role, members: Option<&[(String, String)]>) -> Value {
    let mut out = json!({
        "schemas": [GROUP_SCHEMA],
        "id": role.as_str(),
        "displayName": role.as_str(),
        "meta": { "resourceType": "Group", "location": format!("{base}/Groups/{}", role.as_str()) },
    });
    if let Some(members) = members {
        out["members"] = members
            .iter()
            .map(|(id, name)| json!({ "value": id, "display": name, "$ref": format!("{base}/Users/{id}"), "type": "User" }))
            .collect();
    }
    out
}

/// What a User body says, in the terms Keyway keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserInput {
    pub(crate) user_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) active: bool,
}

impl UserInput {
    pub(crate) fn of(u: &ScimUserRecord) -> UserInput {
        UserInput {
            user_name: u.user.username.clone(),
            external_id: u.external_id.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            active: !u.user.disabled,
        }
    }
}

/// Longest text attribute Keyway keeps.
const MAX_TEXT: usize = 256;

pub(crate) fn text(v: &Value, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_TEXT => {
            Err(ScimError::invalid_value(format!("'{what}' is longer than {MAX_TEXT} characters")))
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_owned())),
        _ => Err(ScimError::invalid_value(format!("'{what}' must be a string"))),
    }
}

pub(crate) fn boolean(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        // Some IdPs send "True"/"False" (Entra ID's PATCH).
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!("'{what}' must be true or false"))),
    }
}

/// The primary email of an `emails` value (else the first), if any.
pub(crate) fn primary_email(v: &Value) -> Result<Option<String>, ScimError> {
    let list = match v {
        Value::Null => return Ok(None),
        Value::Array(list) => list.as_slice(),
        _ => return Err(ScimError::invalid_value("'emails' must be a list of {\"value\": …}")),
    };
    let pick = list.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or_else(|| list.first());
    match pick {
        None => Ok(None),
        Some(e) if e.is_object() => text(e.get("value").unwrap_or(&Value::Null), "emails.value"),
        Some(_) => Err(ScimError::invalid_value("each email must be an object with a 'value'")),
    }
}

/// A display name from `name` when there is no `displayName`.
fn name_display(name: &Value) -> Result<Option<String>, ScimError> {
    if let Some(f) = text(name.get("formatted").unwrap_or(&Value::Null), "name.formatted")? {
        return Ok(Some(f));
    }
    let given = text(name.get("givenName").unwrap_or(&Value::Null), "name.givenName")?;
    let family = text(name.get("familyName").unwrap_or(&Value::Null), "name.familyName")?;
    let joined: Vec<String> = given.into_iter().chain(family).collect();
    Ok((!joined.is_empty()).then(|| joined.join(" ")))
}

/// A whole User body (POST, PUT).
pub(crate) fn user_input(body: &Value) -> Result<UserInput, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The body must be a JSON object"))?;
    let field = |name: &str| -> &Value {
        obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).unwrap_or(&Value::Null)
    };
    let user_name =
        text(field("userName"), "userName")?.ok_or_else(|| ScimError::invalid_value("'userName' is required"))?;
    let display_name = match text(field("displayName"), "displayName")? {
        Some(d) => Some(d),
        None if field("name").is_object() => name_display(field("name"))?,
        None => None,
    };
    let active = match field("active") {
        Value::Null => true,
        v => boolean(v, "active")?,
    };
    Ok(UserInput {
        user_name,
        external_id: text(field("externalId"), "externalId")?,
        display_name,
        email: primary_email(field("emails"))?,
        active,
    })
}

/// The role a Group id names, or `404`.
pub(crate) fn role_of(id: &str) -> Result<Role, ScimError> {
    Role::parse(id).ok_or_else(|| {
        let shown: String = id.chars().take(32).collect();
        ScimError::not_found(format!(
            "No group '{shown}': Keyway's groups are its roles, developer, reviewer, auditor and admin"
        ))
    })
}
