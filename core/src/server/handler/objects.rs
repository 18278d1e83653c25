//! Metadata trees: create, get, list, delete, exists, persist.

use super::{Outcome, Session};
use crate::error::Result;
use crate::id::ObjectID;
use crate::protocol::reply::{
    CreateDataReply, CreateDatasReply, DelDataReply, DelDataWithFeedbacksReply, ExistsReply,
    GetDataReply, IfPersistReply, PersistReply,
};
use crate::protocol::Request;
use crate::server::Shared;
use crate::table::collect_blob_ids;

/// The blob ids in `content`'s trees, sorted, each once.
fn blobs_of(content: &serde_json::Map<String, serde_json::Value>) -> Vec<ObjectID> {
    let mut blob_ids = Vec::new();
    for tree in content.values() {
        collect_blob_ids(tree, &mut blob_ids);
    }
    blob_ids.sort_unstable();
    blob_ids.dedup();
    blob_ids
}

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
            // Spilled blobs are read back without the table's lock held, so the trees and their
            // blobs are taken again together under it: an object deleted meanwhile is left out
            // whole, never returned without its blobs.
            let mut wanted = blobs_of(&content);
            let (content, payloads) = loop {
                let found = shared
                    .with_blobs_in_memory(&wanted, |table| {
                        let content = table.get_data(ids);
                        let now = blobs_of(&content);
                        if now.iter().any(|id| wanted.binary_search(id).is_err()) {
                            // Objects appeared meanwhile: bring their blobs in first.
                            return Ok(Err(now));
                        }
                        let payloads = table.get_buffers(connection, &now, false)?;
                        Ok(Ok((content, payloads)))
                    })
                    .await?;
                match found {
                    Ok(found) => break found,
                    Err(now) => wanted = now,
                }
            };
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
            memory_trim,
            feedback,
        } => {
            let deleted = shared.table().delete(ids, *force, *deep, *fastpath)?;
            shared.withdraw(&deleted).await?;
            if *memory_trim {
                shared.table().trim_memory();
            }
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
