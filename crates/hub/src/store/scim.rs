//! SCIM provisioning: the bearer tokens an IdP provisions with, and the users SCIM sees (those
//! an IdP manages, `managed_by` set), listed by a filter the store turns into SQL so a page of
//! 10,000 users is one indexed query and one count.
//!
//! The filter here is already parsed and typed ([`UserFilterExpr`]); the SCIM syntax is parsed
//! in `crate::scim::filter`. Both backends share [`where_sql`], which differs only in how a
//! parameter is written (`?N` or `$N`).

use std::future::Future;

use super::error::StoreError;
use super::users::UserRecord;
use crate::secret::TokenHash;

/// A SCIM bearer token (only its SHA-256 is stored).
#[derive(Clone, Debug)]
pub struct ScimTokenRecord {
    pub id: String,
    pub token_hash: TokenHash,
    pub label: String,
    /// The admin who made it (`None`: `keyway-hub scim token create` on the database).
    pub created_by: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A user as SCIM sees it: the account and what the IdP told about it.
#[derive(Clone, Debug)]
pub struct ScimUserRecord {
    pub user: UserRecord,
    /// `sso` or `scim`.
    pub managed_by: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// When SCIM last changed the user (`None`: never since its creation).
    pub modified_at: Option<i64>,
}

/// A user attribute a filter may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAttr {
    Id,
    UserName,
    ExternalId,
    DisplayName,
    Email,
    Active,
    Created,
    LastModified,
}

/// A comparison operator of a SCIM filter (RFC 7644 §3.4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A typed comparison value.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    Text(String),
    Bool(bool),
    /// Seconds since the epoch (a dateTime).
    Time(i64),
    Null,
}

/// A filter over users, as the store evaluates it.
#[derive(Clone, Debug, PartialEq)]
pub enum UserFilterExpr {
    Cmp(UserAttr, CmpOp, FilterValue),
    Present(UserAttr),
    And(Box<UserFilterExpr>, Box<UserFilterExpr>),
    Or(Box<UserFilterExpr>, Box<UserFilterExpr>),
    Not(Box<UserFilterExpr>),
}

/// One page of a SCIM user list.
#[derive(Clone, Debug, Default)]
pub struct ScimUserQuery {
    pub filter: Option<UserFilterExpr>,
    /// Rows to skip (SCIM's `startIndex - 1`).
    pub offset: u64,
    pub limit: u32,
}

/// A bound parameter of [`where_sql`].
#[derive(Clone, Debug, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// The column (or expression) of an attribute, and whether it compares case-insensitively.
fn column(attr: UserAttr) -> (&'static str, bool) {
    match attr {
        UserAttr::Id => ("id", false),
        UserAttr::UserName => ("username", true),
        UserAttr::ExternalId => ("external_id", false),
        UserAttr::DisplayName => ("display_name", true),
        UserAttr::Email => ("email", true),
        UserAttr::Active => ("disabled", false),
        UserAttr::Created => ("created_at", false),
        UserAttr::LastModified => ("COALESCE(modified_at, created_at)", false),
    }
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SQL condition of `expr` over the `users` table, its parameters appended to `params`;
/// `placeholder(n)` writes the n-th parameter (1-based). A comparison that cannot hold (text
/// against a boolean attribute, say) is `1 = 0`, as RFC 7644 has it match nothing.
pub fn where_sql(expr: &UserFilterExpr, params: &mut Vec<SqlParam>, placeholder: &dyn Fn(usize) -> String) -> String {
    let bind = |p: SqlParam, params: &mut Vec<SqlParam>| {
        params.push(p);
        placeholder(params.len())
    };
    match expr {
        UserFilterExpr::And(a, b) => {
            format!("({} AND {})", where_sql(a, params, placeholder), where_sql(b, params, placeholder))
        }
        UserFilterExpr::Or(a, b) => {
            format!("({} OR {})", where_sql(a, params, placeholder), where_sql(b, params, placeholder))
        }
        UserFilterExpr::Not(a) => format!("(NOT COALESCE({}, 0 = 1))", where_sql(a, params, placeholder)),
        UserFilterExpr::Present(UserAttr::Active | UserAttr::Id | UserAttr::UserName | UserAttr::Created)
        | UserFilterExpr::Present(UserAttr::LastModified) => "(1 = 1)".to_owned(),
        UserFilterExpr::Present(attr) => {
            let (col, _) = column(*attr);
            format!("({col} IS NOT NULL AND {col} <> '')")
        }
        UserFilterExpr::Cmp(UserAttr::Active, op, value) => match (op, value) {
            (CmpOp::Eq, FilterValue::Bool(b)) => format!("(disabled = {})", bind(SqlParam::Bool(!b), params)),
            (CmpOp::Ne, FilterValue::Bool(b)) => format!("(disabled = {})", bind(SqlParam::Bool(*b), params)),
            _ => "(1 = 0)".to_owned(),
        },
        UserFilterExpr::Cmp(attr @ (UserAttr::Created | UserAttr::LastModified), op, value) => {
            let (col, _) = column(*attr);
            let FilterValue::Time(t) = value else { return "(1 = 0)".to_owned() };
            let sign = match op {
                CmpOp::Eq => "=",
                CmpOp::Ne => "<>",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Co | CmpOp::Sw | CmpOp::Ew => return "(1 = 0)".to_owned(),
            };
            format!("({col} {sign} {})", bind(SqlParam::Int(*t), params))
        }
        UserFilterExpr::Cmp(attr, op, value) => {
            let (col, folded) = column(*attr);
            let text = match value {
                FilterValue::Text(t) => t.clone(),
                FilterValue::Null if *op == CmpOp::Eq => return format!("({col} IS NULL)"),
                FilterValue::Null if *op == CmpOp::Ne => return format!("({col} IS NOT NULL)"),
                _ => return "(1 = 0)".to_owned(),
            };
            let (lhs, text) =
                if folded { (format!("lower({col})"), text.to_ascii_lowercase()) } else { (col.to_owned(), text) };
            let like = |pattern: String, params: &mut Vec<SqlParam>| {
                format!("({lhs} LIKE {} ESCAPE '\\')", bind(SqlParam::Text(pattern), params))
            };
            match op {
                CmpOp::Eq => format!("({lhs} = {})", bind(SqlParam::Text(text), params)),
                CmpOp::Ne => format!("({lhs} IS NULL OR {lhs} <> {})", bind(SqlParam::Text(text), params)),
                CmpOp::Co => like(format!("%{}%", like_escape(&text)), params),
                CmpOp::Sw => like(format!("{}%", like_escape(&text)), params),
                CmpOp::Ew => like(format!("%{}", like_escape(&text)), params),
                CmpOp::Gt => format!("({lhs} > {})", bind(SqlParam::Text(text), params)),
                CmpOp::Ge => format!("({lhs} >= {})", bind(SqlParam::Text(text), params)),
                CmpOp::Lt => format!("({lhs} < {})", bind(SqlParam::Text(text), params)),
                CmpOp::Le => format!("({lhs} <= {})", bind(SqlParam::Text(text), params)),
            }
        }
    }
}

/// The users SCIM sees: managed by the IdP and not deleted.
pub const SCIM_USERS_WHERE: &str = "managed_by IS NOT NULL AND deleted_at IS NULL";

/// Storage of SCIM tokens and SCIM's view of users.
pub trait ScimStore: Send + Sync {
    /// The token with this hash, revoked or not.
    fn scim_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<ScimTokenRecord>, StoreError>> + Send;
    /// Every token, newest first.
    fn scim_tokens(&self) -> impl Future<Output = Result<Vec<ScimTokenRecord>, StoreError>> + Send;
    /// A user SCIM sees (managed by the IdP, not deleted).
    fn scim_user(&self, id: &str) -> impl Future<Output = Result<Option<ScimUserRecord>, StoreError>> + Send;
    /// The users SCIM sees that match, ordered by name (any case), a page at a time, and how many match
    /// in all.
    fn scim_users(
        &self,
        query: &ScimUserQuery,
    ) -> impl Future<Output = Result<(u64, Vec<ScimUserRecord>), StoreError>> + Send;
    /// The ids of the users SCIM sees that hold `role` (group members), at most `limit`.
    fn scim_role_members(
        &self,
        role: keyway_api::Role,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_sql_with_bound_values() {
        let f = UserFilterExpr::And(
            Box::new(UserFilterExpr::Cmp(UserAttr::UserName, CmpOp::Sw, FilterValue::Text("Al%".into()))),
            Box::new(UserFilterExpr::Not(Box::new(UserFilterExpr::Cmp(
                UserAttr::Active,
                CmpOp::Eq,
                FilterValue::Bool(false),
            )))),
        );
        let mut params = Vec::new();
        let sql = where_sql(&f, &mut params, &|n| format!("?{n}"));
        assert_eq!(sql, "((lower(username) LIKE ?1 ESCAPE '\\') AND (NOT COALESCE((disabled = ?2), 0 = 1)))");
        assert_eq!(params, vec![SqlParam::Text("al\\%%".into()), SqlParam::Bool(true)]);
        let mut params = Vec::new();
        let never = UserFilterExpr::Cmp(UserAttr::Active, CmpOp::Co, FilterValue::Text("x".into()));
        assert_eq!(where_sql(&never, &mut params, &|n| format!("${n}")), "(1 = 0)");
        assert!(params.is_empty());
    }
}
