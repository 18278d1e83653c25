//! Buffers: create, seal, get, drop, shrink, hold and release.

use std::collections::BTreeSet;

use super::{Outcome, Session};
use crate::error::Result;
use crate::protocol::reply::{
    CreateBufferReply, CreateBuffersReply, DropBufferReply, GetBuffersReply,
    IncreaseReferenceCountReply, ReleaseReply, SealReply, ShrinkBufferReply,
};
use crate::protocol::Request;
use crate::server::Shared;

/// Handles the requests of this family. Creates make room by spilling, and reads bring
/// spilled blobs back, when the instance spills (see `server::spill`).
pub(super) async fn handle(
    shared: &Shared,
    session: &mut Session,
    request: &Request,
) -> Result<Outcome> {
    let connection = session.connection;
    Ok(match request {
        Request::CreateBuffer { size } => {
            let payload = shared
                .with_room(|table| table.create_buffer(connection, *size))
                .await?;
            let fds = session.new_fds([&payload]);
            let reply = CreateBufferReply {
                id: payload.id(),
                fd: fds.first().copied().unwrap_or(-1),
                created: payload,
            };
            Outcome::with_fds(&reply, fds)
        }
        Request::CreateBuffers { sizes } => {
            let payloads = shared
                .with_room(|table| table.create_buffers(connection, sizes))
                .await?;
            let fds: Vec<i32> = session
                .new_fds(&payloads)
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let reply = CreateBuffersReply {
                ids: payloads.iter().map(|payload| payload.id()).collect(),
                fds: fds.clone(),
                payloads,
            };
            Outcome::with_fds(&reply, fds)
        }
        Request::Seal { id } => {
            shared.table().seal(connection, *id)?;
            Outcome::reply(&SealReply {})
        }
        Request::GetBuffers { ids, unsafe_read } => {
            let payloads = shared
                .with_blobs_in_memory(ids, |table| {
                    table.get_buffers(connection, ids, *unsafe_read)
                })
                .await?;
            let fds = session.new_fds(&payloads);
            Outcome::with_fds(&GetBuffersReply::new(payloads, fds.clone()), fds)
        }
        Request::DropBuffer { id } => {
            shared.table().drop_buffer(connection, *id)?;
            Outcome::reply(&DropBufferReply {})
        }
        Request::ShrinkBuffer { id, size } => {
            shared.table().shrink_buffer(connection, *id, *size)?;
            Outcome::reply(&ShrinkBufferReply {})
        }
        Request::IncreaseReferenceCount { ids } => {
            let mut table = shared.table();
            for &id in ids {
                table.hold(connection, id);
            }
            Outcome::reply(&IncreaseReferenceCountReply {})
        }
        Request::Release { id } => {
            shared.table().release(connection, *id);
            Outcome::reply(&ReleaseReply {})
        }
        other => unreachable!("not a blob request: {other:?}"),
    })
}
