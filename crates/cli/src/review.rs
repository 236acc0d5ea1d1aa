//! `keyway review …`: submit requests to the approval queue, wait for the answer, decide.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use keyway_api::reviews::{
    ContentType, Decide, Link, MAX_PAYLOAD_BYTES, ReviewQuery, ReviewRequest, ReviewStatus, SubmitReview, Verdict,
};
use keyway_client::{Client, Error, now};
use serde_json::Value;

use crate::{Failure, approval};

/// Exit status of `review submit --wait` and `review wait`.
const EXIT_APPROVED: u8 = 0;
const EXIT_REJECTED: u8 = 1;
const EXIT_NOT_DECIDED: u8 = 2;
pub(crate) const EXIT_ERROR: u8 = 3;

const WAIT_EXIT_HELP: &str = "Exit status with --wait:\n  \
    0  approved\n  \
    1  rejected\n  \
    2  expired, cancelled, or still pending when --timeout ran out\n  \
    3  the request could not be submitted, or waiting failed";

const SUBMIT_HELP: &str = "Exit status with --wait:\n  \
    0  approved (with --details --token, the minted JWT is on standard output)\n  \
    1  rejected\n  \
    2  expired, cancelled, or still pending when --timeout ran out\n  \
    3  the request could not be submitted, or waiting failed\n\n\
    An agent's approval that mints its token:\n  \
    keyway review submit --details @deploy.json --binding-message 'Deploy api v2' --wait --token";

#[derive(Subcommand)]
pub(crate) enum ReviewCommand {
    /// Ask reviewers to approve something; with --wait, block until they decide.
    #[command(after_help = SUBMIT_HELP)]
    Submit(SubmitArgs),
    /// List review requests, newest first (developers see their own; reviewers and auditors all).
    List(ListArgs),
    /// Show one request with its payload and decisions.
    Show { id: String },
    /// Approve a request (reviewers).
    Approve {
        id: String,
        /// Why (optional).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a request (reviewers); a reason is required.
    Reject {
        id: String,
        /// Why: the submitter reads it.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Withdraw a pending request you submitted.
    Cancel { id: String },
    /// Wait for a decision on a request (exit status as for `submit --wait`).
    #[command(after_help = WAIT_EXIT_HELP)]
    Wait {
        id: String,
        /// Give up after this long: seconds, or 90s, 10m, 2h (default: until the request expires).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
    },
}

impl ReviewCommand {
    /// True for the commands whose exit status reports a decision.
    pub(crate) fn waits(&self) -> bool {
        matches!(self, ReviewCommand::Submit(SubmitArgs { wait: true, .. }) | ReviewCommand::Wait { .. })
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ContentTypeArg {
    Text,
    Markdown,
    Json,
    Diff,
}

impl From<ContentTypeArg> for ContentType {
    fn from(c: ContentTypeArg) -> ContentType {
        match c {
            ContentTypeArg::Text => ContentType::Text,
            ContentTypeArg::Markdown => ContentType::Markdown,
            ContentTypeArg::Json => ContentType::Json,
            ContentTypeArg::Diff => ContentType::Diff,
        }
    }
}

#[derive(Args)]
pub(crate) struct SubmitArgs {
    /// What should be approved, in a few words.
    #[arg(long, required_unless_present = "details", conflicts_with = "details")]
    title: Option<String>,
    /// A category, e.g. deployment or guardrail_output (default general).
    #[arg(long, conflicts_with = "details")]
    kind: Option<String>,
    /// The content to review: @FILE, or - for standard input (at most 256 KB as JSON).
    #[arg(long, value_name = "@FILE|-", conflicts_with = "details")]
    payload: Option<String>,
    /// An agent's request whose approval mints a token for exactly this: RFC 9396
    /// authorization_details, a JSON array of objects each with a "type" (@FILE, or - for
    /// standard input). Needs --wait and an agent's profile.
    #[arg(long, value_name = "@FILE|-", requires = "wait")]
    details: Option<String>,
    /// With --details: the request's title for reviewers (at most 140 characters).
    #[arg(long, requires = "details")]
    binding_message: Option<String>,
    /// With --details: the one reviewer (user name) who may decide it.
    #[arg(long, requires = "details")]
    reviewer: Option<String>,
    /// With --details: scopes of the minted token, among the agent's own.
    #[arg(long, requires = "details")]
    scope: Option<String>,
    /// With --details: the resource (RFC 8707) the minted token is for.
    #[arg(long, requires = "details")]
    resource: Option<String>,
    /// With --details: print only the minted JWT on standard output, for a script.
    #[arg(long, requires = "details")]
    token: bool,
    /// How reviewers see the payload [default: json if it parses as JSON, else text;
    /// .md files markdown, .diff/.patch files diff].
    #[arg(long, value_enum)]
    content_type: Option<ContentTypeArg>,
    /// A context link, LABEL=URL; repeat for several.
    #[arg(long = "link", value_name = "LABEL=URL", value_parser = parse_link)]
    links: Vec<Link>,
    /// How long reviewers have: seconds, or 90s, 10m, 2h, 1d (default: the hub's, 1 h).
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Approvals needed (default 1); a single rejection decides.
    #[arg(long)]
    threshold: Option<u32>,
    /// Wait for the decision; the exit status tells it (see below).
    #[arg(long)]
    wait: bool,
    /// With --wait, give up after this long (default: until the request expires).
    #[arg(long, requires = "wait", value_parser = parse_duration)]
    timeout: Option<Duration>,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// pending, approved, rejected, expired or cancelled.
    #[arg(long, value_parser = parse_status)]
    status: Option<ReviewStatus>,
    /// Only decided, expired and cancelled requests (the history).
    #[arg(long, conflicts_with = "status")]
    decided: bool,
    #[arg(long)]
    kind: Option<String>,
    /// Submitter id or name.
    #[arg(long)]
    submitter: Option<String>,
    /// Only requests you submitted.
    #[arg(long)]
    mine: bool,
    /// Page size (default 50, at most 200).
    #[arg(long)]
    limit: Option<u32>,
    /// Continue after a previous page (the cursor it printed).
    #[arg(long)]
    cursor: Option<String>,
}

fn parse_status(s: &str) -> Result<ReviewStatus, String> {
    ReviewStatus::parse(s)
        .ok_or_else(|| format!("unknown status '{s}' (expected pending, approved, rejected, expired or cancelled)"))
}

/// `90`, `90s`, `10m`, `2h`, `1d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{s}' is not a duration like 90, 90s, 10m, 2h or 1d"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    };
    match secs {
        Some(0) => Err("the duration must be at least 1 second".into()),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("'{s}' is not a duration like 90, 90s, 10m, 2h or 1d")),
    }
}

fn parse_link(s: &str) -> Result<Link, String> {
    match s.split_once('=') {
        Some((label, url)) if !label.trim().is_empty() && !url.trim().is_empty() => {
            Ok(Link { label: label.trim().to_owned(), url: url.trim().to_owned() })
        }
        _ => Err(format!("'{s}' is not LABEL=URL")),
    }
}

/// Reads `--payload` and decides how it is shown.
fn read_payload(arg: Option<&str>, content_type: Option<ContentTypeArg>) -> Result<(Value, ContentType), Error> {
    let Some(arg) = arg else {
        return Ok((Value::Null, content_type.map(Into::into).unwrap_or_default()));
    };
    let (text, guessed) = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::InvalidInput(format!("could not read the payload from standard input: {e}")))?;
        (text, None)
    } else if let Some(path) = arg.strip_prefix('@') {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidInput(format!("could not read the payload file '{path}': {e}")))?;
        let ext = std::path::Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let guessed = match ext.as_str() {
            "md" | "markdown" => Some(ContentType::Markdown),
            "diff" | "patch" => Some(ContentType::Diff),
            "json" => Some(ContentType::Json),
            "txt" | "log" => Some(ContentType::Text),
            _ => None,
        };
        (text, guessed)
    } else {
        return Err(Error::InvalidInput(format!(
            "--payload takes @FILE or - (standard input), not '{arg}'; e.g. --payload @plan.json"
        )));
    };
    let content_type: ContentType = match (content_type, guessed) {
        (Some(c), _) => c.into(),
        (None, Some(g)) => g,
        (None, None) if serde_json::from_str::<Value>(&text).is_ok() => ContentType::Json,
        (None, None) => ContentType::Text,
    };
    let payload = if content_type == ContentType::Json {
        serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("the payload is not valid JSON ({e}); use --content-type text")))?
    } else {
        Value::String(text)
    };
    let size = serde_json::to_vec(&payload).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_PAYLOAD_BYTES {
        return Err(Error::InvalidInput(format!(
            "the payload is {size} bytes as JSON; the hub accepts at most {MAX_PAYLOAD_BYTES} (256 KB). \
             Put large content elsewhere and pass a --link to it."
        )));
    }
    Ok((payload, content_type))
}

/// Runs a review command; returns the exit status.
pub(crate) async fn run(client: &Client, command: ReviewCommand, json: bool) -> Result<u8, Failure> {
    match command {
        ReviewCommand::Submit(args) => submit(client, args, json).await,
        ReviewCommand::List(args) => {
            let query = ReviewQuery {
                status: args.status,
                decided: args.decided.then_some(true),
                kind: args.kind,
                submitter: args.submitter,
                mine: args.mine.then_some(true),
                cursor: args.cursor,
                limit: args.limit,
            };
            let page = client.list_reviews(&query).await?;
            if json {
                print_json(&page);
            } else {
                print_list(&page.items, page.next.as_deref());
            }
            Ok(0)
        }
        ReviewCommand::Show { id } => {
            let r = client.get_review(&id).await?;
            if json {
                print_json(&r);
            } else {
                print_detail(&r);
            }
            Ok(0)
        }
        ReviewCommand::Approve { id, reason } => decide(client, &id, Verdict::Approve, reason, json).await,
        ReviewCommand::Reject { id, reason } => decide(client, &id, Verdict::Reject, reason, json).await,
        ReviewCommand::Cancel { id } => {
            let r = client.cancel_review(&id).await?;
            if json {
                print_json(&r);
            } else {
                println!("Cancelled {} ({}).", r.id, r.title);
            }
            Ok(0)
        }
        ReviewCommand::Wait { id, timeout } => {
            let wait = async {
                let r = client.get_review(&id).await?;
                wait_and_report(client, r, timeout, json).await
            };
            wait.await.map_err(|f: Failure| f.exit(EXIT_ERROR))
        }
    }
}

async fn submit(client: &Client, args: SubmitArgs, json: bool) -> Result<u8, Failure> {
    let exit_on_error = if args.wait { EXIT_ERROR } else { 1 };
    if let Some(details) = args.details {
        let ask = approval::Ask {
            details,
            binding_message: args.binding_message,
            reviewer: args.reviewer,
            scope: args.scope,
            resource: args.resource,
            ttl: args.ttl,
            threshold: args.threshold,
            timeout: args.timeout,
            token: args.token,
        };
        let outcome = approval::submit(client, ask, json).await.map_err(|f: Failure| f.exit(exit_on_error))?;
        return Ok(match outcome {
            approval::Outcome::Approved => EXIT_APPROVED,
            approval::Outcome::Denied => EXIT_REJECTED,
            approval::Outcome::NotDecided => EXIT_NOT_DECIDED,
        });
    }
    let go = async {
        let title = args.title.unwrap_or_default();
        if title.trim().is_empty() {
            return Err(Error::InvalidInput("--title must not be empty".into()).into());
        }
        if args.threshold == Some(0) {
            return Err(Error::InvalidInput("--threshold must be at least 1".into()).into());
        }
        let (payload, content_type) = read_payload(args.payload.as_deref(), args.content_type)?;
        let submit = SubmitReview {
            title,
            kind: args.kind,
            payload,
            content_type: Some(content_type),
            links: args.links,
            ttl_secs: args.ttl.map(|d| d.as_secs()),
            threshold: args.threshold,
        };
        let r = client.submit_review(&submit).await?;
        if !args.wait {
            if json {
                print_json(&r);
            } else {
                println!(
                    "Submitted {} \"{}\": pending, needs {} approval(s), expires {}.",
                    r.id,
                    r.title,
                    r.threshold,
                    relative(r.expires_at)
                );
            }
            return Ok(0);
        }
        if !json {
            eprintln!("Submitted {} \"{}\"; waiting for a decision …", r.id, r.title);
        }
        wait_and_report(client, r, args.timeout, json).await
    };
    go.await.map_err(|f: Failure| f.exit(exit_on_error))
}

async fn wait_and_report(
    client: &Client,
    r: ReviewRequest,
    timeout: Option<Duration>,
    json: bool,
) -> Result<u8, Failure> {
    let timeout = timeout.unwrap_or_else(|| {
        // Until it expires, and a moment more so the hub's expiry is what we report.
        let left = u64::try_from(r.expires_at.saturating_sub(now())).unwrap_or(0);
        Duration::from_secs(left + 5)
    });
    let r = if r.status.is_final() { r } else { client.wait_review(&r.id, timeout).await? };
    let code = match r.status {
        ReviewStatus::Approved => EXIT_APPROVED,
        ReviewStatus::Rejected => EXIT_REJECTED,
        _ => EXIT_NOT_DECIDED,
    };
    if json {
        print_json(&r);
    } else {
        println!("{}", outcome_line(&r));
    }
    Ok(code)
}

async fn decide(
    client: &Client,
    id: &str,
    verdict: Verdict,
    reason: Option<String>,
    json: bool,
) -> Result<u8, Failure> {
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if verdict == Verdict::Reject && reason.is_none() {
        return Err(Error::InvalidInput(format!(
            "A reason is required to reject: keyway review reject {id} --reason \"what must change\""
        ))
        .into());
    }
    let r = client.decide_review(id, &Decide { verdict, reason }).await?;
    if json {
        print_json(&r);
    } else if r.status == ReviewStatus::Pending {
        println!("Approval recorded on {}: {} of {} approvals so far.", r.id, r.approvals, r.threshold);
    } else {
        println!("{}", outcome_line(&r));
    }
    Ok(0)
}

fn outcome_line(r: &ReviewRequest) -> String {
    let by = |v: Verdict| -> String {
        let names: Vec<&str> = r
            .decisions
            .iter()
            .filter(|d| d.verdict == v)
            .filter_map(|d| d.actor.as_ref().map(|a| a.name.as_str()))
            .collect();
        names.join(", ")
    };
    match r.status {
        ReviewStatus::Approved => format!("Approved by {}: {} ({}).", by(Verdict::Approve), r.title, r.id),
        ReviewStatus::Rejected => {
            let reason = r.decisions.iter().rev().find(|d| d.verdict == Verdict::Reject).and_then(|d| d.reason.clone());
            format!(
                "Rejected by {}: {} ({}). Reason: {}",
                by(Verdict::Reject),
                r.title,
                r.id,
                reason.unwrap_or_else(|| "none given".into())
            )
        }
        ReviewStatus::Expired => format!("Expired without a decision: {} ({}).", r.title, r.id),
        ReviewStatus::Cancelled => format!("Cancelled: {} ({}).", r.title, r.id),
        ReviewStatus::Pending => format!(
            "Still pending ({} of {} approvals); stopped waiting: {} ({}).",
            r.approvals, r.threshold, r.title, r.id
        ),
    }
}

fn relative(unix: i64) -> String {
    let d = unix - now();
    match d {
        d if d <= 0 => "now".to_owned(),
        d if d < 120 => format!("in {d} s"),
        d if d < 7200 => format!("in {} min", d / 60),
        d if d < 172_800 => format!("in {} h", d / 3600),
        d => format!("in {} days", d / 86_400),
    }
}

fn age(unix: i64) -> String {
    let d = (now() - unix).max(0);
    match d {
        d if d < 120 => format!("{d}s"),
        d if d < 7200 => format!("{}m", d / 60),
        d if d < 172_800 => format!("{}h", d / 3600),
        d => format!("{}d", d / 86_400),
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
}

fn print_list(items: &[ReviewRequest], next: Option<&str>) {
    let mut out = std::io::stdout().lock();
    if items.is_empty() {
        let _ = writeln!(out, "No review requests.");
    } else {
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:>5} {:<16} {:<14} {:>4}  TITLE",
            "ID", "STATUS", "VOTES", "KIND", "SUBMITTER", "AGE"
        );
        for r in items {
            let _ = writeln!(
                out,
                "{:<24} {:<9} {:>5} {:<16} {:<14} {:>4}  {}",
                r.id,
                r.status.as_str(),
                format!("{}/{}", r.approvals, r.threshold),
                truncate(&r.kind, 16),
                truncate(&r.submitter.name, 14),
                age(r.created_at),
                r.title
            );
        }
    }
    if let Some(next) = next {
        let _ = writeln!(out, "More: keyway review list --cursor {next}");
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).chain(['…']).collect() }
}

fn print_detail(r: &ReviewRequest) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", r.title);
    let _ = writeln!(out, "id:        {}", r.id);
    let _ = writeln!(out, "status:    {} ({} of {} approvals)", r.status.as_str(), r.approvals, r.threshold);
    let _ = writeln!(out, "kind:      {}", r.kind);
    let _ = writeln!(out, "submitter: {} ({})", r.submitter.name, r.submitter.kind.as_str());
    let _ = writeln!(out, "created:   {} ago", age(r.created_at));
    if r.status == ReviewStatus::Pending {
        let _ = writeln!(out, "expires:   {}", relative(r.expires_at));
    }
    for link in &r.links {
        let _ = writeln!(out, "link:      {} <{}>", link.label, link.url);
    }
    for d in &r.decisions {
        let who = d.actor.as_ref().map(|a| a.name.as_str()).unwrap_or("the hub");
        let verdict = match d.verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
            Verdict::Expire => "expired",
            Verdict::Cancel => "cancelled",
        };
        let reason = d.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        let _ = writeln!(out, "decision:  {verdict} by {who}, {} ago{reason}", age(d.at));
    }
    match &r.payload {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            let _ = writeln!(out, "\n{text}");
        }
        Some(other) => {
            let _ = writeln!(out, "\n{}", serde_json::to_string_pretty(other).unwrap_or_default());
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "0", "-5", "1y", "h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links() {
        assert_eq!(parse_link("PR=https://x/1").unwrap().url, "https://x/1");
        assert!(parse_link("nolabel").is_err());
        assert!(parse_link("=https://x").is_err());
    }
}
