//! Replies about metadata trees: create, get (and list), delete, exists, persist.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{empty_replies, wire, Reply};
use crate::id::{InstanceID, ObjectID};
use crate::protocol::Payload;

/// `create_data_reply`: the new object's id, signature and instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDataReply {
    /// The object's id.
    #[serde(with = "wire::id")]
    pub id: ObjectID,
    /// Its signature.
    pub signature: u64,
    /// The instance that holds it (`u64::MAX` for a global object).
    pub instance_id: InstanceID,
}

impl Reply for CreateDataReply {
    const TYPE: &'static str = "create_data_reply";
}

/// `create_datas_reply`: several new objects, in the order of the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDatasReply {
    /// How many.
    pub num: usize,
    /// Their ids.
    #[serde(with = "wire::ids")]
    pub ids: Vec<ObjectID>,
    /// Their signatures.
    pub signatures: Vec<u64>,
    /// Their instances.
    pub instance_ids: Vec<InstanceID>,
}

impl CreateDatasReply {
    /// The reply for objects created in this order.
    pub fn new(created: impl IntoIterator<Item = CreateDataReply>) -> CreateDatasReply {
        let mut reply = CreateDatasReply::default();
        for object in created {
            reply.num += 1;
            reply.ids.push(object.id);
            reply.signatures.push(object.signature);
            reply.instance_ids.push(object.instance_id);
        }
        reply
    }
}

impl Reply for CreateDatasReply {
    const TYPE: &'static str = "create_datas_reply";
}

/// `get_data_reply` (also the reply to `list_data_request`): trees by `o...` id, members
/// expanded; with `"buffers": true` (our extension) also the payloads of their local blobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GetDataReply {
    /// The trees found, by id text (`null` on the wire when none).
    #[serde(default, with = "wire::null_when_empty")]
    pub content: Map<String, Value>,
    /// The local blobs of the trees, mapped (ours, with `"buffers": true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payloads: Vec<Payload>,
    /// Memory files sent after the reply, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<i32>,
}

impl Reply for GetDataReply {
    const TYPE: &'static str = "get_data_reply";
}

/// `del_data_with_feedbacks_reply`: the blobs the delete freed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelDataWithFeedbacksReply {
    /// The deleted blobs.
    #[serde(default, with = "wire::ids")]
    pub deleted_bids: Vec<ObjectID>,
}

impl Reply for DelDataWithFeedbacksReply {
    const TYPE: &'static str = "del_data_with_feedbacks_reply";
}

/// `exists_reply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistsReply {
    /// Whether the object or sealed blob exists.
    pub exists: bool,
}

impl Reply for ExistsReply {
    const TYPE: &'static str = "exists_reply";
}

/// `if_persist_reply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfPersistReply {
    /// Whether the object is persisted.
    pub persist: bool,
}

impl Reply for IfPersistReply {
    const TYPE: &'static str = "if_persist_reply";
}

empty_replies! {
    /// `del_data_reply`: the objects are deleted.
    DelDataReply = "del_data_reply";
    /// `persist_reply`: the object is published to the cluster.
    PersistReply = "persist_reply";
}
