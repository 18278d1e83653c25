//! The arrow-flight service trait: one method per Flight call, each a thin step from the
//! request to `objects`, `put`, `actions` and back into gRPC types.

use std::sync::Arc;

use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::flight_service_server::FlightService as FlightApi;
use arrow_flight::{
    Action as FlightAction, ActionType, Criteria as FlightCriteria, Empty, FlightData,
    FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse, PollInfo, PutResult,
    SchemaAsIpc, SchemaResult, Ticket,
};
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::actions::{Action, ACTIONS};
use crate::encode::FlightDataStream;
use crate::error::Error;
use crate::instance::Instance;
use crate::limits::Limits;
use crate::objects::{self, Criteria};
use crate::target::{Target, TicketRequest};

type Stream<T> = BoxStream<'static, Result<T, Status>>;

/// The Flight calls over one instance.
#[derive(Clone, Debug)]
pub(crate) struct Handler {
    instance: Arc<Instance>,
    limits: Limits,
}

impl Handler {
    pub(crate) fn new(instance: Arc<Instance>, limits: Limits) -> Handler {
        Handler { instance, limits }
    }

    /// Reads what a descriptor names, for `get_flight_info` and `get_schema`.
    async fn read_descriptor(
        &self,
        descriptor: FlightDescriptor,
    ) -> Result<(String, objects::ObjectData), Error> {
        let target = Target::from_descriptor(&descriptor)?;
        let label = target.to_string();
        let data = self
            .instance
            .run(move |client| objects::read(client, target.resolve_id(client)?))
            .await?;
        Ok((label, data))
    }
}

fn one<T: Send + 'static>(item: T) -> Stream<T> {
    stream::once(async { Ok(item) }).boxed()
}

#[tonic::async_trait]
impl FlightApi for Handler {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;
    type DoExchangeStream = Stream<FlightData>;

    /// Nothing to negotiate: the token, if any, travels with every call.
    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Ok(Response::new(one(HandshakeResponse::default())))
    }

    async fn list_flights(
        &self,
        request: Request<FlightCriteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let criteria = Criteria::parse(&request.into_inner().expression)?;
        let infos = self
            .instance
            .run(move |client| criteria.list(client))
            .await?;
        Ok(Response::new(
            stream::iter(infos.into_iter().map(Ok)).boxed(),
        ))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let (label, data) = self.read_descriptor(request.into_inner()).await?;
        Ok(Response::new(objects::flight_info(&label, &data)?))
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        // Objects are immutable and complete: the first poll is the last.
        let descriptor = request.into_inner();
        let (label, data) = self.read_descriptor(descriptor.clone()).await?;
        let info = objects::flight_info(&label, &data)?;
        Ok(Response::new(
            PollInfo::new().with_info(info).with_descriptor(descriptor),
        ))
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let (_, data) = self.read_descriptor(request.into_inner()).await?;
        let options = IpcWriteOptions::default();
        let schema = SchemaResult::try_from(SchemaAsIpc::new(&data.schema, &options))
            .map_err(|error| Status::internal(format!("cannot encode the schema: {error}")))?;
        Ok(Response::new(schema))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ticket = TicketRequest::parse(&request.into_inner().ticket)?;
        let data = self
            .instance
            .run(move |client| match ticket {
                TicketRequest::Blob(id) => objects::read_blob(client, id),
                TicketRequest::Object(target) => objects::read(client, target.resolve_id(client)?),
            })
            .await?;
        let messages = FlightDataStream::new(&data.schema, data.batches, None)
            .map_err(Error::from)?
            .map(|message| message.map_err(|error| Status::internal(error.to_string())));
        Ok(Response::new(stream::iter(messages).boxed()))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let id = crate::put::put(&self.instance, self.limits, request.into_inner()).await?;
        Ok(Response::new(one(PutResult {
            app_metadata: id.to_string().into(),
        })))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented(
            "do_exchange is not supported: use do_get to read and do_put to write",
        ))
    }

    async fn do_action(
        &self,
        request: Request<FlightAction>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let request = request.into_inner();
        let action = Action::parse(&request.r#type, &request.body)?;
        let result = self.instance.run(move |client| action.run(client)).await?;
        Ok(Response::new(one(arrow_flight::Result {
            body: result.to_string().into(),
        })))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = ACTIONS.iter().map(|(name, description)| {
            Ok(ActionType {
                r#type: name.to_string(),
                description: description.to_string(),
            })
        });
        Ok(Response::new(stream::iter(actions).boxed()))
    }
}
