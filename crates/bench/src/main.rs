//! `keyway-bench <name>`: Keyway's benchmark drivers (run them with `cargo xtask bench <name>`,
//! which builds this in release mode).

mod approvals;

use std::process::ExitCode;

const USAGE: &str = "keyway-bench <benchmark>\n\n  approvals  the review queue: first page with 100,000 pending, decide, fan-out to 10 subscribers";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match name.as_str() {
        "approvals" => approvals::main(rest),
        other => {
            eprintln!("unknown benchmark '{other}'\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyway-bench {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
