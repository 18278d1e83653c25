//! Names: put, get, list and drop (cluster-wide through the metadata store).

use super::Outcome;
use crate::error::{Error, Result};
use crate::protocol::reply::{DropNameReply, GetNameReply, ListNameReply, PutNameReply};
use crate::protocol::Request;
use crate::server::Shared;

/// Handles the requests of this family.
pub(super) async fn handle(shared: &Shared, request: &Request) -> Result<Outcome> {
    Ok(match request {
        Request::PutName { id, name } => {
            shared.put_name(*id, name).await?;
            Outcome::reply(&PutNameReply {})
        }
        Request::GetName { name, wait } => match shared.get_name(name).await {
            Some(object_id) => Outcome::reply(&GetNameReply { object_id }),
            None if *wait => Outcome::NotYet,
            None => return Err(Error::NameNotExists { name: name.clone() }),
        },
        Request::ListName { pattern } => {
            let names = shared.table().list_names(pattern)?;
            Outcome::reply(&ListNameReply::new(names))
        }
        Request::DropName { name } => {
            shared.drop_name(name).await?;
            Outcome::reply(&DropNameReply {})
        }
        other => unreachable!("not a name request: {other:?}"),
    })
}
