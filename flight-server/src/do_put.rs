//! `DoPut` served below tonic (see `direct`): the messages are read from the HTTP/2 frames by
//! [`IncomingMessages`], each Arrow body gathered once into an aligned buffer that the IPC
//! decoder uses as it is, and stored by `put` (a table or a blob) or `put_objects` (whole
//! objects). A put whose descriptor is Flight SQL's goes on to tonic.

use std::sync::Arc;

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::{FlightData, FlightDescriptor, PutResult};
use futures::{stream, StreamExt};
use tonic::body::Body;
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::auth::TokenCheck;
use crate::direct::Served;
use crate::grpc::{framed, one_message, IncomingMessages};
use crate::instance::Instance;
use crate::limits::Limits;
use crate::put_objects::Plan;
use crate::sql_route::is_sql_command;

/// Answers one `DoPut`: checks the token, reads the first message, and stores the stream.
pub(crate) async fn serve_do_put(
    instance: Arc<Instance>,
    token: TokenCheck,
    limits: Limits,
    request: http::Request<Body>,
) -> Result<Served, Status> {
    token.check(&MetadataMap::from_headers(request.headers().clone()))?;
    let (parts, body) = request.into_parts();
    let mut messages = IncomingMessages::new(body, limits);
    let first = messages
        .next()
        .await?
        .ok_or_else(|| Status::from(crate::put::empty_stream()))?;
    if first
        .flight_descriptor
        .as_ref()
        .is_some_and(is_sql_descriptor)
    {
        let body = messages.into_body(framed(&first));
        return Ok(Served::Elsewhere(http::Request::from_parts(parts, body)));
    }
    let result = store(&instance, limits, first, messages.into_stream()).await?;
    Ok(Served::Here(one_message(&result)))
}

/// Whether a descriptor carries a Flight SQL command.
pub(crate) fn is_sql_descriptor(descriptor: &FlightDescriptor) -> bool {
    descriptor.r#type() == DescriptorType::Cmd && is_sql_command(&descriptor.cmd)
}

/// Stores a put that is not Flight SQL's, `first` and then `rest`: whole objects when the
/// descriptor asks for them, else a table or a blob. The reply carries the new id (or the
/// ids, for objects).
pub(crate) async fn store<S>(
    instance: &Arc<Instance>,
    limits: Limits,
    first: FlightData,
    rest: S,
) -> Result<PutResult, Status>
where
    S: futures::Stream<Item = Result<FlightData, Status>> + Send + Unpin + 'static,
{
    if let Some(plan) = Plan::from_descriptor(first.flight_descriptor.as_ref())? {
        let result = crate::put_objects::put(instance, limits, plan, first, rest).await?;
        return Ok(PutResult {
            app_metadata: result.to_string().into(),
        });
    }
    let messages = stream::iter([Ok(first)]).chain(rest);
    let id = crate::put::put(instance, limits, messages).await?;
    Ok(PutResult {
        app_metadata: id.to_string().into(),
    })
}
