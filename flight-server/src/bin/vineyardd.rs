//! `vineyardd`: runs one vineyard instance, with its Arrow Flight service, until SIGINT or
//! SIGTERM.

use vineyard_flight_server::FlightService;

fn main() -> std::process::ExitCode {
    let code = vineyard_core::server::cli::run_with_restorer(
        std::env::args_os(),
        Some(Box::new(FlightService::new())),
        Some(std::sync::Arc::new(vineyard_persist::SnapshotRestorer)),
    );
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}
