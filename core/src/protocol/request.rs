//! The one typed request enum: decoded by the server, encoded by the Rust client.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::id::ObjectID;
use crate::protocol::fields::Fields;

/// The protocol version we announce (the Vineyard release whose wire format we speak).
pub const PROTOCOL_VERSION: &str = "0.24.2";

/// How `list_data` and `list_name` match: a glob, or a regular expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern text.
    pub text: String,
    /// True if `text` is a regular expression, false for a glob.
    pub regex: bool,
    /// At most this many results.
    pub limit: usize,
}

/// Every request of Vineyard's IPC protocol that this server understands.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Request {
    /// Handshake; must come first.
    Register {
        /// The client's version text.
        version: String,
        /// False if the client asked for a store we don't have (plasma).
        store_matches: bool,
    },
    /// Allocate one writable buffer.
    CreateBuffer {
        /// Bytes.
        size: u64,
    },
    /// Allocate several writable buffers at once.
    CreateBuffers {
        /// Bytes of each.
        sizes: Vec<u64>,
    },
    /// Make a buffer immutable and readable by others.
    Seal {
        /// The blob.
        id: ObjectID,
    },
    /// Look up blobs for reading.
    GetBuffers {
        /// The blobs.
        ids: Vec<ObjectID>,
        /// Also return unsealed blobs.
        unsafe_read: bool,
    },
    /// Free a buffer (a writer's abort).
    DropBuffer {
        /// The blob.
        id: ObjectID,
    },
    /// Shrink an unsealed buffer.
    ShrinkBuffer {
        /// The blob.
        id: ObjectID,
        /// The new, smaller size.
        size: u64,
    },
    /// Record that this connection uses these blobs.
    IncreaseReferenceCount {
        /// The blobs.
        ids: Vec<ObjectID>,
    },
    /// Drop this connection's use of a blob.
    Release {
        /// The blob.
        id: ObjectID,
    },
    /// Store metadata trees; members must exist.
    CreateData {
        /// The trees.
        contents: Vec<Map<String, Value>>,
        /// True for the plural form (`create_datas_request`).
        plural: bool,
        /// The id to give the (one) tree: one this connection reserved (our extension,
        /// `assigned_id`; servers that do not know it choose an id and ignore it).
        assigned: Option<ObjectID>,
    },
    /// Store a small sealed blob whose bytes travel in the request, under a blob id made
    /// from an id this connection reserved (our extension).
    PutBlob {
        /// The blob's id.
        id: ObjectID,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// The metadata index file, to map read-only (our extension): its fd follows the reply.
    MetaIndex,
    /// Reserve ids for objects the client names itself (our extension).
    ReserveIds {
        /// How many (1 to 4096).
        count: u64,
    },
    /// Read metadata trees.
    GetData {
        /// The objects.
        ids: Vec<ObjectID>,
        /// Sync from the cluster first.
        sync_remote: bool,
        /// Defer the reply until every id exists.
        wait: bool,
        /// Also map the local blobs of the trees (our extension: `"buffers": true` adds
        /// `payloads` and `fds` to the reply, as `get_buffers_reply` would, saving a round
        /// trip; servers that do not know it ignore it).
        buffers: bool,
    },
    /// List metadata trees whose typename matches.
    ListData {
        /// What to match.
        pattern: Pattern,
    },
    /// Delete objects.
    DelData {
        /// The objects.
        ids: Vec<ObjectID>,
        /// Also delete objects that use these.
        force: bool,
        /// Also delete non-blob members no longer used.
        deep: bool,
        /// Only blobs are accepted.
        fastpath: bool,
        /// Give the freed memory back to the system afterwards (`memory_trim`).
        memory_trim: bool,
        /// Reply with the deleted blob ids (`del_data_with_feedbacks_request`).
        feedback: bool,
    },
    /// Whether an object or blob exists.
    Exists {
        /// The object.
        id: ObjectID,
    },
    /// Publish an object's metadata to the cluster.
    Persist {
        /// The object.
        id: ObjectID,
    },
    /// Whether an object is persisted.
    IfPersist {
        /// The object.
        id: ObjectID,
    },
    /// Name an object.
    PutName {
        /// The object.
        id: ObjectID,
        /// The name.
        name: String,
    },
    /// Resolve a name.
    GetName {
        /// The name.
        name: String,
        /// Defer the reply until the name exists.
        wait: bool,
    },
    /// List names matching a pattern.
    ListName {
        /// What to match.
        pattern: Pattern,
    },
    /// Remove a name.
    DropName {
        /// The name.
        name: String,
    },
    /// Memory and connection figures of this instance.
    InstanceStatus,
    /// The instances of the cluster.
    ClusterMeta,
    /// Delete every object.
    Clear,
    /// Deprecated; answered with `trimmed: false`.
    MemoryTrim,
    /// Close the connection (no reply).
    Exit,
    /// Open a session socket (not supported).
    NewSession,
    /// Close a session socket (not supported).
    DeleteSession,
    /// Spill the blobs of these objects (or these blobs) to `--spill_path` now, if no client
    /// holds them and they are not pinned (Vineyard's `evict_request`).
    Evict {
        /// Objects or blobs.
        ids: Vec<ObjectID>,
    },
    /// Bring the spilled blobs of these objects back into memory; with `pin`, keep them there
    /// until unpinned (Vineyard's `load_request`).
    Load {
        /// Objects or blobs.
        ids: Vec<ObjectID>,
        /// Never spill them until `unpin`.
        pin: bool,
    },
    /// Let the blobs of these objects be spilled again (Vineyard's `unpin_request`).
    Unpin {
        /// Objects or blobs.
        ids: Vec<ObjectID>,
    },
    /// Whether any blob of an object (or the blob) is spilled (Vineyard's
    /// `is_spilled_request`).
    IsSpilled {
        /// The object or blob.
        id: ObjectID,
    },
    /// A debugging command, echoed back.
    Debug {
        /// The command payload.
        payload: Value,
    },
}

fn pattern(fields: &Fields) -> Result<Pattern> {
    Ok(Pattern {
        text: fields.string_or("pattern", "*")?,
        regex: fields.bool_or("regex", false)?,
        limit: fields.opt_u64("limit")?.unwrap_or(5).min(usize::MAX as u64) as usize,
    })
}

impl Request {
    /// Decodes a request message, with a clear error for anything malformed.
    pub fn parse(message: &Map<String, Value>) -> Result<Request> {
        let kind = match message.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "field `type` must be a string naming the request, got {other}"
                )))
            }
            None => {
                return Err(Error::invalid(
                    "message has no `type` field; every request needs one, e.g. \
                     {\"type\":\"instance_status_request\"}",
                ))
            }
        };
        let fields = Fields::new(kind, message);
        let request = match kind {
            "register_request" => Request::Register {
                version: fields.string_or("version", "0.0.0")?,
                store_matches: match fields.value("store_type") {
                    Some(Value::Number(number)) => number.as_u64() == Some(1),
                    Some(Value::String(text)) => text == "Normal",
                    _ => false,
                },
            },
            "create_buffer_request" => Request::CreateBuffer {
                size: fields.u64("size")?,
            },
            "create_buffers_request" => Request::CreateBuffers {
                sizes: fields.u64_list("sizes")?,
            },
            "seal_request" => Request::Seal {
                id: fields.id("object_id")?,
            },
            "get_buffers_request" => Request::GetBuffers {
                ids: match fields.value("ids") {
                    Some(_) => fields.ids("ids")?,
                    None => fields.numbered_ids()?,
                },
                unsafe_read: fields.bool_or("unsafe", false)?,
            },
            "drop_buffer_request" => Request::DropBuffer {
                id: fields.id("id")?,
            },
            "shrink_buffer_request" => Request::ShrinkBuffer {
                id: fields.id("id")?,
                size: fields.u64("size")?,
            },
            "increase_reference_count_request" => Request::IncreaseReferenceCount {
                ids: fields.ids("ids")?,
            },
            "release_request" => Request::Release {
                id: fields.id("object_id")?,
            },
            "create_data_request" => Request::CreateData {
                contents: vec![fields.object("content")?],
                plural: false,
                assigned: fields.opt_id("assigned_id")?,
            },
            "create_datas_request" => Request::CreateData {
                contents: fields.objects("contents")?,
                plural: true,
                assigned: None,
            },
            "put_blob_request" => Request::PutBlob {
                id: fields.id("assigned_id")?,
                data: fields.hex_bytes("data")?,
            },
            "meta_index_request" => Request::MetaIndex,
            "reserve_ids_request" => Request::ReserveIds {
                count: fields.u64("count")?,
            },
            "get_data_request" => Request::GetData {
                ids: fields.ids("id")?,
                sync_remote: fields.bool_or("sync_remote", false)?,
                wait: fields.bool_or("wait", false)?,
                buffers: fields.bool_or("buffers", false)?,
            },
            "list_data_request" => Request::ListData {
                pattern: pattern(&fields)?,
            },
            "del_data_request" | "del_data_with_feedbacks_request" => Request::DelData {
                ids: fields.ids("id")?,
                force: fields.bool_or("force", false)?,
                deep: fields.bool_or("deep", true)?,
                fastpath: fields.bool_or("fastpath", false)?,
                memory_trim: fields.bool_or("memory_trim", false)?,
                feedback: kind == "del_data_with_feedbacks_request",
            },
            "exists_request" => Request::Exists {
                id: fields.id("id")?,
            },
            "persist_request" => Request::Persist {
                id: fields.id("id")?,
            },
            "if_persist_request" => Request::IfPersist {
                id: fields.id("id")?,
            },
            "put_name_request" => Request::PutName {
                id: fields.id("object_id")?,
                name: fields.string("name")?,
            },
            "get_name_request" => Request::GetName {
                name: fields.string("name")?,
                wait: fields.bool_or("wait", false)?,
            },
            "list_name_request" => Request::ListName {
                pattern: pattern(&fields)?,
            },
            "drop_name_request" => Request::DropName {
                name: fields.string("name")?,
            },
            "instance_status_request" => Request::InstanceStatus,
            "cluster_meta" => Request::ClusterMeta,
            "clear_request" => Request::Clear,
            "memory_trim_request" => Request::MemoryTrim,
            "exit_request" => Request::Exit,
            "new_session_request" => Request::NewSession,
            "delete_session_request" => Request::DeleteSession,
            "evict_request" => Request::Evict {
                ids: fields.ids("ids")?,
            },
            "load_request" => Request::Load {
                ids: fields.ids("ids")?,
                pin: fields.bool_or("pin", false)?,
            },
            "unpin_request" => Request::Unpin {
                ids: fields.ids("ids")?,
            },
            "is_spilled_request" => Request::IsSpilled {
                id: fields.id("id")?,
            },
            "debug_command" => Request::Debug {
                payload: fields.value("debug").cloned().unwrap_or(Value::Null),
            },
            other => {
                return Err(Error::invalid(format!(
                    "Got unexpected command: {other}; this server speaks Vineyard's IPC protocol \
                     version {PROTOCOL_VERSION}"
                )))
            }
        };
        Ok(request)
    }

    /// The reply type the server answers this request with.
    pub fn reply_type(&self) -> &'static str {
        use super::reply::*;
        match self {
            Request::Register { .. } => RegisterReply::TYPE,
            Request::CreateBuffer { .. } => CreateBufferReply::TYPE,
            Request::CreateBuffers { .. } => CreateBuffersReply::TYPE,
            Request::Seal { .. } => SealReply::TYPE,
            Request::GetBuffers { .. } => GetBuffersReply::TYPE,
            Request::DropBuffer { .. } => DropBufferReply::TYPE,
            Request::ShrinkBuffer { .. } => ShrinkBufferReply::TYPE,
            Request::IncreaseReferenceCount { .. } => IncreaseReferenceCountReply::TYPE,
            Request::Release { .. } => ReleaseReply::TYPE,
            Request::CreateData { plural: false, .. } => CreateDataReply::TYPE,
            Request::CreateData { plural: true, .. } => CreateDatasReply::TYPE,
            Request::ReserveIds { .. } => ReserveIdsReply::TYPE,
            Request::MetaIndex => MetaIndexReply::TYPE,
            Request::PutBlob { .. } => PutBlobReply::TYPE,
            Request::GetData { .. } | Request::ListData { .. } => GetDataReply::TYPE,
            Request::DelData {
                feedback: false, ..
            } => DelDataReply::TYPE,
            Request::DelData { feedback: true, .. } => DelDataWithFeedbacksReply::TYPE,
            Request::Exists { .. } => ExistsReply::TYPE,
            Request::Persist { .. } => PersistReply::TYPE,
            Request::IfPersist { .. } => IfPersistReply::TYPE,
            Request::PutName { .. } => PutNameReply::TYPE,
            Request::GetName { .. } => GetNameReply::TYPE,
            Request::ListName { .. } => ListNameReply::TYPE,
            Request::DropName { .. } => DropNameReply::TYPE,
            Request::InstanceStatus => InstanceStatusReply::TYPE,
            Request::ClusterMeta => ClusterMetaReply::TYPE,
            Request::Clear => ClearReply::TYPE,
            Request::MemoryTrim => MemoryTrimReply::TYPE,
            Request::Exit => ExitReply::TYPE,
            Request::NewSession => SessionReply::TYPE,
            Request::DeleteSession => DeleteSessionReply::TYPE,
            Request::Debug { .. } => DebugReply::TYPE,
            Request::Evict { .. } => EvictReply::TYPE,
            Request::Load { .. } => LoadReply::TYPE,
            Request::Unpin { .. } => UnpinReply::TYPE,
            Request::IsSpilled { .. } => IsSpilledReply::TYPE,
        }
    }

    /// Encodes the request as the Vineyard client does.
    pub fn to_json(&self) -> Value {
        let ids_json =
            |ids: &[ObjectID]| Value::from(ids.iter().map(|id| id.0).collect::<Vec<_>>());
        let pattern_json = |kind: &str, pattern: &Pattern| {
            json!({"type": kind, "pattern": pattern.text, "regex": pattern.regex,
                   "limit": pattern.limit})
        };
        match self {
            Request::Register {
                version,
                store_matches,
            } => json!({"type": "register_request", "version": version,
                        "store_type": if *store_matches { 1 } else { 2 },
                        "session_id": 0, "username": "", "password": ""}),
            Request::CreateBuffer { size } => {
                json!({"type": "create_buffer_request", "size": size})
            }
            Request::CreateBuffers { sizes } => {
                json!({"type": "create_buffers_request", "num": sizes.len(), "sizes": sizes})
            }
            Request::Seal { id } => json!({"type": "seal_request", "object_id": id.0}),
            Request::GetBuffers { ids, unsafe_read } => {
                let mut message = json!({"type": "get_buffers_request", "num": ids.len(),
                                         "unsafe": unsafe_read});
                for (index, id) in ids.iter().enumerate() {
                    message[index.to_string()] = Value::from(id.0);
                }
                message
            }
            Request::DropBuffer { id } => json!({"type": "drop_buffer_request", "id": id.0}),
            Request::ShrinkBuffer { id, size } => {
                json!({"type": "shrink_buffer_request", "id": id.0, "size": size})
            }
            Request::IncreaseReferenceCount { ids } => {
                json!({"type": "increase_reference_count_request", "ids": ids_json(ids)})
            }
            Request::Release { id } => json!({"type": "release_request", "object_id": id.0}),
            Request::CreateData {
                contents,
                plural: false,
                assigned,
            } if contents.len() == 1 => {
                let mut message = json!({"type": "create_data_request", "content": contents[0]});
                if let Some(id) = assigned {
                    message["assigned_id"] = id.0.into();
                }
                message
            }
            Request::CreateData { contents, .. } => {
                json!({"type": "create_datas_request", "num": contents.len(), "contents": contents})
            }
            Request::GetData {
                ids,
                sync_remote,
                wait,
                buffers,
            } => {
                let mut message = json!({"type": "get_data_request", "id": ids_json(ids),
                                         "sync_remote": sync_remote, "wait": wait});
                if *buffers {
                    message["buffers"] = true.into();
                }
                message
            }
            Request::ListData { pattern } => pattern_json("list_data_request", pattern),
            Request::DelData {
                ids,
                force,
                deep,
                fastpath,
                memory_trim,
                feedback,
            } => json!({"type": if *feedback { "del_data_with_feedbacks_request" }
                                 else { "del_data_request" },
                        "id": ids_json(ids), "force": force, "deep": deep,
                        "fastpath": fastpath, "memory_trim": memory_trim}),
            Request::MetaIndex => json!({"type": "meta_index_request"}),
            Request::ReserveIds { count } => {
                json!({"type": "reserve_ids_request", "count": count})
            }
            Request::PutBlob { id, data } => {
                json!({"type": "put_blob_request", "assigned_id": id.0,
                       "data": super::hex::encode(data)})
            }
            Request::Exists { id } => json!({"type": "exists_request", "id": id.0}),
            Request::Persist { id } => json!({"type": "persist_request", "id": id.0}),
            Request::IfPersist { id } => json!({"type": "if_persist_request", "id": id.0}),
            Request::PutName { id, name } => {
                json!({"type": "put_name_request", "object_id": id.0, "name": name})
            }
            Request::GetName { name, wait } => {
                json!({"type": "get_name_request", "name": name, "wait": wait})
            }
            Request::ListName { pattern } => pattern_json("list_name_request", pattern),
            Request::DropName { name } => json!({"type": "drop_name_request", "name": name}),
            Request::InstanceStatus => json!({"type": "instance_status_request"}),
            Request::ClusterMeta => json!({"type": "cluster_meta"}),
            Request::Clear => json!({"type": "clear_request"}),
            Request::MemoryTrim => json!({"type": "memory_trim_request"}),
            Request::Exit => json!({"type": "exit_request"}),
            Request::NewSession => json!({"type": "new_session_request", "bulk_store_type": 1}),
            Request::DeleteSession => json!({"type": "delete_session_request"}),
            Request::Debug { payload } => json!({"type": "debug_command", "debug": payload}),
            Request::Evict { ids } => json!({"type": "evict_request", "ids": ids_json(ids)}),
            Request::Load { ids, pin } => {
                json!({"type": "load_request", "ids": ids_json(ids), "pin": pin})
            }
            Request::Unpin { ids } => json!({"type": "unpin_request", "ids": ids_json(ids)}),
            Request::IsSpilled { id } => json!({"type": "is_spilled_request", "id": id.0}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::decode_body;

    fn parse(text: &str) -> Result<Request> {
        Request::parse(&decode_body(text.as_bytes()).unwrap())
    }

    #[test]
    fn parses_captured_requests() {
        let register = parse(
            r#"{"password":"","session_id":0,"store_type":1,"type":"register_request","username":"","version":"0.24.2"}"#,
        )
        .unwrap();
        assert_eq!(
            register,
            Request::Register {
                version: "0.24.2".into(),
                store_matches: true
            }
        );
        let get = parse(
            r#"{"0":16753631171920789507,"num":1,"type":"get_buffers_request","unsafe":false}"#,
        )
        .unwrap();
        assert_eq!(
            get,
            Request::GetBuffers {
                ids: vec![ObjectID(16753631171920789507)],
                unsafe_read: false
            }
        );
    }

    #[test]
    fn every_request_round_trips_through_json() {
        let requests = [
            Request::CreateBuffers { sizes: vec![1, 2] },
            Request::GetBuffers {
                ids: vec![ObjectID(1), ObjectID(u64::MAX)],
                unsafe_read: true,
            },
            Request::GetData {
                ids: vec![ObjectID(7)],
                sync_remote: true,
                wait: false,
                buffers: false,
            },
            Request::GetData {
                ids: vec![ObjectID(8)],
                sync_remote: false,
                wait: true,
                buffers: true,
            },
            Request::DelData {
                ids: vec![ObjectID(3)],
                force: true,
                deep: false,
                fastpath: false,
                memory_trim: true,
                feedback: true,
            },
            Request::ListName {
                pattern: Pattern {
                    text: "a*".into(),
                    regex: false,
                    limit: 9,
                },
            },
            Request::PutName {
                id: ObjectID(5),
                name: "x".into(),
            },
            Request::CreateData {
                contents: vec![Map::new()],
                plural: false,
                assigned: Some(ObjectID(9)),
            },
            Request::ReserveIds { count: 256 },
            Request::MetaIndex,
            Request::Evict {
                ids: vec![ObjectID(4)],
            },
            Request::Load {
                ids: vec![ObjectID(4), ObjectID(1 << 63 | 2)],
                pin: true,
            },
            Request::Unpin {
                ids: vec![ObjectID(4)],
            },
            Request::IsSpilled { id: ObjectID(6) },
            Request::PutBlob {
                id: ObjectID(1 << 63 | 5),
                data: vec![0, 1, 254, 255],
            },
        ];
        for request in requests {
            let Value::Object(map) = request.to_json() else {
                panic!("not an object")
            };
            assert_eq!(Request::parse(&map).unwrap(), request);
        }
    }

    #[test]
    fn errors_name_the_field_and_request() {
        let message = parse(r#"{"type":"create_buffer_request","size":"big"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("create_buffer_request") && message.contains("`size`"),
            "{message}"
        );
        let message = parse(r#"{"type":"frobnicate"}"#).unwrap_err().to_string();
        assert!(
            message.contains("Got unexpected command: frobnicate"),
            "{message}"
        );
        assert!(parse(r#"{"size":1}"#)
            .unwrap_err()
            .to_string()
            .contains("no `type`"));
        assert!(parse(r#"{"type":"get_buffers_request","num":99999999}"#).is_err());
    }
}
