//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a [`Filter`] over attribute paths, then typed
//! for users ([`user_filter`], which the store turns into SQL) or evaluated over Keyway's four
//! groups ([`group_matches`]). Operators `eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not`,
//! parentheses and value paths (`emails[value co "@example.com"]`). A filter over 4 KiB or
//! nested deeper than 32 is refused, like any other bad filter, with `invalidFilter`.

use serde_json::Value;

use super::error::ScimError;
use crate::store::scim::{CmpOp, FilterValue, UserAttr, UserFilterExpr};

const MAX_FILTER_BYTES: usize = 4096;
const MAX_DEPTH: usize = 32;

/// A parsed filter; attribute paths are lower-cased, without a schema URN prefix.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    Cmp(String, CmpOp, Value),
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

fn bad(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_filter(detail.into())
}

fn tokens(s: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its end (a quote not escaped), then let serde decode it.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (j, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| bad("A string in the filter is not closed"))?;
                let text: String = serde_json::from_str(&s[i..=end])
                    .map_err(|_| bad("A string in the filter is not a valid JSON string"))?;
                out.push(Token::Str(text));
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word(s[start..end].to_owned()));
            }
        }
    }
    Ok(out)
}

fn attr_path(word: &str) -> Result<String, ScimError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '$');
    if word.is_empty() || !word.chars().all(ok) || !word.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(bad(format!("'{}' is not an attribute path", shown(word))));
    }
    let lower = word.to_ascii_lowercase();
    // `urn:ietf:params:scim:schemas:core:2.0:User:userName` is `username`.
    Ok(match lower.strip_prefix("urn:") {
        Some(_) => lower.rsplit(':').next().unwrap_or_default().to_owned(),
        None => lower,
    })
}

fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

fn op_of(word: &str) -> Option<CmpOp> {
    Some(match word.to_ascii_lowercase().as_str() {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "co" => CmpOp::Co,
        "sw" => CmpOp::Sw,
        "ew" => CmpOp::Ew,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        _ => return None,
    })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn deeper(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(bad(format!("The filter is nested deeper than {MAX_DEPTH}"))) } else { Ok(()) }
    }

    /// `or` binds loosest, then `and`, then `not`.
    fn or(&mut self, prefix: Option<&str>) -> Result<Filter, ScimError> {
        let mut left = self.and(prefix)?;
        while self.keyword("or") {
            self.next();
            left = Filter::Or(Box::new(left), Box::new(self.and(prefix)?));
        }
        Ok(left)
    }

    fn and(&mut self, prefix: Option<&str>) -> Result<Filter, ScimError> {
        let mut left = self.unary(prefix)?;
        while self.keyword("and") {
            self.next();
            left = Filter::And(Box::new(left), Box::new(self.unary(prefix)?));
        }
        Ok(left)
    }

    fn unary(&mut self, prefix: Option<&str>) -> Result<Filter, ScimError> {
        self.deeper()?;
        let out = if self.keyword("not") {
            self.next();
            if self.peek() != Some(&Token::Open) {
                return Err(bad("'not' must be followed by a filter in parentheses"));
            }
            Filter::Not(Box::new(self.unary(prefix)?))
        } else if self.peek() == Some(&Token::Open) {
            self.next();
            let inner = self.or(prefix)?;
            if self.next() != Some(Token::Close) {
                return Err(bad("A '(' in the filter is not closed"));
            }
            inner
        } else {
            self.comparison(prefix)?
        };
        self.depth -= 1;
        Ok(out)
    }

    fn comparison(&mut self, prefix: Option<&str>) -> Result<Filter, ScimError> {
        let path = match self.next() {
            Some(Token::Word(w)) => attr_path(&w)?,
            Some(_) => return Err(bad("Expected an attribute path in the filter")),
            None => return Err(bad("The filter ends where a comparison was expected")),
        };
        let path = match prefix {
            Some(p) => format!("{p}.{path}"),
            None => path,
        };
        if self.peek() == Some(&Token::OpenBracket) {
            if prefix.is_some() {
                return Err(bad("Value paths cannot be nested"));
            }
            self.next();
            let inner = self.or(Some(&path))?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(bad("A '[' in the filter is not closed"));
            }
            return Ok(inner);
        }
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
            Some(Token::Word(w)) => {
                op_of(&w).ok_or_else(|| bad(format!("'{}' is not a filter operator", shown(&w))))?
            }
            _ => return Err(bad(format!("Expected an operator after '{path}'"))),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                n => serde_json::from_str::<serde_json::Number>(n)
                    .map(Value::Number)
                    .map_err(|_| bad(format!("'{}' is not a value: strings are in double quotes", shown(n))))?,
            },
            _ => return Err(bad(format!("Expected a value after '{path}'"))),
        };
        Ok(Filter::Cmp(path, op, value))
    }
}

/// Parses a filter.
pub(crate) fn parse(s: &str) -> Result<Filter, ScimError> {
    if s.len() > MAX_FILTER_BYTES {
        return Err(bad(format!("The filter is longer than {MAX_FILTER_BYTES} bytes")));
    }
    let tokens = tokens(s)?;
    if tokens.is_empty() {
        return Err(bad("The filter is empty"));
    }
    let mut p = Parser { tokens, at: 0, depth: 0 };
    let f = p.or(None)?;
    match p.peek() {
        None => Ok(f),
        Some(t) => Err(bad(format!("Unexpected {t:?} in the filter after a complete expression"))),
    }
}

fn user_attr(path: &str) -> Result<UserAttr, ScimError> {
    Ok(match path {
        "id" => UserAttr::Id,
        "username" => UserAttr::UserName,
        "externalid" => UserAttr::ExternalId,
        "displayname" | "name.formatted" => UserAttr::DisplayName,
        "emails" | "emails.value" => UserAttr::Email,
        "active" => UserAttr::Active,
        "meta.created" => UserAttr::Created,
        "meta.lastmodified" => UserAttr::LastModified,
        other => {
            return Err(bad(format!(
                "Users cannot be filtered by '{}': use id, userName, externalId, displayName, emails.value, \
                 active, meta.created or meta.lastModified",
                shown(other)
            )));
        }
    })
}

/// The filter, typed for the store's user query.
pub(crate) fn user_filter(f: &Filter) -> Result<UserFilterExpr, ScimError> {
    Ok(match f {
        Filter::And(a, b) => UserFilterExpr::And(Box::new(user_filter(a)?), Box::new(user_filter(b)?)),
        Filter::Or(a, b) => UserFilterExpr::Or(Box::new(user_filter(a)?), Box::new(user_filter(b)?)),
        Filter::Not(a) => UserFilterExpr::Not(Box::new(user_filter(a)?)),
        Filter::Present(path) => UserFilterExpr::Present(user_attr(path)?),
        Filter::Cmp(path, op, value) => {
            let attr = user_attr(path)?;
            let value = match (attr, value) {
                (_, Value::Null) => FilterValue::Null,
                (UserAttr::Active, Value::Bool(b)) => FilterValue::Bool(*b),
                (UserAttr::Active, _) => return Err(bad("'active' compares with true or false")),
                (UserAttr::Created | UserAttr::LastModified, Value::String(s)) => FilterValue::Time(
                    super::time::parse(s)
                        .ok_or_else(|| bad(format!("'{}' is not a dateTime (2026-01-31T12:00:00Z)", shown(s))))?,
                ),
                (_, Value::String(s)) => FilterValue::Text(s.clone()),
                (_, other) => return Err(bad(format!("'{path}' compares with a string, not {other}"))),
            };
            if matches!(attr, UserAttr::Active) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(bad("'active' takes only eq and ne"));
            }
            UserFilterExpr::Cmp(attr, *op, value)
        }
    })
}

fn text_matches(have: &str, op: CmpOp, want: &str) -> bool {
    let (h, w) = (have.to_ascii_lowercase(), want.to_ascii_lowercase());
    match op {
        CmpOp::Eq => h == w,
        CmpOp::Ne => h != w,
        CmpOp::Co => h.contains(&w),
        CmpOp::Sw => h.starts_with(&w),
        CmpOp::Ew => h.ends_with(&w),
        CmpOp::Gt => h > w,
        CmpOp::Ge => h >= w,
        CmpOp::Lt => h < w,
        CmpOp::Le => h <= w,
    }
}

/// Checks that `f` names only what groups can be filtered by (`id`, `displayName`,
/// `members.value`).
pub(crate) fn check_group_filter(f: &Filter) -> Result<(), ScimError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => check_group_filter(a).and(check_group_filter(b)),
        Filter::Not(a) => check_group_filter(a),
        Filter::Present(p) | Filter::Cmp(p, ..) => match p.as_str() {
            "id" | "displayname" | "members" | "members.value" => Ok(()),
            other => Err(bad(format!(
                "Groups cannot be filtered by '{}': use id, displayName or members.value",
                shown(other)
            ))),
        },
    }
}

/// True if the group `name` with member ids `members` matches (after [`check_group_filter`]).
pub(crate) fn group_matches(f: &Filter, name: &str, members: &[String]) -> bool {
    match f {
        Filter::And(a, b) => group_matches(a, name, members) && group_matches(b, name, members),
        Filter::Or(a, b) => group_matches(a, name, members) || group_matches(b, name, members),
        Filter::Not(a) => !group_matches(a, name, members),
        Filter::Present(p) if p.starts_with("members") => !members.is_empty(),
        Filter::Present(_) => true,
        Filter::Cmp(p, op, Value::String(want)) if p.starts_with("members") => match op {
            // Member ids are exact.
            CmpOp::Eq => members.iter().any(|m| m == want),
            CmpOp::Ne => members.iter().all(|m| m != want),
            op => members.iter().any(|m| text_matches(m, *op, want)),
        },
        Filter::Cmp(_, op, Value::String(want)) => text_matches(name, *op, want),
        Filter::Cmp(..) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(p: &str, op: CmpOp, v: Value) -> Filter {
        Filter::Cmp(p.into(), op, v)
    }

    #[test]
    fn precedence_parentheses_not_and_value_paths() {
        let f = parse(r#"userName eq "a\"b" or active eq true and not (displayName co "x")"#).unwrap();
        let want = Filter::Or(
            Box::new(cmp("username", CmpOp::Eq, Value::String("a\"b".into()))),
            Box::new(Filter::And(
                Box::new(cmp("active", CmpOp::Eq, Value::Bool(true))),
                Box::new(Filter::Not(Box::new(cmp("displayname", CmpOp::Co, Value::String("x".into()))))),
            )),
        );
        assert_eq!(f, want);
        let f = parse(r#"emails[type eq "work" and value sw "a"]"#).unwrap();
        assert!(matches!(f, Filter::And(..)));
        let f = parse("urn:ietf:params:scim:schemas:core:2.0:User:userName pr").unwrap();
        assert_eq!(f, Filter::Present("username".into()));
        assert!(matches!(parse(r#"(userName eq "a") AND (externalId eq "b")"#), Ok(Filter::And(..))));
    }

    #[test]
    fn bad_filters_are_invalid_filter() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "a""#,
            r#"userName eq "a"#,
            "userName eq bob",
            r#"(userName eq "a""#,
            r#"userName eq "a" junk"#,
            r#"not userName eq "a""#,
            &"(".repeat(40),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
        let f = parse(r#"nickName eq "x""#).unwrap();
        assert_eq!(user_filter(&f).unwrap_err().scim_type, Some("invalidFilter"));
        let f = parse(r#"active eq "yes""#).unwrap();
        assert!(user_filter(&f).is_err());
    }

    #[test]
    fn groups_match_by_name_and_member() {
        let members = vec!["u1".to_owned()];
        let f = parse(r#"displayName eq "Admin" and members[value eq "u1"]"#).unwrap();
        check_group_filter(&f).unwrap();
        assert!(group_matches(&f, "admin", &members));
        assert!(!group_matches(&f, "auditor", &members));
        assert!(!group_matches(&f, "admin", &[]));
    }
}
