//! SCIM PATCH (RFC 7644 §3.5.2): the operations of a `PatchOp` body, applied to what Keyway
//! keeps of a user ([`patch_user`]) or to a group's member ids ([`patch_members`]). Nothing is
//! written here: the routes turn the result into one change. Operation names are read in any
//! case (`Replace`, as Entra ID sends them); `True`/`False` strings pass for booleans.

use serde_json::Value;

use super::error::ScimError;
use super::filter::{self, Filter};
use super::resources::{PATCH_SCHEMA, UserInput, boolean, primary_email, text};
use crate::store::scim::CmpOp;

/// Most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Remove,
    Replace,
}

/// One operation: its kind, parsed path and value.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub(crate) op: Op,
    pub(crate) path: Option<Path>,
    pub(crate) value: Value,
}

/// `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`, lower-cased, without a schema URN.
#[derive(Clone, Debug)]
pub(crate) struct Path {
    pub(crate) attr: String,
    pub(crate) filter: Option<Filter>,
    pub(crate) sub: Option<String>,
}

fn parse_path(raw: &str) -> Result<Path, ScimError> {
    let invalid =
        || ScimError::invalid_path(format!("'{}' is not a valid path", raw.chars().take(60).collect::<String>()));
    let raw = raw.trim();
    let (head, filter, tail) = match raw.find('[') {
        Some(open) => {
            let close = raw.rfind(']').filter(|&c| c > open).ok_or_else(invalid)?;
            let inner = filter::parse(&raw[open + 1..close]).map_err(|e| ScimError::invalid_path(e.detail))?;
            (&raw[..open], Some(inner), &raw[close + 1..])
        }
        None => (raw, None, ""),
    };
    // A schema URN prefix: the attribute is what follows its last ':'.
    let head = if head.to_ascii_lowercase().starts_with("urn:") { head.rsplit(':').next().unwrap_or("") } else { head };
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
    let (attr, mut sub) = match head.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (head, None),
    };
    if let Some(t) = tail.strip_prefix('.') {
        if sub.is_some() {
            return Err(invalid());
        }
        sub = Some(t);
    } else if !tail.is_empty() {
        return Err(invalid());
    }
    if !ok(attr) || sub.is_some_and(|s| !ok(s)) {
        return Err(invalid());
    }
    Ok(Path { attr: attr.to_ascii_lowercase(), filter, sub: sub.map(str::to_ascii_lowercase) })
}

/// The operations of a PatchOp body.
pub(crate) fn operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The body must be a JSON object"))?;
    let schemas_ok = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_SCHEMA)));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!("A PATCH body's 'schemas' must hold {PATCH_SCHEMA}")));
    }
    let list = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("A PATCH body needs an 'Operations' list"))?;
    if list.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' is empty"));
    }
    if list.len() > MAX_OPERATIONS {
        return Err(ScimError::bad("tooMany", format!("At most {MAX_OPERATIONS} operations in one PATCH")));
    }
    list.iter()
        .map(|o| {
            let field = |name: &str| o.as_object().and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
            let op = match field("op").and_then(|(_, v)| v.as_str()).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("remove") => Op::Remove,
                Some("replace") => Op::Replace,
                _ => return Err(ScimError::invalid_syntax("Each operation's 'op' is add, remove or replace")),
            };
            let path = match field("path").map(|(_, v)| v) {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(parse_path(p)?),
                Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
            };
            let value = field("value").map(|(_, v)| v.clone()).unwrap_or(Value::Null);
            if op != Op::Remove && value.is_null() {
                return Err(ScimError::invalid_syntax("An add or replace operation needs a 'value'"));
            }
            if op == Op::Remove && path.is_none() {
                return Err(ScimError::bad("noTarget", "A remove operation needs a 'path'"));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Sets one user attribute (`None`: remove it).
fn set_user_attr(u: &mut UserInput, attr: &str, sub: Option<&str>, value: Option<&Value>) -> Result<(), ScimError> {
    let null = Value::Null;
    let v = value.unwrap_or(&null);
    match (attr, sub) {
        ("username", None) => {
            u.user_name = text(v, "userName")?.ok_or_else(|| ScimError::mutability("'userName' cannot be removed"))?
        }
        ("externalid", None) => u.external_id = text(v, "externalId")?,
        ("displayname", None) | ("name", Some("formatted")) => u.display_name = text(v, "displayName")?,
        ("active", None) if value.is_none() => return Err(ScimError::mutability("'active' cannot be removed")),
        ("active", None) => u.active = boolean(v, "active")?,
        ("emails", None) if v.is_object() => u.email = primary_email(&Value::Array(vec![v.clone()]))?,
        ("emails", None) => u.email = primary_email(v)?,
        ("emails", Some("value")) => u.email = text(v, "emails.value")?,
        ("id" | "meta" | "groups", _) => {
            return Err(ScimError::mutability(format!("'{attr}' is read-only")));
        }
        // Attributes of the User schema Keyway does not keep (name parts, title, addresses…).
        _ => {}
    }
    Ok(())
}

/// The user after the operations.
pub(crate) fn patch_user(mut u: UserInput, ops: &[Operation]) -> Result<UserInput, ScimError> {
    for o in ops {
        match (&o.path, o.op) {
            (None, _) => {
                let obj = o.value.as_object().ok_or_else(|| {
                    ScimError::invalid_value("Without a 'path', the value must be an object of attributes")
                })?;
                for (k, v) in obj {
                    let key = k.to_ascii_lowercase();
                    let key =
                        if key.starts_with("urn:") { key.rsplit(':').next().unwrap_or("").to_owned() } else { key };
                    if key == "schemas" {
                        continue;
                    }
                    match key.split_once('.') {
                        Some((a, s)) => set_user_attr(&mut u, a, Some(s), Some(v))?,
                        None => set_user_attr(&mut u, &key, None, Some(v))?,
                    }
                }
            }
            (Some(p), op) => {
                let value = (op != Op::Remove).then_some(&o.value);
                set_user_attr(&mut u, &p.attr, p.sub.as_deref(), value)?;
            }
        }
    }
    Ok(u)
}

/// The member ids of a `members` value (`[{"value": id}, …]`, or one such object).
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let list = match v {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => return Err(ScimError::invalid_value("'members' must be a list of {\"value\": user id}")),
    };
    list.iter()
        .map(|m| match m.get("value") {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            _ => Err(ScimError::invalid_value("Each member needs a 'value', the user's id")),
        })
        .collect()
}

/// The ids a `members[…]` filter names (`value eq "id"`, joined by `or`).
fn filtered_ids(f: &Filter) -> Result<Vec<String>, ScimError> {
    match f {
        Filter::Cmp(p, CmpOp::Eq, Value::String(id)) if p == "value" => Ok(vec![id.clone()]),
        Filter::Or(a, b) => Ok([filtered_ids(a)?, filtered_ids(b)?].concat()),
        _ => Err(ScimError::invalid_path("A members filter is 'members[value eq \"<user id>\"]'")),
    }
}

/// What a Group PATCH asks: the members after the operations, starting from `members`, and
/// every id it names (to check they are users SCIM manages). A `displayName` other than the
/// group's own is refused: the groups are fixed.
pub(crate) fn patch_members(
    group: &str,
    mut members: Vec<String>,
    ops: &[Operation],
) -> Result<(Vec<String>, Vec<String>), ScimError> {
    let mut named = Vec::new();
    let check_name = |v: &Value| -> Result<(), ScimError> {
        match v {
            Value::String(s) if s.eq_ignore_ascii_case(group) => Ok(()),
            _ => Err(ScimError::mutability(format!("Keyway's groups are its roles: '{group}' cannot be renamed"))),
        }
    };
    for o in ops {
        let (attr, filter, value) = match &o.path {
            Some(p) => (p.attr.as_str(), p.filter.as_ref(), o.value.clone()),
            None => {
                let obj = o
                    .value
                    .as_object()
                    .ok_or_else(|| ScimError::invalid_value("Without a 'path', the value must be an object"))?;
                for (k, v) in obj {
                    match k.to_ascii_lowercase().as_str() {
                        "displayname" => check_name(v)?,
                        "members" => {
                            let ids = member_ids(v)?;
                            named.extend(ids.iter().cloned());
                            if o.op == Op::Replace {
                                members.clear();
                            }
                            for id in ids {
                                if !members.contains(&id) {
                                    members.push(id);
                                }
                            }
                        }
                        "schemas" | "id" | "externalid" => {}
                        other => return Err(ScimError::invalid_path(format!("Groups have no attribute '{other}'"))),
                    }
                }
                continue;
            }
        };
        match (attr, o.op) {
            ("displayname", Op::Remove) => return Err(ScimError::mutability("'displayName' cannot be removed")),
            ("displayname", _) => check_name(&value)?,
            ("members", Op::Remove) => {
                let gone = match (filter, &value) {
                    (Some(f), _) => filtered_ids(f)?,
                    (None, Value::Null) => std::mem::take(&mut members),
                    (None, v) => member_ids(v)?,
                };
                members.retain(|m| !gone.contains(m));
            }
            ("members", op) => {
                if filter.is_some() {
                    return Err(ScimError::invalid_path("Members are added with path 'members' and a list of values"));
                }
                let ids = member_ids(&value)?;
                named.extend(ids.iter().cloned());
                if op == Op::Replace {
                    members.clear();
                }
                for id in ids {
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            (other, _) => return Err(ScimError::invalid_path(format!("Groups have no attribute '{other}'"))),
        }
    }
    Ok((members, named))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(list: Value) -> Vec<Operation> {
        operations(&json!({ "schemas": [PATCH_SCHEMA], "Operations": list })).unwrap()
    }

    #[test]
    fn user_patches_in_the_shapes_idps_send() {
        let u = UserInput {
            user_name: "a@example.com".into(),
            external_id: Some("x1".into()),
            display_name: None,
            email: None,
            active: true,
        };
        let out = patch_user(
            u.clone(),
            &ops(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "replace", "value": {"displayName": "Ann", "emails": [{"value": "a@example.com", "primary": true}]}},
                {"op": "remove", "path": "externalId"},
                {"op": "add", "path": "name.givenName", "value": "Ann"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            ])),
        )
        .unwrap();
        assert!(!out.active);
        assert_eq!(out.display_name.as_deref(), Some("Ann"));
        assert_eq!(out.external_id, None);
        assert_eq!(out.email.as_deref(), Some("b@example.com"));
        let e = patch_user(u.clone(), &ops(json!([{"op": "remove", "path": "userName"}]))).unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
        let e = patch_user(u, &ops(json!([{"op": "replace", "path": "active", "value": 3}]))).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
    }

    #[test]
    fn bad_patch_bodies() {
        let bad = |body: Value| operations(&body).unwrap_err().scim_type;
        assert_eq!(bad(json!({"Operations": []})), Some("invalidSyntax"));
        assert_eq!(bad(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "move"}]})), Some("invalidSyntax"));
        assert_eq!(
            bad(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members[", "value": 1}]})),
            Some("invalidPath")
        );
        assert_eq!(bad(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove"}]})), Some("noTarget"));
    }

    #[test]
    fn member_patches() {
        let start = vec!["u1".to_owned(), "u2".to_owned()];
        let (m, named) = patch_members(
            "admin",
            start.clone(),
            &ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "u3"}]},
                {"op": "remove", "path": "members[value eq \"u1\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}]},
            ])),
        )
        .unwrap();
        assert_eq!((m, named), (vec!["u3".to_owned()], vec!["u3".to_owned()]));
        let (m, _) = patch_members("admin", start.clone(), &ops(json!([{"op": "remove", "path": "members"}]))).unwrap();
        assert!(m.is_empty());
        let e = patch_members("admin", start, &ops(json!([{"op": "replace", "path": "displayName", "value": "root"}])))
            .unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
    }
}
