//! Keyway's own automation: `cargo xtask setup | run | test | check-structure | fuzz | screenshots | bundle | bench desktop`.
//!
//! `setup` installs what a fresh Debian 12 machine lacks (apt packages, the wasm32 target and the
//! pinned tools); `run` and `test` call it first, so the README's two commands work on a new machine.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod apt;
#[cfg(test)]
mod architecture;
mod bench;
mod bench_desktop;
mod canary;
mod fuzz;
mod secret_scan;
mod session_scan;
mod structure;

/// apt packages: Tauri/WebKitGTK build deps, the headless test desktop, keychain and tools.
const APT_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "curl",
    "libssl-dev",
    "libdbus-1-dev",
    "libwebkit2gtk-4.1-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "libgtk-3-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "xvfb",
    "python3-venv",
    "webkit2gtk-driver",
    "xdg-utils",
    // Its dpkg trigger indexes the .deb's URL schemes (mimeinfo.cache) for xdg-mime/xdg-open.
    "desktop-file-utils",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "imagemagick",
    // The desktop test reads the clipboard (and its targets) the app wrote a secret to.
    "xclip",
    // The exchange benchmark's fixed load generator.
    "wrk",
    // The hub's PostgreSQL backend: its tests start a throwaway server from these binaries.
    "postgresql",
    // Its TLS test makes a throwaway CA and server certificate with the `openssl` command.
    "openssl",
];
const TRUNK_VERSION: &str = "0.21.14";
const TAURI_DRIVER_VERSION: &str = "2.1.0";
const NEXTEST_VERSION: &str = "0.9.143";
const BINARYEN_VERSION: &str = "132";
/// The Tauri CLI (bundler), prebuilt in the npm package `@tauri-apps/cli`.
const TAURI_CLI_VERSION: &str = "2.12.5";
/// The official MCP TypeScript SDK, the client of the hub's MCP authorization test
/// (`crates/hub/tests/mcp/client.mjs`); the test finds it in `~/.cache/keyway-mcp-sdk`.
const MCP_SDK_VERSION: &str = "1.32.2";
/// The OpenID provider the hub's SSO tests sign in at (npm `oidc-provider`, OpenID Certified).
const OIDC_PROVIDER_VERSION: &str = "9.13.3";

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let (cmd, rest) = args.split_first().map(|(c, r)| (c.as_str(), r)).unwrap_or(("help", &[]));
    match cmd {
        "setup" => setup(),
        "run" => {
            setup()?;
            build_ui()?;
            // The same build as `test`: after either, the other compiles no dependency again.
            build_workspace()?;
            let bin = target_dir().join("debug/keyway-desktop");
            let status =
                Command::new(&bin).args(rest).status().with_context(|| format!("starting {}", bin.display()))?;
            if !status.success() {
                bail!("keyway-desktop exited with {status}");
            }
            Ok(())
        }
        "check-structure" => structure::check_structure(&root()),
        "fuzz" => fuzz::fuzz(rest),
        "test" => {
            // First, and before any install or build: it needs nothing and fails in a second.
            structure::check_structure(&root())?;
            setup()?;
            test(rest, None)
        }
        "screenshots" => {
            setup()?;
            let dir = root().join("ui/screenshots");
            std::fs::create_dir_all(&dir)?;
            test(
                &["-E".into(), "binary(desktop) | binary(pages) | binary(org_pages) | binary(device_page)".into()],
                Some(&dir),
            )
        }
        "headless" => headless(rest),
        "bench" if rest.first().map(String::as_str) == Some("desktop") => {
            setup()?;
            bench_desktop::desktop()
        }
        "bench-desktop-inner" => bench_desktop::desktop_inner(rest),
        "bench" => bench::bench(rest),
        "bundle" => {
            setup()?;
            let debug = rest.iter().any(|a| a == "--debug");
            bundle(debug).map(|_| ())
        }
        _ => {
            eprintln!(
                "cargo xtask <command>\n\n  setup        install what this machine lacks (apt, wasm32 target, trunk, wasm-bindgen-cli, tauri-driver, nextest, binaryen, Tauri CLI)\n  run          setup, build the UI and start the desktop app\n  check-structure  fail on an import circle between the files of one crate, or a src/ file over 600 lines\n  test         check-structure, setup, build everything and run every test (headless D-Bus + gnome-keyring + Xvfb)\n  screenshots  run the desktop end-to-end tests and save their screenshots in ui/screenshots/\n  fuzz [SECONDS]  run every fuzz target of crates/fuzz under libFuzzer, SECONDS in all (default 60) split evenly, and print each one's executions and crashes; crash inputs go to crates/fuzz/artifacts/<target>/ (installs the pinned nightly toolchain and cargo-fuzz)\n  bundle       build the release .deb (target/bundle/keyway_<version>_amd64.deb); --debug packages the debug build\n  bench NAME   measure: exchange (PAT → JWT load run against a release hub; --compare-limits: beside the same hub without its request limits), approvals (the review queue with 100,000 pending), hubs (two hubs on one PostgreSQL: a decision and a revocation on one seen on the other, exchanges split across both), ciba (backchannel requests per second with live reviewers, decided → token, device-flow polls per second), desktop (.deb and installed size, first paint and idle memory beside a bare Tauri window), audit (`keyway-hub audit verify` over 100,000 rows), audit-page (the desktop's Audit page over 100,000 rows)"
            );
            Ok(())
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, or `target/` in the workspace.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    cmd.stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn cargo_bin() -> PathBuf {
    env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home().join(".cargo")).join("bin")
}

fn home() -> PathBuf {
    env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// Where npm puts the pinned binaryen (its wasm-opt is what trunk runs).
fn binaryen_bin() -> PathBuf {
    home().join(".cache/keyway-binaryen/node_modules/.bin")
}

/// Where npm puts the pinned Tauri CLI.
fn tauri_cli() -> PathBuf {
    home().join(".cache/keyway-tauri-cli/node_modules/.bin/tauri")
}

/// PATH with binaryen and the cargo bin dir first (each once, however often xtask nests).
fn tool_path() -> String {
    let first = [binaryen_bin(), cargo_bin()];
    let old = env::var_os("PATH").unwrap_or_default();
    let rest = env::split_paths(&old).filter(|p| !first.contains(p));
    env::join_paths(first.iter().cloned().chain(rest)).unwrap_or_else(|_| old.clone()).to_string_lossy().into_owned()
}

fn setup() -> Result<()> {
    // apt packages, only the missing ones.
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_none_or(|s| !s.contains("install ok installed"))
        })
        .collect();
    let mut missing = missing;
    // Node.js may come from another vendor's package that bundles npm (and conflicts with
    // Debian's npm): only ask apt for it when there is no npm at all.
    if output(Command::new("npm").arg("--version")).is_none() {
        missing.extend(["nodejs", "npm"]);
    }
    apt::install(&missing)?;
    // wasm32 target.
    let targets = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    // Pinned cargo tools.
    let wasm_bindgen = wasm_bindgen_version()?;
    // (crate, binary, version, --locked). A tool already at the pinned version is kept.
    let tools = [
        ("trunk", "trunk", TRUNK_VERSION, true),
        ("tauri-driver", "tauri-driver", TAURI_DRIVER_VERSION, true),
        ("cargo-nextest", "cargo-nextest", NEXTEST_VERSION, true),
        // wasm-bindgen-cli's own lockfile wants a crate the registry mirror lacks: no --locked.
        ("wasm-bindgen-cli", "wasm-bindgen", wasm_bindgen.as_str(), false),
    ];
    for (krate, bin, version, locked) in tools {
        if installed_version(bin).is_some_and(|v| v == version) {
            continue;
        }
        let mut c = Command::new("cargo");
        c.args(["install", &format!("{krate}@{version}")]);
        if locked {
            c.arg("--locked");
        }
        run(&mut c)?;
    }
    // A binaryen whose wasm-opt understands current wasm-bindgen output (Debian's 108 does not).
    let have_opt = output(Command::new(binaryen_bin().join("wasm-opt")).arg("--version")).unwrap_or_default();
    if !have_opt.contains(&format!("version {BINARYEN_VERSION}")) {
        let prefix = home().join(".cache/keyway-binaryen");
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    }
    // The Tauri CLI for `bundle` ("tauri-cli 2.12.5").
    let have_cli = output(Command::new(tauri_cli()).arg("--version")).unwrap_or_default();
    if have_cli.split_whitespace().nth(1) != Some(TAURI_CLI_VERSION) {
        let prefix = home().join(".cache/keyway-tauri-cli");
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--save-exact", "--prefix"])
            .arg(&prefix)
            .arg(format!("@tauri-apps/cli@{TAURI_CLI_VERSION}")))?;
    }
    let sdk = home().join(".cache/keyway-mcp-sdk");
    let sdk_package = sdk.join("node_modules/@modelcontextprotocol/sdk/package.json");
    let have_sdk = std::fs::read_to_string(&sdk_package).unwrap_or_default();
    if !have_sdk.contains(&format!("\"version\": \"{MCP_SDK_VERSION}\"")) {
        std::fs::create_dir_all(&sdk)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--save-exact", "--prefix"])
            .arg(&sdk)
            .arg(format!("@modelcontextprotocol/sdk@{MCP_SDK_VERSION}")))?;
    }
    // The real OpenID provider of the hub's SSO tests (crates/hub/tests/sso/provider.mjs).
    let prefix = home().join(".cache/keyway-oidc-provider");
    let installed = std::fs::read_to_string(prefix.join("node_modules/oidc-provider/package.json")).unwrap_or_default();
    if !installed.contains(&format!("\"version\": \"{OIDC_PROVIDER_VERSION}\"")) {
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--save-exact", "--prefix"])
            .arg(&prefix)
            .arg(format!("oidc-provider@{OIDC_PROVIDER_VERSION}")))?;
    }
    scim_client()?;
    Ok(())
}

/// The SCIM client the hub's SCIM test drives it with (python-scim's scim2-client and
/// scim2-tester, pinned in crates/hub/tests/scim/requirements.txt), in a venv of its own.
fn scim_client() -> Result<()> {
    let venv = home().join(".cache/keyway-scim/venv");
    let python = venv.join("bin/python");
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/hub/tests/scim/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)?;
    let stamp = venv.join("keyway-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(stamp, wanted)?;
    Ok(())
}

/// Packages the desktop app as a .deb with Tauri's bundler and returns its path,
/// `target/bundle[/debug]/keyway_<version>_<arch>.deb` (Debian's naming).
///
/// Release: the UI through trunk, the app with `--release`, then `tauri bundle`.
/// `--debug` (what `cargo xtask test` uses): `tauri bundle --debug` packages the debug binary the
/// workspace build has just made, so the installed-package test costs no second build.
fn bundle(debug: bool) -> Result<PathBuf> {
    let t0 = Instant::now();
    if !debug {
        // Not `tauri build`: it expects cargo to have made a binary named after the package next
        // to tauri.conf.json (the root package, `keyway-e2e`) and fails renaming it. The app
        // package's own binary is already `keyway-desktop` (`mainBinaryName`).
        build_ui()?;
        run(cargo().args(["build", "--release", "-p", "keyway-desktop", "--bins"]).env("PATH", tool_path()))?;
    }
    let mut c = Command::new(tauri_cli());
    c.args(["bundle", "--bundles", "deb", "--ci"]);
    if debug {
        c.arg("--debug");
    }
    run(c.current_dir(root()).env("PATH", tool_path()))?;
    let profile = if debug { "debug" } else { "release" };
    let made = target_dir().join(profile).join("bundle/deb");
    let deb = std::fs::read_dir(&made)
        .with_context(|| format!("reading {}", made.display()))?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "deb"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .with_context(|| format!("the bundler left no .deb in {}", made.display()))?;
    // Keyway_0.1.0_amd64.deb → keyway_0.1.0_amd64.deb
    let name = deb.file_name().and_then(|n| n.to_str()).context("odd .deb name")?.to_lowercase();
    let dir = target_dir().join(if debug { "bundle/debug" } else { "bundle" });
    std::fs::create_dir_all(&dir)?;
    let out = dir.join(name);
    std::fs::copy(&deb, &out)?;
    let size = std::fs::metadata(&out)?.len();
    eprintln!("xtask: {} ({:.1} MB) bundled in {:.0?}", out.display(), size as f64 / 1e6, t0.elapsed());
    Ok(out)
}

/// The version cargo recorded for an installed binary (`$CARGO_HOME/.crates.toml`), if the
/// binary is still there.
fn installed_version(bin: &str) -> Option<String> {
    if bin == "cargo-nextest" {
        // The machine image may ship nextest outside cargo's records; any version will do.
        return output(Command::new("cargo").args(["nextest", "--version"]).env("PATH", tool_path()))
            .map(|_| NEXTEST_VERSION.to_string());
    }
    if !cargo_bin().join(bin).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(cargo_bin().parent()?.join(".crates.toml")).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    // { v1 = { "trunk 0.21.14 (registry+…)" = ["trunk"] } }
    doc.get("v1")?.as_table()?.iter().find_map(|(key, bins)| {
        let has = bins.as_array()?.iter().any(|b| b.as_str() == Some(bin));
        if has { key.split(' ').nth(1).map(str::to_string) } else { None }
    })
}

/// The wasm-bindgen version the UI is locked to; the CLI must be exactly that.
fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("ui/Cargo.lock")).context("reading ui/Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|v| v.trim().strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    bail!("ui/Cargo.lock has no wasm-bindgen")
}

fn build_ui() -> Result<()> {
    run(Command::new("trunk").args(["build", "--release"]).current_dir(root().join("ui")).env("PATH", tool_path()))
}

/// Every binary of the workspace, the build `test` and `run` share. One command, so one
/// feature resolution: `cargo build -p keyway-desktop` alone unifies features over fewer
/// packages and would compile much of the dependency tree a second time.
fn build_workspace() -> Result<()> {
    run(cargo().args(["build", "--workspace", "--bins", "--exclude", "xtask"]).env("PATH", tool_path()))
}

/// What `cargo nextest run --workspace` will need, in the resolution it will use: with the test
/// targets in the same command, dev-dependencies' features apply to the binaries too, so the
/// tests reuse them instead of compiling the hub and much of its tree a second time (which
/// doubles `target/`).
fn build_for_tests() -> Result<()> {
    run(cargo().args(["build", "--workspace", "--bins", "--tests"]).env("PATH", tool_path()))
}

/// This program's path, to run it again inside the test session. `build_for_tests` builds the
/// whole workspace, xtask too, so the running binary may have just been replaced: Linux then
/// names it "<path> (deleted)", and the path itself holds the new build of the same source.
fn this_xtask() -> Result<PathBuf> {
    let me = env::current_exe()?;
    let Some(name) = me.to_str() else { return Ok(me) };
    match name.strip_suffix(" (deleted)") {
        Some(rebuilt) if Path::new(rebuilt).exists() => Ok(PathBuf::from(rebuilt)),
        _ => Ok(me),
    }
}

/// How much `target/` holds and how much the disk has left, in the log: a full disk shows up as a
/// linker's IO error, and these two lines say why.
fn report_target_size() {
    if let Some(o) = output(Command::new("du").args(["-sh"]).arg(target_dir())) {
        eprintln!("xtask: target/ holds {}", o.split_whitespace().next().unwrap_or("?"));
    }
    if let Some(o) = output(Command::new("df").args(["-h", "--output=avail"]).arg(root())) {
        eprintln!("xtask: the disk has {} free", o.lines().last().unwrap_or("?").trim());
    }
}

/// Build everything, then run the tests inside a headless desktop session.
fn test(nextest_args: &[String], screenshots: Option<&Path>) -> Result<()> {
    let t0 = Instant::now();
    build_ui()?;
    build_for_tests()?;
    eprintln!("xtask: built in {:.0?}", t0.elapsed());
    report_target_size();
    // The installed-package test installs this .deb (the debug build just made, packaged).
    let deb = bundle(true)?;
    let me = this_xtask()?;
    let mut c = Command::new("dbus-run-session");
    c.arg("--").arg(me).arg("headless").args(nextest_args).env("PATH", tool_path()).env("KEYWAY_DEB", &deb);
    if let Some(dir) = screenshots {
        // WebKitWebDriver's screenshot of some pages (sign-in, approvals) never returns while
        // WebKit draws without compositing, the app's default: the pictures are taken with it on.
        c.env("KEYWAY_SCREENSHOTS_DIR", dir).env("KEYWAY_GPU_COMPOSITING", "1");
    }
    let result = run(&mut c);
    report_target_size();
    result
}

/// Inside `dbus-run-session`: unlock a throwaway gnome-keyring, start Xvfb, run nextest, then
/// the secret scan over what the tests left ([`session_scan`]).
fn headless(nextest_args: &[String]) -> Result<()> {
    let session = session_scan::Session::of_this_process();
    session.create()?;
    // Keyring files stay in the scratch dir, never in the real HOME.
    let envs = [("XDG_DATA_HOME", session.data()), ("XDG_RUNTIME_DIR", session.runtime())];

    let mut keyring = Command::new("gnome-keyring-daemon");
    keyring.args(["--daemonize", "--unlock", "--components=secrets"]).stdin(Stdio::piped()).stdout(Stdio::null());
    for (k, v) in &envs {
        keyring.env(k, v);
    }
    let mut child = keyring.spawn().context("starting gnome-keyring-daemon (apt install gnome-keyring)")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(b"keyway-test-keyring")?;
    }
    child.wait()?;
    wait_until("the Secret Service on the session bus", Duration::from_secs(20), || {
        output(Command::new("dbus-send").args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ]))
        .is_some_and(|o| o.contains("boolean true"))
    })?;

    let (xvfb, display) = start_xvfb()?;
    let mut c = cargo();
    c.args(["nextest", "run", "--workspace", "--no-fail-fast"]).args(nextest_args).env("DISPLAY", &display);
    for (k, v) in &envs {
        c.env(k, v);
    }
    c.envs(session.test_env());
    let mut result = run(&mut c);
    // Whether or not tests failed: what they left must hold no secret.
    result = result.and(session.scan());
    // The hub's HTTP suite once more, on PostgreSQL (a throwaway server the tests start).
    let mut pg = cargo();
    // `--workspace` with a filter, not `-p keyway-hub`: the same feature resolution as the run
    // above, so nothing is compiled again.
    pg.args(["nextest", "run", "--workspace", "--no-fail-fast", "--no-tests=pass"])
        .args(postgres_filter(nextest_args))
        .env("KEYWAY_TEST_BACKEND", "postgres");
    result = result.and(run(&mut pg));
    stop_xvfb(xvfb);
    session.remove();
    result
}

/// The PostgreSQL pass's arguments: the hub's HTTP suite, within the caller's filters
/// (nextest joins several `-E` with "or", so they are joined here with "and" instead).
fn postgres_filter(nextest_args: &[String]) -> Vec<String> {
    const HTTP: &str = "binary_id(keyway-hub::http)";
    let mut exprs = Vec::new();
    let mut rest = Vec::new();
    let mut args = nextest_args.iter();
    while let Some(a) = args.next() {
        match (a.as_str(), a.strip_prefix("--filterset=").or_else(|| a.strip_prefix("-E="))) {
            ("-E" | "--filterset", _) => exprs.extend(args.next().cloned()),
            (_, Some(e)) => exprs.push(e.to_owned()),
            _ => rest.push(a.clone()),
        }
    }
    let filter = if exprs.is_empty() {
        HTTP.to_owned()
    } else {
        format!("{HTTP} & ({})", exprs.iter().map(|e| format!("({e})")).collect::<Vec<_>>().join(" | "))
    };
    let mut out = vec!["-E".to_owned(), filter];
    out.extend(rest);
    out
}

/// Ends Xvfb with SIGTERM, so it removes its lock file and socket (SIGKILL would leave them and
/// use up display numbers); SIGKILL only if it has not gone after 2 s.
fn stop_xvfb(mut xvfb: Child) {
    let _ = Command::new("kill").args(["-TERM", &xvfb.id().to_string()]).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        if let Ok(Some(_)) = xvfb.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}

/// True if display `n` is held by a live X server. A lock file whose process is gone (an X server
/// that was killed) is stale: it and the socket are removed and the display is free again.
fn display_in_use(n: u32) -> bool {
    let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
    let sock = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    match std::fs::read_to_string(&lock) {
        Ok(pid) => {
            let alive = pid.trim().parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let _ = std::fs::remove_file(&lock);
                let _ = std::fs::remove_file(&sock);
            }
            alive
        }
        Err(_) => sock.exists(),
    }
}

fn start_xvfb() -> Result<(Child, String)> {
    for n in 90..140 {
        if display_in_use(n) {
            continue;
        }
        let display = format!(":{n}");
        let mut child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb (apt install xvfb)")?;
        let sock = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let up = wait_until("Xvfb", Duration::from_secs(10), || sock.exists());
        if up.is_ok() {
            return Ok((child, display));
        }
        let _ = child.kill();
    }
    bail!("no free X display for Xvfb")
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let t0 = Instant::now();
    while !ready() {
        if t0.elapsed() > limit {
            bail!("{what} did not come up within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::postgres_filter;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_postgres_pass_keeps_to_the_http_suite_within_the_callers_filters() {
        assert_eq!(postgres_filter(&[]), args(&["-E", "binary_id(keyway-hub::http)"]));
        assert_eq!(
            postgres_filter(&args(&["-E", "binary(desktop)", "--filterset=test(x)", "--retries", "2"])),
            args(&["-E", "binary_id(keyway-hub::http) & ((binary(desktop)) | (test(x)))", "--retries", "2"])
        );
    }
}
