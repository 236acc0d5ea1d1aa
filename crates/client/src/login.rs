//! Browser sign-in: Authorization Code + PKCE (S256) + state + nonce, redirect to a loopback
//! listener bound before the browser is opened.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::Error;
use crate::oidc::Provider;
use crate::pkce::{PkceVerifier, random_token};
use crate::secret::SecretString;

/// Opens the authorization URL in a browser. Errors are shown to the person as they are.
pub type Opener = Box<dyn FnOnce(&str) -> Result<(), String> + Send>;

/// The person's browser: `$BROWSER` when set (the first entry of a `:`-separated list, the
/// usual convention), else the desktop's default handler for http(s) URLs.
pub fn system_browser() -> Opener {
    Box::new(|url: &str| {
        let from_env = std::env::var("BROWSER")
            .ok()
            .and_then(|b| b.split(':').map(str::trim).find(|s| !s.is_empty()).map(String::from));
        match from_env {
            Some(cmd) => std::process::Command::new(&cmd)
                .arg(url)
                .stdin(std::process::Stdio::null())
                .spawn()
                .map(|mut child| {
                    // Reap the browser process whenever it exits; nobody waits on its result.
                    std::thread::spawn(move || child.wait());
                })
                .map_err(|e| format!("cannot run BROWSER '{cmd}': {e}")),
            None => open::that_detached(url).map_err(|e| e.to_string()),
        }
    })
}

/// For a browser elsewhere: print the authorization URL alone on a line on stderr.
pub fn print_link() -> Opener {
    Box::new(|url: &str| {
        eprintln!("Open this link in a browser to sign in:");
        eprintln!("{url}");
        Ok(())
    })
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct LoginOptions {
    /// How long to wait for the browser to come back (env `KEYWAY_LOGIN_TIMEOUT_SECS`, default 300).
    pub timeout: Duration,
    pub cancel: CancellationToken,
}

impl Default for LoginOptions {
    fn default() -> Self {
        let timeout = std::env::var("KEYWAY_LOGIN_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);
        LoginOptions { timeout, cancel: CancellationToken::new() }
    }
}

/// One sign-in in progress: the secrets that must come back in the callback.
pub(crate) struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: PkceVerifier,
    pub redirect_uri: String,
}

impl Pending {
    pub fn new(redirect_uri: String) -> Pending {
        Pending { state: random_token(32), nonce: random_token(32), verifier: PkceVerifier::random(), redirect_uri }
    }

    pub fn authorize_url(&self, provider: &Provider, client_id: &str) -> Url {
        let mut url = provider.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &keyway_api::LOGIN_SCOPES.join(" "))
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.verifier.challenge_s256())
            .append_pair("code_challenge_method", "S256");
        url
    }
}

/// Bind the loopback listener (IPv4 literal, any free port; RFC 8252 §7.3 and §8.3).
pub(crate) async fn bind_loopback() -> Result<(TcpListener, String), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        Error::Io(std::io::Error::new(e.kind(), format!("cannot open a sign-in listener on 127.0.0.1: {e}")))
    })?;
    let port = listener.local_addr()?.port();
    Ok((listener, format!("http://127.0.0.1:{port}/callback")))
}

/// Wait for the browser, honouring timeout and cancellation. Returns the authorization code.
pub(crate) async fn await_code(
    listener: TcpListener,
    pending: &Pending,
    provider: &Provider,
    opts: &LoginOptions,
) -> Result<SecretString, Error> {
    let wait = crate::loopback::wait_for_callback(listener, &pending.state, &provider.issuer, provider.iss_parameter);
    tokio::select! {
        r = wait => r.map(|cb| cb.code),
        _ = tokio::time::sleep(opts.timeout) => Err(Error::Timeout(opts.timeout.as_secs())),
        _ = opts.cancel.cancelled() => Err(Error::Cancelled),
    }
}
