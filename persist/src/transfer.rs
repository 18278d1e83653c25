//! Blobs to and from a store. A large blob is written as a multipart upload of [`PART`]-byte
//! parts, [`PARALLEL`] at a time, and read back as as many ranges at a time, straight into
//! the blob's shared memory; its CRC-32C is computed part by part as they go and combined.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::progress::Progress;

/// Bytes of one part (and of one ranged read). S3 wants at least 5 MiB per part.
pub const PART: usize = 16 << 20;

/// Parts in flight at once for one blob.
pub const PARALLEL: usize = 8;

fn storage(
    action: &'static str,
    location: &Location,
    path: &Path,
    error: &object_store::Error,
) -> Error {
    Error::Storage {
        action,
        path: path.to_string(),
        url: location.url.clone(),
        reason: describe(error),
    }
}

/// Writes `data` to `path`; returns its CRC-32C.
pub async fn upload(
    location: &Location,
    path: &Path,
    data: Bytes,
    progress: &Progress,
) -> Result<u32> {
    let store = &location.store;
    progress.check()?;
    if data.len() <= PART {
        let crc = crc32c::crc32c(&data);
        let length = data.len() as u64;
        store
            .put(path, PutPayload::from(data))
            .await
            .map_err(|error| storage("writing", location, path, &error))?;
        progress.add(length);
        return Ok(crc);
    }
    let mut upload = store
        .put_multipart(path)
        .await
        .map_err(|error| storage("writing", location, path, &error))?;
    let parts: Vec<Bytes> = (0..data.len())
        .step_by(PART)
        .map(|start| data.slice(start..(start + PART).min(data.len())))
        .collect();
    let crcs: Vec<(u32, usize)> = parts
        .iter()
        .map(|part| (crc32c::crc32c(part), part.len()))
        .collect();
    let written = futures::stream::iter(parts)
        .map(|part| {
            let length = part.len() as u64;
            let put = upload.put_part(PutPayload::from(part));
            async move {
                progress.check()?;
                put.await
                    .map_err(|error| storage("writing", location, path, &error))?;
                progress.add(length);
                Ok::<(), Error>(())
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await;
    match written {
        Ok(_) => {
            upload
                .complete()
                .await
                .map_err(|error| storage("writing", location, path, &error))?;
        }
        Err(error) => {
            let _ = upload.abort().await;
            return Err(error);
        }
    }
    Ok(combine(&crcs))
}

/// The CRC-32C of consecutive pieces with the given CRCs and lengths.
fn combine(pieces: &[(u32, usize)]) -> u32 {
    pieces
        .iter()
        .fold(None, |whole: Option<u32>, &(crc, length)| {
            Some(match whole {
                None => crc,
                Some(whole) => crc32c::crc32c_combine(whole, crc, length),
            })
        })
        .unwrap_or(0)
}

/// Reads `path` into `dest` (which has the size the manifest gives); returns the CRC-32C of
/// what was read.
pub async fn download(
    location: &Location,
    path: &Path,
    dest: &mut [u8],
    progress: &Progress,
) -> std::result::Result<u32, DownloadError> {
    let store: &dyn ObjectStore = location.store.as_ref();
    let failed = |error: object_store::Error| match error {
        object_store::Error::NotFound { .. } => DownloadError::Missing,
        other => DownloadError::Other(storage("reading", location, path, &other)),
    };
    // A shorter or longer object than the manifest says is corrupted.
    let head = store.head(path).await.map_err(failed)?;
    if head.size != dest.len() as u64 {
        return Err(DownloadError::Short(head.size));
    }
    let crcs: Vec<(u32, usize)> = futures::stream::iter(dest.chunks_mut(PART).enumerate())
        .map(|(index, chunk)| async move {
            progress.check().map_err(DownloadError::Other)?;
            let start = (index * PART) as u64;
            let range = start..start + chunk.len() as u64;
            let bytes = store.get_range(path, range).await.map_err(failed)?;
            if bytes.len() != chunk.len() {
                return Err(DownloadError::Short(start + bytes.len() as u64));
            }
            chunk.copy_from_slice(&bytes);
            progress.add(bytes.len() as u64);
            Ok((crc32c::crc32c(chunk), chunk.len()))
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    Ok(combine(&crcs))
}

/// Why a blob could not be read.
#[derive(Debug)]
pub enum DownloadError {
    /// The object is not in the store.
    Missing,
    /// It holds this many bytes, not the manifest's.
    Short(u64),
    /// Anything else.
    Other(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_crcs_are_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let pieces: Vec<(u32, usize)> = data
            .chunks(30_000)
            .map(|c| (crc32c::crc32c(c), c.len()))
            .collect();
        assert_eq!(combine(&pieces), crc32c::crc32c(&data));
        assert_eq!(combine(&[]), crc32c::crc32c(&[]));
    }
}
