//! `cargo xtask bench desktop`: what the installed desktop app costs, beside a bare Tauri window
//! (`src-tauri/examples/bare_window.rs`, same Tauri, profile and features) measured in the same
//! run under the same Xvfb (as it comes, and drawing without GPU compositing as Keyway does):
//!
//! - size of the release .deb and of what it installs;
//! - time from launch to first paint: from just before `exec` to the first frame painted after
//!   the page shows text (the app reports it with `KEYWAY_REPORT_FIRST_PAINT`), and the steps on
//!   the way (navigation start, document parsed, page loaded, first text);
//! - idle memory 8 s after the first paint, as PSS (`/proc/<pid>/smaps_rollup`) summed over the
//!   app and its WebKit processes, so shared pages are counted once.
//!
//! Each app starts `RUNS` times with a fresh HOME; medians are reported with the range.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::{bundle, cargo, output, run, start_xvfb, stop_xvfb, target_dir, tool_path, wait_until};

const RUNS: usize = 5;
const IDLE: Duration = Duration::from_secs(8);
const INSTALLED_BIN: &str = "/usr/bin/keyway-desktop";
const PAINT_MARK: &str = "keyway-first-paint-unix-ms=";
const PHASES_MARK: &str = "keyway-startup-phases=";
/// The steps the app reports before its first paint, in order.
const PHASES: [(&str, &str); 4] = [
    ("navigation", "navigation start"),
    ("document_parsed", "document parsed"),
    ("loaded", "page loaded"),
    ("text", "first text"),
];

/// Builds the release .deb and the bare window once, then measures inside a private D-Bus
/// session (the app is single-instance over the session bus).
pub fn desktop() -> Result<()> {
    let deb = bundle(false)?;
    run(cargo()
        .args(["build", "--release", "-p", "keyway-desktop", "--example", "bare_window"])
        .env("PATH", tool_path()))?;
    let bare = target_dir().join("release/examples/bare_window");
    let me = std::env::current_exe()?;
    run(Command::new("dbus-run-session").arg("--").arg(me).arg("bench-desktop-inner").arg(&deb).arg(&bare))
}

pub fn desktop_inner(args: &[String]) -> Result<()> {
    let [deb, bare] = args else { bail!("usage: bench-desktop-inner <deb> <bare window binary>") };
    let (deb, bare) = (PathBuf::from(deb), PathBuf::from(bare));
    let deb_size = std::fs::metadata(&deb)?.len();
    let installed_size = unpacked_size(&deb)?;

    let was_installed = output(Command::new("dpkg-query").args(["-W", "-f=${Status}", "keyway"]))
        .is_some_and(|s| s.contains("install ok installed"));
    as_root(&["apt-get", "install", "-y", "-qq", "--reinstall"], &deb)?;
    let (xvfb, display) = start_xvfb()?;
    let measured = (|| -> Result<_> {
        let app = measure(Path::new(INSTALLED_BIN), &display, "keyway", &[])?;
        let floor = measure(&bare, &display, "bare", &[])?;
        // Keyway draws without GPU compositing (src-tauri/src/rendering.rs); the bare window
        // drawn the same way is the floor for that.
        let software = measure(&bare, &display, "bare-sw", &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")])?;
        Ok((app, floor, software))
    })();
    stop_xvfb(xvfb);
    if !was_installed {
        as_root(&["apt-get", "purge", "-y", "-qq", "keyway"], Path::new(""))?;
    }
    let (app, floor, software) = measured?;

    let mb = |b: u64| b as f64 / 1e6;
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!("\nKeyway desktop ({} runs each, medians [min–max])", RUNS);
    println!("  .deb                  {:>7.1} MB   (goal ≤ 15 MB)", mb(deb_size));
    println!("  installed             {:>7.1} MB", mb(installed_size));
    for (name, m) in [
        ("Keyway (installed)", &app),
        ("bare Tauri window", &floor),
        ("bare Tauri window, no GPU compositing", &software),
    ] {
        println!("  {name}");
        println!(
            "    first paint         {:>7.0} ms   [{:.0}–{:.0}]",
            m.paint_ms.median(),
            m.paint_ms.min(),
            m.paint_ms.max()
        );
        for (key, label) in PHASES {
            if let Some((_, series)) = m.phases.iter().find(|(k, _)| k == key) {
                println!("      {label:<18}{:>7.0} ms", series.median());
            }
        }
        println!(
            "    idle PSS total      {:>7.1} MiB  [{:.1}–{:.1}]",
            mib(m.total_kb.median() as u64),
            mib(m.total_kb.min() as u64),
            mib(m.total_kb.max() as u64)
        );
        for (process, kb) in &m.by_process {
            println!("      {process:<20}{:>7.1} MiB", mib(kb.median() as u64));
        }
    }
    let ratio = app.total_kb.median() / floor.total_kb.median();
    let ratio_software = app.total_kb.median() / software.total_kb.median();
    println!("  memory ratio          {ratio:>7.2}×      (goal ≤ 1.25× the bare window)");
    println!("  … without GPU compositing in both {ratio_software:>5.2}×");
    println!("  first paint           {:>7.0} ms   (goal ≤ 500 ms)", app.paint_ms.median());
    Ok(())
}

fn as_root(args: &[&str], file: &Path) -> Result<()> {
    let root_user = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let mut c = if root_user { Command::new(args[0]) } else { Command::new("sudo") };
    if !root_user {
        c.arg(args[0]);
    }
    c.args(&args[1..]);
    if !file.as_os_str().is_empty() {
        c.arg(file);
    }
    run(c.env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Bytes of the regular files the package installs.
fn unpacked_size(deb: &Path) -> Result<u64> {
    let listing = output(Command::new("dpkg-deb").arg("--contents").arg(deb)).context("dpkg-deb --contents")?;
    // -rwxr-xr-x root/root 19000000 2026-01-01 00:00 ./usr/bin/keyway-desktop
    Ok(listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .sum())
}

#[derive(Default)]
struct Series(Vec<f64>);

impl Series {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn median(&self) -> f64 {
        let v = self.sorted();
        if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
    }
    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }
    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
}

#[derive(Default)]
struct Measured {
    paint_ms: Series,
    total_kb: Series,
    by_process: Vec<(String, Series)>,
    /// Milliseconds from launch to each reported step (`PHASES`).
    phases: Vec<(String, Series)>,
}

fn measure(program: &Path, display: &str, label: &str, env: &[(&str, &str)]) -> Result<Measured> {
    let mut m = Measured::default();
    for i in 0..RUNS {
        let home = std::env::temp_dir().join(format!("keyway-bench-{label}-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        let log = home.join("stderr.log");
        let started_ms = unix_ms();
        let mut child = Command::new(program)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("DISPLAY", display)
            .env("NO_AT_BRIDGE", "1")
            .env("KEYWAY_REPORT_FIRST_PAINT", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id();
        let mut painted = None;
        let waited = wait_until("the first paint", Duration::from_secs(60), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            painted = text.lines().find_map(|l| l.split(PAINT_MARK).nth(1)?.trim().parse::<f64>().ok());
            painted.is_some()
        });
        let result = waited.and_then(|()| {
            let painted = painted.context("no paint mark")?;
            m.paint_ms.0.push(painted - started_ms);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let phases = text.lines().find_map(|l| l.split(PHASES_MARK).nth(1));
            let phases: serde_json::Value = phases.and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
            for (key, _) in PHASES {
                if let Some(at) = phases[key].as_f64() {
                    match m.phases.iter_mut().find(|(k, _)| k == key) {
                        Some((_, s)) => s.0.push(at - started_ms),
                        None => m.phases.push((key.to_owned(), Series(vec![at - started_ms]))),
                    }
                }
            }
            // Idle: let start-up work settle, then read PSS of the whole process tree.
            let t0 = Instant::now();
            while t0.elapsed() < IDLE {
                std::thread::sleep(Duration::from_millis(100));
            }
            let tree = pss_of_tree(pid)?;
            m.total_kb.0.push(tree.iter().map(|(_, kb)| *kb as f64).sum());
            for (name, kb) in tree {
                match m.by_process.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, s)) => s.0.push(kb as f64),
                    None => m.by_process.push((name, Series(vec![kb as f64]))),
                }
            }
            Ok(())
        });
        if let Ok(pgid) = i32::try_from(pid) {
            // SAFETY: sends a signal to the process group this run started.
            unsafe { libc::killpg(pgid, libc::SIGTERM) };
        }
        let _ = child.wait();
        if let Err(e) = result {
            bail!("{label} run {i}: {e:#}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        let _ = std::fs::remove_dir_all(&home);
    }
    Ok(m)
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// PSS in kB of `pid` and its descendants, summed per process name.
fn pss_of_tree(pid: u32) -> Result<Vec<(String, u64)>> {
    let mut parents = vec![];
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        // pid (comm) state ppid …; comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse::<u32>().ok()) {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    let mut by_name: Vec<(String, u64)> = vec![];
    for p in tree {
        let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim().to_owned();
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        let pss = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let name = if p == pid { "app".to_owned() } else { name };
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, kb)) => *kb += pss,
            None => by_name.push((name, pss)),
        }
    }
    Ok(by_name)
}
