//! `vineyardd`: runs one vineyard instance until SIGINT or SIGTERM.

fn main() -> std::process::ExitCode {
    let code = vineyard_core::server::cli::run(std::env::args_os());
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}
