//! Flight SQL on the Flight port (feature `sql`): every instance is a SQL endpoint over its
//! objects, with `vineyard-sql`'s engine.
//!
//! The handler routes Flight SQL's calls here (see `sql_route`): statements
//! (`CommandStatementQuery`), prepared statements with parameters (the
//! `CreatePreparedStatement` action, `do_put` of the parameters, `CommandPreparedStatementQuery`),
//! updates (`CommandStatementUpdate`: `CREATE TABLE ... AS`, `DROP TABLE`), and the metadata
//! commands (`CommandGetCatalogs`, `CommandGetDbSchemas`, `CommandGetTables` with schemas,
//! `CommandGetTableTypes`, `CommandGetSqlInfo`). `get_flight_info` plans a query and returns
//! its schema with one ticket; `do_get` of the ticket runs it and streams the rows as they
//! come. A `CREATE TABLE ... AS` runs at `get_flight_info` (its ticket has no rows), so that
//! a client that never fetches still gets its table. Dropping a `do_get` stream (the client
//! went away) stops its query.
//!
//! The engine is made on first use: it reaches its instance through an `IpcClient` on the
//! instance's socket, which accepts by the time any call arrives.
//!
//! # Layout
//! - `handle`: statement handles (the query and its bound parameters), self-contained.
//! - `metadata`: catalogs, schemas, tables, table types, `SqlInfo`.
//! - `remote`: [`FlightReader`], parts of global tables read from their owners.

mod handle;
mod metadata;
mod remote;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService as FlightApi;
use arrow_flight::sql::metadata::SqlInfoData;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, Command, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, DoPutUpdateResult, ProstMessageExt,
    SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, PutResult, SchemaAsIpc,
    Ticket,
};
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status};
use vineyard_sql::datafusion::physical_plan::SendableRecordBatchStream;
use vineyard_sql::{parameters_of, SqlEngine, SqlOptions, Statement};

use crate::error::Error;
use crate::sql_route::SqlSetup;
use handle::Handle;
pub use remote::FlightReader;

type FlightStream<T> = BoxStream<'static, Result<T, Status>>;

/// The Flight SQL actions served, as `list_actions` describes them.
pub(crate) const ACTIONS: &[(&str, &str)] = &[
    (
        "CreatePreparedStatement",
        "Flight SQL: plans a query (ActionCreatePreparedStatementRequest); returns its handle, \
         result schema and parameter schema",
    ),
    (
        "ClosePreparedStatement",
        "Flight SQL: closes a prepared statement (handles are self-contained: nothing to free)",
    ),
];

/// The Flight SQL service of one instance.
pub(crate) struct SqlService {
    socket: PathBuf,
    token: Option<String>,
    options: SqlOptions,
    engine: tokio::sync::OnceCell<Arc<SqlEngine>>,
    info: SqlInfoData,
}

impl std::fmt::Debug for SqlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlService")
            .field("socket", &self.socket)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SqlService {
    /// The service of the instance on `setup.socket`; parts of global tables are read from
    /// the other instances with `setup.token`.
    pub(crate) fn new(setup: SqlSetup) -> SqlService {
        let options = SqlOptions {
            memory_limit: setup
                .memory_limit
                .map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX)),
            ..SqlOptions::default()
        };
        SqlService {
            socket: setup.socket,
            token: setup.token,
            options,
            engine: tokio::sync::OnceCell::new(),
            info: metadata::sql_info(),
        }
    }

    /// The engine, made on first use.
    pub(crate) async fn engine(&self) -> Result<Arc<SqlEngine>, Status> {
        let engine = self
            .engine
            .get_or_try_init(|| async {
                let socket = self.socket.clone();
                let client =
                    tokio::task::spawn_blocking(move || vineyard_core::IpcClient::connect(socket))
                        .await
                        .map_err(|error| {
                            Status::internal(format!("cannot start the SQL engine: {error}"))
                        })?
                        .map_err(|error| Status::from(Error::from(error)))?;
                let reader = Arc::new(FlightReader::new(self.token.clone()));
                SqlEngine::with_remote_reader(client, reader, self.options.clone())
                    .map(Arc::new)
                    .map_err(status)
            })
            .await?;
        Ok(Arc::clone(engine))
    }

    /// The statement a handle stands for, its parameters bound.
    async fn statement(
        &self,
        engine: &SqlEngine,
        query: &str,
        parameters: Option<&RecordBatch>,
    ) -> Result<Statement, Status> {
        let statement = engine.prepare(query).await.map_err(status)?;
        match parameters {
            Some(batch) => statement
                .bind(parameters_of(batch).map_err(status)?)
                .map_err(status),
            None => Ok(statement),
        }
    }

    /// Plans what `handle` stands for: the schema of its rows and the handle of its ticket.
    /// A command (`CREATE TABLE ... AS`, `DROP TABLE`) runs now and leaves no rows.
    async fn plan(&self, handle: Handle) -> Result<(SchemaRef, Handle), Status> {
        let Handle::Query { query, parameters } = &handle else {
            return Ok((Arc::new(Schema::empty()), Handle::Done));
        };
        let engine = self.engine().await?;
        let statement = self.statement(&engine, query, parameters.as_ref()).await?;
        if statement.is_command() {
            let mut rows = engine.execute(statement).await.map_err(status)?;
            while let Some(batch) = rows.next().await {
                batch.map_err(|error| status(error.into()))?;
            }
            return Ok((Arc::new(Schema::empty()), Handle::Done));
        }
        Ok((statement.schema(), handle))
    }

    /// A flight of the rows of a statement handle.
    async fn statement_info(
        &self,
        handle: Handle,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let (schema, handle) = self.plan(handle).await?;
        let ticket = TicketStatementQuery {
            statement_handle: handle.encode().map_err(Status::from)?,
        };
        flight_info(descriptor, &schema, ticket.as_any().encode_to_vec().into())
    }

    /// Runs what a handle stands for and streams its rows.
    async fn rows(&self, handle: &[u8]) -> Result<Response<FlightStream<FlightData>>, Status> {
        let Handle::Query { query, parameters } = Handle::decode(handle)? else {
            return Ok(Response::new(encode_batches(
                Arc::new(Schema::empty()),
                Vec::new(),
            )));
        };
        let engine = self.engine().await?;
        let statement = self.statement(&engine, &query, parameters.as_ref()).await?;
        let rows = engine.execute(statement).await.map_err(status)?;
        Ok(Response::new(encode_stream(rows)))
    }

    /// `do_put` of a Flight SQL command (the handler has peeked at the first message):
    /// a prepared statement's parameters, or an update.
    pub(crate) async fn do_put<S>(
        &self,
        command: &[u8],
        messages: S,
    ) -> Result<Response<FlightStream<PutResult>>, Status>
    where
        S: Stream<Item = Result<FlightData, Status>> + Send + 'static,
    {
        let command = Any::decode(command)
            .map_err(|error| {
                Status::invalid_argument(format!("malformed Flight SQL command: {error}"))
            })
            .and_then(|any| {
                Command::try_from(any).map_err(|error| Status::invalid_argument(error.to_string()))
            })?;
        let app_metadata: Bytes = match command {
            Command::CommandPreparedStatementQuery(command) => {
                let query = match Handle::decode(&command.prepared_statement_handle)? {
                    Handle::Query { query, .. } => query,
                    Handle::Done => {
                        return Err(Status::invalid_argument(
                            "this prepared statement ran already and takes no parameters",
                        ))
                    }
                };
                let parameters = parameters(messages).await?;
                let handle = Handle::Query { query, parameters };
                DoPutPreparedStatementResult {
                    prepared_statement_handle: Some(handle.encode().map_err(Status::from)?),
                }
                .encode_to_vec()
                .into()
            }
            Command::CommandStatementUpdate(command) => {
                self.update(&command.query, None).await?;
                DoPutUpdateResult { record_count: -1 }
                    .encode_to_vec()
                    .into()
            }
            Command::CommandPreparedStatementUpdate(command) => {
                let query = match Handle::decode(&command.prepared_statement_handle)? {
                    Handle::Query { query, .. } => query,
                    Handle::Done => String::new(),
                };
                let parameters = parameters(messages).await?;
                self.update(&query, parameters.as_ref()).await?;
                DoPutUpdateResult { record_count: -1 }
                    .encode_to_vec()
                    .into()
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "{} is not supported by do_put: bind parameters of a prepared statement, \
                     or run CREATE TABLE name AS SELECT ... (plain Flight do_put stores a \
                     stream as a table)",
                    other.type_url()
                )))
            }
        };
        Ok(Response::new(
            stream::once(async { Ok(PutResult { app_metadata }) }).boxed(),
        ))
    }

    /// Runs an update: a statement that returns no rows.
    async fn update(&self, query: &str, parameters: Option<&RecordBatch>) -> Result<(), Status> {
        let engine = self.engine().await?;
        let statement = self.statement(&engine, query, parameters).await?;
        if !statement.is_command() {
            return Err(Status::invalid_argument(
                "a query returns rows: run it as a query (CommandStatementQuery, e.g. \
                 cursor.execute), not as an update",
            ));
        }
        let mut rows = engine.execute(statement).await.map_err(status)?;
        while let Some(batch) = rows.next().await {
            batch.map_err(|error| status(error.into()))?;
        }
        Ok(())
    }

    /// The schema of the rows a Flight SQL statement command returns, without running it.
    pub(crate) async fn schema(&self, command: &[u8]) -> Result<SchemaRef, Status> {
        let any = Any::decode(command).map_err(|error| {
            Status::invalid_argument(format!("malformed Flight SQL command: {error}"))
        })?;
        let handle = match Command::try_from(any)
            .map_err(|error| Status::invalid_argument(error.to_string()))?
        {
            Command::CommandStatementQuery(command) => Handle::query(command.query),
            Command::CommandPreparedStatementQuery(command) => {
                Handle::decode(&command.prepared_statement_handle)?
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "get_schema answers statements; call get_flight_info for {}",
                    other.type_url()
                )))
            }
        };
        let Handle::Query { query, parameters } = handle else {
            return Ok(Arc::new(Schema::empty()));
        };
        let engine = self.engine().await?;
        Ok(self
            .statement(&engine, &query, parameters.as_ref())
            .await?
            .schema())
    }
}

/// The parameters a `do_put` binds: its batches as one (none if it sent no rows).
async fn parameters<S>(messages: S) -> Result<Option<RecordBatch>, Status>
where
    S: Stream<Item = Result<FlightData, Status>> + Send + 'static,
{
    let decoded = FlightRecordBatchStream::new_from_flight_data(
        messages.map_err(|status| FlightError::Tonic(Box::new(status))),
    );
    let batches: Vec<RecordBatch> = decoded
        .try_collect()
        .await
        .map_err(|error| Status::from(Error::from(error)))?;
    let Some(first) = batches.first() else {
        return Ok(None);
    };
    let batch = concat_batches(&first.schema(), &batches)
        .map_err(|error| Status::from(Error::from(error)))?;
    Ok(Some(batch))
}

/// A SQL error as the status it travels as.
fn status(error: vineyard_sql::Error) -> Status {
    Status::from(Error::from(error))
}

/// A flight of one endpoint whose ticket is `ticket`, on this service.
fn flight_info(
    descriptor: FlightDescriptor,
    schema: &Schema,
    ticket: Bytes,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|error| Status::from(Error::from(error)))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket { ticket }))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// A flight of a metadata command: its ticket is the command itself.
fn command_info<M: ProstMessageExt>(
    command: &M,
    descriptor: FlightDescriptor,
    schema: &Schema,
) -> Result<Response<FlightInfo>, Status> {
    flight_info(descriptor, schema, command.as_any().encode_to_vec().into())
}

/// `schema` in Arrow IPC, as prepared statements carry schemas.
fn ipc_schema(schema: &Schema) -> Result<Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|error: arrow::error::ArrowError| Status::from(Error::from(error)))?;
    Ok(bytes)
}

/// Rows as they come, as Flight data; an error of the query ends the stream with its status.
fn encode_stream(rows: SendableRecordBatchStream) -> FlightStream<FlightData> {
    let schema = rows.schema();
    let batches = rows.map_err(|error| FlightError::Tonic(Box::new(status(error.into()))));
    encode(schema, batches)
}

fn encode_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> FlightStream<FlightData> {
    encode(schema, stream::iter(batches.into_iter().map(Ok)))
}

fn encode<S>(schema: SchemaRef, batches: S) -> FlightStream<FlightData>
where
    S: Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
{
    FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map_err(|error| match error {
            FlightError::Tonic(status) => *status,
            other => Status::internal(format!("cannot encode the result: {other}")),
        })
        .boxed()
}

/// The answer to a metadata command: one batch.
fn one_batch(
    batch: Result<RecordBatch, Error>,
) -> Result<Response<FlightStream<FlightData>>, Status> {
    let batch = batch?;
    Ok(Response::new(encode_batches(batch.schema(), vec![batch])))
}

#[tonic::async_trait]
impl FlightSqlService for SqlService {
    type FlightService = SqlService;

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.statement_info(Handle::query(query.query), request.into_inner())
            .await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = Handle::decode(&query.prepared_statement_handle)?;
        self.statement_info(handle, request.into_inner()).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        self.rows(&ticket.statement_handle).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        self.rows(&query.prepared_statement_handle).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let engine = self.engine().await?;
        let statement = engine.prepare(&query.query).await.map_err(status)?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: Handle::query(query.query).encode()?,
            dataset_schema: ipc_schema(&statement.schema())?,
            parameter_schema: ipc_schema(&statement.parameter_schema().map_err(status)?)?,
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        // Handles are self-contained: there is nothing to close.
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&query, request.into_inner(), &metadata::catalogs_schema())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        let engine = self.engine().await?;
        one_batch(metadata::catalogs(&engine, query))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = metadata::schemas_schema(query.clone());
        command_info(&query, request.into_inner(), &schema)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        let engine = self.engine().await?;
        one_batch(metadata::schemas(&engine, query))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = metadata::tables_schema(query.clone());
        command_info(&query, request.into_inner(), &schema)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        let engine = self.engine().await?;
        one_batch(metadata::tables(&engine, query).await)
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(
            &query,
            request.into_inner(),
            &metadata::table_types_schema(),
        )
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        one_batch(metadata::table_types())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&query, request.into_inner(), &self.info.schema())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightApi>::DoGetStream>, Status> {
        one_batch(query.into_builder(&self.info).build().map_err(Error::from))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
