//! `RemoteClient`: a vineyard instance over Flight, from another machine or process.
//!
//! ```no_run
//! # async fn run() -> vineyard_flight_server::Result<()> {
//! use vineyard_flight_server::RemoteClient;
//!
//! let mut client = RemoteClient::connect("127.0.0.1:9600", None).await?;
//! let (schema, batches) = client.get_batches("my_table").await?;
//! # Ok(()) }
//! ```

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, FlightClient, FlightDescriptor, FlightInfo, Ticket};
use futures::{stream, TryStreamExt};
use serde_json::{json, Value};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use vineyard_core::{InstanceStatus, ObjectID, ObjectMeta};

use crate::encode::FlightDataStream;
use crate::error::{Error, Result};
use crate::target::{parse_object_id, BLOB_PREFIX};

/// A client of one instance's Flight service.
#[derive(Debug)]
pub struct RemoteClient {
    endpoint: String,
    flight: FlightClient,
}

impl RemoteClient {
    /// Connects to `host:port`, or a `grpc+tcp://` / `http://` URI (plain text), or a
    /// `grpc+tls://` / `https://` URI (TLS, trusting the system's root certificates); with
    /// `token`, every call carries `authorization: Bearer <token>`.
    pub async fn connect(endpoint: &str, token: Option<&str>) -> Result<RemoteClient> {
        RemoteClient::connect_with(endpoint, token, None).await
    }

    /// Like [`connect`](RemoteClient::connect); over TLS, `tls_root` (PEM certificates)
    /// is what to trust instead of the system's roots, e.g. the certificate of an instance
    /// started with a self-signed `--rpc_tls_cert`.
    pub async fn connect_with(
        endpoint: &str,
        token: Option<&str>,
        tls_root: Option<&[u8]>,
    ) -> Result<RemoteClient> {
        let (uri, tls) = match endpoint.split_once("://") {
            Some(("grpc+tcp" | "grpc" | "http", rest)) => (format!("http://{rest}"), false),
            Some(("grpc+tls" | "https", rest)) => (format!("https://{rest}"), true),
            Some((scheme, _)) => {
                return Err(Error::invalid(format!(
                    "`{endpoint}` has the scheme `{scheme}`; a Flight endpoint is host:port, \
                     grpc+tcp://host:port or grpc+tls://host:port"
                )))
            }
            None => (format!("http://{endpoint}"), false),
        };
        if tls_root.is_some() && !tls {
            return Err(Error::invalid(format!(
                "a TLS root certificate was given for the plain-text endpoint `{endpoint}`: \
                 connect to grpc+tls://host:port to use TLS"
            )));
        }
        let connect_error = |source| Error::Connect {
            endpoint: endpoint.to_string(),
            source,
        };
        let mut channel = Endpoint::from_shared(uri)
            .map_err(connect_error)?
            .tcp_nodelay(true);
        if tls {
            let config = match tls_root {
                Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
                None => ClientTlsConfig::new().with_native_roots(),
            };
            channel = channel.tls_config(config).map_err(connect_error)?;
        }
        let channel: Channel = channel.connect().await.map_err(connect_error)?;
        let inner = FlightServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut flight = FlightClient::new_from_inner(inner);
        if let Some(token) = token {
            flight
                .add_header("authorization", &format!("Bearer {token}"))
                .map_err(Error::from)?;
        }
        Ok(RemoteClient {
            endpoint: endpoint.to_string(),
            flight,
        })
    }

    /// The endpoint this client was connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The underlying arrow-flight client, for calls this type does not wrap.
    pub fn flight(&mut self) -> &mut FlightClient {
        &mut self.flight
    }

    async fn action(&mut self, kind: &str, body: Value) -> Result<Value> {
        let mut results = self
            .flight
            .do_action(Action::new(kind, body.to_string()))
            .await?;
        let reply = results.try_next().await?.ok_or_else(|| Error::Protocol {
            message: format!("action `{kind}` returned no result"),
        })?;
        serde_json::from_slice(&reply).map_err(|error| Error::Protocol {
            message: format!("action `{kind}` returned malformed JSON: {error}"),
        })
    }

    /// The metadata tree of an object, by id (`o...`) or name.
    pub async fn get_meta(&mut self, target: &str) -> Result<ObjectMeta> {
        let body = match parse_object_id(target) {
            Some(id) => json!({"id": id.to_string()}),
            None => json!({"name": target}),
        };
        Ok(ObjectMeta::from_json(self.action("get_meta", body).await?)?)
    }

    /// An object (by id or name) as record batches.
    pub async fn get_batches(&mut self, target: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.read(Ticket::new(target.to_string())).await
    }

    async fn read(&mut self, ticket: Ticket) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let mut stream = self.flight.do_get(ticket).await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.try_next().await? {
            batches.push(batch);
        }
        let schema = stream.schema().cloned().ok_or_else(|| Error::Protocol {
            message: "the do_get stream carried no schema".into(),
        })?;
        Ok((schema, batches))
    }

    /// A blob's bytes.
    pub async fn get_blob(&mut self, id: ObjectID) -> Result<Vec<u8>> {
        let (_, batches) = self.read(Ticket::new(format!("{BLOB_PREFIX}{id}"))).await?;
        let mut bytes = Vec::new();
        for batch in &batches {
            let column = batch.column(0);
            let values = column
                .as_any()
                .downcast_ref::<arrow::array::BinaryArray>()
                .ok_or_else(|| Error::Protocol {
                    message: format!("blob {id} did not stream as a binary column"),
                })?;
            for value in values.iter().flatten() {
                bytes.extend_from_slice(value);
            }
        }
        Ok(bytes)
    }

    /// Stores batches as a `vineyard::Table`, persisted and named `name` if given; returns
    /// its id.
    pub async fn put_table(
        &mut self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        name: Option<&str>,
    ) -> Result<ObjectID> {
        let descriptor = FlightDescriptor::new_path(name.into_iter().map(String::from).collect());
        self.put(descriptor, schema, batches).await
    }

    /// Stores bytes as a blob; returns its id.
    pub async fn put_blob(&mut self, bytes: &[u8]) -> Result<ObjectID> {
        let schema = crate::objects::blob_schema();
        let chunks = bytes.chunks(crate::objects::BLOB_CHUNK);
        let values: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            chunks.collect()
        };
        let column = std::sync::Arc::new(arrow::array::BinaryArray::from_vec(values));
        let batch = RecordBatch::try_new(schema.clone(), vec![column])?;
        let descriptor = FlightDescriptor::new_cmd(json!({"kind": "blob"}).to_string());
        self.put(descriptor, schema, vec![batch]).await
    }

    async fn put(
        &mut self,
        descriptor: FlightDescriptor,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<ObjectID> {
        let data = FlightDataStream::new(&schema, batches, Some(descriptor))?
            .map(|message| message.map_err(FlightError::from));
        let data = stream::iter(data);
        let mut results = self.flight.do_put(data).await?;
        let reply = results.try_next().await?.ok_or_else(|| Error::Protocol {
            message: "do_put returned no result".into(),
        })?;
        let text = std::str::from_utf8(&reply.app_metadata).unwrap_or_default();
        parse_object_id(text).ok_or_else(|| Error::Protocol {
            message: format!("do_put returned `{text}` where an object id was expected"),
        })
    }

    /// Deletes objects; returns the ids deleted.
    pub async fn delete(
        &mut self,
        ids: &[ObjectID],
        force: bool,
        deep: bool,
    ) -> Result<Vec<ObjectID>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let reply = self
            .action("delete", json!({"ids": ids, "force": force, "deep": deep}))
            .await?;
        Ok(reply["deleted"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| parse_object_id(id.as_str()?))
            .collect())
    }

    /// Metadata of objects whose typename matches a glob (or regex), up to `limit`.
    pub async fn list(
        &mut self,
        pattern: &str,
        regex: bool,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>> {
        let reply = self
            .action(
                "list",
                json!({"pattern": pattern, "regex": regex, "limit": limit}),
            )
            .await?;
        match reply {
            Value::Array(trees) => trees
                .into_iter()
                .map(|tree| Ok(ObjectMeta::from_json(tree)?))
                .collect(),
            other => Err(Error::Protocol {
                message: format!("action `list` returned {other} where a list was expected"),
            }),
        }
    }

    /// The flights `list_flights` reports for `criteria` (a typename glob or `name:<glob>`).
    pub async fn list_flights(&mut self, criteria: &str) -> Result<Vec<FlightInfo>> {
        Ok(self
            .flight
            .list_flights(criteria.to_string())
            .await?
            .try_collect()
            .await?)
    }

    /// Publishes an object to the cluster.
    pub async fn persist(&mut self, id: ObjectID) -> Result<()> {
        self.action("persist", json!({"id": id.to_string()}))
            .await
            .map(drop)
    }

    /// Names a persisted object.
    pub async fn put_name(&mut self, id: ObjectID, name: &str) -> Result<()> {
        self.action("put_name", json!({"id": id.to_string(), "name": name}))
            .await
            .map(drop)
    }

    /// The id a name points at.
    pub async fn get_name(&mut self, name: &str) -> Result<ObjectID> {
        let reply = self.action("get_name", json!({"name": name})).await?;
        reply["id"]
            .as_str()
            .and_then(parse_object_id)
            .ok_or_else(|| Error::Protocol {
                message: format!("action `get_name` returned {reply}"),
            })
    }

    /// Removes a name.
    pub async fn drop_name(&mut self, name: &str) -> Result<()> {
        self.action("drop_name", json!({"name": name}))
            .await
            .map(drop)
    }

    /// Names matching a glob (or regex), up to `limit`.
    pub async fn list_names(
        &mut self,
        pattern: &str,
        regex: bool,
        limit: usize,
    ) -> Result<Vec<(String, ObjectID)>> {
        let reply = self
            .action(
                "list_names",
                json!({"pattern": pattern, "regex": regex, "limit": limit}),
            )
            .await?;
        Ok(reply
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, id)| Some((name.clone(), parse_object_id(id.as_str()?)?)))
            .collect())
    }

    /// The instance's debug command (it echoes `payload`; `{"raise": code}` fails with that
    /// Vineyard status code).
    pub async fn debug(&mut self, payload: Value) -> Result<Value> {
        self.action("debug", json!({ "debug": payload })).await
    }

    /// The instance's memory and connection figures.
    pub async fn status(&mut self) -> Result<InstanceStatus> {
        let reply = self.action("status", json!({})).await?;
        serde_json::from_value(reply).map_err(|error| Error::Protocol {
            message: format!("action `status` returned a malformed status: {error}"),
        })
    }
    /// The metadata trees of several objects, in order.
    pub async fn get_metas(&mut self, ids: &[ObjectID]) -> Result<Vec<ObjectMeta>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let reply = self.action("get_metas", json!({ "ids": ids })).await?;
        match reply {
            Value::Array(trees) => trees
                .into_iter()
                .map(|tree| Ok(ObjectMeta::from_json(tree)?))
                .collect(),
            other => Err(Error::Protocol {
                message: format!("action `get_metas` returned {other} instead of a list"),
            }),
        }
    }

    /// Creates an object from its tree (members must exist already); the tree with its id.
    pub async fn create_metadata(&mut self, meta: &ObjectMeta) -> Result<ObjectMeta> {
        let tree = Value::Object(meta.as_map().clone());
        let reply = self
            .action("create_metadata", json!({ "tree": tree }))
            .await?;
        Ok(ObjectMeta::from_json(reply)?)
    }

    /// Whether an object exists.
    pub async fn exists(&mut self, id: ObjectID) -> Result<bool> {
        let reply = self.action("exists", json!({"id": id.to_string()})).await?;
        Ok(reply["exists"].as_bool().unwrap_or(false))
    }

    /// The live instances of the cluster (`{"i<id>": {hostid, ipc_socket, rpc_endpoint,
    /// ...}}`).
    pub async fn cluster(&mut self) -> Result<Value> {
        self.action("cluster", json!({})).await
    }

    /// Deletes every object and blob of the instance.
    pub async fn clear(&mut self) -> Result<()> {
        self.action("clear", json!({})).await.map(drop)
    }

    /// Stores new blobs and objects in one all-or-nothing `do_put` (see `put_objects`):
    /// `blobs` are (provisional id with bit 63 set, bytes), `objects` (provisional id, tree)
    /// with members before the objects that use them, naming new members by their provisional
    /// ids. Returns the ids the instance gave, by provisional id.
    pub async fn put_objects(
        &mut self,
        blobs: &[(ObjectID, &[u8])],
        objects: &[(ObjectID, ObjectMeta)],
    ) -> Result<std::collections::HashMap<ObjectID, ObjectID>> {
        let command = crate::put_objects::command(blobs, objects);
        let schema = crate::put_objects::chunk_schema();
        let batches = crate::put_objects::chunk_batches(&schema, blobs)?;
        let descriptor = FlightDescriptor::new_cmd(command.to_string());
        let data = FlightDataStream::new(&schema, batches, Some(descriptor))?
            .map(|message| message.map_err(FlightError::from));
        let mut results = self.flight.do_put(stream::iter(data)).await?;
        let reply = results.try_next().await?.ok_or_else(|| Error::Protocol {
            message: "do_put returned no result".into(),
        })?;
        crate::put_objects::parse_ids(&reply.app_metadata)
    }
}
