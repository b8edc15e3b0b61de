//! The `ferry` binary: parses the command line and runs one command.
//!
//! Exit codes: 0 success, 1 any error (one message on stderr), 2 usage error.

mod cli;
mod commands;
mod model;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Inspect(args) => commands::inspect(&args),
        cli::Command::Explain(args) => commands::explain(&args),
        cli::Command::Distill(args) => commands::distill(&args),
        cli::Command::Predict(args) => commands::predict(&args),
        cli::Command::Sql(args) => commands::sql(&args),
        cli::Command::Push(args) => commands::push(&args),
        cli::Command::Pull(args) => commands::pull(&args),
        cli::Command::List(args) => commands::list(&args),
        cli::Command::Versions(args) => commands::versions(&args),
        cli::Command::Show(args) => commands::show(&args),
        cli::Command::Alias(args) => commands::alias(&args),
        cli::Command::Delete(args) => commands::delete(&args),
        cli::Command::Prune(args) => commands::prune(&args),
        cli::Command::Card(args) => commands::card(&args),
        cli::Command::Publish(args) => commands::publish(&args),
        cli::Command::Site(args) => commands::site(&args),
        cli::Command::Send(args) => commands::send(&args),
        cli::Command::Serve(args) => commands::serve(&args),
        cli::Command::Image(args) => commands::image(&args),
        cli::Command::Dockerfile(args) => commands::dockerfile(&args),
        cli::Command::K8s(args) => commands::k8s(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // A closed pipe (`ferry predict … | head`) is not an error worth a message.
            if error
                .chain()
                .filter_map(|e| e.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", format_error(&error));
            ExitCode::FAILURE
        }
    }
}

/// `context: cause: cause`, on one line.
fn format_error(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
