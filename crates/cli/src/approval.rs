//! `keyway review submit --details …`: an agent asks reviewers to approve exactly these
//! `authorization_details` and, once they do, gets a short-lived token that carries them
//! (OpenID CIBA through the hub's backchannel endpoint).

use std::io::Read as _;
use std::time::Duration;

use keyway_api::auth::TokenClass;
use keyway_api::ciba::details_problem;
use keyway_client::approvals::{ApprovalAsk, ApprovalOutcome};
use keyway_client::{Client, Error};

use crate::Failure;

/// What `review submit --details` was given.
pub(crate) struct Ask {
    /// `@FILE` or `-`.
    pub(crate) details: String,
    pub(crate) binding_message: Option<String>,
    pub(crate) reviewer: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) threshold: Option<u32>,
    pub(crate) timeout: Option<Duration>,
    /// Print only the minted JWT.
    pub(crate) token: bool,
}

/// How it ended, for the exit status.
pub(crate) enum Outcome {
    Approved,
    Denied,
    NotDecided,
}

pub(crate) async fn submit(client: &Client, args: Ask, json: bool) -> Result<Outcome, Failure> {
    if client.default_class()? != TokenClass::AgentAccess {
        return Err(Error::InvalidInput(
            "--details asks for an approval that mints an agent's token: use a profile with an agent PAT \
             (keyway login --pat)"
                .into(),
        )
        .into());
    }
    let details = read_details(&args.details)?;
    if let Some(problem) = details_problem(&details) {
        return Err(Error::InvalidInput(problem).into());
    }
    let ask = ApprovalAsk {
        details,
        binding_message: args.binding_message,
        reviewer: args.reviewer,
        scope: args.scope,
        resource: args.resource,
        expiry: args.ttl,
        threshold: args.threshold,
    };
    let asked = client.ask_approval(&ask).await?;
    if !json {
        eprintln!("Asked for approval: review {}; waiting for a decision …", asked.review_id);
    }
    // Until it expires, and a moment more so the hub's expiry is what we report.
    let timeout = args.timeout.unwrap_or(asked.expires_in + Duration::from_secs(5));
    let outcome = client.redeem_approval(&asked, timeout).await?;
    let (code, line) = match outcome {
        ApprovalOutcome::Approved(token) => {
            if args.token {
                println!("{}", token.access_token);
            } else if json {
                println!("{}", serde_json::to_string_pretty(&token).unwrap_or_default());
            } else {
                println!(
                    "Approved: a token for exactly these details, valid {} s. Add --token to print it for a script.",
                    token.expires_in
                );
            }
            return Ok(Outcome::Approved);
        }
        ApprovalOutcome::Denied(why) => (Outcome::Denied, format!("Not approved: {why}")),
        ApprovalOutcome::Expired => (Outcome::NotDecided, "Expired: nobody decided in time.".to_owned()),
        ApprovalOutcome::TimedOut => (Outcome::NotDecided, "Still pending when --timeout ran out.".to_owned()),
    };
    if json {
        println!("{}", serde_json::json!({ "review_id": asked.review_id, "approved": false, "outcome": line }));
    } else {
        // Standard output stays empty for a script that wanted a token.
        eprintln!("{line}");
    }
    Ok(code)
}

/// The `authorization_details` JSON from `@FILE` or `-` (standard input).
fn read_details(arg: &str) -> Result<serde_json::Value, Error> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::InvalidInput(format!("could not read the details from standard input: {e}")))?;
        text
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidInput(format!("could not read the details file '{path}': {e}")))?
    } else {
        return Err(Error::InvalidInput(format!(
            "--details takes @FILE or - (standard input), not '{arg}'; e.g. --details @deploy.json"
        )));
    };
    serde_json::from_str(&text).map_err(|e| Error::InvalidInput(format!("the details are not valid JSON: {e}")))
}
