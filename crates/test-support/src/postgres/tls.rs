//! Throwaway certificates for a test server's TLS, made by the `openssl` command: a CA that
//! lives as long as its directory, and a server certificate it signs for `localhost` and
//! 127.0.0.1. Private keys are `0600` files in a `0700` directory.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, ensure};

/// How long the certificates are valid: long enough for any test run.
const DAYS: &str = "2";
/// The key type of every key here.
const NEWKEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A throwaway certificate authority.
#[derive(Clone, Debug)]
pub struct Ca {
    /// Its certificate (PEM), what a client trusts (`sslrootcert=`).
    pub cert: PathBuf,
    key: PathBuf,
}

/// A server's certificate (PEM, signed by a [`Ca`]) and its private key.
#[derive(Clone, Debug)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A new `0700` directory `dir/name` for certificates and keys.
pub fn private_dir(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::DirBuilder::new().mode(0o700).create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(path)
}

impl Ca {
    /// A new CA named `name` (its common name says so), its files `name.pem` and `name.key` in
    /// `dir` (which should be a [`private_dir`]).
    pub fn new(dir: &Path, name: &str) -> Result<Ca> {
        let ca = Ca { cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}.key")) };
        let mut req = openssl(&["req", "-x509", "-nodes", "-days", DAYS]);
        req.args(NEWKEY).arg("-keyout").arg(&ca.key).arg("-out").arg(&ca.cert);
        req.args(["-subj", &format!("/CN=Keyway test CA {name}")]);
        req.args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
        run(req).context("making a test CA")?;
        private_key(&ca.key)?;
        Ok(ca)
    }

    /// A server certificate for `localhost` and 127.0.0.1, signed by this CA: `server.pem` and
    /// `server.key` in `dir`.
    pub fn issue_server(&self, dir: &Path) -> Result<ServerFiles> {
        let files = ServerFiles { cert: dir.join("server.pem"), key: dir.join("server.key") };
        let mut req = openssl(&["req", "-x509", "-nodes", "-days", DAYS, "-CA"]);
        req.arg(&self.cert).arg("-CAkey").arg(&self.key).args(NEWKEY);
        req.arg("-keyout").arg(&files.key).arg("-out").arg(&files.cert).args(["-subj", "/CN=localhost"]);
        for ext in [
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth",
        ] {
            req.args(["-addext", ext]);
        }
        run(req).context("making the test server's certificate")?;
        private_key(&files.key)?;
        Ok(files)
    }
}

/// Makes `path` readable by its owner only.
fn private_key(path: &Path) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))
}

fn openssl(args: &[&str]) -> Command {
    let mut command = Command::new("openssl");
    command.args(args);
    command
}

/// Runs `command` to its end; its standard error is the failure.
fn run(mut command: Command) -> Result<()> {
    let out =
        command.stdin(Stdio::null()).output().context("running openssl (not installed? run `cargo xtask setup`)")?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(())
}
