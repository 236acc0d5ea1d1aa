//! `cargo xtask fuzz [SECONDS]`: every target of `crates/fuzz` under libFuzzer, SECONDS in all
//! (default [`DEFAULT_SECONDS`]) split evenly between them, then a table of each one's
//! executions and crashes.
//!
//! libFuzzer needs a nightly compiler (sanitizer coverage); cargo-fuzz drives it. Both are
//! pinned and installed when missing: the toolchain by rustup, cargo-fuzz by `cargo install`
//! into the cargo bin dir. The build goes to `fuzz/` under the target dir (`CARGO_TARGET_DIR`
//! is honoured). What the fuzzer learns is kept there too (`fuzz/corpus/<target>`), next to
//! the checked-in seeds (`crates/fuzz/corpus/<target>`), which it only reads. A crash input is
//! written to `crates/fuzz/artifacts/<target>/` and the command fails naming it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{apt, installed_version, output, root, run, tool_path};

/// The nightly toolchain the targets are built with.
const NIGHTLY: &str = "nightly-2026-10-30";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const DEFAULT_SECONDS: u64 = 60;
/// Runs of one target within its share of the time: libFuzzer stops at a crash, and is started
/// again (from the corpus it has grown) while time is left, up to this many times.
const MAX_RUNS: usize = 5;

/// One target's run.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    executions: u64,
    crashes: Vec<PathBuf>,
    secs: f64,
}

pub fn fuzz(args: &[String]) -> Result<()> {
    let total = match args.first() {
        None => DEFAULT_SECONDS,
        Some(s) => {
            s.parse::<u64>().ok().filter(|s| *s > 0).with_context(|| format!("'{s}' is not a number of seconds"))?
        }
    };
    install()?;
    let fuzz_dir = root().join("crates/fuzz");
    let targets = targets(&fuzz_dir)?;
    let share = (total / targets.len() as u64).max(1);
    let build_dir = target_dir().join("fuzz");
    let t0 = Instant::now();
    run(&mut cargo_fuzz("build", &build_dir))?;
    eprintln!("xtask: fuzz targets built in {:.0?}; {share} s each", t0.elapsed());

    let mut outcomes = Vec::new();
    for target in &targets {
        let outcome = fuzz_target(&fuzz_dir, &build_dir, target, share)?;
        outcomes.push((target.as_str(), outcome));
    }
    println!("{}", table(&outcomes));
    let crashes: Vec<String> = outcomes.iter().flat_map(|(_, o)| &o.crashes).map(|p| p.display().to_string()).collect();
    if !crashes.is_empty() {
        bail!("{} crash input(s): {}", crashes.len(), crashes.join(", "));
    }
    Ok(())
}

/// The pinned nightly, cargo-fuzz and a C++ compiler (libFuzzer is C++).
fn install() -> Result<()> {
    if output(Command::new("c++").arg("--version")).is_none() {
        apt::install(&["build-essential"])?;
    }
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with(NIGHTLY)) {
        run(Command::new("rustup").args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]))?;
    }
    if installed_version("cargo-fuzz").is_none_or(|v| v != CARGO_FUZZ_VERSION) {
        run(Command::new("cargo").args(["install", &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"), "--locked"]))?;
    }
    Ok(())
}

/// The names of `fuzz_targets/*.rs`, sorted.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .filter_map(|e| e.path().file_name()?.to_str()?.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    if names.is_empty() {
        bail!("{} holds no fuzz target", dir.display());
    }
    Ok(names)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// `cargo fuzz <sub>` on the pinned nightly, building into `build_dir`. The workspace's release
/// profile is for shipping (thin LTO, stripped): the fuzz build keeps symbols for readable
/// crash reports and skips LTO, which would cost more build time than the runs are long.
/// What `cargo run` told this program about itself (`CARGO_PKG_NAME`, …) is not passed on: build
/// scripts that watch those variables would build again, for nothing, whenever xtask changes.
fn cargo_fuzz(sub: &str, build_dir: &Path) -> Command {
    let mut c = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO" || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_MANIFEST_") {
            c.env_remove(&*name);
        }
        if matches!(&*name, "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE") {
            c.env_remove(&*name);
        }
    }
    c.current_dir(root())
        .env("PATH", tool_path())
        .env("RUSTUP_TOOLCHAIN", NIGHTLY)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "false")
        .args(["fuzz", sub, "--fuzz-dir", "crates/fuzz", "--features", "libfuzzer", "--target-dir"])
        .arg(build_dir);
    c
}

/// The files in `dir` (none if it does not exist).
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect()).unwrap_or_default()
}

/// Fuzzes `target` for `secs`, restarting after a crash while time is left.
fn fuzz_target(fuzz_dir: &Path, build_dir: &Path, target: &str, secs: u64) -> Result<Outcome> {
    let learned = build_dir.join("corpus").join(target);
    std::fs::create_dir_all(&learned)?;
    let seeds = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let log = build_dir.join(format!("{target}.log"));
    let before = files(&artifacts);
    let t0 = Instant::now();
    let mut outcome = Outcome::default();
    for _ in 0..MAX_RUNS {
        let left = secs.saturating_sub(t0.elapsed().as_secs());
        if left == 0 {
            break;
        }
        eprintln!("xtask: fuzzing {target} for {left} s");
        let stderr = std::fs::File::create(&log)?;
        let status = cargo_fuzz("run", build_dir)
            .arg(target)
            .arg(&learned)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={left}"))
            .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=4096"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        outcome.executions += executions(&text);
        let new: Vec<PathBuf> = files(&artifacts).difference(&before).cloned().collect();
        let found = new.len() > outcome.crashes.len();
        outcome.crashes = new;
        if status.success() {
            break;
        }
        if !found {
            eprintln!("{text}");
            bail!("fuzzing {target} failed ({status}) without a crash input; its log is above");
        }
        eprintln!("xtask: {target} crashed: {}", crash_summary(&text));
    }
    outcome.secs = t0.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Executions libFuzzer reports in its final stats (or, after a crash, its last status line).
fn executions(log: &str) -> u64 {
    let stat = log.lines().rev().find_map(|l| l.strip_prefix("stat::number_of_executed_units:"));
    if let Some(n) = stat.and_then(|n| n.trim().parse().ok()) {
        return n;
    }
    // "#12345\tpulse  cov: …"
    log.lines().rev().find_map(|l| l.strip_prefix('#')?.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// The panic message of a crash, or libFuzzer's own line.
fn crash_summary(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("panicked at"))
        .or_else(|| log.lines().find(|l| l.contains("ERROR: libFuzzer") || l.contains("ERROR: AddressSanitizer")))
        .unwrap_or("see the log")
}

fn table(outcomes: &[(&str, Outcome)]) -> String {
    let width = outcomes.iter().map(|(t, _)| t.len()).max().unwrap_or(0).max("target".len());
    let mut out = format!("{:<width$}  {:>12}  {:>7}  {:>7}\n", "target", "executions", "crashes", "seconds");
    for (target, o) in outcomes {
        out.push_str(&format!("{target:<width$}  {:>12}  {:>7}  {:>7.0}\n", o.executions, o.crashes.len(), o.secs));
    }
    let executions: u64 = outcomes.iter().map(|(_, o)| o.executions).sum();
    let crashes: usize = outcomes.iter().map(|(_, o)| o.crashes.len()).sum();
    let secs: f64 = outcomes.iter().map(|(_, o)| o.secs).sum();
    out.push_str(&format!("{:<width$}  {executions:>12}  {crashes:>7}  {secs:>7.0}", "total"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_the_final_stats_or_the_last_status_line() {
        let done = "#2\tINITED cov: 10\n#4096\tpulse  cov: 12\nDone 5000 runs in 3 second(s)\nstat::number_of_executed_units: 5012\nstat::average_exec_per_sec:     1670\n";
        assert_eq!(executions(done), 5012);
        let crashed =
            "#2\tINITED cov: 10\n#700\tNEW    cov: 12 ft: 20\nthread '<unnamed>' panicked at src/hub.rs:1:1:\n";
        assert_eq!(executions(crashed), 700);
        assert_eq!(executions(""), 0);
        assert_eq!(crash_summary(crashed), "thread '<unnamed>' panicked at src/hub.rs:1:1:");
    }

    #[test]
    fn the_table_has_a_row_per_target_and_a_total() {
        let a = Outcome { executions: 10, crashes: vec![], secs: 5.0 };
        let b = Outcome { executions: 7, crashes: vec![PathBuf::from("crash-1")], secs: 5.2 };
        let t = table(&[("jwt", a), ("deep_link", b)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[1].starts_with("jwt ") && lines[1].contains(" 10 "), "{t}");
        assert!(lines[3].starts_with("total") && lines[3].contains(" 17 ") && lines[3].contains(" 1 "), "{t}");
    }
}
