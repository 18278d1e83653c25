//! The one dispatch `match`: applies a request to the shared state and builds its reply.

use std::collections::{BTreeSet, HashSet};

use serde_json::{json, Map, Value};

use super::Shared;
use crate::error::{Error, Result};
use crate::protocol::{Payload, Request, PROTOCOL_VERSION};
use crate::table::{collect_blob_ids, ConnectionId};

/// Per-connection protocol state.
pub struct Session {
    /// The table's id for this connection.
    pub connection: ConnectionId,
    /// Set once `register_request` succeeded.
    pub registered: bool,
    /// Store fds already sent on this connection (each is sent once).
    pub sent_fds: HashSet<i32>,
}

/// What the connection should do with a handled request.
pub enum Outcome {
    /// Write this reply, then send these fds, one message each.
    Reply {
        /// The JSON reply.
        message: Value,
        /// Fds to pass after it.
        fds: Vec<i32>,
    },
    /// The request waits for an object or a name that does not exist yet.
    NotYet,
    /// Close the connection without a reply.
    Exit,
}

fn reply(message: Value) -> Outcome {
    Outcome::Reply {
        message,
        fds: Vec::new(),
    }
}

/// An error reply as Vineyard's clients read it (`code`, `message`, no `type`), with the
/// structured fields of typed errors alongside.
pub fn error_reply(error: &Error) -> Value {
    let mut message = json!({"code": error.code().as_i64(), "message": error.to_string()});
    match error {
        Error::NotEnoughMemory {
            requested,
            available,
        } => {
            message["requested"] = (*requested).into();
            message["available"] = (*available).into();
        }
        Error::ObjectNotExists { id } | Error::ObjectNotSealed { id } => {
            message["object_id"] = id.0.into();
        }
        _ => {}
    }
    message
}

impl Session {
    /// Picks the fds this connection has not received yet, in payload order.
    fn new_fds<'a>(&mut self, payloads: impl IntoIterator<Item = &'a Payload>) -> Vec<i32> {
        let mut fds = Vec::new();
        for payload in payloads {
            if payload.data_size > 0 && self.sent_fds.insert(payload.store_fd) {
                fds.push(payload.store_fd);
            }
        }
        fds
    }
}

fn payloads_json(payloads: &[Payload]) -> Vec<Value> {
    payloads
        .iter()
        .map(|payload| serde_json::to_value(payload).expect("payloads serialise"))
        .collect()
}

/// Handles one request. Errors become error replies; the connection stays open.
pub async fn handle(shared: &Shared, session: &mut Session, request: &Request) -> Outcome {
    match dispatch(shared, session, request).await {
        Ok(outcome) => outcome,
        Err(error) => reply(error_reply(&error)),
    }
}

async fn dispatch(shared: &Shared, session: &mut Session, request: &Request) -> Result<Outcome> {
    let kind = request.reply_type();
    if !session.registered && !matches!(request, Request::Register { .. } | Request::Exit) {
        return Err(Error::invalid(format!(
            "The connection is not registered yet, command is: {}; send register_request first",
            kind.replace("_reply", "_request")
        )));
    }
    let connection = session.connection;
    let outcome = match request {
        Request::Register { store_matches, .. } => {
            session.registered = *store_matches;
            reply(json!({
                "type": kind,
                "instance_id": shared.instance_id(),
                "ipc_socket": shared.config.socket.display().to_string(),
                "rpc_endpoint": shared.rpc_endpoint(),
                "session_id": 0,
                "store_match": store_matches,
                "reserve_ids": true,
                "meta_index": shared.table().has_index(),
                "support_rpc_compression": false,
                "version": PROTOCOL_VERSION,
            }))
        }
        Request::CreateBuffer { size } => {
            let payload = shared.table().create_buffer(connection, *size)?;
            let fds = session.new_fds([&payload]);
            Outcome::Reply {
                message: json!({
                    "type": kind,
                    "id": payload.object_id,
                    "created": payload,
                    "fd": fds.first().copied().unwrap_or(-1),
                }),
                fds,
            }
        }
        Request::CreateBuffers { sizes } => {
            let payloads = shared.table().create_buffers(connection, sizes)?;
            let fds: Vec<i32> = session
                .new_fds(&payloads)
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut message = json!({
                "type": kind,
                "num": payloads.len(),
                "ids": payloads.iter().map(|payload| payload.object_id).collect::<Vec<_>>(),
                "fds": fds,
                "payloads": payloads_json(&payloads),
            });
            for (index, payload) in payloads_json(&payloads).into_iter().enumerate() {
                message[index.to_string()] = payload;
            }
            Outcome::Reply { message, fds }
        }
        Request::Seal { id } => {
            shared.table().seal(*id)?;
            shared.changed.notify_waiters();
            reply(json!({"type": kind}))
        }
        Request::GetBuffers { ids, unsafe_read } => {
            let payloads = shared.table().get_buffers(connection, ids, *unsafe_read)?;
            let fds = session.new_fds(&payloads);
            let listed = payloads_json(&payloads);
            let mut message = json!({
                "type": kind,
                "num": payloads.len(),
                "fds": fds,
                "compress": false,
                "payloads": listed,
            });
            for (index, payload) in listed.into_iter().enumerate() {
                message[index.to_string()] = payload;
            }
            Outcome::Reply { message, fds }
        }
        Request::DropBuffer { id } => {
            shared.table().drop_buffer(*id)?;
            reply(json!({"type": kind}))
        }
        Request::ShrinkBuffer { id, size } => {
            shared.table().shrink_buffer(*id, *size)?;
            reply(json!({"type": kind}))
        }
        Request::IncreaseReferenceCount { ids } => {
            let mut table = shared.table();
            for &id in ids {
                table.hold(connection, id);
            }
            reply(json!({"type": kind}))
        }
        Request::Release { id } => {
            shared.table().release(connection, *id);
            reply(json!({"type": kind}))
        }
        Request::CreateData {
            contents,
            plural,
            assigned,
        } => {
            let assigned = assigned.map(|id| (connection, id));
            let mut created = Vec::with_capacity(contents.len());
            for tree in contents {
                created.push(shared.create_data(tree, assigned).await?);
            }
            shared.changed.notify_waiters();
            if *plural {
                reply(json!({
                    "type": kind,
                    "num": created.len(),
                    "ids": created.iter().map(|c| c.id.0).collect::<Vec<_>>(),
                    "signatures": created.iter().map(|c| c.signature).collect::<Vec<_>>(),
                    "instance_ids": created.iter().map(|c| c.instance_id).collect::<Vec<_>>(),
                }))
            } else {
                let created = &created[0];
                reply(json!({
                    "type": kind,
                    "id": created.id.0,
                    "signature": created.signature,
                    "instance_id": created.instance_id,
                }))
            }
        }
        Request::PutBlob { id, data } => {
            shared.table().put_blob(connection, *id, data)?;
            shared.changed.notify_waiters();
            reply(json!({"type": kind, "id": id.0}))
        }
        Request::MetaIndex => {
            let (index, ring) = shared.table().open_meta_index(connection)?;
            Outcome::Reply {
                message: json!({"type": kind, "fds": [index, ring], "index_fd": index,
                                "ring_fd": ring}),
                fds: vec![index, ring],
            }
        }
        Request::ReserveIds { count } => {
            let first = shared.table().reserve_ids(connection, *count)?;
            reply(json!({"type": kind, "first": first.0, "count": count}))
        }
        Request::GetData {
            ids,
            wait,
            sync_remote,
            buffers,
        } => {
            if *sync_remote {
                shared.fetch_missing(ids).await;
            }
            let mut table = shared.table();
            let content = table.get_data(ids);
            if *wait && content.len() < ids.len() {
                return Ok(Outcome::NotYet);
            }
            if !*buffers {
                return Ok(reply(
                    json!({"type": kind, "content": content_or_null(content)}),
                ));
            }
            let mut blob_ids = Vec::new();
            for tree in content.values() {
                collect_blob_ids(tree, &mut blob_ids);
            }
            blob_ids.sort_unstable();
            blob_ids.dedup();
            let payloads = table.get_buffers(connection, &blob_ids, false)?;
            drop(table);
            let fds = session.new_fds(&payloads);
            Outcome::Reply {
                message: json!({
                    "type": kind,
                    "content": content_or_null(content),
                    "payloads": payloads_json(&payloads),
                    "fds": fds,
                }),
                fds,
            }
        }
        Request::ListData { pattern } => {
            let content = shared.table().list_data(pattern)?;
            reply(json!({"type": kind, "content": content_or_null(content)}))
        }
        Request::DelData {
            ids,
            force,
            deep,
            fastpath,
            feedback,
        } => {
            let deleted = shared.table().delete(ids, *force, *deep, *fastpath)?;
            shared.withdraw(&deleted).await?;
            shared.changed.notify_waiters();
            if *feedback {
                let deleted: Vec<u64> = deleted.blobs.iter().map(|id| id.0).collect();
                reply(json!({"type": kind, "deleted_bids": deleted}))
            } else {
                reply(json!({"type": kind}))
            }
        }
        Request::Exists { id } => {
            reply(json!({"type": kind, "exists": shared.table().exists(*id)}))
        }
        Request::Persist { id } => {
            shared.persist(*id).await?;
            reply(json!({"type": kind}))
        }
        Request::IfPersist { id } => {
            let persisted = shared.table().is_persisted(*id)?;
            reply(json!({"type": kind, "persist": persisted}))
        }
        Request::PutName { id, name } => {
            shared.put_name(*id, name).await?;
            shared.changed.notify_waiters();
            reply(json!({"type": kind}))
        }
        Request::GetName { name, wait } => match shared.get_name(name).await {
            Some(id) => reply(json!({"type": kind, "object_id": id.0})),
            None if *wait => Outcome::NotYet,
            None => return Err(Error::NameNotExists { name: name.clone() }),
        },
        Request::ListName { pattern } => {
            let names: Map<String, Value> = shared
                .table()
                .list_names(pattern)?
                .into_iter()
                .map(|(name, id)| (name, Value::from(id.0)))
                .collect();
            reply(json!({"type": kind, "size": names.len(), "names": names}))
        }
        Request::DropName { name } => {
            shared.drop_name(name).await?;
            reply(json!({"type": kind}))
        }
        Request::InstanceStatus => reply(json!({"type": kind, "meta": shared.status()})),
        Request::ClusterMeta => reply(json!({"type": kind, "meta": shared.cluster_meta()})),
        Request::Clear => {
            let deleted = shared.table().clear();
            shared.withdraw(&deleted).await?;
            shared.changed.notify_waiters();
            reply(json!({"type": kind}))
        }
        Request::MemoryTrim => reply(json!({"type": kind, "trimmed": false})),
        Request::Exit => Outcome::Exit,
        Request::NewSession | Request::DeleteSession => {
            return Err(Error::NotImplemented {
                what: "sessions; connect to the instance's socket directly".into(),
            })
        }
        Request::Debug { payload } => reply(json!({"type": kind, "result": payload})),
    };
    Ok(outcome)
}

fn content_or_null(content: Map<String, Value>) -> Value {
    if content.is_empty() {
        Value::Null
    } else {
        Value::Object(content)
    }
}
