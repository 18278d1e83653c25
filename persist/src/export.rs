//! Files other tools read without vineyard: an Arrow IPC file (or, where asked, a Parquet
//! file) for each Arrow-shaped object saved (a table, a record batch, a dataframe, an array),
//! built from the object's buffers in the shared memory (the resolvers read them without
//! copying). In a local directory the encoder writes straight into the file; elsewhere the
//! file is sent in parts as it grows. An Arrow file's uncompressed buffers are the blobs
//! themselves, written as they are: the save notes where each such blob lies in the file
//! (the manifest's `offset`) instead of writing it a second time. Into a local file those
//! blobs are written last, at their offsets, by several threads at once (the encoder only
//! moves past them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::FileWriter;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use vineyard_core::{file_io, Blob, IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::{resolve, to_record_batches, Resolved};

use crate::error::{Error, Result};
use crate::location::Location;
use crate::manifest::{SavedBlob, SavedExport};
use crate::progress::Progress;
use crate::save::ExportFormat;
use crate::transfer::{run_files, StagedFile, StreamedUpload, UPLOAD_PART};

/// The folder, file extension and manifest name of a format's files.
fn naming(format: ExportFormat) -> Option<(&'static str, &'static str)> {
    match format {
        ExportFormat::None => None,
        ExportFormat::Arrow => Some(("arrow", "arrow")),
        ExportFormat::Parquet => Some(("parquet", "parquet")),
    }
}

/// What the exported files hold besides: the blobs each wrote as they are, with where.
pub type HeldBlobs = BTreeMap<ObjectID, SavedBlob>;

/// The blobs of a save by the address of their memory, and those an exported file already
/// holds: a blob two files hold (a table and its own batch, both saved) is placed and
/// counted in the progress once, in the first.
struct BlobPlaces<'p> {
    blobs: &'p BTreeMap<ObjectID, Blob>,
    by_address: HashMap<usize, ObjectID>,
    progress: &'p Progress,
    noted: HashSet<ObjectID>,
}

impl BlobPlaces<'_> {
    /// The blob whose whole memory `bytes` are, if it has no place yet (it has one now).
    fn place(&mut self, bytes: &[u8]) -> Option<ObjectID> {
        let id = *self.by_address.get(&(bytes.as_ptr() as usize))?;
        let whole = self.blobs.get(&id)?.size() == bytes.len();
        (whole && self.noted.insert(id)).then_some(id)
    }
}

/// Blobs a file holds as they are: (id, offset in the file, CRC-32C).
type Placed = Vec<(ObjectID, u64, u32)>;

/// Writes `<folder>/<id>.<extension>` in `format` for each Arrow-shaped object among
/// `objects` (nothing for `ExportFormat::None`), in a local directory straight into the file,
/// elsewhere batch by batch in parts as it grows ([`StreamedUpload`]: memory holds a few
/// parts, not the file). Also returns the blobs of `blobs` that a file holds byte for byte
/// (an Arrow file's uncompressed buffers are the blobs themselves): the save need not write
/// them again.
pub async fn write_files(
    client: &IpcClient,
    location: &Location,
    objects: &[(ObjectID, ObjectMeta)],
    format: ExportFormat,
    blobs: &BTreeMap<ObjectID, Blob>,
    progress: &Progress,
) -> Result<(Vec<SavedExport>, HeldBlobs)> {
    let Some((folder, extension)) = naming(format) else {
        return Ok((Vec::new(), HeldBlobs::new()));
    };
    let mut places = BlobPlaces {
        blobs,
        by_address: blobs
            .iter()
            .filter(|(_, blob)| blob.size() > 0)
            .map(|(&id, blob)| (blob.as_ptr() as usize, id))
            .collect(),
        progress,
        noted: HashSet::new(),
    };
    let mut exports = Vec::new();
    let mut held = HeldBlobs::new();
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
        let path = location.path(&name);
        let (size, found) = if location.local.is_some() {
            file_io::run_blocking(|| {
                write_local(
                    location,
                    &path,
                    schema,
                    &batches,
                    format,
                    &mut places,
                    &failed,
                )
            })?
        } else {
            let mut upload = StreamedUpload::new(location, path);
            let encoded = encode(schema, &batches, format, &mut upload, &mut places, &failed).await;
            match encoded {
                Ok((rest, found)) => (upload.finish(rest).await?, found),
                Err(error) => {
                    upload.abort().await;
                    return Err(error);
                }
            }
        };
        for (blob, offset, crc32c) in found {
            let size = blobs.get(&blob).map_or(0, |blob| blob.size() as u64);
            let place = SavedBlob {
                size,
                crc32c,
                path: name.clone(),
                offset: Some(offset),
            };
            held.insert(blob, place);
        }
        exports.push(SavedExport {
            object: id.to_string(),
            format: folder.into(),
            path: name,
            size,
        });
    }
    Ok((exports, held))
}

/// The encoder's output, noting the blobs it writes as they are: the encoder writes an
/// uncompressed buffer with one write of the buffer's own memory, so a write that starts at
/// a blob's address and has its length puts that blob, whole, at this offset of the file.
/// Into a local file such a write is skipped (the output moves past it) and done afterwards
/// with the other skipped blobs, by several threads at once.
struct Recorder<'b, 'p, W> {
    inner: W,
    position: u64,
    places: &'b mut BlobPlaces<'p>,
    /// Blobs written as they are: id, offset in the file, CRC-32C.
    found: Placed,
    /// Blobs left to write at their offsets: id, offset in the file.
    skipped: Vec<(ObjectID, u64)>,
}

impl<'b, 'p, W> Recorder<'b, 'p, W> {
    fn new(inner: W, places: &'b mut BlobPlaces<'p>) -> Self {
        Recorder {
            inner,
            position: 0,
            places,
            found: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Where an encoder's bytes go.
trait Output: Write {
    /// Moves past `length` bytes that are written later, elsewhere; `false` if this output
    /// cannot (the bytes are written through then).
    fn skip(&mut self, length: u64) -> std::io::Result<bool>;
}

impl Output for Vec<u8> {
    fn skip(&mut self, _length: u64) -> std::io::Result<bool> {
        Ok(false)
    }
}

impl Output for BufWriter<&File> {
    fn skip(&mut self, length: u64) -> std::io::Result<bool> {
        let length = i64::try_from(length).map_err(std::io::Error::other)?;
        self.seek(SeekFrom::Current(length))?;
        Ok(true)
    }
}

impl<W: Output> Write for Recorder<'_, '_, W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self
            .places
            .by_address
            .contains_key(&(bytes.as_ptr() as usize))
        {
            self.write_all(bytes)?;
            return Ok(bytes.len());
        }
        let written = self.inner.write(bytes)?;
        self.position += written as u64;
        Ok(written)
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let length = bytes.len() as u64;
        match self.places.place(bytes) {
            Some(id) if self.inner.skip(length)? => self.skipped.push((id, self.position)),
            Some(id) => {
                self.inner.write_all(bytes)?;
                self.found.push((id, self.position, crc32c::crc32c(bytes)));
                self.places.progress.add(length);
            }
            None => self.inner.write_all(bytes)?,
        }
        self.position += length;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
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

/// Encodes a file of a local directory straight into it (staged, renamed into place when
/// whole): the encoder writes the file's own bytes, and the blobs it holds as they are are
/// then written from the shared memory at their offsets, several at once. Returns the file's
/// size and the blobs it holds as they are.
fn write_local(
    location: &Location,
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
    format: ExportFormat,
    places: &mut BlobPlaces<'_>,
    failed: &(dyn Fn(&dyn std::fmt::Display) -> Error + Sync),
) -> Result<(u64, Placed)> {
    let progress = places.progress;
    let blobs = places.blobs;
    let staged = StagedFile::create(location, path)?;
    // The recorder sees the encoder's writes before the buffering, at their own addresses.
    let output = Recorder::new(BufWriter::with_capacity(1 << 20, &staged.file), places);
    let mut encoder = Encoder::new(format, schema, output).map_err(|error| failed(&error))?;
    for batch in batches {
        progress.check()?;
        encoder.write(batch).map_err(|error| failed(&error))?;
    }
    let mut output = encoder.finish().map_err(|error| failed(&error))?;
    output.flush().map_err(|error| failed(&error))?;
    let (mut found, skipped) = (
        std::mem::take(&mut output.found),
        std::mem::take(&mut output.skipped),
    );
    drop(output);
    let transfers = skipped
        .iter()
        .map(|(id, offset)| file_io::Transfer::Write(&staged.file, *offset, &blobs[id][..]))
        .collect();
    let paths = vec![path.clone(); skipped.len()];
    let written = run_files(
        location,
        "writing",
        transfers,
        &paths,
        progress,
        std::convert::identity,
    );
    for ((id, offset), crc) in skipped.into_iter().zip(written) {
        found.push((id, offset, crc?));
    }
    let size = staged
        .file
        .metadata()
        .map_err(|error| failed(&error))?
        .len();
    staged.place()?;
    Ok((size, found))
}

/// An encoder of one file in a format, writing to `W`.
enum Encoder<W: Write + Send> {
    Arrow(Box<FileWriter<W>>),
    Parquet(Box<ArrowWriter<W>>),
}

impl<W: Write + Send> Encoder<W> {
    fn new(
        format: ExportFormat,
        schema: SchemaRef,
        output: W,
    ) -> Result<Encoder<W>, Box<dyn std::error::Error>> {
        Ok(match format {
            ExportFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .build();
                Encoder::Parquet(Box::new(ArrowWriter::try_new(
                    output,
                    schema,
                    Some(properties),
                )?))
            }
            _ => Encoder::Arrow(Box::new(FileWriter::try_new(output, &schema)?)),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Encoder::Arrow(writer) => writer.write(batch)?,
            Encoder::Parquet(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    fn output(&mut self) -> &mut W {
        match self {
            Encoder::Arrow(writer) => writer.get_mut(),
            Encoder::Parquet(writer) => writer.inner_mut(),
        }
    }

    /// Writes the file's end; returns the output.
    fn finish(self) -> Result<W, Box<dyn std::error::Error>> {
        Ok(match self {
            Encoder::Arrow(writer) => writer.into_inner()?,
            Encoder::Parquet(writer) => writer.into_inner()?,
        })
    }
}

/// Encodes `batches` in `format`, sending every [`UPLOAD_PART`] bytes to `upload` as they come;
/// returns the bytes left for the upload's last part.
async fn encode(
    schema: SchemaRef,
    batches: &[RecordBatch],
    format: ExportFormat,
    upload: &mut StreamedUpload<'_>,
    places: &mut BlobPlaces<'_>,
    failed: &(dyn Fn(&dyn std::fmt::Display) -> Error + Sync),
) -> Result<(Vec<u8>, Placed)> {
    let progress = places.progress;
    let output = Recorder::new(Vec::new(), places);
    let mut encoder = Encoder::new(format, schema, output).map_err(|error| failed(&error))?;
    let pool = Pool::default();
    for batch in batches {
        progress.check()?;
        encoder.write(batch).map_err(|error| failed(&error))?;
        let buffer = &mut encoder.output().inner;
        if buffer.len() >= UPLOAD_PART {
            let piece = std::mem::replace(buffer, pool.take());
            upload.send(pool.recycling(piece)).await?;
        }
    }
    let output = encoder.finish().map_err(|error| failed(&error))?;
    Ok((output.inner, output.found))
}

/// Buffers that come back once their part is written, so the encoder fills memory it has
/// already touched: a fresh buffer costs a page fault per 4 KiB, which on a VM is as slow as
/// the encoding itself.
#[derive(Clone, Default)]
struct Pool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// An empty buffer: a returned one, or a new one of twice [`UPLOAD_PART`] (room for a part and
    /// the batch that takes it past [`UPLOAD_PART`]).
    fn take(&self) -> Vec<u8> {
        let returned = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        returned.unwrap_or_else(|| Vec::with_capacity(2 * UPLOAD_PART))
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
