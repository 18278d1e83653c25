//! The instance: register, status, the cluster view, clear, memory trim, sessions, debug.

use super::{Outcome, Session};
use crate::error::{Code, Error, Result};
use crate::protocol::reply::{
    ClearReply, ClusterMetaReply, DebugReply, InstanceStatusReply, MemoryTrimReply, RegisterReply,
};
use crate::protocol::{Request, PROTOCOL_VERSION};
use crate::server::Shared;

/// Handles the requests of this family.
pub(super) async fn handle(
    shared: &Shared,
    session: &mut Session,
    request: &Request,
) -> Result<Outcome> {
    Ok(match request {
        Request::Register { store_matches, .. } => {
            session.registered = *store_matches;
            Outcome::reply(&RegisterReply {
                instance_id: shared.instance_id(),
                ipc_socket: shared.config.socket.display().to_string(),
                rpc_endpoint: shared.rpc_endpoint(),
                session_id: 0,
                store_match: *store_matches,
                reserve_ids: true,
                meta_index: shared.table().has_index(),
                support_rpc_compression: false,
                version: PROTOCOL_VERSION.into(),
            })
        }
        Request::InstanceStatus => Outcome::reply(&InstanceStatusReply {
            meta: shared.status(),
        }),
        Request::ClusterMeta => Outcome::reply(&ClusterMetaReply {
            meta: shared.cluster_meta(),
        }),
        Request::Clear => {
            let deleted = shared.table().clear();
            shared.withdraw(&deleted).await?;
            Outcome::reply(&ClearReply {})
        }
        Request::MemoryTrim => Outcome::reply(&MemoryTrimReply {
            trimmed: shared.table().trim_memory() > 0,
        }),
        Request::Exit => Outcome::Exit,
        Request::NewSession | Request::DeleteSession => {
            return Err(Error::NotImplemented {
                what: "sessions; connect to the instance's socket directly".into(),
            })
        }
        Request::Debug { payload } => {
            if let Some(code) = payload.get("raise").and_then(serde_json::Value::as_i64) {
                return Err(raised(code));
            }
            Outcome::reply(&DebugReply {
                result: payload.clone(),
            })
        }
        other => unreachable!("not an instance request: {other:?}"),
    })
}

/// The error `debug_command` with `{"raise": code}` asks for: lets a client (and the tests)
/// see how each status code reaches it, over IPC and through Flight.
fn raised(code: i64) -> Error {
    Error::Server {
        code: Code::from_i64(code),
        message: format!("debug_command raised status code {code} as asked"),
    }
}
