//! `keyway audit list | export`: the hub's audit log, for auditors and admins.

use std::io::Write as _;

use clap::Subcommand;
use keyway_client::audit::{AuditFilter, ExportFormat, format_time, parse_time};
use keyway_client::{Client, Error};
use serde_json::json;

use crate::Failure;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Rows of the audit log, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Every matching row, as JSON Lines or CSV, to stdout or a file.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl", value_parser = parse_format)]
        format: ExportFormat,
        /// Write here instead of stdout (made 0600: the log names people).
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Args)]
pub(crate) struct FilterArgs {
    /// Only this actor (id or name).
    #[arg(long)]
    actor: Option<String>,
    /// Only this action, or actions starting with it (`session.`).
    #[arg(long)]
    action: Option<String>,
    /// Only this outcome (`ok`, or an error code).
    #[arg(long)]
    outcome: Option<String>,
    /// From this time on: Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (same forms).
    #[arg(long)]
    until: Option<String>,
}

fn parse_format(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(s).ok_or_else(|| format!("unknown format '{s}' (expected jsonl or csv)"))
}

impl FilterArgs {
    fn filter(self) -> Result<AuditFilter, Error> {
        Ok(AuditFilter {
            actor: self.actor,
            action: self.action,
            outcome: self.outcome,
            since: self.since.as_deref().map(parse_time).transpose()?,
            until: self.until.as_deref().map(parse_time).transpose()?,
        })
    }
}

pub(crate) async fn run(client: &Client, command: AuditCommand, json: bool) -> Result<(), Failure> {
    match command {
        AuditCommand::List { filter, limit } => {
            let rows = client.audit_list(&filter.filter()?, limit).await?;
            if json {
                println!("{}", serde_json::to_string(&rows).map_err(|e| Error::InvalidInput(e.to_string()))?);
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            for e in &rows {
                let actor = e.actor_name.as_deref().or(e.actor_id.as_deref()).unwrap_or("-");
                let target = e.target_id.as_deref().unwrap_or("-");
                let count =
                    e.detail.get("count").and_then(|c| c.as_u64()).map(|n| format!(" ×{n}")).unwrap_or_default();
                writeln!(
                    out,
                    "{:>8}  {}  {}:{actor}  {}  {target}  {}{count}",
                    e.id,
                    format_time(e.at),
                    e.actor_kind,
                    e.action,
                    e.outcome
                )
                .map_err(Error::from)?;
            }
            Ok(())
        }
        AuditCommand::Export { filter, format, output } => {
            let filter = filter.filter()?;
            let n = match &output {
                None => client.audit_export(&filter, format, &mut std::io::stdout()).await?,
                Some(path) => {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(path)
                        .map_err(Error::from)?;
                    let mut out = std::io::BufWriter::new(file);
                    client.audit_export(&filter, format, &mut out).await?
                }
            };
            if let Some(path) = output {
                if json {
                    println!("{}", json!({"rows": n, "output": path.display().to_string()}));
                } else {
                    eprintln!("wrote {n} rows to {}", path.display());
                }
            }
            Ok(())
        }
    }
}
