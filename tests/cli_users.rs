//! The `keyway users` and `keyway sessions` commands against a real hub on 127.0.0.1, signed
//! in with an admin's user PAT kept in the real Secret Service. Run through `cargo xtask test`.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, ensure};
use keyway_api::Role;
use keyway_e2e::{Sandbox, TestHub, bin, ledger};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    let mut c = sb.command(&bin("keyway"));
    for var in ["KEYWAY_PAT", "KEYWAY_NEW_PASSWORD", "KEYWAY_PASSWORD"] {
        c.env_remove(var);
    }
    c
}

fn with_stdin(sb: &Sandbox, args: &[&str], stdin: &str) -> Result<Output> {
    ledger::record(ledger::Kind::of_shape(stdin).unwrap_or(ledger::Kind::Password), stdin);
    let mut child =
        keyway(sb).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    child.stdin.take().context("stdin")?.write_all(format!("{stdin}\n").as_bytes())?;
    Ok(child.wait_with_output()?)
}

fn run(sb: &Sandbox, args: &[&str]) -> Result<Output> {
    Ok(keyway(sb).args(args).stdin(Stdio::null()).output()?)
}

fn json_of(out: &Output) -> Result<Value> {
    let v = serde_json::from_slice(&out.stdout).with_context(|| {
        format!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })?;
    ledger::record_json(&v);
    Ok(v)
}

fn ok_json(out: Output) -> Result<Value> {
    ensure!(
        out.status.success(),
        "keyway failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_manage_users_from_the_cli_and_refusals_read_well() -> Result<()> {
    let (hub, pats) = TestHub::start_with_pats(
        &[("ada", PASSWORD, &[Role::Developer, Role::Admin]), ("ben", PASSWORD, &[Role::Developer])],
        &[("ada", None)],
    )
    .await?;
    let sb = Sandbox::new()?;
    let p = format!("u-admin-{}", std::process::id());
    ok_json(with_stdin(&sb, &["login", "--pat", "--server", &hub.url, "--profile", &p, "--json"], &pats[0])?)?;
    // `keyway --profile P --json ARGS`, with `stdin` piped in when given.
    let k = |args: &[&str], stdin: Option<&str>| -> Result<Output> {
        let mut all: Vec<&str> = vec!["--profile", &p, "--json"];
        all.extend_from_slice(args);
        match stdin {
            Some(input) => with_stdin(&sb, &all, input),
            None => run(&sb, &all),
        }
    };

    // A new user with a one-time code, and one with a password from stdin.
    let made = ok_json(k(&["users", "create", "carol", "--role", "reviewer"], None)?)?;
    assert_eq!(made["user"]["roles"], serde_json::json!(["reviewer"]));
    assert!(made["set_password_code"].as_str().is_some_and(|c| c.len() >= 22), "{made}");
    let made = ok_json(k(&["users", "create", "dave", "--password"], Some("a long enough secret"))?)?;
    assert_eq!(made["user"]["password_set"], true);
    assert!(made.get("set_password_code").is_none_or(Value::is_null));

    // Bad input: a coded error and a readable message, on stdout with --json and stderr without.
    let out = k(&["users", "create", "BEN", "--password"], Some("a long enough secret"))?;
    assert!(!out.status.success());
    assert_eq!(json_of(&out)?["error"], "user_exists");
    let out = k(&["users", "create", "erin", "--password"], Some("short"))?;
    assert_eq!(json_of(&out)?["error"], "weak_password");
    let out = run(&sb, &["--profile", &p, "users", "roles", "ada", "developer"])?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("yourself"), "{said}");
    let out = run(&sb, &["--profile", &p, "users", "disable", "nobody"])?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named 'nobody'"));

    // Changes, and the list and groups show them.
    let ben = ok_json(k(&["users", "roles", "ben", "developer", "auditor"], None)?)?;
    assert_eq!(ben["roles"], serde_json::json!(["developer", "auditor"]));
    assert_eq!(ok_json(k(&["users", "disable", "ben"], None)?)?["disabled"], true);
    let list = ok_json(k(&["users", "list", "--search", "a"], None)?)?;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["ada", "carol", "dave"]);
    let groups = ok_json(k(&["users", "groups"], None)?)?;
    let auditors = groups.as_array().unwrap().iter().find(|g| g["role"] == "auditor").unwrap();
    assert_eq!(auditors["members"][0]["username"], "ben");
    assert!(ok_json(k(&["users", "delete", "dave"], None)?)?["deleted_at"].is_i64());
    let reset = ok_json(k(&["users", "reset-password", "carol"], None)?)?;
    assert!(reset["set_password_code"].is_string());
    assert_eq!(ok_json(k(&["users", "logout", "carol"], None)?)?["ended"], 0);

    // A PAT profile has no sign-ins to list; the lifetimes can be read and set.
    assert_eq!(ok_json(k(&["sessions", "list"], None)?)?, serde_json::json!([]));
    let set = ok_json(k(&["sessions", "settings", "--absolute", "86400", "--idle", "3600"], None)?)?;
    assert_eq!((set["absolute_secs"].as_u64(), set["idle_secs"].as_u64()), (Some(86400), Some(3600)));
    hub.stop().await;
    Ok(())
}
