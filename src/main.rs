//! The `idic` command line: parse arguments, dispatch to a subcommand, exit with its code.

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let mut exit = cli::Cli::parse().run();
    if let Some(failure) = cli::out_failure() {
        cli::err(&format!("error: {failure}\n"));
        exit = cli::Exit::Usage;
    }
    std::process::ExitCode::from(exit as u8)
}
