//! `keyway profile list|use|remove`: the profiles of this machine, through the same profile API
//! the desktop's switcher uses (`keyway_client::profiles`).

use clap::Subcommand;
use keyway_client::config::Config;
use keyway_client::profiles::{self, ProfileSummary};
use keyway_client::{Error, Vault};
use serde_json::json;

#[derive(Subcommand)]
pub(crate) enum ProfileCommand {
    /// Every profile: its server, whether it is in use, what the keychain holds for it.
    List,
    /// Use this profile when --profile is not given.
    Use { name: String },
    /// Sign the profile out (revoked at its server when reachable), delete its keychain entries
    /// and forget it.
    Remove { name: String },
}

pub(crate) async fn run(cfg: &mut Config, command: ProfileCommand, json: bool) -> Result<(), Error> {
    match command {
        ProfileCommand::List => {
            let list = profiles::list(cfg, &Vault::open()?)?;
            if json {
                println!("{}", serde_json::to_string(&list).map_err(|e| Error::InvalidInput(e.to_string()))?);
            } else if list.is_empty() {
                println!("No profiles yet: `keyway login --server URL` makes one.");
            } else {
                print_table(&list);
            }
        }
        ProfileCommand::Use { name } => {
            profiles::use_profile(cfg, &name)?;
            cfg.save()?;
            if json {
                println!("{}", json!({ "current": name }));
            } else {
                println!("Using profile {name}.");
            }
        }
        ProfileCommand::Remove { name } => {
            let removed = profiles::remove(cfg, &Vault::open()?, &name).await?;
            cfg.save()?;
            if json {
                println!("{}", serde_json::to_string(&removed).map_err(|e| Error::InvalidInput(e.to_string()))?);
            } else {
                let revoked = if removed.revoked_at_server { ", signed out at its server" } else { "" };
                let now = match &removed.current {
                    Some(c) => format!(" Now using {c}."),
                    None => " No profile is left.".to_owned(),
                };
                println!("Removed profile {name}{revoked}; its keychain entries are deleted.{now}");
            }
        }
    }
    Ok(())
}

fn print_table(list: &[ProfileSummary]) {
    let width = list.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
    let server_width = list.iter().map(|p| p.server.len()).max().unwrap_or(6).max(6);
    println!("  {:width$}  {:server_width$}  KEYCHAIN", "NAME", "SERVER");
    for p in list {
        let mark = if p.current { "*" } else { " " };
        let mut server = p.server.clone();
        if p.local {
            server.push_str(" (local hub)");
        }
        println!("{mark} {:width$}  {:server_width$}  {}", p.name, server, p.credential.unwrap_or("nothing"));
    }
}
