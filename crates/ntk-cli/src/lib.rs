//! The `ntk` command as a library: the argument parser ([`parse_args`], fuzzed by
//! `fuzz/fuzz_targets/cli_parsers.rs`) and the three commands. `src/main.rs` only calls
//! [`main_entry`].
//!
//! Exit codes: 0 on success, 2 on bad input or usage (one line on stderr); no output file
//! is left behind on failure. A closed stdout ends the program quietly.
//!
//! Under `mpirun`/`srun` (see [`ranks`]): with the `mpi` feature, `kernel`, `predict
//! --solver cg` and `study` share their work among the ranks and rank 0 prints and writes
//! what one process would; the other commands run on rank 0 alone. Without the feature,
//! more than one rank is refused.

pub mod common;
pub mod kernel;
mod plot;
pub mod predict;
pub mod ranks;
mod solve;
pub mod study;
pub mod study_report;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ntk_engine::ranks::Ranks;

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
        self.run_with(None)
    }

    /// Runs the command as one of `ranks` (see [`ranks`]); only rank 0's text is meant
    /// for stdout.
    pub fn run_with(self, ranks: Option<&dyn Ranks>) -> ntk_engine::Result<String> {
        match self.command {
            Command::Kernel(args) => kernel::run(args, ranks),
            Command::Predict(args) => predict::run(args, ranks),
            Command::Study(args) => study::run(*args, ranks),
        }
    }
}

/// The whole program: parse, run, print, and the exit code.
pub fn main_entry() -> ExitCode {
    // A memory-mapped input truncated under the run: one line, our files removed, exit 2
    // (instead of death by SIGBUS with the files left behind).
    let _ = ntk_engine::data::bus_guard::install();
    match parse_args(std::env::args_os()) {
        Parsed::Print(text) => common::print_stdout(&text),
        Parsed::Usage(line) => {
            // Every rank sees the same command line: rank 0 says it.
            if ranks::launched().is_none_or(|l| l.rank == 0) {
                common::print_stderr(&line);
            }
            ExitCode::from(2)
        }
        Parsed::Run(cli) => run_launched(*cli),
    }
}

/// Runs a parsed command: alone, or as one of the ranks of an MPI launch.
#[cfg(not(feature = "mpi"))]
fn run_launched(cli: Cli) -> ExitCode {
    if let Some(l) = ranks::launched().filter(|l| l.size > 1) {
        if l.rank == 0 {
            common::print_stderr(&ranks::refusal(&l));
        }
        return ExitCode::from(2);
    }
    run_alone(cli)
}

/// Runs a parsed command: alone, or as one of the ranks of an MPI launch.
#[cfg(feature = "mpi")]
fn run_launched(cli: Cli) -> ExitCode {
    if ranks::launched().is_none() {
        return run_alone(cli);
    }
    let mpi = match ranks::MpiRanks::init() {
        Ok(m) => m,
        Err(line) => {
            common::print_stderr(&line);
            return ExitCode::from(2);
        }
    };
    let rank = mpi.rank();
    match cli.run_with(Some(&mpi)) {
        Ok(text) if rank == 0 => common::print_stdout(&text),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            // Failed before the ranks met: meet them now, so that none waits forever, and
            // let the lowest failed rank speak. After, rank 0 reports (the others' errors
            // reach it), unless a rank failed alone at a meeting and reports itself.
            if !mpi.started() {
                mpi.start(false);
            }
            if mpi.speaks() {
                let who = if rank == 0 {
                    String::new()
                } else {
                    format!("rank {rank}: ")
                };
                common::print_stderr(&format!(
                    "ntk: {who}{}",
                    ntk_engine::error::one_line(&e.to_string(), 1000)
                ));
            }
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command in this process alone.
fn run_alone(cli: Cli) -> ExitCode {
    match cli.run() {
        Ok(text) => common::print_stdout(&text),
        Err(e) => {
            common::print_stderr(&format!(
                "ntk: {}",
                ntk_engine::error::one_line(&e.to_string(), 1000)
            ));
            ExitCode::from(2)
        }
    }
}
