//! `TestServerBuilder`: what a test server is started with.

use std::sync::Arc;

use tokio::runtime::Runtime;
use vineyard_core::cluster::MetaStore;
use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_core::ServerConfig;

use crate::{TestServer, TEST_SIZE};

/// A change to the server's config, run on the server's thread.
pub(crate) type Configure = Box<dyn FnOnce(&mut ServerConfig) + Send>;
/// Makes the server's cluster on the server's runtime.
pub(crate) type MakeCluster = Box<dyn FnOnce(&Runtime) -> Arc<dyn MetaStore> + Send>;

/// How a [`TestServer`] is to be started; made by [`TestServer::builder`], started by
/// [`start`](TestServerBuilder::start). By default: [`TEST_SIZE`] bytes on a fresh temp
/// socket, no memory reservation, in-process metadata (alone), no RPC service.
#[must_use = "nothing starts until `start`"]
pub struct TestServerBuilder {
    pub(crate) size: u64,
    pub(crate) configure: Vec<Configure>,
    pub(crate) cluster: Option<MakeCluster>,
    pub(crate) rpc: Option<(Box<dyn RpcService>, RpcOptions)>,
}

impl TestServerBuilder {
    pub(crate) fn new() -> TestServerBuilder {
        TestServerBuilder {
            size: TEST_SIZE,
            configure: Vec::new(),
            cluster: None,
            rpc: None,
        }
    }

    /// Bytes of shared memory.
    pub fn size(mut self, size: u64) -> TestServerBuilder {
        self.size = size;
        self
    }

    /// Adjusts the server's config once the harness has filled it in (temp socket, size,
    /// no memory reservation), on the server's thread just before it binds. Several run in
    /// the order given.
    pub fn config(
        mut self,
        configure: impl FnOnce(&mut ServerConfig) + Send + 'static,
    ) -> TestServerBuilder {
        self.configure.push(Box::new(configure));
        self
    }

    /// Shares metadata through the store that `cluster` makes on the server's runtime
    /// (e.g. an `EtcdMetaStore`, whose connection lives on that runtime).
    pub fn cluster(
        mut self,
        cluster: impl FnOnce(&Runtime) -> Arc<dyn MetaStore> + Send + 'static,
    ) -> TestServerBuilder {
        self.cluster = Some(Box::new(cluster));
        self
    }

    /// Serves `service` beside the IPC server, bound to any free port on 127.0.0.1, the way
    /// `vineyardd` serves Arrow Flight: its endpoint is announced to clients and the cluster.
    pub fn rpc(mut self, service: Box<dyn RpcService>) -> TestServerBuilder {
        let options = RpcOptions {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 0,
            token: None,
            ..RpcOptions::default()
        };
        self.rpc = Some((service, options));
        self
    }

    /// The token every call to the RPC service must carry (call [`rpc`](Self::rpc) first).
    pub fn rpc_token(mut self, token: impl Into<String>) -> TestServerBuilder {
        let (_, options) = self
            .rpc
            .as_mut()
            .expect("rpc_token needs an RPC service: call rpc first");
        options.token = Some(token.into());
        self
    }

    /// Starts the server and waits until it answers a status request.
    pub fn start(self) -> TestServer {
        TestServer::launch(self)
    }
}
