//! The calls answered below tonic, where the payload is: `DoGet` (`do_get`: from the shared
//! memory to the socket with no copy) and `DoPut` (`do_put`: from the HTTP/2 frames into one
//! aligned buffer per message, then into the store). And, in front of every call, the
//! refusal of plain-text clients on a TLS port. Every other call goes to the tonic service
//! this route wraps, and so do the Flight SQL ones among `DoGet` and `DoPut` (rebuilt from
//! what was read of them).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic::Status;

use crate::auth::TokenCheck;
use crate::do_get::serve_do_get;
use crate::do_put::serve_do_put;
use crate::error::Error;
use crate::instance::Instance;
use crate::limits::Limits;
use crate::tls::ConnectionInfo;

const DO_GET_PATH: &str = "/arrow.flight.protocol.FlightService/DoGet";
const DO_PUT_PATH: &str = "/arrow.flight.protocol.FlightService/DoPut";

/// What became of a call answered here.
pub(crate) enum Served {
    /// Answered here.
    Here(http::Response<Body>),
    /// A Flight SQL call: the request, rebuilt, for the tonic service.
    Elsewhere(http::Request<Body>),
}

/// Routes `DoGet` and `DoPut` to [`serve_do_get`] and [`serve_do_put`], every other call to
/// `inner`.
#[derive(Clone)]
pub(crate) struct DirectRoute<S> {
    inner: S,
    instance: Arc<Instance>,
    token: TokenCheck,
    limits: Limits,
}

impl<S> DirectRoute<S> {
    /// Wraps `inner`, the tonic service of `instance`.
    pub(crate) fn new(
        inner: S,
        instance: Arc<Instance>,
        token: TokenCheck,
        limits: Limits,
    ) -> DirectRoute<S> {
        DirectRoute {
            inner,
            instance,
            token,
            limits,
        }
    }
}

impl<S: NamedService> NamedService for DirectRoute<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<Body>> for DirectRoute<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let plain_on_tls_port = request
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|info| info.plain_on_tls_port);
        if plain_on_tls_port {
            return Box::pin(async { Ok(Status::from(Error::TlsRequired).into_http()) });
        }
        let path = request.uri().path();
        if path != DO_GET_PATH && path != DO_PUT_PATH {
            let call = self.inner.call(request);
            return Box::pin(async move { Ok(call.await?.map(Body::new)) });
        }
        let instance = Arc::clone(&self.instance);
        let token = self.token.clone();
        let limits = self.limits;
        let mut inner = self.inner.clone();
        let is_get = path == DO_GET_PATH;
        Box::pin(async move {
            let served = if is_get {
                serve_do_get(instance, token, request).await
            } else {
                serve_do_put(instance, token, limits, request).await
            };
            match served {
                Ok(Served::Here(response)) => Ok(response),
                Ok(Served::Elsewhere(request)) => {
                    std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                    Ok(inner.call(request).await?.map(Body::new))
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}
