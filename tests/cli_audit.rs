//! `keyway audit list | export` against a real hub on 127.0.0.1, signed in with a PAT kept in
//! the real Secret Service (gnome-keyring in the test's headless D-Bus session). Run through
//! `cargo xtask test`.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, ensure};
use keyway_api::Role;
use keyway_e2e::{Sandbox, TestHub, bin};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    let mut c = sb.command(&bin("keyway"));
    for var in ["KEYWAY_PAT", "KEYWAY_SERVICE_TOKEN", "KEYWAY_ENROLLMENT_TOKEN"] {
        c.env_remove(var);
    }
    c
}

fn run(sb: &Sandbox, args: &[&str]) -> Result<Output> {
    Ok(keyway(sb).args(args).stdin(Stdio::null()).output()?)
}

fn ok(out: Output) -> Result<String> {
    ensure!(
        out.status.success(),
        "keyway failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Splits RFC 4180 text into records of fields (quoted fields may hold commas, quotes and
/// line breaks): the reader a spreadsheet would be.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_list_and_export_as_jsonl_and_csv() -> Result<()> {
    let users: &[(&str, &str, &[Role])] = &[("ada", PASSWORD, &[Role::Developer, Role::Auditor])];
    let (hub, pats) = TestHub::start_with_pats(users, &[("ada", None)]).await?;
    let sb = Sandbox::new()?;
    let profile = format!("audit-{}", std::process::id());
    let mut child = keyway(&sb)
        .args(["login", "--pat", "--server", &hub.url, "--profile", &profile])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(format!("{}\n", pats[0]).as_bytes())?;
    ok(child.wait_with_output()?)?;

    // Three mints by ada (their detail is JSON: quotes and commas the CSV must escape).
    let http = reqwest::Client::new();
    let exchanged: Value = http
        .post(format!("{}/auth/exchange", hub.url))
        .bearer_auth(&pats[0])
        .json(&serde_json::json!({"requested_token_class": "user_admin"}))
        .send()
        .await?
        .json()
        .await?;
    let admin = exchanged["access_token"].as_str().context("no JWT")?;
    for _ in 0..3 {
        let resp = http
            .post(format!("{}/api/credentials", hub.url))
            .bearer_auth(admin)
            .json(&serde_json::json!({"kind": "user_pat"}))
            .send()
            .await?;
        ensure!(resp.status() == 201, "mint: {}", resp.text().await?);
    }

    // list: the three mints (and the operator's one), filtered by action and actor.
    let rows: Value = serde_json::from_str(&ok(run(
        &sb,
        &["audit", "list", "--action", "pat.mint", "--json", "--profile", &profile],
    )?)?)?;
    let rows = rows.as_array().context("not a list")?;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let by_ada: Value = serde_json::from_str(&ok(run(
        &sb,
        &["audit", "list", "--action", "pat.mint", "--actor", "ada", "--json", "--profile", &profile],
    )?)?)?;
    assert_eq!(by_ada.as_array().map(Vec::len), Some(3));
    let none: Value = serde_json::from_str(&ok(run(
        &sb,
        &["audit", "list", "--action", "pat.mint", "--until", "2000-01-01", "--json", "--profile", &profile],
    )?)?)?;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let text = ok(run(&sb, &["audit", "list", "--outcome", "ok", "--limit", "2", "--profile", &profile])?)?;
    assert_eq!(text.lines().count(), 2, "{text}");
    let bad = run(&sb, &["audit", "list", "--since", "yesterday", "--profile", &profile])?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a time"), "{}", String::from_utf8_lossy(&bad.stderr));

    // export jsonl to stdout: one JSON object a line, the same rows.
    let jsonl = ok(run(&sb, &["audit", "export", "--action", "pat.mint", "--profile", &profile])?)?;
    let lines: Vec<Value> = jsonl.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(&lines, rows);

    // export csv to a file (0600): a header, then one record a row, every field as it was.
    let file = sb.dir.path().join("audit.csv");
    let file_arg = file.display().to_string();
    ok(run(
        &sb,
        &["audit", "export", "--format", "csv", "--output", &file_arg, "--action", "pat.mint", "--profile", &profile],
    )?)?;
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
    let csv = std::fs::read_to_string(&file)?;
    let records = parse_csv(&csv);
    assert_eq!(records.len(), 5, "{csv}");
    assert_eq!(records[0][..3], ["id", "at", "time"]);
    for (record, row) in records[1..].iter().zip(rows) {
        assert_eq!(record.len(), records[0].len(), "{record:?}");
        assert_eq!(record[0], row["id"].to_string());
        assert_eq!(record[6], "pat.mint");
        let detail: Value = serde_json::from_str(&record[10])?;
        assert_eq!(detail, row["detail"]);
    }
    assert!(csv.contains("\"{\"\""), "quotes are doubled inside quoted fields: {csv}");
    hub.stop().await;
    Ok(())
}
