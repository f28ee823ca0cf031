//! `ntk`: neural tangent kernels from `.npy` files.
//!
//! Exit codes: 0 on success, 2 on bad input or usage (one line on stderr), and no output
//! file is left behind on failure.

mod kernel;
mod plot;
mod predict;
mod solve;
mod study;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Neural tangent kernels (empirical and analytic) of MLPs, from .npy files.
#[derive(Parser, Debug)]
#[command(name = "ntk", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compute an NTK or NNGP Gram matrix and write it as .npy.
    Kernel(kernel::KernelArgs),
    /// Gradient-flow (MSE) predictions at given times from precomputed kernels; `inf` is
    /// kernel regression.
    Predict(predict::PredictArgs),
    /// Width-scaling study: train networks over a grid of widths × seeds and compare them
    /// with their linearisation and the analytic NTK; writes study.csv, study.json and
    /// study.svg.
    Study(Box<study::StudyArgs>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One clear line: clap's first line names the problem.
            let text = e.render().to_string();
            let line: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "ntk: {} (see ntk --help)",
                line.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Kernel(args) => kernel::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Study(args) => study::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ntk: {e}");
            ExitCode::from(2)
        }
    }
}
