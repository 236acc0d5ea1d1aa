//! keyway: sign in to a Keyway hub (or any OpenID provider) and use the session from scripts.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keyway_api::Role;
use keyway_api::auth::{Audience, TokenClass};
use keyway_client::config::{self, Config, DEFAULT_PROFILE, Profile};
use keyway_client::credentials::Source;
use keyway_client::login::{self, LoginOptions};
use keyway_client::{Client, Error, SessionInfo, Vault};

mod approval;
mod audit;
mod credentials;
mod device;
use serde_json::json;

mod profile;
mod review;
mod users;

#[derive(Parser)]
#[command(
    name = "keyway",
    version,
    about = "Keyway: sign in, keep the session in the OS keychain, use it from scripts."
)]
struct Cli {
    /// Profile to use (default: the profile marked default, else "default").
    #[arg(long, global = true, env = "KEYWAY_PROFILE")]
    profile: Option<String>,
    /// Print machine-readable JSON on stdout (errors as {"error", "message"}).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in through the browser (Authorization Code + PKCE, loopback redirect).
    Login {
        /// Keyway hub URL; saved in the profile.
        #[arg(long)]
        server: Option<String>,
        /// Sign in with any OpenID provider instead: its issuer URL (needs --client-id).
        #[arg(long, requires = "client_id")]
        issuer: Option<String>,
        /// OAuth client id registered at the provider for a native app (loopback redirect).
        #[arg(long)]
        client_id: Option<String>,
        /// Don't open a browser: print the sign-in link alone on a line on stderr and wait.
        #[arg(long)]
        no_browser: bool,
        /// Seconds to wait for the browser (default 300, env KEYWAY_LOGIN_TIMEOUT_SECS).
        #[arg(long)]
        timeout: Option<u64>,
        /// Sign in with a PAT instead of the browser: read from stdin, $KEYWAY_PAT, or a prompt
        /// with no echo; kept in the keychain.
        #[arg(long, conflicts_with_all = ["issuer", "no_browser"])]
        pat: bool,
        /// With --pat: the profile acts as this agent (it then refuses user PATs).
        #[arg(long, requires = "pat")]
        agent: Option<String>,
        /// Sign in without a browser here (RFC 8628): print a code to approve from another
        /// device (the hub's /device page, the app, or `keyway device approve CODE`) and wait.
        #[arg(long, conflicts_with_all = ["pat", "no_browser", "timeout"])]
        device: bool,
    },
    /// Show who is signed in (renews the access token from the keychain when needed).
    Whoami,
    /// Revoke the session at the server and remove it (and any PAT) from the keychain.
    Logout,
    /// PATs and JWTs: mint an agent PAT, redeem an enrollment token, print a JWT.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Your credentials (PATs, enrollment and service tokens).
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Your agents.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Service accounts (admins create and rotate; automation logs in).
    ServiceAccount {
        #[command(subcommand)]
        command: ServiceAccountCommand,
    },
    /// The approval queue: submit requests and wait for them, list, show, approve, reject, cancel.
    Review {
        #[command(subcommand)]
        command: review::ReviewCommand,
    },
    /// The hub's audit log (auditors and admins): list with filters, export as JSON Lines or CSV.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Users and groups: list, create, disable, enable, delete, roles, reset-password, logout.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Approve or deny a device's sign-in (`keyway login --device` elsewhere) by its code.
    Device {
        #[command(subcommand)]
        command: device::DeviceCommand,
    },
    /// Your sign-ins: list them, end one or all; the session lifetimes (admins set them).
    Sessions {
        #[command(subcommand)]
        command: users::SessionsCommand,
    },
    /// The profiles of this machine: list, use, remove.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint an agent PAT (exchanges for a short user_admin JWT on the way).
    Mint {
        /// The agent (name or id) the PAT is bound to.
        agent: String,
        /// Create the agent if it does not exist.
        #[arg(long)]
        create: bool,
        /// Where the PAT works: cli, mcp or both.
        #[arg(long, default_value = "cli", value_parser = parse_audience)]
        audience: Audience,
        /// Days until it expires (default: the hub's default, at most the admin's maximum).
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
        /// Do not show the PAT: keep it in the keychain for a profile acting as the agent
        /// (--save-profile, default: the agent's name) on the same server.
        #[arg(long)]
        no_print_token: bool,
        /// With --no-print-token: the profile to keep the PAT in.
        #[arg(long, requires = "no_print_token", value_name = "PROFILE")]
        save_profile: Option<String>,
    },
    /// Redeem an enrollment token (from stdin, $KEYWAY_ENROLLMENT_TOKEN or a prompt with no
    /// echo): the agent's PAT goes to the keychain for this profile.
    Enroll {
        /// Keyway hub URL (saved in the profile).
        #[arg(long)]
        server: Option<String>,
        /// The agent's name (when the token does not fix one).
        #[arg(long)]
        agent_name: Option<String>,
    },
    /// Print a fresh JWT for scripts: curl -H "Authorization: Bearer $(keyway token print)".
    Print {
        /// user_access, user_admin, agent_access or service_access (default: the profile's).
        #[arg(long, value_parser = parse_class)]
        class: Option<TokenClass>,
    },
}

#[derive(Subcommand)]
enum CredentialsCommand {
    /// List your credentials (admins: --all for everyone's).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Revoke a credential by id (cr_…): it stops working at once.
    Revoke { id: String },
    /// A new secret for a credential (shown once); the old one stops working at once.
    Rotate { id: String },
}

#[derive(Subcommand)]
enum AgentCommand {
    Create {
        name: String,
    },
    List {
        #[arg(long)]
        all: bool,
    },
    /// Disable an agent (name or id): its PATs stop working at once.
    Disable {
        agent: String,
    },
}

#[derive(Subcommand)]
enum ServiceAccountCommand {
    /// Create a service account (admins); its token is printed once.
    Create {
        name: String,
        /// developer (default), reviewer or auditor.
        #[arg(long, default_value = "developer", value_parser = parse_role)]
        group: Role,
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
    },
    /// Sign this profile in as a service account: the token is read from stdin or
    /// $KEYWAY_SERVICE_TOKEN and kept in the keychain.
    Login {
        name: String,
        /// Keyway hub URL (saved in the profile).
        #[arg(long)]
        server: Option<String>,
    },
    /// A new token (printed once); the old one keeps working for --grace seconds (default 0).
    Rotate {
        /// Name or id.
        account: String,
        #[arg(long, default_value_t = 0, value_name = "SECS")]
        grace: u64,
    },
}

fn parse_audience(s: &str) -> Result<Audience, String> {
    Audience::parse(s).ok_or_else(|| format!("unknown audience '{s}' (expected cli, mcp or both)"))
}

fn parse_class(s: &str) -> Result<TokenClass, String> {
    TokenClass::parse(s).ok_or_else(|| {
        format!("unknown class '{s}' (expected user_access, user_admin, agent_access or service_access)")
    })
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown group '{s}' (expected developer, reviewer or auditor)"))
}

/// A failure the CLI reports: code for --json, message for people.
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) exit: u8,
}

impl Failure {
    /// The same failure with another exit status.
    pub(crate) fn exit(mut self, code: u8) -> Failure {
        self.exit = code;
        self
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let mut message = e.to_string();
        if matches!(e, Error::Timeout(_)) {
            message.push_str(" With --no-browser you can open the link in any browser yourself.");
        }
        if matches!(e, Error::SessionEnded(_)) {
            message.push_str(" Run `keyway login`.");
        }
        Failure { code: e.code().to_string(), message, exit: 1 }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEYWAY_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let json = cli.json;
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyway: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if json {
                println!("{}", json!({"error": f.code, "message": f.message}));
            } else {
                eprintln!("keyway: {}", f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}

/// Runs the command; `Ok` carries the exit status.
async fn run(cli: Cli) -> Result<u8, Failure> {
    let mut cfg = Config::load()?;
    let profile_name =
        cli.profile.clone().or_else(|| cfg.default_profile.clone()).unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    config::validate_profile_name(&profile_name)?;
    match cli.command {
        Command::Login { server, pat: true, agent, .. } => {
            let mut profile = login_profile(&cfg, &profile_name, server, None, None)?;
            if agent.is_some() {
                profile.agent = agent;
            }
            let client = Client::new(profile.clone(), Vault::open()?)?;
            let pat = credentials::read_secret("KEYWAY_PAT", "PAT: ")?;
            let me = client.store_pat(&pat).await?;
            cfg.upsert(profile.clone(), true);
            cfg.save()?;
            credentials::print_me(&profile, &me, cli.json);
            Ok(0)
        }
        Command::Login { server, issuer, client_id, device: true, .. } => {
            let profile = login_profile(&cfg, &profile_name, server, issuer, client_id)?;
            let client = Client::new(profile.clone(), Vault::open()?)?;
            let info = device::login(&client, cli.json).await?;
            cfg.upsert(profile.clone(), true);
            cfg.save()?;
            print_session(&profile, &info, cli.json, "Signed in as");
            Ok(0)
        }
        Command::Login { server, issuer, client_id, no_browser, timeout, .. } => {
            let profile = login_profile(&cfg, &profile_name, server, issuer, client_id)?;
            let client = Client::new(profile.clone(), Vault::open()?)?;
            let mut opts = LoginOptions::default();
            if let Some(t) = timeout {
                if t == 0 {
                    return Err(Error::InvalidInput("--timeout must be at least 1 second".into()).into());
                }
                opts.timeout = std::time::Duration::from_secs(t);
            }
            let cancel = opts.cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            });
            if !no_browser && !cli.json {
                eprintln!("Opening the browser to sign in to {} …", profile.issuer_url());
            }
            let info =
                client.login(if no_browser { login::print_link() } else { login::system_browser() }, opts).await?;
            cfg.upsert(profile.clone(), true);
            cfg.save()?;
            print_session(&profile, &info, cli.json, "Signed in as");
            Ok(0)
        }
        Command::Whoami => {
            let profile = existing_profile(&cfg, &profile_name)?;
            let client = Client::new(profile.clone(), Vault::open()?)?;
            if client.source()? != Source::SignIn {
                let me = client.me().await?;
                credentials::print_me(&profile, &me, cli.json);
                return Ok(0);
            }
            let info = client.whoami().await?;
            print_session(&profile, &info, cli.json, "Signed in as");
            Ok(0)
        }
        Command::Logout => {
            let profile = existing_profile(&cfg, &profile_name)?;
            let client = Client::new(profile.clone(), Vault::open()?)?;
            let had_credential = client.forget_credentials().await?;
            let mut out = client.logout().await?;
            out.removed_from_keychain |= had_credential;
            if cli.json {
                println!(
                    "{}",
                    json!({"profile": profile.name, "revoked_at_server": out.revoked_at_server, "removed_from_keychain": out.removed_from_keychain})
                );
            } else if !out.removed_from_keychain {
                println!("Not signed in (profile {}).", profile.name);
            } else if out.revoked_at_server {
                println!("Signed out: the session is revoked and removed from the keychain.");
            } else {
                println!("Removed the session from the keychain, but the server could not be told to revoke it.");
            }
            Ok(0)
        }
        Command::Review { command } => {
            let on_error = if command.waits() { review::EXIT_ERROR } else { 1 };
            let open =
                || -> Result<Client, Error> { Client::new(existing_profile(&cfg, &profile_name)?, Vault::open()?) };
            let client = open().map_err(|e| Failure::from(e).exit(on_error))?;
            review::run(&client, command, cli.json).await
        }
        Command::Token { command } => credentials::token(&mut cfg, &profile_name, command, cli.json).await.map(|()| 0),
        Command::Credentials { command } => {
            credentials::credentials(&cfg, &profile_name, command, cli.json).await.map(|()| 0)
        }
        Command::Agent { command } => credentials::agent(&cfg, &profile_name, command, cli.json).await.map(|()| 0),
        Command::ServiceAccount { command } => {
            credentials::service_account(&mut cfg, &profile_name, command, cli.json).await.map(|()| 0)
        }
        Command::Audit { command } => {
            let client = Client::new(existing_profile(&cfg, &profile_name)?, Vault::open()?)?;
            audit::run(&client, command, cli.json).await.map(|()| 0)
        }
        Command::Users { command } => {
            let client = Client::new(existing_profile(&cfg, &profile_name)?, Vault::open()?)?;
            users::users(&client, command, cli.json).await.map(|()| 0).map_err(Failure::from)
        }
        Command::Device { command } => {
            let client = Client::new(existing_profile(&cfg, &profile_name)?, Vault::open()?)?;
            device::run(&client, command, cli.json).await.map(|()| 0)
        }
        Command::Sessions { command } => {
            let client = Client::new(existing_profile(&cfg, &profile_name)?, Vault::open()?)?;
            users::sessions(&client, command, cli.json).await.map(|()| 0).map_err(Failure::from)
        }
        Command::Profile { command } => {
            profile::run(&mut cfg, command, cli.json).await.map(|()| 0).map_err(Failure::from)
        }
    }
}

/// The profile a login should use: what is saved, overridden by flags.
pub(crate) fn login_profile(
    cfg: &Config,
    name: &str,
    server: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
) -> Result<Profile, Error> {
    let saved = cfg.get(name).cloned();
    if let Some(issuer) = issuer {
        let url = config::parse_server_url(&issuer)?;
        let mut p = Profile::new(name, url.clone());
        p.issuer = Some(url);
        p.client_id = client_id.unwrap_or_default();
        if p.client_id.trim().is_empty() {
            return Err(Error::InvalidInput("--client-id must not be empty".into()));
        }
        return Ok(p);
    }
    let mut p = match (server, saved) {
        (Some(s), _) => Profile::new(name, config::parse_server_url(&s)?),
        (None, Some(p)) => p,
        (None, None) => {
            return Err(Error::InvalidInput(format!(
                "profile '{name}' has no server yet: run `keyway login --server https://your-hub`"
            )));
        }
    };
    if let Some(id) = client_id {
        p.client_id = id;
    }
    Ok(p)
}

pub(crate) fn existing_profile(cfg: &Config, name: &str) -> Result<Profile, Error> {
    cfg.get(name).cloned().ok_or(Error::NotSignedIn)
}

pub(crate) fn fmt_time(unix: i64) -> String {
    let d = unix - keyway_client::now();
    let rel = match d {
        d if d < 0 => "already".to_string(),
        d if d < 120 => format!("in {d} s"),
        d if d < 7200 => format!("in {} min", d / 60),
        d if d < 172_800 => format!("in {} h", d / 3600),
        d => format!("in {} days", d / 86_400),
    };
    format!("{rel} (unix {unix})")
}

fn print_session(profile: &Profile, info: &SessionInfo, json: bool, lead: &str) {
    let u = &info.user;
    let username = u.preferred_username.clone().unwrap_or_else(|| u.sub.clone());
    if json {
        let v = json!({
            "profile": profile.name,
            "server": profile.issuer_url().as_str(),
            "sub": u.sub,
            "username": username,
            "name": u.name,
            "roles": u.roles,
            "access_expires_at": info.access_expires_at,
            "session_expires_at": info.session_expires_at,
            "renewable": info.renewable,
        });
        println!("{v}");
        return;
    }
    let mut out = std::io::stdout().lock();
    let display = u.name.clone().unwrap_or_else(|| username.clone());
    let _ = writeln!(out, "{lead} {display} ({username}) on {}", profile.issuer_url());
    let roles = if u.roles.is_empty() { "none".to_string() } else { u.roles.join(", ") };
    let _ = writeln!(out, "roles:   {roles}");
    if !info.renewable {
        let t = info.access_expires_at;
        let _ = writeln!(
            out,
            "session: ends at {} ({}), because the provider issued no refresh token; then run `keyway login` again",
            keyway_client::time::utc(t),
            fmt_time(t)
        );
    } else if let Some(t) = info.session_expires_at {
        let _ = writeln!(out, "session: ends {}", fmt_time(t));
    }
    let _ = writeln!(out, "profile: {}", profile.name);
}
