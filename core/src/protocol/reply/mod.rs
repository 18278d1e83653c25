//! The typed replies: one struct per reply type, serialised by the server and decoded by the
//! Rust client, so that a change to a reply is a compile error on both sides.
//!
//! Each struct implements [`Reply`], whose `TYPE` is the `type` field on the wire (and the one
//! place that spells it: [`crate::protocol::Request::reply_type`] reads it from here). Fields
//! are Vineyard's, with its quirks (ids as numbers, payloads repeated under numbered keys, an
//! empty `content` sent as `null`); our extensions are optional fields that Vineyard's clients
//! ignore and that decode to their default from a server that lacks them.
//!
//! # Layout
//! - [`blobs`]: creating, sealing, mapping, shrinking and releasing buffers.
//! - [`objects`]: metadata trees: create, get, list, delete, exists, persist.
//! - [`names`]: put, get, list and drop names.
//! - [`instance`]: register, status, cluster view, clear, memory trim, debug.
//! - [`spill`]: evict, load, unpin and is_spilled (Vineyard's spilling requests).
//! - [`extensions`]: our own requests (reserved ids, small blobs in the request, the metadata
//!   index), negotiated at register.
//! - [`wire`]: serde helpers for Vineyard's spelling of ids and optional maps.

pub mod blobs;
pub mod extensions;
pub mod instance;
pub mod names;
pub mod objects;
pub mod spill;
pub mod wire;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Code, Error, Result};
use crate::id::ObjectID;

pub use blobs::{
    CreateBufferReply, CreateBuffersReply, DropBufferReply, GetBuffersReply,
    IncreaseReferenceCountReply, ReleaseReply, SealReply, ShrinkBufferReply,
};
pub use extensions::{MetaIndexReply, PutBlobReply, ReserveIdsReply};
pub use instance::{
    ClearReply, ClusterMetaReply, DebugReply, DeleteSessionReply, ExitReply, InstanceInfoReply,
    InstanceStatus, InstanceStatusReply, MemoryTrimReply, RegisterReply, SessionReply,
};
pub use names::{DropNameReply, GetNameReply, ListNameReply, PutNameReply};
pub use objects::{
    CreateDataReply, CreateDatasReply, DelDataReply, DelDataWithFeedbacksReply, ExistsReply,
    GetDataReply, IfPersistReply, PersistReply,
};
pub use spill::{EvictReply, IsSpilledReply, LoadReply, UnpinReply};

/// A reply message: its fields, and the `type` that names it on the wire.
pub trait Reply: Serialize + DeserializeOwned {
    /// The `type` field of the message.
    const TYPE: &'static str;
}

/// Declares replies that carry nothing but their type.
macro_rules! empty_replies {
    ($($(#[doc = $doc:literal])+ $name:ident = $type:literal;)+) => {
        $(
            $(#[doc = $doc])+
            #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
            pub struct $name {}

            impl $crate::protocol::reply::Reply for $name {
                const TYPE: &'static str = $type;
            }
        )+
    };
}
pub(crate) use empty_replies;

/// A reply with its type, as it is written on the wire.
#[derive(Serialize)]
struct Tagged<'a, R> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    reply: &'a R,
}

/// A reply as one frame, `type` included.
pub fn frame<R: Reply>(reply: &R) -> Vec<u8> {
    crate::protocol::frame::encode(&Tagged {
        kind: R::TYPE,
        reply,
    })
}

/// The JSON of a reply, `type` included.
pub fn encode<R: Reply>(reply: &R) -> Value {
    serde_json::to_value(Tagged {
        kind: R::TYPE,
        reply,
    })
    .expect("replies serialise")
}

/// An error reply as Vineyard's clients read it (`code`, `message`, no `type`), with the
/// structured fields of typed errors alongside.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// The Vineyard status code (never 0 in an error).
    pub code: i64,
    /// What went wrong and what to do.
    #[serde(default)]
    pub message: String,
    /// `NotEnoughMemory`: bytes asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u64>,
    /// `NotEnoughMemory`: the largest free range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<u64>,
    /// `NotEnoughMemory` after spilling failed: why (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The object an error is about.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::optional_id"
    )]
    pub object_id: Option<ObjectID>,
}

impl ErrorReply {
    /// The error reply for `error`.
    pub fn of(error: &Error) -> ErrorReply {
        let mut reply = ErrorReply {
            code: error.code().as_i64(),
            message: error.to_string(),
            ..ErrorReply::default()
        };
        match error {
            Error::NotEnoughMemory {
                requested,
                available,
            } => {
                reply.requested = Some(*requested);
                reply.available = Some(*available);
            }
            Error::SpillFailed {
                requested,
                available,
                reason,
            } => {
                reply.requested = Some(*requested);
                reply.available = Some(*available);
                reply.reason = Some(reason.clone());
            }
            Error::ObjectNotExists { id } | Error::ObjectNotSealed { id } => {
                reply.object_id = Some(*id);
            }
            _ => {}
        }
        reply
    }

    /// The error it carries: typed where the fields allow, else [`Error::Server`].
    pub fn into_error(self) -> Error {
        let code = Code::from_i64(self.code);
        match (code, self.requested, self.available, self.object_id) {
            (Code::NotEnoughMemory, Some(requested), Some(available), _)
                if self.reason.is_some() =>
            {
                Error::SpillFailed {
                    requested,
                    available,
                    reason: self.reason.unwrap_or_default(),
                }
            }
            (Code::NotEnoughMemory, Some(requested), Some(available), _) => {
                Error::NotEnoughMemory {
                    requested,
                    available,
                }
            }
            (Code::ObjectNotExists, _, _, Some(id)) => Error::ObjectNotExists { id },
            (Code::ObjectNotSealed, _, _, Some(id)) => Error::ObjectNotSealed { id },
            _ => Error::Server {
                code,
                message: self.message,
            },
        }
    }

    /// The error reply in `message`, if it is one (a non-zero `code`).
    pub fn from_message(message: &Map<String, Value>) -> Option<ErrorReply> {
        match message.get("code").and_then(Value::as_i64) {
            Some(0) | None => None,
            Some(code) => Some(ErrorReply {
                code,
                message: message
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .to_string(),
                requested: message.get("requested").and_then(Value::as_u64),
                available: message.get("available").and_then(Value::as_u64),
                reason: message
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                object_id: message
                    .get("object_id")
                    .and_then(Value::as_u64)
                    .map(ObjectID),
            }),
        }
    }
}

/// Decodes a reply of type `R`: an error reply becomes its error, another type or a missing
/// field is a protocol error naming it.
pub fn decode<R: Reply>(message: Map<String, Value>) -> Result<R> {
    if let Some(error) = ErrorReply::from_message(&message) {
        return Err(error.into_error());
    }
    match message.get("type").and_then(Value::as_str) {
        Some(kind) if kind == R::TYPE => {}
        other => {
            return Err(Error::Protocol {
                message: format!("expected a {}, got {other:?}", R::TYPE),
            })
        }
    }
    serde_json::from_value(Value::Object(message)).map_err(|error| Error::Protocol {
        message: format!("malformed {}: {error}", R::TYPE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Payload;

    fn round_trip<R: Reply + PartialEq + std::fmt::Debug>(reply: R) {
        let Value::Object(message) = encode(&reply) else {
            panic!("a reply is an object")
        };
        assert_eq!(message.get("type"), Some(&Value::from(R::TYPE)));
        assert_eq!(decode::<R>(message).unwrap(), reply);
    }

    #[test]
    fn replies_round_trip() {
        round_trip(GetBuffersReply::new(
            vec![Payload::empty(), Payload::empty()],
            vec![3],
        ));
        round_trip(CreateDataReply {
            id: ObjectID(7),
            signature: 8,
            instance_id: 9,
        });
        round_trip(GetNameReply {
            object_id: ObjectID(u64::MAX),
        });
        round_trip(SealReply {});
        round_trip(GetDataReply {
            content: Map::new(),
            payloads: Vec::new(),
            fds: Vec::new(),
        });
    }

    #[test]
    fn vineyard_quirks_are_on_the_wire() {
        let reply = encode(&GetBuffersReply::new(vec![Payload::empty()], vec![]));
        assert_eq!(reply["num"], 1);
        assert_eq!(reply["0"]["object_id"], Value::from(crate::EMPTY_BLOB_ID.0));
        let reply = encode(&GetDataReply::default());
        assert_eq!(reply["content"], Value::Null);
        let reply = encode(&GetNameReply {
            object_id: ObjectID(5),
        });
        assert_eq!(reply["object_id"], 5);
    }

    #[test]
    fn errors_and_wrong_types_are_errors() {
        let error = Error::NotEnoughMemory {
            requested: 10,
            available: 3,
        };
        let Value::Object(message) = serde_json::to_value(ErrorReply::of(&error)).unwrap() else {
            panic!("an object")
        };
        assert!(matches!(
            decode::<SealReply>(message),
            Err(Error::NotEnoughMemory {
                requested: 10,
                available: 3
            })
        ));
        let spill = Error::SpillFailed {
            requested: 10,
            available: 3,
            reason: "No space left on device".into(),
        };
        let Value::Object(message) = serde_json::to_value(ErrorReply::of(&spill)).unwrap() else {
            panic!("an object")
        };
        let decoded = decode::<SealReply>(message).unwrap_err();
        assert!(
            matches!(&decoded, Error::SpillFailed { reason, .. } if reason.contains("No space")),
            "the reason survives the wire: {decoded:?}"
        );
        let Value::Object(message) = encode(&SealReply {}) else {
            panic!("an object")
        };
        let error = decode::<ReleaseReply>(message).unwrap_err().to_string();
        assert!(error.contains("expected a release_reply"), "{error}");
        let mut message = Map::new();
        message.insert("type".into(), GetNameReply::TYPE.into());
        let error = decode::<GetNameReply>(message).unwrap_err().to_string();
        assert!(error.contains("object_id"), "{error}");
    }
}
