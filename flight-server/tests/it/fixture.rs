//! Flight instances: the workspace's `TestServer` serving `FlightService` beside the IPC
//! server (on a free loopback port), and the Flight clients that reach it.

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightClient;
use tonic::transport::Channel;
use vineyard_flight_server::{FlightService, RemoteClient};
use vineyard_test_harness::TestServer;

/// Shared memory of a Flight test instance.
pub const TEST_SIZE: u64 = 256 << 20;

/// An instance with its Flight service, without a token.
pub fn flight_instance() -> TestServer {
    TestServer::builder()
        .size(TEST_SIZE)
        .rpc(Box::new(FlightService::new()))
        .start()
}

/// An instance whose Flight calls need `token`.
pub fn flight_instance_with_token(token: &str) -> TestServer {
    TestServer::builder()
        .size(TEST_SIZE)
        .rpc(Box::new(FlightService::new()))
        .rpc_token(token)
        .start()
}

/// The Flight clients of an instance started by [`flight_instance`].
pub trait FlightClients {
    /// The Flight endpoint, `127.0.0.1:port`.
    fn endpoint(&self) -> &str;

    /// A `RemoteClient` with the instance's token, if any.
    async fn remote(&self) -> RemoteClient;

    /// A plain arrow-flight client, no token, messages of any size.
    async fn flight(&self) -> FlightClient;

    /// A plain arrow-flight client with tonic's defaults (messages of at most 4 MiB).
    async fn flight_with_default_limits(&self) -> FlightClient;
}

impl FlightClients for TestServer {
    fn endpoint(&self) -> &str {
        self.rpc_endpoint().expect("the instance serves Flight")
    }

    async fn remote(&self) -> RemoteClient {
        RemoteClient::connect(self.endpoint(), self.rpc_token())
            .await
            .expect("remote client connects")
    }

    async fn flight(&self) -> FlightClient {
        FlightClient::new_from_inner(
            FlightServiceClient::new(channel(self.endpoint()).await)
                .max_decoding_message_size(usize::MAX),
        )
    }

    async fn flight_with_default_limits(&self) -> FlightClient {
        FlightClient::new(channel(self.endpoint()).await)
    }
}

/// A plain gRPC channel to `endpoint`.
async fn channel(endpoint: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("channel connects")
}
