//! Files other tools read without vineyard: an Arrow IPC file (or, where asked, a Parquet
//! file) for each Arrow-shaped object saved (a table, a record batch, a dataframe, an array),
//! built from the object's buffers in the shared memory (the resolvers read them without
//! copying).

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::FileWriter;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::{resolve, to_record_batches, Resolved};

use crate::error::{Error, Result};
use crate::location::Location;
use crate::manifest::SavedExport;
use crate::save::ExportFormat;
use crate::transfer::{StreamedUpload, PART};

/// The folder, file extension and manifest name of a format's files.
fn naming(format: ExportFormat) -> Option<(&'static str, &'static str)> {
    match format {
        ExportFormat::None => None,
        ExportFormat::Arrow => Some(("arrow", "arrow")),
        ExportFormat::Parquet => Some(("parquet", "parquet")),
    }
}

/// Writes `<folder>/<id>.<extension>` in `format` for each Arrow-shaped object among
/// `objects` (nothing for `ExportFormat::None`). Each file is encoded batch by batch and
/// sent as it grows ([`StreamedUpload`]): memory holds a few parts, not the file.
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
        let failed = |error: &dyn std::fmt::Display| Error::Unsavable {
            id: *id,
            reason: format!(
                "cannot write its {folder} file: {error}; save it with export=None or another \
                 format"
            ),
        };
        let Some((schema, batches)) = arrow_shaped(client, meta).map_err(|e| failed(&e))? else {
            continue;
        };
        let name = format!("{folder}/{id}.{extension}");
        let mut upload = StreamedUpload::new(location, location.path(&name));
        let size = match encode(schema, &batches, format, &mut upload, &failed).await {
            Ok(rest) => upload.finish(rest).await?,
            Err(error) => {
                upload.abort().await;
                return Err(error);
            }
        };
        exports.push(SavedExport {
            object: id.to_string(),
            format: folder.into(),
            path: name,
            size,
        });
    }
    Ok(exports)
}

/// The schema and batches of an Arrow-shaped object, read from the shared memory without
/// copying, or `None` if it is not Arrow-shaped (a blob, a tensor, or a type the resolvers
/// do not know).
fn arrow_shaped(
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>, vineyard_resolvers::Error> {
    let resolved = match resolve(client, meta) {
        Ok(resolved @ (Resolved::Table { .. } | Resolved::RecordBatch(_) | Resolved::Array(_))) => {
            resolved
        }
        Ok(_) | Err(_) => return Ok(None),
    };
    to_record_batches(resolved).map(Some)
}

/// An encoder of one file, writing into a buffer the caller empties as it fills.
enum Encoder {
    Arrow(Box<FileWriter<Vec<u8>>>),
    Parquet(Box<ArrowWriter<Vec<u8>>>),
}

impl Encoder {
    fn new(format: ExportFormat, schema: SchemaRef) -> Result<Encoder, Box<dyn std::error::Error>> {
        Ok(match format {
            ExportFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .build();
                Encoder::Parquet(Box::new(ArrowWriter::try_new(
                    Vec::new(),
                    schema,
                    Some(properties),
                )?))
            }
            _ => Encoder::Arrow(Box::new(FileWriter::try_new(Vec::new(), &schema)?)),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Encoder::Arrow(writer) => writer.write(batch)?,
            Encoder::Parquet(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Arrow(writer) => writer.get_mut(),
            Encoder::Parquet(writer) => writer.inner_mut(),
        }
    }

    /// Writes the file's end; returns the bytes not taken yet.
    fn finish(self) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        Ok(match self {
            Encoder::Arrow(writer) => writer.into_inner()?,
            Encoder::Parquet(writer) => writer.into_inner()?,
        })
    }
}

/// Encodes `batches` in `format`, sending every [`PART`] bytes to `upload` as they come;
/// returns the bytes left for the upload's last part.
async fn encode(
    schema: SchemaRef,
    batches: &[RecordBatch],
    format: ExportFormat,
    upload: &mut StreamedUpload<'_>,
    failed: &(dyn Fn(&dyn std::fmt::Display) -> Error + Sync),
) -> Result<Vec<u8>> {
    let mut encoder = Encoder::new(format, schema).map_err(|error| failed(&error))?;
    let pool = Pool::default();
    for batch in batches {
        encoder.write(batch).map_err(|error| failed(&error))?;
        let buffer = encoder.buffer();
        if buffer.len() >= PART {
            let piece = std::mem::replace(buffer, pool.take());
            upload.send(pool.recycling(piece)).await?;
        }
    }
    encoder.finish().map_err(|error| failed(&error))
}

/// Buffers that come back once their part is written, so the encoder fills memory it has
/// already touched: a fresh buffer costs a page fault per 4 KiB, which on a VM is as slow as
/// the encoding itself.
#[derive(Clone, Default)]
struct Pool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// An empty buffer: a returned one, or a new one of twice [`PART`] (room for a part and
    /// the batch that takes it past [`PART`]).
    fn take(&self) -> Vec<u8> {
        let returned = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        returned.unwrap_or_else(|| Vec::with_capacity(2 * PART))
    }

    /// `piece` as bytes that go back to the pool when the upload drops them.
    fn recycling(&self, piece: Vec<u8>) -> bytes::Bytes {
        bytes::Bytes::from_owner(Recycled {
            piece,
            pool: self.clone(),
        })
    }
}

/// A part's bytes on their way to storage; back to their pool when dropped.
struct Recycled {
    piece: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.piece
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let mut piece = std::mem::take(&mut self.piece);
        piece.clear();
        let mut free = self.pool.0.lock().unwrap_or_else(|e| e.into_inner());
        // Beyond the parts that can be in flight at once, a buffer is not worth keeping.
        if free.len() <= crate::transfer::PARALLEL {
            free.push(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_buffer_comes_back_to_its_pool_empty_when_the_upload_drops_it() {
        let pool = Pool::default();
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"part");
        let address = buffer.as_ptr();
        let sent = pool.recycling(buffer);
        assert_eq!(&sent[..], b"part");
        assert!(pool.0.lock().unwrap().is_empty(), "still in flight");
        drop(sent);
        let again = pool.take();
        assert_eq!(
            again.as_ptr(),
            address,
            "the same memory, not a fresh buffer"
        );
        assert!(again.is_empty());
    }
}
