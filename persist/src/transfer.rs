//! Blobs to and from a store. A large blob is written as a multipart upload of [`PART`]-byte
//! parts, [`PARALLEL`] at a time, and read back as as many ranges at a time, straight into
//! the blob's shared memory; its CRC-32C is computed part by part as they go and combined.

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetResultPayload, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload,
    UploadPart,
};

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

/// The CRC-32C of `data`, taken on a blocking thread (blobs being saved are checksummed
/// side by side, and the first touch of their pages happens there).
async fn checksum(location: &Location, path: &Path, data: Bytes) -> Result<u32> {
    tokio::task::spawn_blocking(move || crc32c::crc32c(&data))
        .await
        .map_err(|error| Error::Storage {
            action: "checksumming",
            path: path.to_string(),
            url: location.url.clone(),
            reason: error.to_string(),
        })
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
        let crc = checksum(location, path, data.clone()).await?;
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
    // Each part's CRC is taken on a blocking thread just before the part goes out, so that
    // checksums (and the first touch of the source pages) run beside the writes.
    let written = futures::stream::iter(parts)
        .map(|part| {
            let length = part.len();
            let put = upload.put_part(PutPayload::from(part.clone()));
            async move {
                progress.check()?;
                let crc = checksum(location, path, part).await?;
                put.await
                    .map_err(|error| storage("writing", location, path, &error))?;
                progress.add(length as u64);
                Ok::<(u32, usize), Error>((crc, length))
            }
        })
        .buffered(PARALLEL)
        .try_collect::<Vec<(u32, usize)>>()
        .await;
    match written {
        Ok(crcs) => {
            upload
                .complete()
                .await
                .map_err(|error| storage("writing", location, path, &error))?;
            Ok(combine(&crcs))
        }
        Err(error) => {
            let _ = upload.abort().await;
            Err(error)
        }
    }
}

/// An object written piece by piece as its bytes are produced (an Arrow or Parquet file
/// being encoded): pieces of at least [`PART`] bytes go out as parts of a multipart upload,
/// [`PARALLEL`] at a time, so the whole file is never held in memory; an object that stays
/// under [`PART`] in all is written with one plain put.
pub struct StreamedUpload<'a> {
    location: &'a Location,
    path: Path,
    upload: Option<Box<dyn MultipartUpload>>,
    in_flight: FuturesUnordered<UploadPart>,
    sent: u64,
}

impl<'a> StreamedUpload<'a> {
    /// An upload to `path` that has sent nothing yet.
    pub fn new(location: &'a Location, path: Path) -> StreamedUpload<'a> {
        StreamedUpload {
            location,
            path,
            upload: None,
            in_flight: FuturesUnordered::new(),
            sent: 0,
        }
    }

    fn failed(&self, error: &object_store::Error) -> Error {
        storage("writing", self.location, &self.path, error)
    }

    /// Sends `piece` as the next part (a part other than the last must hold at least 5 MiB
    /// for S3: give pieces of [`PART`] bytes or more); waits while [`PARALLEL`] are in flight.
    pub async fn send(&mut self, piece: Bytes) -> Result<()> {
        if self.upload.is_none() {
            let upload = self
                .location
                .store
                .put_multipart(&self.path)
                .await
                .map_err(|error| self.failed(&error))?;
            self.upload = Some(upload);
        }
        self.sent += piece.len() as u64;
        let upload = self.upload.as_mut().expect("started above");
        self.in_flight
            .push(upload.put_part(PutPayload::from(piece)));
        while self.in_flight.len() >= PARALLEL {
            self.next_done().await?;
        }
        Ok(())
    }

    async fn next_done(&mut self) -> Result<()> {
        match self.in_flight.next().await {
            Some(Err(error)) => Err(self.failed(&error)),
            _ => Ok(()),
        }
    }

    /// Sends `rest` (the last bytes, of any size) and completes the object; returns its size.
    pub async fn finish(mut self, rest: Vec<u8>) -> Result<u64> {
        let size = self.sent + rest.len() as u64;
        let Some(mut upload) = self.upload.take() else {
            self.location
                .store
                .put(&self.path, PutPayload::from(Bytes::from(rest)))
                .await
                .map_err(|error| self.failed(&error))?;
            return Ok(size);
        };
        if !rest.is_empty() {
            self.in_flight
                .push(upload.put_part(PutPayload::from(Bytes::from(rest))));
        }
        let mut written = Ok(());
        while !self.in_flight.is_empty() && written.is_ok() {
            written = self.next_done().await;
        }
        match written {
            Ok(()) => upload
                .complete()
                .await
                .map(|_| size)
                .map_err(|error| self.failed(&error)),
            Err(error) => {
                let _ = upload.abort().await;
                Err(error)
            }
        }
    }

    /// Gives up: parts sent are dropped (the multipart upload is aborted).
    pub async fn abort(mut self) {
        self.in_flight.clear();
        if let Some(mut upload) = self.upload.take() {
            let _ = upload.abort().await;
        }
    }
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
            let options = GetOptions {
                range: Some(range.into()),
                ..GetOptions::default()
            };
            // The response's pieces go straight into the blob: no buffer of the whole range.
            let mut pieces = store
                .get_opts(path, options)
                .await
                .map_err(failed)?
                .into_stream();
            let mut filled = 0;
            while let Some(piece) = pieces.next().await {
                let piece = piece.map_err(failed)?;
                let Some(into) = chunk.get_mut(filled..filled + piece.len()) else {
                    return Err(DownloadError::Short(start + (filled + piece.len()) as u64));
                };
                into.copy_from_slice(&piece);
                filled += piece.len();
            }
            if filled != chunk.len() {
                return Err(DownloadError::Short(start + filled as u64));
            }
            progress.add(filled as u64);
            Ok((crc32c::crc32c(chunk), chunk.len()))
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    Ok(combine(&crcs))
}

/// Threads reading local files at once ([`read_files`]).
const FILE_READERS: usize = 4;

/// Reads local files (a [`Location`] with `local` set) into their destinations (each the size
/// the manifest gives): every file is opened through the store, then all their [`PART`]-byte
/// pieces are read straight into the destinations (one copy, no buffer between) by up to
/// [`FILE_READERS`] threads. Returns, for each file in order, the CRC-32C of what was read.
pub async fn read_files(
    location: &Location,
    reads: Vec<(Path, &mut [u8])>,
    progress: &Progress,
) -> Vec<std::result::Result<u32, DownloadError>> {
    let mut files = Vec::with_capacity(reads.len());
    for (path, dest) in reads {
        let opened = open_file(location, &path, dest.len()).await;
        files.push((path, opened, dest));
    }
    let mut pieces = Vec::new();
    for (index, (path, opened, dest)) in files.iter_mut().enumerate() {
        if let Ok(file) = opened {
            for (number, chunk) in dest.chunks_mut(PART).enumerate() {
                pieces.push(Piece {
                    file: index,
                    number,
                    path: &*path,
                    source: &*file,
                    dest: chunk,
                });
            }
        }
    }
    let read = run_blocking(|| read_pieces(location, pieces, progress));
    let mut crcs: Vec<Vec<(usize, u32, usize)>> = vec![Vec::new(); files.len()];
    let mut failures: Vec<Option<DownloadError>> = files.iter().map(|_| None).collect();
    for (file, outcome) in read {
        match outcome {
            Ok(piece) => crcs[file].push(piece),
            Err(error) => failures[file] = Some(error),
        }
    }
    files
        .into_iter()
        .zip(crcs.iter_mut().zip(failures))
        .map(|((_, opened, _), (pieces, failure))| {
            opened?;
            if let Some(error) = failure {
                return Err(error);
            }
            pieces.sort_unstable_by_key(|&(number, _, _)| number);
            let pieces: Vec<(u32, usize)> = pieces
                .iter()
                .map(|&(_, crc, length)| (crc, length))
                .collect();
            Ok(combine(&pieces))
        })
        .collect()
}

/// One piece of a local file to read: which file, its number in it, and where it goes.
struct Piece<'a> {
    file: usize,
    number: usize,
    path: &'a Path,
    source: &'a std::fs::File,
    dest: &'a mut [u8],
}

/// A local file of the store, opened through it, checked to hold `size` bytes.
async fn open_file(
    location: &Location,
    path: &Path,
    size: usize,
) -> std::result::Result<std::fs::File, DownloadError> {
    let got = location
        .store
        .get_opts(path, GetOptions::default())
        .await
        .map_err(|error| match error {
            object_store::Error::NotFound { .. } => DownloadError::Missing,
            other => DownloadError::Other(storage("reading", location, path, &other)),
        })?;
    if got.meta.size != size as u64 {
        return Err(DownloadError::Short(got.meta.size));
    }
    match got.payload {
        GetResultPayload::File(file, _) => Ok(file),
        GetResultPayload::Stream(_) => Err(DownloadError::Other(Error::Storage {
            action: "reading",
            path: path.to_string(),
            url: location.url.clone(),
            reason: "the store gave a stream, not a local file".into(),
        })),
    }
}

/// What reading one piece came to: (its number, CRC-32C, length), or why it failed.
type PieceOutcome = std::result::Result<(usize, u32, usize), DownloadError>;

/// Reads every piece (threads take the next one until none is left); returns, per piece, its
/// file and either (its number, CRC-32C, length) or why it failed.
fn read_pieces(
    location: &Location,
    pieces: Vec<Piece<'_>>,
    progress: &Progress,
) -> Vec<(usize, PieceOutcome)> {
    use std::os::unix::fs::FileExt;
    let threads = FILE_READERS
        .min(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(pieces.len())
        .max(1);
    let queue = std::sync::Mutex::new(pieces.into_iter());
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(piece) = next() {
                        let outcome = progress
                            .check()
                            .map_err(DownloadError::Other)
                            .and_then(|()| {
                                let offset = (piece.number * PART) as u64;
                                piece
                                    .source
                                    .read_exact_at(piece.dest, offset)
                                    .map_err(|error| {
                                        DownloadError::Other(Error::Storage {
                                            action: "reading",
                                            path: piece.path.to_string(),
                                            url: location.url.clone(),
                                            reason: error.to_string(),
                                        })
                                    })
                            })
                            .map(|()| {
                                progress.add(piece.dest.len() as u64);
                                (piece.number, crc32c::crc32c(piece.dest), piece.dest.len())
                            });
                        done.push((piece.file, outcome));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_default())
            .collect()
    })
}

/// Runs blocking work from async code: in place on a multi-threaded runtime's worker (its
/// other tasks move to other workers), as is elsewhere (the blocking API's own thread).
fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
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
