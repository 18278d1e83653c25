//! Metadata trees: create, get, list, delete, exists, persist.

use super::{Outcome, Session};
use crate::error::Result;
use crate::protocol::reply::{
    CreateDataReply, CreateDatasReply, DelDataReply, DelDataWithFeedbacksReply, ExistsReply,
    GetDataReply, IfPersistReply, PersistReply,
};
use crate::protocol::Request;
use crate::server::Shared;
use crate::table::collect_blob_ids;

/// Handles the requests of this family.
pub(super) async fn handle(
    shared: &Shared,
    session: &mut Session,
    request: &Request,
) -> Result<Outcome> {
    let connection = session.connection;
    Ok(match request {
        Request::CreateData {
            contents,
            plural,
            assigned,
        } => {
            let assigned = assigned.map(|id| (connection, id));
            let mut created = Vec::with_capacity(contents.len());
            for tree in contents {
                let object = shared.create_data(tree, assigned).await?;
                created.push(CreateDataReply {
                    id: object.id,
                    signature: object.signature,
                    instance_id: object.instance_id,
                });
            }
            if *plural {
                Outcome::reply(&CreateDatasReply::new(created))
            } else {
                Outcome::reply(&created[0])
            }
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
            let content = shared.table().get_data(ids);
            if *wait && content.len() < ids.len() {
                return Ok(Outcome::NotYet);
            }
            if !*buffers {
                return Ok(Outcome::reply(&GetDataReply {
                    content,
                    ..GetDataReply::default()
                }));
            }
            let mut blob_ids = Vec::new();
            for tree in content.values() {
                collect_blob_ids(tree, &mut blob_ids);
            }
            blob_ids.sort_unstable();
            blob_ids.dedup();
            let payloads = shared
                .with_blobs_in_memory(&blob_ids, |table| {
                    table.get_buffers(connection, &blob_ids, false)
                })
                .await?;
            let fds = session.new_fds(&payloads);
            let reply = GetDataReply {
                content,
                payloads,
                fds: fds.clone(),
            };
            Outcome::with_fds(&reply, fds)
        }
        Request::ListData { pattern } => Outcome::reply(&GetDataReply {
            content: shared.table().list_data(pattern)?,
            ..GetDataReply::default()
        }),
        Request::DelData {
            ids,
            force,
            deep,
            fastpath,
            feedback,
        } => {
            let deleted = shared.table().delete(ids, *force, *deep, *fastpath)?;
            shared.withdraw(&deleted).await?;
            if *feedback {
                Outcome::reply(&DelDataWithFeedbacksReply {
                    deleted_bids: deleted.blobs,
                })
            } else {
                Outcome::reply(&DelDataReply {})
            }
        }
        Request::Exists { id } => Outcome::reply(&ExistsReply {
            exists: shared.table().exists(*id),
        }),
        Request::Persist { id } => {
            shared.persist(*id).await?;
            Outcome::reply(&PersistReply {})
        }
        Request::IfPersist { id } => Outcome::reply(&IfPersistReply {
            persist: shared.table().is_persisted(*id)?,
        }),
        other => unreachable!("not an object request: {other:?}"),
    })
}
