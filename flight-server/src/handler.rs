//! The arrow-flight service trait: one method per Flight call, each a thin step from the
//! request to `objects`, `put`, `actions` and back into gRPC types. Flight SQL's calls
//! (commands packed in an `Any`, CamelCase actions; see `sql_route`) go to the SQL service.

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
use crate::do_put::is_sql_descriptor;
use crate::encode::FlightDataStream;
use crate::error::Error;
use crate::instance::Instance;
use crate::limits::Limits;
use crate::objects::{self, Criteria};
use crate::sql_route::{is_sql_action, is_sql_command, SqlSetup};
use crate::target::{Target, TicketRequest};

type Stream<T> = BoxStream<'static, Result<T, Status>>;

/// The Flight calls over one instance.
#[derive(Clone, Debug)]
pub(crate) struct Handler {
    instance: Arc<Instance>,
    limits: Limits,
    /// Flight SQL over the instance.
    #[cfg(feature = "sql")]
    sql: Arc<crate::sql::SqlService>,
}

/// Answers a Flight SQL call with the SQL service, or says that this build has none.
macro_rules! to_sql {
    ($handler:expr, $call:ident($($argument:expr),*)) => {{
        #[cfg(feature = "sql")]
        let answer = $handler.sql.$call($($argument),*).await;
        #[cfg(not(feature = "sql"))]
        let answer = {
            let _ = ($($argument),*);
            Err(crate::sql_route::not_served())
        };
        answer
    }};
}

impl Handler {
    pub(crate) fn new(instance: Arc<Instance>, limits: Limits, sql: SqlSetup) -> Handler {
        #[cfg(not(feature = "sql"))]
        let _ = sql;
        Handler {
            instance,
            limits,
            #[cfg(feature = "sql")]
            sql: Arc::new(crate::sql::SqlService::new(sql)),
        }
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
        if is_sql_descriptor(request.get_ref()) {
            return to_sql!(self, get_flight_info(request));
        }
        let (label, data) = self.read_descriptor(request.into_inner()).await?;
        Ok(Response::new(objects::flight_info(&label, &data)?))
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        // Objects are immutable and complete, and queries are planned at once: the first
        // poll is the last.
        if is_sql_descriptor(request.get_ref()) {
            let descriptor = request.get_ref().clone();
            let info: Response<FlightInfo> = to_sql!(self, get_flight_info(request))?;
            let info = info.into_inner();
            return Ok(Response::new(
                PollInfo::new().with_info(info).with_descriptor(descriptor),
            ));
        }
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
        let schema = if is_sql_descriptor(request.get_ref()) {
            to_sql!(self, schema(&request.get_ref().cmd))?
        } else {
            self.read_descriptor(request.into_inner()).await?.1.schema
        };
        let options = IpcWriteOptions::default();
        let schema = SchemaResult::try_from(SchemaAsIpc::new(&schema, &options))
            .map_err(|error| Status::internal(format!("cannot encode the schema: {error}")))?;
        Ok(Response::new(schema))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        if is_sql_command(&request.get_ref().ticket) {
            return to_sql!(self, do_get(request));
        }
        let ticket = TicketRequest::parse(&request.into_inner().ticket)?;
        let data = self
            .instance
            .run(move |client| match ticket {
                TicketRequest::Blob { id, chunk } => objects::read_blob(client, id, chunk),
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
        let mut messages = request.into_inner();
        let first = messages
            .message()
            .await?
            .ok_or_else(crate::put::empty_stream)?;
        // A Flight SQL command in the first message's descriptor makes it Flight SQL's.
        let sql_command = first
            .flight_descriptor
            .as_ref()
            .filter(|descriptor| is_sql_descriptor(descriptor))
            .map(|descriptor| descriptor.cmd.clone());
        if let Some(command) = sql_command {
            let messages = stream::iter([Ok(first)]).chain(messages);
            return to_sql!(self, do_put(&command, messages));
        }
        let result = crate::do_put::store(&self.instance, self.limits, first, messages).await?;
        Ok(Response::new(one(result)))
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
        if is_sql_action(&request.get_ref().r#type) {
            return to_sql!(self, do_action(request));
        }
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
        #[cfg(feature = "sql")]
        let actions = ACTIONS.iter().chain(crate::sql::ACTIONS.iter());
        #[cfg(not(feature = "sql"))]
        let actions = ACTIONS.iter();
        let actions = actions.map(|(name, description)| {
            Ok(ActionType {
                r#type: name.to_string(),
                description: description.to_string(),
            })
        });
        Ok(Response::new(stream::iter(actions).boxed()))
    }
}
