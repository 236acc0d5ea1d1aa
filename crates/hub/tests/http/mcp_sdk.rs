//! The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`, pinned by `cargo xtask
//! setup` in `~/.cache/keyway-mcp-sdk`) on both sides: `crates/hub/tests/mcp/server.mjs` is an
//! MCP server that trusts hub JWTs by the hub's JWKS and answers 401 with RFC 9728 metadata;
//! `crates/hub/tests/mcp/client.mjs` starts from that 401 and lets the SDK discover, register,
//! sign in (PKCE and `resource` through the hub's form) and call the tool, then checks the
//! token's `iss` and `aud` and refresh rotation.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use serde_json::json;

use crate::common::*;
use crate::credentials::{admin_jwt, post_json};

/// The installed SDK's package folder; fails the test when `cargo xtask setup` has not run.
fn sdk_dir() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let sdk = PathBuf::from(home).join(".cache/keyway-mcp-sdk/node_modules/@modelcontextprotocol/sdk");
    assert!(
        sdk.join("package.json").exists(),
        "the MCP TypeScript SDK is not installed at {}: run `cargo xtask setup`",
        sdk.display()
    );
    sdk
}

/// Runs `client.mjs`; `register(resource)` tells the hub of the MCP server once it listens.
/// Returns the script's report.
async fn run_sdk_client<F, Fut>(hub_url: &str, other_aud_token: &str, scopes: &str, register: F) -> serde_json::Value
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let sdk = sdk_dir();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .env("KEYWAY_MCP_SDK", &sdk)
        .env("HUB", hub_url)
        .env("KW_USER", USER)
        .env("KW_PASSWORD", PASSWORD)
        .env("SCOPES", scopes)
        .env("OTHER_AUD_TOKEN", other_aud_token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (cargo xtask setup installs it)");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).await.expect("the script's first line");
    let listening: serde_json::Value = match serde_json::from_str(first.trim()) {
        Ok(v) => v,
        Err(_) => {
            let out = child.wait_with_output().await.expect("node ends");
            panic!("the MCP server did not start: {first}\n{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let resource = listening["resource"].as_str().expect("the MCP server's URL").to_owned();
    register(resource.clone()).await;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").await.expect("tell the script to go on");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.expect("the script's report");
    let out = child.wait_with_output().await.expect("node ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK client failed:\n{stderr}\n{rest}");
    let mut report: serde_json::Value = serde_json::from_str(rest.trim()).expect("one JSON line");
    report["resource"] = resource.into();
    report
}

#[tokio::test]
async fn the_mcp_typescript_sdk_starts_from_a_401_signs_in_and_calls_a_tool() {
    let hub = TestHub::start().await;
    let admin = admin_jwt(&hub, USER).await;
    let other_aud_token = access_token_of(&hub, USER).await;
    // The MCP server asks for its own scope and a refresh token (RFC 9728 `scopes_supported`).
    let report = run_sdk_client(&hub.url, &other_aud_token, "mcp:tools offline_access", |resource| {
        let (hub, admin) = (&hub, &admin);
        async move {
            let body = json!({"uri": resource, "name": "Test MCP server", "scopes": ["mcp:tools"]});
            let resp = post_json(hub, "/api/resources", admin, body).await;
            assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
        }
    })
    .await;
    assert_eq!(report["ok"], true);
    assert_eq!(report["aud"], report["resource"]);
    assert_eq!(report["scope"], "mcp:tools offline_access");
    assert!(report["client_id"].as_str().is_some_and(|id| id.starts_with("kwc_")));
    let page = report["consent_page"].as_str().unwrap();
    let names = format!(
        "asks for access to <strong>Test MCP server</strong> (<code>{}</code>)",
        report["resource"].as_str().unwrap()
    );
    assert!(page.contains(&names), "{page}");
    assert!(page.contains("<li><code>mcp:tools</code></li>"), "{page}");
    println!("first MCP sign-in, discovery to token: {} ms", report["first_sign_in_ms"]);
}

/// The SDK's own discovery of an issuer with a path, `http://127.0.0.1:<port>/tenant`, served by
/// the hub on that port: the first URL it asks is RFC 8414's path-inserted one, and the hub
/// answers it with its metadata, so the SDK looks no further.
#[tokio::test]
async fn the_mcp_typescript_sdk_finds_an_issuer_with_a_path_at_the_inserted_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}/tenant");
    let hub = TestHub::start_with(|s| {
        s.listen = format!("127.0.0.1:{port}").parse().unwrap();
        s.issuer = Some(issuer.clone());
    })
    .await;
    assert_eq!(hub.url, issuer);
    let sdk = sdk_dir();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/discover.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("KEYWAY_MCP_SDK", &sdk)
        .env("ISSUER", &issuer)
        .output()
        .await
        .expect("node runs (cargo xtask setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the SDK's discovery failed:\n{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    let inserted = format!("http://127.0.0.1:{port}/.well-known/oauth-authorization-server/tenant");
    assert_eq!(report["asked"], json!([{"url": inserted, "status": 200}]), "{report}");
    assert_eq!(report["metadata"]["issuer"], issuer.as_str());
    assert_eq!(report["metadata"]["token_endpoint"], format!("{issuer}/oauth/token").as_str());
    assert_eq!(report["metadata"]["code_challenge_methods_supported"], json!(["S256"]));
}
