//! keyway-bench: bounded load generators against a running hub. Each subcommand is one
//! benchmark; `wrk` drives the one load generator.

mod approvals;
mod ciba;
mod exchange;
mod hubs;
mod scim;
mod sse;
mod wrk;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keyway-bench", about = "Bounded load runs against a Keyway hub on loopback.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PAT → JWT exchanges (`POST /auth/exchange`) beside the `/healthz` floor and refused
    /// exchanges, under wrk; the credentials come from the environment.
    Exchange(exchange::Args),
    /// The review queue: first page with 100,000 pending, decide, fan-out to 10 subscribers
    /// (runs its own hub in-process).
    Approvals {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Two hubs on one PostgreSQL database: a decision and a revocation made on one, seen on
    /// the other, and exchanges split across both (runs its own server and hubs).
    Hubs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// SCIM lists with 10,000 provisioned users: the first page and filtered pages (runs its
    /// own hub in-process, on SQLite then PostgreSQL).
    Scim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Approvals that mint the token: backchannel requests per second into the queue with
    /// live reviewers, asked → seen and decided → token times, and device-flow polls per
    /// second (runs its own hub in-process, on SQLite then PostgreSQL).
    Ciba {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// A throwaway PostgreSQL server (the tests' harness): prints the URLs of two fresh
    /// databases, one per line, and stops the server when its standard input closes.
    PgServer,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Exchange(args) => runtime()?.block_on(exchange::run(args)),
        Command::Approvals { args } => approvals::main(&args),
        Command::Hubs { args } => hubs::main(&args),
        Command::Scim { args } => scim::main(&args),
        Command::Ciba { args } => ciba::main(&args),
        Command::PgServer => {
            use std::io::{Read as _, Write as _};
            let mut out = std::io::stdout();
            for _ in 0..2 {
                writeln!(out, "{}", keyway_test_support::postgres::database()?)?;
            }
            out.flush()?;
            // Until the caller closes our stdin (or goes away).
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            Ok(())
        }
    }
}

/// A small runtime for the probes and sign-in (wrk generates the load).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}
