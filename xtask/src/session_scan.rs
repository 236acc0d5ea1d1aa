//! The secret scan of a test session (`cargo xtask test`, after the main test run): every hub
//! log, the app's stderr and the WebDriver log, each test's HOME and XDG directories, the app's
//! data directory, the hubs' directories, and the session's own XDG_DATA_HOME (the keyring) and
//! XDG_RUNTIME_DIR. Canaries are planted first ([`crate::canary`]); then every file is scanned
//! ([`crate::secret_scan`]) for the run's secrets, by shape and by the ledger's values. The run
//! fails on any leak, on any canary not found and on any file that could not be read.
//!
//! The session's scratch directory holds, beside the scanned directories, the ledger (outside
//! all of them, so it is never scanned itself).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::canary::{self, Canary};
use crate::secret_scan::{Kind, Scanner, Secret, scan_dirs};

/// The test session's directories, all under its scratch directory.
pub struct Session {
    scratch: PathBuf,
}

/// The log filter of the main test run: debug for Keyway's crates and the hub's request traces.
const DEBUG_LOGS: &str =
    "info,keyway_hub=debug,keyway_api=debug,keyway_client=debug,keyway_desktop=debug,keyway=debug,tower_http=debug";

/// The prefixes `tests/support` gives its kept directories.
const SANDBOX_PREFIX: &str = "keyway-sandbox-";
const HUB_DIR_PREFIX: &str = "keyway-hub-";
/// The desktop app's data directory inside a sandbox's XDG_DATA_HOME (its Tauri identifier).
const APP_DATA: &str = "app.keyway.desktop";

impl Session {
    /// The session of this xtask process: `$TMPDIR/keyway-test-session-<pid>`.
    pub fn of_this_process() -> Session {
        Session { scratch: std::env::temp_dir().join(format!("keyway-test-session-{}", std::process::id())) }
    }

    /// Deletes the scratch directory, scanned directories, ledger and all.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }

    /// The keyring daemon's XDG_DATA_HOME.
    pub fn data(&self) -> PathBuf {
        self.scratch.join("data")
    }

    /// The session's XDG_RUNTIME_DIR.
    pub fn runtime(&self) -> PathBuf {
        self.scratch.join("run")
    }

    /// The tests' TMPDIR: every test directory is kept here.
    pub fn tmp(&self) -> PathBuf {
        self.scratch.join("tmp")
    }

    /// Where the in-process hubs log.
    pub fn logs(&self) -> PathBuf {
        self.scratch.join("logs")
    }

    /// The secret ledger.
    pub fn ledger(&self) -> PathBuf {
        self.scratch.join("secret-ledger.jsonl")
    }

    /// The environment of the main test run for the scan: the tests' directories are kept in the
    /// session's TMPDIR, the in-process hubs log to files, the programs log at debug level (unless
    /// `RUST_LOG` says otherwise) and the tests write down every secret they see in the ledger.
    pub fn test_env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut env = vec![
            ("TMPDIR", self.tmp().into_os_string()),
            ("KEYWAY_TEST_KEEP_DIRS", "1".into()),
            ("KEYWAY_TEST_LOG_DIR", self.logs().into_os_string()),
            ("KEYWAY_TEST_SECRET_LEDGER", self.ledger().into_os_string()),
        ];
        if std::env::var_os("RUST_LOG").is_none() {
            env.push(("RUST_LOG", DEBUG_LOGS.into()));
        }
        env
    }

    /// Makes the directories (after removing any left by an earlier session of this process id)
    /// and an empty ledger only its owner can read.
    pub fn create(&self) -> Result<()> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let _ = std::fs::remove_dir_all(&self.scratch);
        for dir in [self.data(), self.runtime(), self.tmp(), self.logs()] {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::set_permissions(self.runtime(), std::fs::Permissions::from_mode(0o700))?;
        std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(self.ledger())?;
        Ok(())
    }

    /// Every scanned directory and its name in the report: the fixed ones, then each kept
    /// sandbox's HOME, XDG directories and app data directory, and each kept hub directory.
    pub fn roots(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut roots = vec![
            ("hub logs".to_owned(), self.logs()),
            ("test directories (TMPDIR)".to_owned(), self.tmp()),
            ("session XDG_DATA_HOME".to_owned(), self.data()),
            ("session XDG_RUNTIME_DIR".to_owned(), self.runtime()),
        ];
        let mut kept: Vec<PathBuf> = std::fs::read_dir(self.tmp())?.flatten().map(|e| e.path()).collect();
        kept.sort();
        for dir in kept.iter().filter(|d| d.is_dir()) {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with(SANDBOX_PREFIX) {
                for (sub, what) in [
                    ("home", "HOME"),
                    ("config", "XDG_CONFIG_HOME"),
                    ("data", "XDG_DATA_HOME"),
                    ("cache", "XDG_CACHE_HOME"),
                    ("state", "XDG_STATE_HOME"),
                ] {
                    roots.push((format!("{name} {what}"), dir.join(sub)));
                }
                let app_data = dir.join("data").join(APP_DATA);
                if app_data.is_dir() {
                    roots.push((format!("{name} app data"), app_data));
                }
            } else if name.starts_with(HUB_DIR_PREFIX) {
                roots.push((format!("{name} (hub)"), dir.clone()));
            }
        }
        Ok(roots)
    }

    /// The log files canaries are appended to: every hub log, and every `*.log` at the top of a
    /// kept sandbox (tauri-driver's, which holds WebKitWebDriver's and the app's stderr).
    pub fn log_files(&self, roots: &[(String, PathBuf)]) -> Vec<PathBuf> {
        let mut dirs = vec![self.logs()];
        dirs.extend(
            roots.iter().filter(|(n, _)| n.ends_with(" HOME")).filter_map(|(_, p)| p.parent().map(Path::to_path_buf)),
        );
        let mut files: Vec<PathBuf> = dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flat_map(|rd| rd.flatten().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "log"))
            .collect();
        files.sort();
        files
    }

    /// The ledger's secrets.
    pub fn read_ledger(&self) -> Result<Vec<Secret>> {
        let text = std::fs::read_to_string(self.ledger()).context("reading the secret ledger")?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, line)| {
                let v: serde_json::Value =
                    serde_json::from_str(line).with_context(|| format!("line {} of the secret ledger", n + 1))?;
                let kind = v["kind"].as_str().and_then(Kind::parse);
                match (kind, v["value"].as_str()) {
                    (Some(kind), Some(value)) => Ok(Secret { kind, value: value.to_owned() }),
                    _ => bail!("line {} of the secret ledger has no known kind and value", n + 1),
                }
            })
            .collect()
    }

    /// Plants the canaries, scans, prints the summary line and every finding, and fails (saying
    /// why, also when the tests' failure is what the run reports) on any leak, missing canary or
    /// unreadable file.
    pub fn scan(&self) -> Result<()> {
        let scanned = self.plant_and_scan();
        if let Err(e) = &scanned {
            eprintln!("xtask: {e:#}");
        }
        scanned
    }

    fn plant_and_scan(&self) -> Result<()> {
        let t0 = std::time::Instant::now();
        let roots = self.roots()?;
        let logs = self.log_files(&roots);
        let mut canaries: Vec<Canary> = Vec::new();
        for (name, dir) in &roots {
            canaries.extend(canary::plant_in_dir(name, dir)?);
        }
        for log in &logs {
            canaries.extend(canary::plant_in_log(log)?);
        }
        let ledger = self.read_ledger()?;
        let ledgered = ledger.len();
        let scanner = Scanner::new(ledger.into_iter().chain(canary::by_value(&canaries)))?;
        let values = scanner.value_count();
        let paths: Vec<PathBuf> = roots.iter().map(|(_, p)| p.clone()).collect();
        let outcome = scan_dirs(&scanner, &paths)?;
        let tally = canary::tally(&canaries, outcome.hits);
        let sandboxes = roots.iter().filter(|(n, _)| n.ends_with(" HOME")).count();
        let per_kind: Vec<String> =
            tally.per_kind.iter().map(|(k, (found, planted))| format!("{} {found}/{planted}", k.name())).collect();
        eprintln!(
            "xtask: secret scan: {} files, {:.1} MB in {} directories ({sandboxes} sandboxes) and {} log files; \
             {ledgered} ledger entries ({values} values with the canaries'); canaries found: {}; secrets found: {} ({:.1?})",
            outcome.files,
            outcome.bytes as f64 / 1e6,
            roots.len(),
            logs.len(),
            per_kind.join(", "),
            tally.leaks.len(),
            t0.elapsed(),
        );
        for hit in &tally.leaks {
            eprintln!("xtask: secret scan: LEAK {}", hit.report());
        }
        for c in &tally.missing {
            eprintln!("xtask: secret scan: canary not found: {} in {}", c.kind.name(), c.place);
        }
        if !tally.leaks.is_empty() || !tally.missing.is_empty() {
            bail!(
                "the secret scan found {} secrets outside the keychain and missed {} of its {} canaries",
                tally.leaks.len(),
                tally.missing.len(),
                canaries.len()
            );
        }
        Ok(())
    }
}
