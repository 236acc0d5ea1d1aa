//! `keyway token | credentials | agent | service-account`, and `login --pat`.
//!
//! Secrets are never taken from argv: they come from stdin (when it is not a terminal), an
//! environment variable, or a prompt with no echo. A secret the hub shows once (a minted PAT, a
//! rotated secret, a new service token) is printed once on stdout, or with
//! `token mint --no-print-token` kept straight in the keychain for a profile acting as the agent.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use keyway_api::auth::Me;
use keyway_api::credentials::{
    AgentView, CreateServiceAccount, CredentialKind, CredentialView, MintPat, RotateServiceToken, UpdateAgent,
};
use keyway_client::config::{self, Config, Profile};
use keyway_client::{Client, Error, SecretString, Vault};
use serde_json::json;

use crate::{
    AgentCommand, CredentialsCommand, Failure, ServiceAccountCommand, TokenCommand, existing_profile, fmt_time,
};

/// A secret from `$env`, else one line of stdin when it is not a terminal, else a prompt with
/// no echo.
pub(crate) fn read_secret(env: &str, prompt: &str) -> Result<SecretString, Error> {
    if let Ok(v) = std::env::var(env)
        && !v.trim().is_empty()
    {
        return Ok(SecretString::new(v.trim().to_owned()));
    }
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| Error::InvalidInput(format!("could not read it: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(Error::InvalidInput(format!("no secret given: pipe it on stdin or set {env}")));
    }
    Ok(SecretString::new(value))
}

fn client(cfg: &Config, name: &str) -> Result<Client, Error> {
    Client::new(existing_profile(cfg, name)?, Vault::open()?)
}

/// A profile for `--server`, or the saved one.
fn profile_for(cfg: &Config, name: &str, server: Option<String>) -> Result<Profile, Error> {
    match (server, cfg.get(name)) {
        (Some(s), saved) => {
            let mut p = Profile::new(name, config::parse_server_url(&s)?);
            if let Some(saved) = saved
                && saved.server == p.server
            {
                p = saved.clone();
            }
            Ok(p)
        }
        (None, Some(p)) => Ok(p.clone()),
        (None, None) => Err(Error::InvalidInput(format!("profile '{name}' has no server yet: pass --server URL"))),
    }
}

pub(crate) fn print_me(profile: &Profile, me: &Me, json: bool) {
    if json {
        println!(
            "{}",
            json!({"profile": profile.name, "server": profile.server.as_str(), "kind": me.kind, "id": me.id,
                "username": me.name, "owner": me.owner, "roles": me.roles, "token_class": me.token_class,
                "scopes": me.scopes, "access_expires_at": me.expires_at})
        );
        return;
    }
    let roles: Vec<&str> = me.roles.iter().map(|r| r.as_str()).collect();
    println!("Signed in as {} ({}) on {}", me.name, me.kind.as_str(), profile.server);
    println!("class:   {}", me.token_class);
    println!("roles:   {}", if roles.is_empty() { "none".to_owned() } else { roles.join(", ") });
    println!("profile: {}", profile.name);
}

fn print_credentials(items: &[CredentialView]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<16} {:<13} {:<20} {:<7} {:<9} {:<28} LAST USED",
        "ID", "KIND", "NAME", "AUD", "STATUS", "EXPIRES"
    );
    for c in items {
        let status =
            serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let expires = c.expires_at.map(fmt_time).unwrap_or_else(|| "never".into());
        let mut used = c.last_used_at.map(fmt_time).unwrap_or_else(|| "never".into());
        if c.fingerprint_changed_at.is_some() {
            used.push_str("  (used from a new place)");
        }
        let name = c.agent_name.clone().or(c.service_account.clone()).unwrap_or_else(|| c.name.clone());
        let _ = writeln!(
            out,
            "{:<16} {:<13} {:<20} {:<7} {:<9} {:<28} {used}",
            c.id,
            c.kind.as_str(),
            name,
            c.audience.as_str(),
            status,
            expires
        );
    }
}

fn print_agent(a: &AgentView, json: bool) {
    if json {
        println!("{}", serde_json::to_string(a).unwrap_or_default());
    } else {
        let state = if a.disabled { "disabled" } else { "active" };
        println!("{:<16} {:<24} {:<9} {} live PAT(s)", a.id, a.name, state, a.active_credentials);
    }
}

/// Prints a secret shown once, with what it is.
fn print_secret(credential: &CredentialView, secret: &str, json: bool, what: &str) {
    if json {
        println!("{}", json!({"credential": credential, "secret": secret}));
    } else {
        eprintln!("{what} {} — shown once; keep it somewhere safe:", credential.id);
        println!("{secret}");
    }
}

pub(crate) async fn token(cfg: &mut Config, profile: &str, command: TokenCommand, json: bool) -> Result<(), Failure> {
    match command {
        TokenCommand::Mint { agent, create, audience, expires, no_print_token, save_profile } => {
            let c = client(cfg, profile)?;
            let target = save_profile.clone().unwrap_or_else(|| agent.clone());
            if no_print_token {
                config::validate_profile_name(&target)?;
                if target == profile {
                    return Err(Error::InvalidInput(format!(
                        "--save-profile must name another profile than the one minting ('{profile}')"
                    ))
                    .into());
                }
            }
            let req = MintPat {
                kind: CredentialKind::AgentPat,
                agent: Some(agent.clone()),
                create_agent: create,
                name: None,
                audience,
                expires_days: expires,
                scopes: None,
            };
            let minted = c.mint_pat(&req).await?;
            if !no_print_token {
                print_secret(&minted.credential, &minted.secret, json, "Agent PAT");
                return Ok(());
            }
            let mut p = Profile::new(&target, c.profile().server.clone());
            p.client_id = c.profile().client_id.clone();
            p.agent = minted.credential.agent_name.clone().or(Some(agent));
            let keeper = Client::new(p.clone(), Vault::open()?)?;
            keeper.keep_pat(&SecretString::new(minted.secret.clone()))?;
            cfg.upsert(p.clone(), false);
            cfg.save()?;
            if json {
                println!("{}", json!({"credential": minted.credential, "profile": target}));
            } else {
                println!(
                    "Minted {} for agent {}; kept in the keychain for profile '{target}' (use --profile {target}).",
                    minted.credential.id,
                    p.agent.as_deref().unwrap_or_default()
                );
            }
            Ok(())
        }
        TokenCommand::Enroll { server, agent_name } => {
            let p = profile_for(cfg, profile, server)?;
            let c = Client::new(p.clone(), Vault::open()?)?;
            let enrollment = read_secret("KEYWAY_ENROLLMENT_TOKEN", "Enrollment token: ")?;
            let minted = c.enroll(&enrollment, agent_name.as_deref()).await?;
            let mut p = p;
            p.agent = minted.credential.agent_name.clone();
            p.service_account = None;
            cfg.upsert(p.clone(), cfg.default_profile.is_none());
            cfg.save()?;
            if json {
                println!("{}", json!({"credential": minted.credential, "profile": p.name}));
            } else {
                println!(
                    "Enrolled as agent {}; its PAT {} is in the keychain for profile '{}'.",
                    p.agent.as_deref().unwrap_or_default(),
                    minted.credential.id,
                    p.name
                );
            }
            Ok(())
        }
        TokenCommand::Print { class } => {
            let c = client(cfg, profile)?;
            let class = match class {
                Some(c) => c,
                None => c.default_class()?,
            };
            let jwt = c.token(class).await?;
            if json {
                println!("{}", json!({"access_token": jwt.secret(), "token_class": class}));
            } else {
                println!("{}", jwt.secret());
            }
            Ok(())
        }
    }
}

pub(crate) async fn credentials(
    cfg: &Config,
    profile: &str,
    command: CredentialsCommand,
    json: bool,
) -> Result<(), Failure> {
    let c = client(cfg, profile)?;
    match command {
        CredentialsCommand::List { all } => {
            let items = c.list_credentials(all).await?;
            if json {
                println!("{}", serde_json::to_string(&items).unwrap_or_default());
            } else if items.is_empty() {
                println!("No credentials yet. Mint one with `keyway token mint AGENT --create`.");
            } else {
                print_credentials(&items);
            }
        }
        CredentialsCommand::Revoke { id } => {
            let v = c.revoke_credential(&id).await?;
            if json {
                println!("{}", serde_json::to_string(&v).unwrap_or_default());
            } else {
                println!("Revoked {} ({}).", v.id, v.name);
            }
        }
        CredentialsCommand::Rotate { id } => {
            let minted = c.rotate_credential(&id).await?;
            print_secret(&minted.credential, &minted.secret, json, "New secret for");
        }
    }
    Ok(())
}

async fn agent_id(c: &Client, name_or_id: &str) -> Result<String, Error> {
    let agents = c.list_agents(false).await?;
    agents
        .iter()
        .find(|a| a.id == name_or_id)
        .or_else(|| agents.iter().find(|a| a.name.eq_ignore_ascii_case(name_or_id)))
        .map(|a| a.id.clone())
        .ok_or_else(|| Error::InvalidInput(format!("you have no agent '{name_or_id}' (see `keyway agent list`)")))
}

pub(crate) async fn agent(cfg: &Config, profile: &str, command: AgentCommand, json: bool) -> Result<(), Failure> {
    let c = client(cfg, profile)?;
    match command {
        AgentCommand::Create { name } => print_agent(&c.create_agent(&name).await?, json),
        AgentCommand::List { all } => {
            let agents = c.list_agents(all).await?;
            if json {
                println!("{}", serde_json::to_string(&agents).unwrap_or_default());
            } else {
                for a in &agents {
                    print_agent(a, false);
                }
            }
        }
        AgentCommand::Disable { agent } => {
            let id = agent_id(&c, &agent).await?;
            let a = c.update_agent(&id, &UpdateAgent { name: None, disabled: Some(true) }).await?;
            print_agent(&a, json);
        }
    }
    Ok(())
}

pub(crate) async fn service_account(
    cfg: &mut Config,
    profile: &str,
    command: ServiceAccountCommand,
    json: bool,
) -> Result<(), Failure> {
    match command {
        ServiceAccountCommand::Create { name, group, expires } => {
            let c = client(cfg, profile)?;
            let created =
                c.create_service_account(&CreateServiceAccount { name, group, expires_days: expires }).await?;
            if json {
                println!("{}", json!({"account": created.account, "secret": created.secret}));
            } else {
                eprintln!("Service account {} ({}) — its token, shown once:", created.account.name, created.account.id);
                println!("{}", created.secret);
            }
        }
        ServiceAccountCommand::Login { name, server } => {
            let mut p = profile_for(cfg, profile, server)?;
            p.service_account = Some(name.clone());
            p.agent = None;
            let c = Client::new(p.clone(), Vault::open()?)?;
            let token = read_secret("KEYWAY_SERVICE_TOKEN", "Service token: ")?;
            c.store_service_token(&name, &token).await?;
            cfg.upsert(p.clone(), cfg.default_profile.is_none());
            cfg.save()?;
            let me = c.me().await?;
            print_me(&p, &me, json);
        }
        ServiceAccountCommand::Rotate { account, grace } => {
            let c = client(cfg, profile)?;
            let accounts = c.list_service_accounts().await?;
            let id = accounts
                .iter()
                .find(|a| a.id == account || a.name.eq_ignore_ascii_case(&account))
                .map(|a| a.id.clone())
                .ok_or_else(|| Error::InvalidInput(format!("no service account '{account}'")))?;
            let minted = c.rotate_service_account(&id, &RotateServiceToken { grace_secs: grace }).await?;
            print_secret(&minted.credential, &minted.secret, json, "New service token");
        }
    }
    Ok(())
}
