//! Files other tools read without vineyard: an Arrow IPC file (or, where asked, a Parquet
//! file) for each Arrow-shaped object saved (a table, a record batch, a dataframe, an array),
//! built from the object's buffers in the shared memory (the resolvers read them without
//! copying).

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::FileWriter;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::{resolve, to_record_batches, Resolved};

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::manifest::SavedExport;
use crate::save::ExportFormat;

/// The folder, file extension and manifest name of a format's files.
fn naming(format: ExportFormat) -> Option<(&'static str, &'static str)> {
    match format {
        ExportFormat::None => None,
        ExportFormat::Arrow => Some(("arrow", "arrow")),
        ExportFormat::Parquet => Some(("parquet", "parquet")),
    }
}

/// Writes `<folder>/<id>.<extension>` in `format` for each Arrow-shaped object among
/// `objects` (nothing for `ExportFormat::None`).
pub async fn write_files(
    client: &IpcClient,
    location: &Location,
    objects: &[(ObjectID, ObjectMeta)],
    format: ExportFormat,
) -> Result<Vec<SavedExport>> {
    let Some((folder, extension)) = naming(format) else {
        return Ok(Vec::new());
    };
    let mut exports = Vec::new();
    for (id, meta) in objects {
        let Some(bytes) = export_file(client, *id, meta, format)? else {
            continue;
        };
        let name = format!("{folder}/{id}.{extension}");
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
            format: folder.into(),
            path: name,
            size,
        });
    }
    Ok(exports)
}

/// The file of an object in `format`, or `None` if it is not Arrow-shaped (a blob, a tensor,
/// or a type the resolvers do not know).
fn export_file(
    client: &IpcClient,
    id: ObjectID,
    meta: &ObjectMeta,
    format: ExportFormat,
) -> Result<Option<Vec<u8>>> {
    let resolved = match resolve(client, meta) {
        Ok(resolved @ (Resolved::Table { .. } | Resolved::RecordBatch(_) | Resolved::Array(_))) => {
            resolved
        }
        Ok(_) | Err(_) => return Ok(None),
    };
    let failed = |error: &dyn std::fmt::Display| Error::Unsavable {
        id,
        reason: format!(
            "cannot write its {} file: {error}; save it with export=None or another format",
            naming(format).map_or("export", |(folder, _)| folder)
        ),
    };
    let (schema, batches) = to_record_batches(resolved).map_err(|error| failed(&error))?;
    match format {
        ExportFormat::Parquet => parquet_file(schema, &batches).map_err(|error| failed(&error)),
        _ => arrow_file(&schema, &batches).map_err(|error| failed(&error)),
    }
    .map(Some)
}

fn arrow_file(schema: &SchemaRef, batches: &[RecordBatch]) -> arrow::error::Result<Vec<u8>> {
    let mut writer = FileWriter::try_new(Vec::new(), schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

fn parquet_file(schema: SchemaRef, batches: &[RecordBatch]) -> parquet::errors::Result<Vec<u8>> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}
