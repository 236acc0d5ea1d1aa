//! How the hub signs people in through one upstream OpenID provider: its settings
//! (`keyway-hub serve --sso-*`, `KEYWAY_HUB_SSO_*`), the client secret read from a file, and the
//! mapping from the IdP's groups to Keyway's roles.

use std::fmt;
use std::path::Path;

use keyway_api::Role;
use zeroize::Zeroizing;

use crate::error::Error;

/// The default name of the claim holding a person's groups.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// The hub's client secret at the IdP: never on argv, redacted in `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct SsoSecret(Zeroizing<String>);

impl SsoSecret {
    pub fn new(secret: impl Into<String>) -> SsoSecret {
        SsoSecret(Zeroizing::new(secret.into()))
    }

    /// Reads the secret from a file (its first line) that only its owner may read or write.
    pub fn from_file(path: &Path) -> Result<SsoSecret, Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let shown = path.display();
        let bad = |reason: String| Error::InvalidSetting { name: "sso_client_secret_file", reason };
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "{shown} is open to other users (mode {mode:04o}); make it the owner's alone with `chmod 600 {shown}`"
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {shown}: {e}")))?);
        let secret = text.lines().next().unwrap_or("").trim();
        if secret.is_empty() {
            return Err(bad(format!("{shown} holds no secret")));
        }
        Ok(SsoSecret::new(secret))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SsoSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SsoSecret([redacted])")
    }
}

/// Sign-in through one upstream OpenID provider, the hub being its confidential client.
#[derive(Clone, Debug)]
pub struct SsoSettings {
    /// The IdP's issuer (`--sso-issuer`); its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The hub's client id at the IdP (`--sso-client-id`).
    pub client_id: String,
    /// The hub's client secret at the IdP (`--sso-client-secret-file`).
    pub client_secret: SsoSecret,
    /// The claim (id_token, else userinfo) that lists the person's groups (`--sso-groups-claim`,
    /// default `groups`).
    pub groups_claim: String,
    /// Group → role (`--sso-role GROUP=ROLE`, repeatable); a person holds the roles of all
    /// their mapped groups.
    pub roles: Vec<(String, Role)>,
    /// A role everyone signing in through the IdP holds (`--sso-default-role`).
    pub default_role: Option<Role>,
    /// `/oauth/authorize` goes straight to the IdP; the password form only with `local=1`.
    pub only: bool,
    /// The name the sign-in page shows ("Sign in with …"): `--sso-name`, else the issuer's host.
    pub name: Option<String>,
}

impl SsoSettings {
    /// Settings with the defaults: the `groups` claim, no mapping, no default role.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, client_secret: SsoSecret) -> SsoSettings {
        SsoSettings {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            groups_claim: DEFAULT_GROUPS_CLAIM.to_owned(),
            roles: Vec::new(),
            default_role: None,
            only: false,
            name: None,
        }
    }

    /// Checks the settings before the hub starts.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |name: &'static str, reason: String| Err(Error::InvalidSetting { name, reason });
        let url = url::Url::parse(&self.issuer);
        match url {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.query().is_none() => {}
            _ => return bad("sso_issuer", format!("'{}' is not an http(s) issuer URL", self.issuer)),
        }
        if self.client_id.trim().is_empty() {
            return bad("sso_client_id", "must not be empty".into());
        }
        if self.groups_claim.trim().is_empty() {
            return bad("sso_groups_claim", "must not be empty".into());
        }
        if self.roles.is_empty() && self.default_role.is_none() {
            return bad(
                "sso_role",
                "map at least one group to a role (--sso-role GROUP=ROLE) or give --sso-default-role".into(),
            );
        }
        Ok(())
    }

    /// What the sign-in page calls the IdP.
    pub(crate) fn display_name(&self) -> String {
        self.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| {
            url::Url::parse(&self.issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
        })
    }

    /// The roles a person in `groups` holds: every mapped group's, and the default role.
    pub(crate) fn roles_for(&self, groups: &[String]) -> Vec<Role> {
        let mut roles: Vec<Role> = self
            .roles
            .iter()
            .filter(|(group, _)| groups.iter().any(|g| g == group))
            .map(|(_, role)| *role)
            .chain(self.default_role)
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// Parses `GROUP=ROLE` (`--sso-role`); the group may contain `=`, the role is after the last.
pub fn parse_role_mapping(s: &str) -> Result<(String, Role), String> {
    let (group, role) = s.rsplit_once('=').ok_or_else(|| format!("'{s}' is not GROUP=ROLE"))?;
    let group = group.trim();
    if group.is_empty() {
        return Err(format!("'{s}' names no group"));
    }
    let role = Role::parse(role.trim()).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role '{}' in '{s}' (expected one of: {})", role.trim(), all.join(", "))
    })?;
    Ok((group.to_owned(), role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_and_roles() {
        assert_eq!(parse_role_mapping("eng=developer").unwrap(), ("eng".to_owned(), Role::Developer));
        assert_eq!(parse_role_mapping("a=b=admin").unwrap(), ("a=b".to_owned(), Role::Admin));
        assert!(parse_role_mapping("eng").is_err());
        assert!(parse_role_mapping("=admin").is_err());
        assert!(parse_role_mapping("eng=boss").unwrap_err().contains("unknown role"));
        let mut s = SsoSettings::new("https://idp.example", "hub", SsoSecret::new("x"));
        s.roles = vec![("eng".into(), Role::Developer), ("ops".into(), Role::Admin), ("eng2".into(), Role::Developer)];
        assert_eq!(s.roles_for(&["eng".into(), "eng2".into()]), vec![Role::Developer]);
        assert_eq!(s.roles_for(&["other".into()]), Vec::<Role>::new());
        s.default_role = Some(Role::Reviewer);
        assert_eq!(s.roles_for(&["ops".into()]), vec![Role::Reviewer, Role::Admin]);
        assert_eq!(s.display_name(), "idp.example");
        assert!(!format!("{s:?}").contains("\"x\""));
    }

    #[test]
    fn the_secret_file_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(SsoSecret::from_file(&path).unwrap_err().to_string().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(SsoSecret::from_file(&path).unwrap().expose(), "s3cret");
    }
}
