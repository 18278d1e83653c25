//! `light_client SOCKET [TEXT]`: puts TEXT (default `Hello, World!`) as a blob into the
//! instance at SOCKET, maps it back and prints one JSON line: the blob's id, size and bytes,
//! and the instance's memory use. Built on `vineyard-core` without its `server` feature.

use std::process::ExitCode;

use vineyard_core::{IpcClient, Result};

fn run(socket: &str, text: &str) -> Result<serde_json::Value> {
    let client = IpcClient::connect(socket)?;
    let id = client.put_bytes(text.as_bytes())?;
    let blob = client.get_blob(id)?;
    let status = client.status()?;
    Ok(serde_json::json!({
        "id": id.to_string(),
        "size": blob.size(),
        "text": String::from_utf8_lossy(&blob),
        "instance_id": client.instance_id(),
        "memory_usage": status.memory_usage,
    }))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        eprintln!("usage: light_client SOCKET [TEXT]");
        return ExitCode::from(2);
    };
    let text = args.next().unwrap_or_else(|| "Hello, World!".into());
    match run(&socket, &text) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("light_client: {error}");
            ExitCode::FAILURE
        }
    }
}
