//! Binding and serving: taken ports, announced endpoints, shutdown with calls in flight.

use std::time::{Duration, Instant};

use arrow_flight::Ticket;
use futures::TryStreamExt;
use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_flight_server::FlightService;

use crate::data::numbers;
use crate::fixture::{flight_instance, FlightClients};

fn options(host: &str, port: u16) -> RpcOptions {
    RpcOptions {
        enabled: true,
        host: host.into(),
        port,
        token: None,
        ..RpcOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_falls_back_to_a_free_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut service = FlightService::new();
    let endpoint = service
        .bind(&options("127.0.0.1", port))
        .expect("binds anyway");
    assert!(endpoint.starts_with("127.0.0.1:"), "{endpoint}");
    assert_ne!(endpoint, format!("127.0.0.1:{port}"));
    assert_eq!(service.endpoint(), Some(endpoint.as_str()));

    let error = FlightService::new()
        .bind(&options("no-such-host.invalid", 0))
        .unwrap_err();
    assert!(
        error.to_string().contains("no-such-host.invalid"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wildcard_address_is_announced_by_hostname() {
    let mut service = FlightService::new();
    let endpoint = service.bind(&options("0.0.0.0", 0)).unwrap();
    assert!(!endpoint.starts_with("0.0.0.0"), "{endpoint}");
    assert!(endpoint.rsplit_once(':').unwrap().1.parse::<u16>().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_is_announced_to_clients_and_the_cluster() {
    let instance = flight_instance();
    let ipc = instance.client();
    assert_eq!(ipc.rpc_endpoint(), instance.endpoint());
    let cluster = ipc.cluster_info().unwrap();
    let me = &cluster[&format!("i{}", ipc.instance_id())];
    assert_eq!(me.rpc_endpoint, instance.endpoint());
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_with_a_stream_open() {
    let instance = flight_instance();
    let ipc = instance.client();
    let meta = vineyard_builders::put_record_batch(&ipc, &numbers(0, 1 << 20)).unwrap();
    drop(ipc);
    let mut flight = instance.flight().await;
    let mut stream = flight
        .do_get(Ticket::new(meta.id().unwrap().to_string()))
        .await
        .unwrap();
    let _first = stream.try_next().await.unwrap();
    let started = Instant::now();
    // Stops on another thread: `stop` blocks until the instance is down.
    let stopping = std::thread::spawn(move || instance.stop());
    // Reading on lets the stream finish or fail; either way the server goes down.
    while let Ok(Some(_)) = stream.try_next().await {}
    stopping.join().expect("instance stops cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
