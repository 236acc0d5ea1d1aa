//! apt packages, for `setup` and the commands that need a few of their own.

use std::process::Command;

use anyhow::Result;

use crate::{output, run};

/// Installs the apt packages `missing` names (none: nothing to do), through sudo unless root.
pub fn install(missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let sudo = output(Command::new("id").arg("-u")).is_none_or(|u| u.trim() != "0");
    let apt = |args: &[&str]| -> Result<()> {
        let mut c = if sudo { Command::new("sudo") } else { Command::new("apt-get") };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    eprintln!("xtask: installing apt packages: {}", missing.join(" "));
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(missing);
    apt(&args)
}
