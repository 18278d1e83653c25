//! What a connection leaves behind when it goes away: nothing.
//!
//! A crashed writer is a raw connection dropped mid-write: `std::mem::forget` on an
//! `IpcClient`'s `BlobWriter` would leak the client's connection with it (the writer keeps
//! its connection alive), so it would never close.

use std::time::{Duration, Instant};

use serde_json::json;
use vineyard_core::IpcClient;

use crate::raw_frames::RawConnection;
use vineyard_test_harness::TestServer;

#[test]
fn disconnect_reclaims_unsealed_buffers() {
    let server = TestServer::start();
    let baseline = server.memory_usage();
    let mut writer = RawConnection::registered(server.socket());
    for size in [1 << 20, 5 << 20, 100] {
        let reply = writer.request(&json!({"type": "create_buffer_request", "size": size}));
        assert_eq!(reply["type"], "create_buffer_reply", "{reply:?}");
    }
    assert!(server.memory_usage() >= baseline + (6 << 20));
    drop(writer);
    server.wait_for_memory_usage(baseline);
}

#[test]
fn disconnect_before_reading_the_reply_reclaims_the_buffer() {
    let server = TestServer::start();
    let mut writer = RawConnection::registered(server.socket());
    writer.send_json(&json!({"type": "create_buffer_request", "size": 8 << 20}));
    drop(writer);
    server.wait_for_memory_usage(0);
    // All of the store is usable again.
    let client = server.client();
    let mut whole = client
        .create_blob(vineyard_test_harness::TEST_SIZE as usize)
        .unwrap();
    whole[0] = 1;
    whole.seal().unwrap();
}

#[test]
fn sealed_blobs_outlive_their_writer() {
    let server = TestServer::start();
    let id = {
        let writer = server.client();
        writer.put_bytes(b"kept after the writer left").unwrap()
    };
    let reader = server.client();
    assert_eq!(
        &reader.get_blob(id).unwrap()[..],
        b"kept after the writer left"
    );
}

#[test]
fn status_counts_connections() {
    let server = TestServer::start();
    let observer = server.client();
    // The fixture's own probe connections close asynchronously: wait until only ours is left.
    wait_for_connections(&observer, 1);
    let extra = server.client();
    assert_eq!(observer.status().unwrap().ipc_connections, 2);
    drop(extra);
    wait_for_connections(&observer, 1);
}

fn wait_for_connections(observer: &IpcClient, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let open = observer.status().unwrap().ipc_connections;
        if open == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{open} connections, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
