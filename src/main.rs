//! The `idic` command line: parse arguments, dispatch to a subcommand, exit with its code.

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let exit = cli::Cli::parse().run();
    std::process::ExitCode::from(exit as u8)
}
