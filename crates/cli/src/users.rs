//! `keyway users …` (admins and auditors) and `keyway sessions …` (everyone's own sign-ins).
//!
//! Passwords are never taken from argv: `--password` reads one from stdin (when it is not a
//! terminal), `$KEYWAY_NEW_PASSWORD` or a prompt with no echo, and `--password-file` from a
//! file. Without either, a new user (or a reset) gets a one-time code, printed once, which the
//! person types as their password on the hub's sign-in page and then chooses a password.

use std::path::PathBuf;

use clap::Subcommand;
use keyway_api::Role;
use keyway_api::users::{CreatedUser, SessionSettings, UserView};
use keyway_client::{Client, Error, SecretString};
use serde_json::json;

use crate::credentials::read_secret;
use crate::fmt_time;

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// List users by name (admins and auditors).
    List {
        /// Only names containing this.
        #[arg(long)]
        search: Option<String>,
        /// Also deleted users.
        #[arg(long)]
        deleted: bool,
    },
    /// Create a user: with --password or --password-file, else with a one-time code (printed once).
    Create {
        name: String,
        /// A role (repeat for several; default developer).
        #[arg(long = "role", value_parser = parse_role)]
        roles: Vec<Role>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Disable a user (name or id): their sign-ins end; their tokens stop working at once.
    Disable { user: String },
    /// Enable a disabled user.
    Enable { user: String },
    /// Delete a user: their credentials are revoked, agents disabled; reviews and audit keep the name.
    Delete { user: String },
    /// Set a user's roles (replacing them): keyway users roles bob developer reviewer.
    Roles {
        user: String,
        #[arg(required = true, value_parser = parse_role)]
        roles: Vec<Role>,
    },
    /// Reset a user's password: with --password or --password-file, else a one-time code.
    ResetPassword {
        user: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// End every sign-in of a user (forced logout).
    Logout { user: String },
    /// The groups (Keyway's roles) and their members.
    Groups,
    /// Change your own password (asks for the current one, then the new one).
    ChangePassword,
}

#[derive(clap::Args)]
pub(crate) struct PasswordArgs {
    /// Read the password from stdin, $KEYWAY_NEW_PASSWORD or a prompt.
    #[arg(long, conflicts_with = "password_file")]
    password: bool,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn read(&self) -> Result<Option<SecretString>, Error> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
            let line = text.lines().next().unwrap_or_default().trim_end_matches('\r').to_owned();
            if line.is_empty() {
                return Err(Error::InvalidInput(format!("{} holds no password", path.display())));
            }
            return Ok(Some(SecretString::new(line)));
        }
        if self.password {
            return Ok(Some(read_secret("KEYWAY_NEW_PASSWORD", "New password: ")?));
        }
        Ok(None)
    }
}

#[derive(Subcommand)]
pub(crate) enum SessionsCommand {
    /// Your sign-ins: client, created, last used, from where.
    List,
    /// End one sign-in by id, or all of them (this one too) with --all.
    End {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Show the session lifetimes, or set them (admins): --absolute SECS --idle SECS.
    Settings {
        #[arg(long, requires = "idle", value_name = "SECS")]
        absolute: Option<u64>,
        #[arg(long, requires = "absolute", value_name = "SECS")]
        idle: Option<u64>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role '{s}' (expected developer, reviewer, auditor or admin)"))
}

/// A user given by name or id.
async fn resolve(client: &Client, user: &str) -> Result<UserView, Error> {
    match client.user_by_name(user).await {
        Ok(u) => Ok(u),
        Err(Error::InvalidInput(_)) if user.len() == 22 => client.user(user).await,
        Err(e) => Err(e),
    }
}

fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() { "none".to_owned() } else { roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",") }
}

fn state_text(u: &UserView) -> &'static str {
    if u.deleted_at.is_some() {
        "deleted"
    } else if u.disabled {
        "disabled"
    } else if !u.password_set {
        "awaiting password"
    } else {
        "active"
    }
}

fn print_user(u: &UserView, json_out: bool, lead: &str) {
    if json_out {
        println!("{}", json!(u));
    } else {
        println!("{lead} {} ({}): roles {}, {}", u.username, u.id, roles_text(&u.roles), state_text(u));
    }
}

fn print_created(c: &CreatedUser, json_out: bool, lead: &str) {
    if json_out {
        println!(
            "{}",
            json!({"user": c.user, "set_password_code": c.set_password_code, "code_expires_at": c.code_expires_at})
        );
        return;
    }
    print_user(&c.user, false, lead);
    if let (Some(code), Some(until)) = (&c.set_password_code, c.code_expires_at) {
        eprintln!(
            "One-time code (shown once; valid until {}): give it to {} to type as their password at sign-in:",
            fmt_time(until),
            c.user.username
        );
        println!("{code}");
    }
}

pub(crate) async fn users(client: &Client, command: UsersCommand, json_out: bool) -> Result<(), Error> {
    match command {
        UsersCommand::List { search, deleted } => {
            let users = client.list_users(search.as_deref(), deleted).await?;
            if json_out {
                println!("{}", json!(users));
            } else if users.is_empty() {
                println!("No users.");
            } else {
                println!("{:<24} {:<22} {:<32} STATE", "NAME", "ID", "ROLES");
                for u in &users {
                    println!("{:<24} {:<22} {:<32} {}", u.username, u.id, roles_text(&u.roles), state_text(u));
                }
            }
        }
        UsersCommand::Create { name, roles, password } => {
            let password = password.read()?;
            let roles = (!roles.is_empty()).then_some(roles);
            let created = client.create_user(&name, roles, password.as_ref()).await?;
            print_created(&created, json_out, "Created");
        }
        UsersCommand::Disable { user } => {
            let u = resolve(client, &user).await?;
            print_user(&client.disable_user(&u.id).await?, json_out, "Disabled");
        }
        UsersCommand::Enable { user } => {
            let u = resolve(client, &user).await?;
            print_user(&client.enable_user(&u.id).await?, json_out, "Enabled");
        }
        UsersCommand::Delete { user } => {
            let u = resolve(client, &user).await?;
            print_user(&client.delete_user(&u.id).await?, json_out, "Deleted");
        }
        UsersCommand::Roles { user, roles } => {
            let u = resolve(client, &user).await?;
            print_user(&client.set_user_roles(&u.id, roles).await?, json_out, "Updated");
        }
        UsersCommand::ResetPassword { user, password } => {
            let password = password.read()?;
            let u = resolve(client, &user).await?;
            let reset = client.reset_password(&u.id, password.as_ref()).await?;
            print_created(&reset, json_out, "Password reset for");
        }
        UsersCommand::Logout { user } => {
            let u = resolve(client, &user).await?;
            let ended = client.force_logout(&u.id).await?;
            if json_out {
                println!("{}", json!({"user": u.id, "ended": ended.ended}));
            } else {
                println!("Signed {} out: {} sign-in(s) ended.", u.username, ended.ended);
            }
        }
        UsersCommand::Groups => {
            let groups = client.groups().await?;
            if json_out {
                println!("{}", json!(groups));
            } else {
                for g in &groups {
                    let names: Vec<String> = g
                        .members
                        .iter()
                        .map(|m| if m.disabled { format!("{} (disabled)", m.username) } else { m.username.clone() })
                        .collect();
                    println!(
                        "{:<10} {}",
                        g.role.as_str(),
                        if names.is_empty() { "-".into() } else { names.join(", ") }
                    );
                }
            }
        }
        UsersCommand::ChangePassword => {
            let current = read_secret("KEYWAY_PASSWORD", "Current password: ")?;
            let new = read_secret("KEYWAY_NEW_PASSWORD", "New password: ")?;
            client.change_password(&current, &new).await?;
            if json_out {
                println!("{}", json!({"changed": true}));
            } else {
                println!("Password changed.");
            }
        }
    }
    Ok(())
}

pub(crate) async fn sessions(client: &Client, command: SessionsCommand, json_out: bool) -> Result<(), Error> {
    match command {
        SessionsCommand::List => {
            let sessions = client.my_sessions().await?;
            if json_out {
                println!("{}", json!(sessions));
                return Ok(());
            }
            if sessions.is_empty() {
                println!("No sign-ins.");
            }
            for s in &sessions {
                let mark = if s.current { " (this one)" } else { "" };
                println!("{}{mark}", s.id);
                println!("  client:    {}", s.client_name);
                println!("  signed in: unix {}", s.created_at);
                if let Some(t) = s.last_used_at {
                    println!("  last used: unix {t}");
                }
                println!("  from:      {}", s.address.as_deref().unwrap_or("unknown"));
                println!("  ends:      {}", fmt_time(s.expires_at));
            }
        }
        SessionsCommand::End { id, all } => {
            let ended = if all {
                client.end_all_sessions().await?
            } else {
                client.end_session(id.as_deref().unwrap_or_default()).await?
            };
            if json_out {
                println!("{}", json!({"ended": ended.ended}));
            } else {
                println!("{} sign-in(s) ended.", ended.ended);
            }
        }
        SessionsCommand::Settings { absolute, idle } => {
            let settings = match (absolute, idle) {
                (Some(absolute_secs), Some(idle_secs)) => {
                    client.set_session_settings(&SessionSettings { absolute_secs, idle_secs }).await?
                }
                _ => client.session_settings().await?,
            };
            if json_out {
                println!("{}", json!(settings));
            } else {
                println!("absolute: {} s\nidle:     {} s", settings.absolute_secs, settings.idle_secs);
            }
        }
    }
    Ok(())
}
