//! Files other tools read without vineyard: an Arrow IPC file for each Arrow-shaped object
//! saved (a table, a record batch, a dataframe, an array), built from the object's buffers in
//! the shared memory (the resolvers read them without copying).

use arrow::ipc::writer::FileWriter;
use object_store::ObjectStoreExt;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::{resolve, to_record_batches, Resolved};

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::manifest::SavedExport;

/// Writes `arrow/<id>.arrow` for each Arrow-shaped object among `objects`.
pub async fn write_arrow_files(
    client: &IpcClient,
    location: &Location,
    objects: &[(ObjectID, ObjectMeta)],
) -> Result<Vec<SavedExport>> {
    let mut exports = Vec::new();
    for (id, meta) in objects {
        let Some(bytes) = arrow_file(client, *id, meta)? else {
            continue;
        };
        let name = format!("arrow/{id}.arrow");
        let path = location.path(&name);
        let size = bytes.len() as u64;
        location
            .store
            .put(&path, bytes.into())
            .await
            .map_err(|error| Error::Storage {
                action: "writing",
                path: path.to_string(),
                url: location.url.clone(),
                reason: describe(&error),
            })?;
        exports.push(SavedExport {
            object: id.to_string(),
            format: "arrow".into(),
            path: name,
            size,
        });
    }
    Ok(exports)
}

/// The Arrow IPC file of an object, or `None` if it is not Arrow-shaped (a blob, a tensor,
/// or a type the resolvers do not know).
fn arrow_file(client: &IpcClient, id: ObjectID, meta: &ObjectMeta) -> Result<Option<Vec<u8>>> {
    let resolved = match resolve(client, meta) {
        Ok(resolved @ (Resolved::Table { .. } | Resolved::RecordBatch(_) | Resolved::Array(_))) => {
            resolved
        }
        Ok(_) | Err(_) => return Ok(None),
    };
    let failed = |error: &dyn std::fmt::Display| Error::Unsavable {
        id,
        reason: format!("cannot write its Arrow IPC file: {error}; save it with export=None"),
    };
    let (schema, batches) = to_record_batches(resolved).map_err(|error| failed(&error))?;
    let mut writer = FileWriter::try_new(Vec::new(), &schema).map_err(|error| failed(&error))?;
    for batch in &batches {
        writer.write(batch).map_err(|error| failed(&error))?;
    }
    writer
        .into_inner()
        .map(Some)
        .map_err(|error| failed(&error))
}
