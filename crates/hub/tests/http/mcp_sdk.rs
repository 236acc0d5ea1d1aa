//! The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`, pinned by `cargo xtask
//! setup` in `~/.cache/keyway-mcp-sdk`) as the client: `crates/hub/tests/mcp/client.mjs`
//! discovers the hub, registers dynamically, signs in with PKCE and `resource` through the
//! hub's form, exchanges the code and refreshes; the token's `aud` is the resource.

use std::path::PathBuf;

use crate::common::*;

fn sdk_dir() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/keyway-mcp-sdk/node_modules/@modelcontextprotocol/sdk")
}

#[tokio::test]
async fn the_mcp_typescript_sdk_discovers_registers_signs_in_and_refreshes() {
    let sdk = sdk_dir();
    assert!(
        sdk.join("package.json").exists(),
        "the MCP TypeScript SDK is not installed at {}: run `cargo xtask setup`",
        sdk.display()
    );
    let resource = "http://127.0.0.1:9/mcp";
    let hub = TestHub::start_with(|s| s.resources = vec![resource.to_owned()]).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("KEYWAY_MCP_SDK", &sdk)
        .env("HUB", &hub.url)
        .env("RESOURCE", resource)
        .env("KW_USER", USER)
        .env("KW_PASSWORD", PASSWORD)
        .output()
        .await
        .expect("node runs (cargo xtask setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK client failed:\n{stderr}\n{stdout}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["ok"], true);
    assert_eq!(report["aud"], resource);
    assert!(report["client_id"].as_str().is_some_and(|id| id.starts_with("kwc_")));
    println!("first MCP sign-in, discovery to token: {} ms", report["first_sign_in_ms"]);
}
