//! One port, two protocols: each accepted connection is sniffed (`vineyard_rpc::sniff`);
//! Flight connections go on to tonic (through `tls`), Vineyard RPC connections are served by
//! `vineyard_rpc` on tasks of their own (or refused, when the port serves TLS).

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::counted::CountedStream;
use crate::error::Error;
use crate::vineyard_rpc::sniff::{sniff, Protocol};
use crate::vineyard_rpc::{self, RpcContext};

/// Connections sniffed at once; further ones wait in the listen queue.
const CONCURRENT_SNIFFS: usize = 64;

/// The Flight connections among `accepted`; the others are served as Vineyard RPC clients.
pub(crate) fn flight_connections<S>(
    accepted: S,
    context: Arc<RpcContext>,
    tls: bool,
) -> Pin<Box<dyn Stream<Item = io::Result<CountedStream>> + Send>>
where
    S: Stream<Item = io::Result<CountedStream>> + Send + 'static,
{
    accepted
        .map(move |stream| {
            let context = Arc::clone(&context);
            async move {
                let stream = match stream {
                    Ok(stream) => stream,
                    Err(error) => return Some(Err(error)),
                };
                match sniff(stream.tcp()).await {
                    Ok(Protocol::Flight) => Some(Ok(stream)),
                    Ok(Protocol::VineyardRpc) if tls => {
                        tokio::spawn(vineyard_rpc::refuse(stream, tls_only()));
                        None
                    }
                    Ok(Protocol::VineyardRpc) => {
                        tokio::spawn(vineyard_rpc::serve(stream, context));
                        None
                    }
                    Err(error) => {
                        tracing::debug!(%error, "dropped a connection before it spoke");
                        None
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENT_SNIFFS)
        .filter_map(|routed| async move { routed })
        .boxed()
}

fn tls_only() -> Error {
    Error::invalid(
        "this vineyard instance serves RPC over TLS only (vineyardd --rpc_tls_cert), which \
         Vineyard's RPC protocol does not have: use vineyard-rs's client, \
         vineyard.connect('grpc+tls://host:port', tls_root_certs=...)",
    )
}
