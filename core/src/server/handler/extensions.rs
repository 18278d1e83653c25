//! Our own requests: small blobs in the request, the metadata index, reserved ids. A client
//! sends them only after `register_reply` said the server takes them.

use super::{Outcome, Session};
use crate::error::Result;
use crate::protocol::reply::{MetaIndexReply, PutBlobReply, ReserveIdsReply};
use crate::protocol::Request;
use crate::server::Shared;

/// Handles the requests of this family.
pub(super) async fn handle(
    shared: &Shared,
    session: &mut Session,
    request: &Request,
) -> Result<Outcome> {
    let connection = session.connection;
    Ok(match request {
        Request::PutBlob { id, data } => {
            shared
                .with_room(|table| table.put_blob(connection, *id, data))
                .await?;
            Outcome::reply(&PutBlobReply { id: *id })
        }
        Request::MetaIndex => {
            let (index, ring) = shared.table().open_meta_index(connection)?;
            let reply = MetaIndexReply {
                fds: vec![index, ring],
                index_fd: index,
                ring_fd: ring,
            };
            Outcome::with_fds(&reply, vec![index, ring])
        }
        Request::ReserveIds { count } => {
            let first = shared.table().reserve_ids(connection, *count)?;
            Outcome::reply(&ReserveIdsReply {
                first: first.0,
                count: *count,
            })
        }
        other => unreachable!("not one of our extensions: {other:?}"),
    })
}
