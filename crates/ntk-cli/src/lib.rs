//! The `ntk` command as a library: the argument parser ([`parse_args`], fuzzed by
//! `fuzz/fuzz_targets/cli_parsers.rs`) and the three commands. `src/main.rs` only calls
//! [`main_entry`].
//!
//! Exit codes: 0 on success, 2 on bad input or usage (one line on stderr); no output file
//! is left behind on failure. A closed stdout ends the program quietly.

pub mod common;
pub mod kernel;
mod plot;
pub mod predict;
mod solve;
pub mod study;
pub mod study_report;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Neural tangent kernels (empirical and analytic) of MLPs, from .npy files.
#[derive(Parser, Debug)]
#[command(name = "ntk", version, about, max_term_width = 100)]
pub struct Cli {
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

/// What parsing the command line gave.
#[derive(Debug)]
pub enum Parsed {
    /// A command to run.
    Run(Box<Cli>),
    /// Help or version text for stdout (exit 0).
    Print(String),
    /// A usage error: one line for stderr (exit 2).
    Usage(String),
}

/// Parses a command line (`args[0]` is the program name). Never panics: every problem is a
/// one-line [`Parsed::Usage`] message.
pub fn parse_args<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::error::ErrorKind;
    match Cli::try_parse_from(args) {
        Ok(cli) => Parsed::Run(Box::new(cli)),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            Parsed::Print(e.render().to_string())
        }
        Err(e) => {
            // One clear line: clap's first lines name the problem; the usage and its
            // "For more information" hint are replaced by ours.
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let line = lines.join(" ");
            Parsed::Usage(format!(
                "ntk: {} (see ntk --help)",
                ntk_engine::error::one_line(line.trim_start_matches("error: "), 400)
            ))
        }
    }
}

impl Cli {
    /// Runs the command; the text to print on stdout on success.
    pub fn run(self) -> ntk_engine::Result<String> {
        match self.command {
            Command::Kernel(args) => kernel::run(args),
            Command::Predict(args) => predict::run(args),
            Command::Study(args) => study::run(*args),
        }
    }
}

/// The whole program: parse, run, print, and the exit code.
pub fn main_entry() -> ExitCode {
    match parse_args(std::env::args_os()) {
        Parsed::Print(text) => common::print_stdout(&text),
        Parsed::Usage(line) => {
            common::print_stderr(&line);
            ExitCode::from(2)
        }
        Parsed::Run(cli) => match cli.run() {
            Ok(text) => common::print_stdout(&text),
            Err(e) => {
                common::print_stderr(&format!(
                    "ntk: {}",
                    ntk_engine::error::one_line(&e.to_string(), 1000)
                ));
                ExitCode::from(2)
            }
        },
    }
}
