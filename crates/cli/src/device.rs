//! The device authorization grant (RFC 8628) in the CLI: `keyway login --device` signs a machine
//! without a browser in, and `keyway device approve|deny CODE` is the signed-in person's answer,
//! after seeing which client asks, from where and when.

use std::io::{BufRead as _, Write as _};

use clap::Subcommand;
use keyway_api::clients::DeviceRequest;
use keyway_client::device::DeviceNote;
use keyway_client::{Client, Error, SessionInfo};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::Failure;

#[derive(Subcommand)]
pub(crate) enum DeviceCommand {
    /// Approve a device's sign-in as you: shows which client asks, from where and when, then
    /// asks you to confirm (--yes: do not ask).
    Approve {
        /// The code the device shows (BCDF-GHJK; case and dashes do not matter).
        code: String,
        /// Approve without asking (for scripts): the request is still shown first.
        #[arg(long)]
        yes: bool,
    },
    /// Deny a device's sign-in: it gets no tokens.
    Deny {
        /// The code the device shows.
        code: String,
    },
}

/// `keyway login --device`: prints where to go and the code on stderr, waits for the decision,
/// and keeps the session as a browser sign-in does.
pub(crate) async fn login(client: &Client, json: bool) -> Result<SessionInfo, Failure> {
    let start = client.start_device_login().await?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "To sign this device in, open {} and enter the code:", start.verification_uri);
    let _ = writeln!(err);
    let _ = writeln!(err, "    {}", start.user_code);
    let _ = writeln!(err);
    if let Some(complete) = &start.verification_uri_complete {
        let _ = writeln!(err, "Or open this link, which fills the code in (you still approve there):");
        let _ = writeln!(err, "{complete}");
    }
    let _ = writeln!(
        err,
        "Or, signed in elsewhere: keyway device approve {}. The code expires at {}. Waiting …",
        start.user_code,
        keyway_client::time::utc(start.expires_at)
    );
    drop(err);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let info = client
        .wait_device_login(&start, &cancel, |note| match note {
            DeviceNote::SlowerPolls(secs) if !json => {
                eprintln!("The server asked for slower polls: now every {secs} s.");
            }
            DeviceNote::SlowerPolls(_) => {}
        })
        .await?;
    Ok(info)
}

pub(crate) async fn run(client: &Client, command: DeviceCommand, json: bool) -> Result<(), Failure> {
    let (code, approve, yes) = match command {
        DeviceCommand::Approve { code, yes } => (code, true, yes),
        DeviceCommand::Deny { code } => (code, false, true),
    };
    let request = client.lookup_device(&code).await?;
    eprint!("{}", describe(&request, keyway_client::now()));
    if !yes && !confirm(&request)? {
        return Err(Failure {
            code: "cancelled".into(),
            message: "Not approved: nothing was changed.".into(),
            exit: 1,
        });
    }
    let decided = if approve {
        client.approve_device(&request.user_code).await?
    } else {
        client.deny_device(&request.user_code).await?
    };
    if json {
        println!(
            "{}",
            json!({ "user_code": decided.user_code, "approved": decided.approved, "request": describe_json(&request) })
        );
    } else if decided.approved {
        println!("Approved: {} ({}) is signed in as you.", request.client_name, request.client_id);
    } else {
        println!("Denied: {} ({}) was not signed in.", request.client_name, request.client_id);
    }
    Ok(())
}

/// The request as a person reads it before deciding.
fn describe(r: &DeviceRequest, now: i64) -> String {
    let scope = if r.scope.is_empty() { "none" } else { r.scope.as_str() };
    let resource = r.resource.as_deref().unwrap_or("this hub's API");
    let age = (now - r.created_at).max(0);
    format!(
        "Device sign-in {code}\n  client:  {name} ({id})\n  from:    {from}\n  asked:   {at} ({age} s ago)\n  scopes:  \
         {scope}\n  for:     {resource}\n  expires: {expires}\n",
        code = r.user_code,
        name = r.client_name,
        id = r.client_id,
        from = r.address.as_deref().unwrap_or("an unknown address"),
        at = keyway_client::time::utc(r.created_at),
        expires = keyway_client::time::utc(r.expires_at),
    )
}

fn describe_json(r: &DeviceRequest) -> serde_json::Value {
    json!({
        "user_code": r.user_code,
        "client_id": r.client_id,
        "client_name": r.client_name,
        "scope": r.scope,
        "resource": r.resource,
        "address": r.address,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
    })
}

/// Asks on stderr, reads the answer from stdin: only `y` or `yes` approves.
fn confirm(r: &DeviceRequest) -> Result<bool, Error> {
    eprint!("Approve only if you started this sign-in yourself and the device shows {}. Approve? [y/N] ", r.user_code);
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_shows_client_address_and_time() {
        let r = DeviceRequest {
            user_code: "BCDF-GHJK".into(),
            client_id: "keyway-desktop".into(),
            client_name: "Keyway Desktop".into(),
            scope: "openid".into(),
            resource: None,
            address: Some("192.0.2.7".into()),
            created_at: 1_700_000_000,
            expires_at: 1_700_000_600,
        };
        let text = describe(&r, 1_700_000_042);
        assert!(text.contains("Keyway Desktop (keyway-desktop)"), "{text}");
        assert!(text.contains("from:    192.0.2.7"), "{text}");
        assert!(text.contains("2023-11-14 22:13:20 UTC (42 s ago)"), "{text}");
    }
}
