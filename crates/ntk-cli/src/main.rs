//! `ntk`: neural tangent kernels from `.npy` files (see the library, `ntk_cli`).

fn main() -> std::process::ExitCode {
    ntk_cli::main_entry()
}
