//! `keyway-hub`: run the hub, manage its users.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use keyway_api::Role;
use keyway_hub::{Hub, Settings};
use tracing_subscriber::EnvFilter;

/// mimalloc: the request path's many small, short-lived allocations cost about half of what
/// they cost in glibc's allocator under the exchange benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keyway hub: the OAuth 2.1 / OpenID Connect server Keyway clients sign in with.
#[derive(Debug, Parser)]
#[command(name = "keyway-hub", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the hub over HTTP until interrupted.
    Serve(ServeArgs),
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage personal access tokens directly in the database (bootstrap, operations).
    Pat {
        #[command(subcommand)]
        command: PatCommand,
    },
    /// Manage the hub key and the signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy a hub's SQLite database into a PostgreSQL database (every user, credential,
    /// sign-in, review, audit row and signing key), so the hub moves to PostgreSQL. Stop the hub
    /// first. The source is only read; the copy is one transaction on the target.
    MigrateStore(MigrateArgs),
    /// SCIM provisioning.
    Scim {
        #[command(subcommand)]
        command: ScimCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ScimCommand {
    /// Manage the bearer tokens an identity provider provisions with.
    Token {
        #[command(subcommand)]
        command: ScimTokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ScimTokenCommand {
    /// Create a SCIM token and print it once on stdout (only its SHA-256 is stored).
    Create {
        /// What the token is for, e.g. the identity provider's name [default: scim].
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// A database URL given on the command line, never shown in `Debug` (it may hold a password).
#[derive(Clone)]
struct DatabaseUrl(String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl([redacted])")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The SQLite database to copy, opened read-only and never changed [default:
    /// $KEYWAY_HUB_DATABASE, or sqlite://keyway-hub.db].
    #[arg(long, value_name = "URL")]
    from: Option<DatabaseUrl>,
    /// The PostgreSQL database to copy into (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…),
    /// migrated first as the hub does at start. It must hold no hub rows, unless --force.
    #[arg(long, value_name = "URL")]
    to: DatabaseUrl,
    /// File holding the hub key the source's signing keys are sealed with (mode 0600); it must
    /// open them, and it opens them on the target too [default: $KEYWAY_HUB_KEY_FILE, or the
    /// key itself in $KEYWAY_HUB_KEY].
    #[arg(long, value_name = "PATH")]
    key_file: Option<std::path::PathBuf>,
    /// If the target holds rows, delete every row of its hub tables first, in the copy's
    /// transaction: the target then holds exactly the source (and keeps its rows if the copy
    /// fails).
    #[arg(long)]
    force: bool,
}

async fn migrate_store(args: MigrateArgs) -> anyhow::Result<()> {
    let settings = Settings::from_env_with_key_file(args.key_file.as_deref())?;
    let from = args.from.map_or(settings.database_url, |u| u.0);
    let options = keyway_hub::MigrateOptions { from, to: args.to.0, hub_key: settings.hub_key, force: args.force };
    let report = keyway_hub::migrate_store(options).await?;
    println!("{report}");
    Ok(())
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new hub key (base64url of 32 random bytes): printed on stdout, or written to a new
    /// file only its owner may read (0600) with --out.
    NewKey {
        /// Write the key to this new file instead of stdout (an existing file is never replaced).
        #[arg(long, value_name = "PATH")]
        out: Option<std::path::PathBuf>,
    },
    /// Make a new signing key current. The previous key keeps verifying the tokens it signed
    /// until they expire; running hubs on the database pick the new key up by themselves.
    Rotate {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the audit log's hash chain and its signed head. Exits 0 on an intact log; on a
    /// changed, removed or reordered row, non-zero naming the first bad row's id.
    Verify {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

async fn audit_verify(database: DatabaseArg) -> anyhow::Result<()> {
    let hub = Hub::open(settings(database)?).await.context("could not open the hub database")?;
    let report = hub.verify_audit().await?;
    if let Some(broken) = report.broken {
        bail!("{broken} ({} rows before it verified)", report.rows);
    }
    let kid = report.kid.as_deref().unwrap_or("-");
    println!("audit log intact: {} rows, last row {}, head signed by key {kid}", report.rows, report.last_id);
    Ok(())
}

#[derive(Debug, Subcommand)]
enum PatCommand {
    /// Mint a PAT and print it once on stdout: an agent PAT with --agent (the agent is created
    /// if missing), else a user PAT.
    Mint {
        /// The user who owns the PAT.
        #[arg(long)]
        user: String,
        /// Bind an agent PAT to this agent of the user.
        #[arg(long)]
        agent: Option<String>,
        /// Where the PAT may be used: cli, mcp or both.
        #[arg(long, default_value = "cli", value_parser = parse_audience)]
        audience: keyway_api::auth::Audience,
        /// Days until it expires [default: the admin's default].
        #[arg(long)]
        days: Option<u32>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

fn parse_audience(s: &str) -> Result<keyway_api::auth::Audience, String> {
    keyway_api::auth::Audience::parse(s).ok_or_else(|| format!("unknown audience '{s}' (expected cli, mcp or both)"))
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// Database URL [default: sqlite://keyway-hub.db, or $KEYWAY_HUB_DATABASE].
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// File holding the hub key that seals the signing keys (mode 0600) [default:
    /// $KEYWAY_HUB_KEY_FILE, or the key itself in $KEYWAY_HUB_KEY].
    #[arg(long, value_name = "PATH")]
    key_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or $KEYWAY_HUB_LISTEN].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    database: DatabaseArg,
    /// Public URL of the hub [default: http://<listen address>, or $KEYWAY_HUB_ISSUER].
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// A proxy (address or range like 10.0.0.0/8) whose X-Forwarded-For names the client;
    /// repeat for several [also: $KEYWAY_HUB_TRUSTED_PROXIES, comma-separated].
    #[arg(long = "trusted-proxy", value_name = "IP/CIDR", value_parser = parse_proxy)]
    trusted_proxies: Vec<keyway_hub::IpNet>,
    /// `protected` enforces roles; `learning` turns authentication off for a first contact
    /// (every request without a credential acts as a local learner holding every role; loopback
    /// only).
    #[arg(long, value_name = "MODE", env = "KEYWAY_HUB_MODE", default_value = "protected", value_parser = parse_mode)]
    mode: keyway_hub::Mode,
    #[command(flatten)]
    sso: SsoArgs,
}

/// Sign-in through the company's OpenID provider; the hub is its confidential client, with the
/// redirect URI `<issuer>/sso/callback`.
#[derive(Debug, Args)]
struct SsoArgs {
    /// The IdP's issuer URL (its discovery document is at
    /// <URL>/.well-known/openid-configuration); without it, passwords only.
    #[arg(long, value_name = "URL", env = "KEYWAY_HUB_SSO_ISSUER")]
    sso_issuer: Option<String>,
    /// The hub's client id at the IdP.
    #[arg(long, value_name = "ID", env = "KEYWAY_HUB_SSO_CLIENT_ID", requires = "sso_issuer")]
    sso_client_id: Option<String>,
    /// File holding the hub's client secret at the IdP (mode 0600; never the secret on argv).
    #[arg(long, value_name = "PATH", env = "KEYWAY_HUB_SSO_CLIENT_SECRET_FILE", requires = "sso_issuer")]
    sso_client_secret_file: Option<std::path::PathBuf>,
    /// The claim (id_token or userinfo) listing the person's groups.
    #[arg(long, value_name = "NAME", env = "KEYWAY_HUB_SSO_GROUPS_CLAIM", default_value = keyway_hub::DEFAULT_GROUPS_CLAIM)]
    sso_groups_claim: String,
    /// An IdP group and the Keyway role its members hold; repeat for several [also:
    /// $KEYWAY_HUB_SSO_ROLES, comma-separated].
    #[arg(long = "sso-role", value_name = "GROUP=ROLE", value_parser = keyway_hub::parse_role_mapping)]
    sso_roles: Vec<(String, Role)>,
    /// A role everyone signing in through the IdP holds (e.g. developer).
    #[arg(long, value_name = "ROLE", env = "KEYWAY_HUB_SSO_DEFAULT_ROLE", value_parser = parse_role)]
    sso_default_role: Option<Role>,
    /// /oauth/authorize goes straight to the IdP; local admins still get the password form
    /// at /oauth/authorize?…&local=1 (break-glass).
    #[arg(long, env = "KEYWAY_HUB_SSO_ONLY", requires = "sso_issuer")]
    sso_only: bool,
    /// What the sign-in page calls the IdP ("Sign in with NAME") [default: the issuer's host].
    #[arg(long, value_name = "NAME", env = "KEYWAY_HUB_SSO_NAME")]
    sso_name: Option<String>,
}

impl SsoArgs {
    fn into_settings(self) -> anyhow::Result<Option<keyway_hub::SsoSettings>> {
        let Some(issuer) = self.sso_issuer.filter(|i| !i.trim().is_empty()) else { return Ok(None) };
        let Some(client_id) = self.sso_client_id else { bail!("--sso-issuer needs --sso-client-id") };
        let Some(secret_file) = self.sso_client_secret_file else {
            bail!("--sso-issuer needs --sso-client-secret-file (the secret is never taken on the command line)")
        };
        let secret = keyway_hub::SsoSecret::from_file(&secret_file)?;
        let mut sso = keyway_hub::SsoSettings::new(issuer, client_id, secret);
        sso.groups_claim = self.sso_groups_claim;
        sso.roles = self.sso_roles;
        if let Ok(more) = std::env::var("KEYWAY_HUB_SSO_ROLES") {
            for mapping in more.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                sso.roles.push(keyway_hub::parse_role_mapping(mapping).map_err(anyhow::Error::msg)?);
            }
        }
        sso.default_role = self.sso_default_role;
        sso.only = self.sso_only;
        sso.name = self.sso_name;
        Ok(Some(sso))
    }
}

fn parse_proxy(s: &str) -> Result<keyway_hub::IpNet, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input when it is not a terminal,
    /// otherwise prompted for twice without echo.
    Add {
        /// Username: letters, digits, '.', '_', '-', '+' and '@' (an email address is a username).
        name: String,
        /// A role to grant (developer, reviewer, auditor, admin); repeat for several.
        #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

fn parse_mode(s: &str) -> Result<keyway_hub::Mode, String> {
    keyway_hub::Mode::parse(s).ok_or_else(|| format!("unknown mode '{s}' (expected protected or learning)"))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role '{s}' (expected one of: {})", all.join(", "))
    })
}

fn init_logging(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Logs go to stderr so stdout carries only the machine-readable lines.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The settings of every command that opens the database: the environment, `--database`,
/// and the hub key found the one way (`--key-file`, `KEYWAY_HUB_KEY_FILE`, `KEYWAY_HUB_KEY`).
fn settings(database: DatabaseArg) -> anyhow::Result<Settings> {
    let mut settings = Settings::from_env_with_key_file(database.key_file.as_deref())?;
    if let Some(url) = database.database {
        settings.database_url = url;
    }
    Ok(settings)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = settings(args.database)?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(issuer) = args.issuer {
        settings.issuer = Some(issuer);
    }
    settings.trusted_proxies.extend(args.trusted_proxies);
    settings.mode = args.mode;
    settings.sso = args.sso.into_settings()?;
    let hub = Hub::open(settings).await.context("could not open the hub")?;
    if hub.user_count().await? == 0 {
        tracing::warn!("there are no users yet; add one with `keyway-hub user add NAME --role ROLE`");
    }
    let running = hub.serve().await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", running.addr)?;
        out.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Reads the new user's password: one line of stdin when piped, else two silent prompts.
fn read_password() -> anyhow::Result<zeroize::Zeroizing<String>> {
    if !std::io::stdin().is_terminal() {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line).context("could not read the password from stdin")?;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(zeroize::Zeroizing::new(trimmed.to_owned()));
    }
    let first =
        zeroize::Zeroizing::new(rpassword::prompt_password("Password: ").context("could not read the password")?);
    let second = zeroize::Zeroizing::new(
        rpassword::prompt_password("Repeat password: ").context("could not read the password")?,
    );
    if *first != *second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

async fn user_add(name: String, roles: Vec<Role>, database: DatabaseArg) -> anyhow::Result<()> {
    let settings = settings(database)?;
    keyway_hub::validate_username(&name)?;
    let password = read_password()?;
    let hub = Hub::open(settings).await.context("could not open the hub database")?;
    hub.create_user(&name, &password, &roles).await.map_err(|e| match e {
        keyway_hub::Error::UserExists => anyhow::anyhow!("user '{name}' already exists"),
        e => anyhow::Error::new(e),
    })?;
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    println!("created user {name} with roles {}", roles.join(", "));
    Ok(())
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::NewKey { out: None } => {
            let key = keyway_hub::HubKey::generate();
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", key.to_text().as_str())?;
            out.flush()?;
        }
        KeysCommand::NewKey { out: Some(path) } => {
            let key = keyway_hub::HubKey::generate();
            key.write_new_file(&path)?;
            eprintln!("wrote a new hub key ({}) to {}; pass it with --key-file", key.id(), path.display());
        }
        KeysCommand::Rotate { database } => {
            let hub = Hub::open(settings(database)?).await.context("could not open the hub database")?;
            let (kid, previous) = hub.rotate_signing_key().await?;
            println!("signing key {kid} is current; {previous} verifies the tokens it signed until they expire");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(match cli.command {
        Command::Serve(_) => "info",
        Command::User { .. } | Command::Pat { .. } | Command::Keys { .. } | Command::Audit { .. } => "warn",
        Command::Scim { .. } => "warn",
        // sqlx would warn of each slow batch of the copy.
        Command::MigrateStore(_) => "warn,sqlx=error",
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::User { command: UserCommand::Add { name, roles, database } } => {
                user_add(name, roles, database).await
            }
            Command::Audit { command: AuditCommand::Verify { database } } => audit_verify(database).await,
            Command::Pat { command: PatCommand::Mint { user, agent, audience, days, database } } => {
                let hub = Hub::open(settings(database)?).await.context("could not open the hub database")?;
                let secret = hub.mint_pat(&user, agent.as_deref(), audience, days).await?;
                println!("{secret}");
                Ok(())
            }
            Command::Keys { command } => keys(command).await,
            Command::MigrateStore(args) => migrate_store(args).await,
            Command::Scim { command: ScimCommand::Token { command: ScimTokenCommand::Create { label, database } } } => {
                let hub = Hub::open(settings(database)?).await.context("could not open the hub database")?;
                let (id, secret) = hub.create_scim_token(label.as_deref()).await?;
                eprintln!("SCIM token {id} created; it is shown only now:");
                println!("{secret}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes the previous message already says.
fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out.replace(['\n', '\r'], " ")
}
