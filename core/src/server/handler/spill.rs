//! Spilling on request: evict, load (and pin), unpin, is_spilled. These are Vineyard's
//! requests (its clients' `evict`, `load`, `unpin`, `is_spilled`), with its wire format.

use super::Outcome;
use crate::error::Result;
use crate::protocol::reply::{EvictReply, IsSpilledReply, LoadReply, UnpinReply};
use crate::protocol::Request;
use crate::server::Shared;

/// Handles the requests of this family.
pub(super) async fn handle(shared: &Shared, request: &Request) -> Result<Outcome> {
    Ok(match request {
        Request::Evict { ids } => {
            shared.spiller()?.evict(shared, ids).await?;
            Outcome::reply(&EvictReply {})
        }
        Request::Load { ids, pin } => {
            let blobs = shared.table().blobs_of(ids);
            shared
                .with_blobs_in_memory(&blobs, |table| {
                    if *pin {
                        table.pin(ids, true);
                    }
                    Ok(())
                })
                .await?;
            Outcome::reply(&LoadReply {})
        }
        Request::Unpin { ids } => {
            shared.table().pin(ids, false);
            Outcome::reply(&UnpinReply {})
        }
        Request::IsSpilled { id } => Outcome::reply(&IsSpilledReply {
            is_spilled: shared.table().is_spilled(*id),
        }),
        other => unreachable!("not a spill request: {other:?}"),
    })
}
