//! The hub's SCIM service driven by a real SCIM client library from a registry: python-scim's
//! `scim2-client` (requests built and answers validated against the schemas the hub publishes)
//! and its conformance checker `scim2-tester`, pinned in `crates/hub/tests/scim/requirements.txt`
//! and installed by `cargo xtask setup` in `~/.cache/keyway-scim/venv` (or `KEYWAY_SCIM_PYTHON`).
//! The script `crates/hub/tests/scim/client.py` reads the token on stdin, prints one line per
//! step, and the test asserts on those lines and on the hub's own state.

use std::io::Write as _;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::common::*;
use crate::credentials::session;
use crate::scim::{scim, scim_ok, scim_token};

/// The Python of the venv holding the pinned SCIM client.
fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("KEYWAY_SCIM_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| "/root".into());
    home.join(".cache/keyway-scim/venv/bin/python")
}

#[tokio::test]
async fn a_real_scim_client_provisions_users_and_groups() {
    let py = python();
    assert!(
        py.exists(),
        "the SCIM client peer is missing: run `cargo xtask setup` (it installs crates/hub/tests/scim/requirements.txt \
         into ~/.cache/keyway-scim/venv), or set KEYWAY_SCIM_PYTHON to a Python that has them; looked for {}",
        py.display()
    );
    let hub = TestHub::start().await;
    let token = scim_token(&hub).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scim/client.py");
    let url = hub.url.clone();
    let secret = token.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(py)
            .arg(script)
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the SCIM client script");
        child.stdin.take().unwrap().write_all(format!("{secret}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the SCIM client failed:\n{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    println!("{stdout}");
    for step in [
        "discovered Group User",
        "created pat@example.com",
        "found 1 by userName",
        "found 1 by externalId",
        "paged 3 of 5",
        "replaced active=False",
        "patched displayName=Pat Q",
        "group developer members=2",
        "group developer members=1",
        "invalidFilter refused",
        "uniqueness refused",
        "deleted 404",
    ] {
        assert!(lines.contains(&step), "missing step '{step}' in:\n{stdout}\n{stderr}");
    }
    // The conformance checker's verdicts: none is an error or critical, but for one known
    // deviation: Keyway's users always have `active` (removing it is refused, `mutability`).
    let checks: Vec<&str> = lines.iter().filter(|l| l.starts_with("check ")).copied().collect();
    assert!(checks.len() > 30, "the conformance checker ran too few checks:\n{stdout}");
    let known = "check_remove_attribute: Failed to remove attribute 'active'";
    let failed: Vec<&&str> =
        checks.iter().filter(|l| (l.contains(" ERROR ") || l.contains(" CRITICAL ")) && !l.contains(known)).collect();
    assert!(failed.is_empty(), "conformance failures:\n{}", failed.iter().map(|l| **l).collect::<Vec<_>>().join("\n"));

    // What the client did is what the hub holds.
    let users = scim_ok(scim(&hub, "GET", "/scim/v2/Users?count=100", &token, None).await, StatusCode::OK).await;
    let names: Vec<&str> =
        users["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert!(!names.contains(&"pat@example.com"), "deleted by the client: {names:?}");
    assert!(names.contains(&"lee@example.com"), "{names:?}");
    let dev = scim_ok(scim(&hub, "GET", "/scim/v2/Groups/developer", &token, None).await, StatusCode::OK).await;
    assert_eq!(dev["members"].as_array().map(Vec::len), Some(1), "{dev}");
    let alice = session(&hub, USER).await;
    let rows = crate::users::audit_rows(&hub, &alice, "group.add").await;
    assert!(rows.iter().all(|r| r.actor_kind == "scim_token"), "{rows:?}");
    hub.stop().await;
}
