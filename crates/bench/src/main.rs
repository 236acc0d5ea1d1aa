//! keyway-bench: bounded load generators against a running hub. Each subcommand is one
//! benchmark; `load` holds the shared HTTP/1.1 load loop and the report.

mod approvals;
mod exchange;
mod load;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keyway-bench", about = "Bounded load runs against a Keyway hub on loopback.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PAT → JWT exchanges (`POST /auth/exchange`); the PAT comes from $KEYWAY_BENCH_PAT.
    Exchange(exchange::Args),
    /// The review queue: first page with 100,000 pending, decide, fan-out to 10 subscribers
    /// (runs its own hub in-process).
    Approvals {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Exchange(args) => load::runtime(args.threads)?.block_on(exchange::run(args)),
        Command::Approvals { args } => approvals::main(&args),
    }
}
