//! Browser sign-in: Authorization Code + PKCE (S256) + state + nonce. The browser comes back
//! either to a loopback listener bound before it is opened, or, for the desktop app, through a
//! private-use URI scheme that the operating system hands to the app, which delivers the URL here
//! with [`CallbackInbox::deliver`].

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::Error;
use crate::oidc::{LoginRequest, Provider};
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
    /// Where the browser comes back.
    pub redirect: Redirect,
}

/// Where the browser brings the sign-in back.
#[derive(Default)]
pub enum Redirect {
    /// A listener on 127.0.0.1, any free port, bound for this sign-in (RFC 8252 §7.3).
    #[default]
    Loopback,
    /// A redirect URI the client does not serve itself (a private-use URI scheme, RFC 8252 §7.1):
    /// whoever receives the URL hands it over through the [`CallbackInbox`] paired with it.
    External(ExternalCallbacks),
}

/// A callback URL that was not taken: it does not belong to the sign-in in progress (unknown or
/// already-used state, another address) or no sign-in is waiting. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallbackRefused(pub String);

struct Delivery {
    url: String,
    reply: oneshot::Sender<Result<(), CallbackRefused>>,
}

/// Hands callback URLs that arrive from outside (e.g. a deep link) to the sign-in waiting for
/// them. Cheap to clone; outlives the sign-in harmlessly (deliveries are then refused).
#[derive(Clone)]
pub struct CallbackInbox {
    tx: mpsc::Sender<Delivery>,
}

/// The receiving end, given to [`crate::Client::login`] in [`Redirect::External`].
pub struct ExternalCallbacks {
    redirect_uri: String,
    rx: mpsc::Receiver<Delivery>,
}

/// A sign-in whose browser comes back to `redirect_uri`, delivered through the inbox.
pub fn external_callbacks(redirect_uri: &str) -> (CallbackInbox, ExternalCallbacks) {
    let (tx, rx) = mpsc::channel(8);
    (CallbackInbox { tx }, ExternalCallbacks { redirect_uri: redirect_uri.to_owned(), rx })
}

const NOT_WAITING: &str =
    "No sign-in is waiting for this answer (it has finished or was cancelled), so it was ignored.";

impl CallbackInbox {
    /// Hands `url` to the sign-in in progress. `Ok`: it was this sign-in's answer (the sign-in
    /// now completes or fails on its own). `Err`: refused, and the sign-in goes on waiting.
    pub async fn deliver(&self, url: &str) -> Result<(), CallbackRefused> {
        let (reply, answer) = oneshot::channel();
        let refused = || CallbackRefused(NOT_WAITING.to_owned());
        self.tx.send(Delivery { url: url.to_owned(), reply }).await.map_err(|_| refused())?;
        answer.await.unwrap_or_else(|_| Err(refused()))
    }
}

impl ExternalCallbacks {
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits until a delivered URL carries this sign-in's answer; refuses every other one.
    async fn wait(&mut self, expected_state: &str, issuer: &str, iss_required: bool) -> Result<SecretString, Error> {
        use crate::loopback::{CallbackParams, Verdict, judge};
        while let Some(Delivery { url, reply }) = self.rx.recv().await {
            let verdict = match callback_query(&url, &self.redirect_uri) {
                Some(query) => judge(CallbackParams::from_query(&query), expected_state, issuer, iss_required),
                None => Verdict::Ignore("it is not addressed to this sign-in's redirect address"),
            };
            match verdict {
                Verdict::Ignore(why) => {
                    tracing::warn!("refused a sign-in answer: {why}");
                    let _ = reply.send(Err(CallbackRefused(format!(
                        "A sign-in answer was refused: {why}. Nothing was changed."
                    ))));
                }
                Verdict::Refused { code, message } => {
                    let _ = reply.send(Ok(()));
                    return Err(Error::Refused { code, message });
                }
                Verdict::Code(code) => {
                    let _ = reply.send(Ok(()));
                    return Ok(code);
                }
            }
        }
        Err(Error::Cancelled)
    }
}

/// The query of `url` when `url` is `redirect_uri` plus a query (no fragment), else `None`.
pub(crate) fn callback_query(url: &str, redirect_uri: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    if parsed.fragment().is_some() || &parsed[..url::Position::AfterPath] != redirect_uri {
        return None;
    }
    parsed.query().map(str::to_owned)
}

impl Default for LoginOptions {
    fn default() -> Self {
        let timeout = std::env::var("KEYWAY_LOGIN_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);
        LoginOptions { timeout, cancel: CancellationToken::new(), redirect: Redirect::Loopback }
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

    pub fn authorize_url(&self, provider: &Provider, client_id: &str, request: &LoginRequest) -> Url {
        let mut url = provider.authorization_endpoint.clone();
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &request.scope)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.verifier.challenge_s256())
            .append_pair("code_challenge_method", "S256");
        if let Some(prompt) = request.prompt {
            query.append_pair("prompt", prompt);
        }
        drop(query);
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

/// Where this sign-in waits for the browser.
pub(crate) enum Waiter {
    Loopback(TcpListener),
    External(ExternalCallbacks),
}

impl Waiter {
    /// Binds the loopback listener or takes the external inbox; returns the redirect URI too.
    pub(crate) async fn new(redirect: Redirect) -> Result<(Waiter, String), Error> {
        match redirect {
            Redirect::Loopback => {
                let (listener, uri) = bind_loopback().await?;
                Ok((Waiter::Loopback(listener), uri))
            }
            Redirect::External(callbacks) => {
                let uri = callbacks.redirect_uri.clone();
                Ok((Waiter::External(callbacks), uri))
            }
        }
    }
}

/// Wait for the browser, honouring timeout and cancellation. Returns the authorization code.
pub(crate) async fn await_code(
    waiter: Waiter,
    pending: &Pending,
    provider: &Provider,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<SecretString, Error> {
    let wait = async {
        match waiter {
            Waiter::Loopback(listener) => {
                crate::loopback::wait_for_callback(listener, &pending.state, &provider.issuer, provider.iss_parameter)
                    .await
                    .map(|cb| cb.code)
            }
            Waiter::External(mut callbacks) => {
                callbacks.wait(&pending.state, &provider.issuer, provider.iss_parameter).await
            }
        }
    };
    tokio::select! {
        r = wait => r,
        _ = tokio::time::sleep(timeout) => Err(Error::Timeout(timeout.as_secs())),
        _ = cancel.cancelled() => Err(Error::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "app.keyway.desktop:/oauth/callback";
    const ISSUER: &str = "http://127.0.0.1:9";

    fn answer(state: &str) -> String {
        format!("{REDIRECT}?code=the-code&state={state}&iss=http%3A%2F%2F127.0.0.1%3A9")
    }

    #[tokio::test]
    async fn only_the_matching_state_at_the_registered_address_is_taken() {
        let (inbox, mut callbacks) = external_callbacks(REDIRECT);
        let waiting = tokio::spawn(async move { callbacks.wait("s3cret-state", ISSUER, true).await });
        for wrong in [
            answer("forged"),
            answer(""),
            format!("{REDIRECT}?code=x"),
            "app.keyway.desktop:/oauth/other?code=the-code&state=s3cret-state".to_owned(),
            "keyway://approvals/7?code=the-code&state=s3cret-state".to_owned(),
            format!("{}#frag", answer("s3cret-state")),
            "not a url".to_owned(),
        ] {
            let refused = inbox.deliver(&wrong).await.expect_err(&wrong);
            assert!(refused.0.contains("Nothing was changed"), "{refused}");
            assert!(!waiting.is_finished(), "a refused answer ended the sign-in: {wrong}");
        }
        inbox.deliver(&answer("s3cret-state")).await.expect("the real answer is taken");
        let code = waiting.await.unwrap().expect("the sign-in got its code");
        assert_eq!(code.secret(), "the-code");
        // Used: the same answer again finds nobody waiting.
        let again = inbox.deliver(&answer("s3cret-state")).await.expect_err("replayed");
        assert_eq!(again.0, NOT_WAITING);
    }

    #[tokio::test]
    async fn a_refusal_from_the_server_ends_the_sign_in_with_its_message() {
        let (inbox, mut callbacks) = external_callbacks(REDIRECT);
        let waiting = tokio::spawn(async move { callbacks.wait("st", ISSUER, true).await });
        let url =
            format!("{REDIRECT}?error=access_denied&error_description=no&state=st&iss=http%3A%2F%2F127.0.0.1%3A9");
        inbox.deliver(&url).await.expect("the server's answer to this sign-in is taken");
        match waiting.await.unwrap() {
            Err(Error::Refused { code, message }) => {
                assert_eq!((code.as_str(), message.as_str()), ("access_denied", "no"))
            }
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }

    #[tokio::test]
    async fn no_sign_in_waiting_refuses() {
        let (inbox, callbacks) = external_callbacks(REDIRECT);
        drop(callbacks);
        assert_eq!(inbox.deliver(&answer("x")).await.unwrap_err().0, NOT_WAITING);
    }
}
