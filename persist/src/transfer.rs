//! Blobs to and from a store. A large blob is written as a multipart upload of
//! [`UPLOAD_PART`]-byte parts, [`PARALLEL`] at a time, and read back in [`PART`]-byte ranges,
//! as many at a time, straight into the blob's shared memory; its CRC-32C is computed part by part as they go and combined.
//! Local directories skip the store's upload and download: their files are written from and
//! read into the blobs' memory directly, several pieces at a time (`vineyard_core::file_io`),
//! each written file staged beside its path and renamed into place when whole.

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetResultPayload, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload,
    UploadPart,
};

use vineyard_core::file_io;

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::progress::Progress;

/// Bytes of one ranged read.
pub const PART: usize = 16 << 20;

/// Bytes of one part of a multipart upload (and the size from which uploads are multipart):
/// 8 MiB, as AWS's own tools send. S3 wants at least 5 MiB per part but the last.
pub const UPLOAD_PART: usize = 8 << 20;

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
    if data.len() <= UPLOAD_PART {
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
        .step_by(UPLOAD_PART)
        .map(|start| data.slice(start..(start + UPLOAD_PART).min(data.len())))
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
            Ok(file_io::combine(crcs))
        }
        Err(error) => {
            let _ = upload.abort().await;
            Err(error)
        }
    }
}

/// An object written piece by piece as its bytes are produced (an Arrow or Parquet file
/// being encoded): pieces of at least [`UPLOAD_PART`] bytes go out as parts of a multipart
/// upload, [`PARALLEL`] at a time, so the whole file is never held in memory; an object that
/// stays under [`UPLOAD_PART`] in all is written with one plain put.
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
    /// for S3: give pieces of [`UPLOAD_PART`] bytes or more); waits while [`PARALLEL`] are in
    /// flight.
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

/// Reads `path` into `dest` (which has the size the manifest gives); returns the CRC-32C of
/// what was read.
pub async fn download(
    location: &Location,
    path: &Path,
    offset: Option<u64>,
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
    if !holds(head.size, offset, dest.len()) {
        return Err(DownloadError::Short(head.size));
    }
    let base = offset.unwrap_or(0);
    let crcs: Vec<(u32, usize)> = futures::stream::iter(dest.chunks_mut(PART).enumerate())
        .map(|(index, chunk)| async move {
            progress.check().map_err(DownloadError::Other)?;
            let start = base + (index * PART) as u64;
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
    Ok(file_io::combine(crcs))
}

/// Threads moving the bytes of local files at once ([`read_files`], [`write_files`]).
const FILE_THREADS: usize = 4;

/// Local files open at once in [`read_files`] and [`write_files`]: the blobs go in groups of
/// this many, so that an object of many thousand blobs does not run out of file descriptors.
pub const FILES_AT_ONCE: usize = 64;

/// Reads local files (a [`Location`] with `local` set) into their destinations (each the size
/// the manifest gives): every file is opened through the store, then all their pieces are
/// read straight into the destinations (one copy, no buffer between) by up to
/// [`FILE_THREADS`] threads. Returns, for each file in order, the CRC-32C of what was read.
pub async fn read_files(
    location: &Location,
    reads: Vec<BlobRead<'_>>,
    progress: &Progress,
) -> Vec<std::result::Result<u32, DownloadError>> {
    let mut outcomes = Vec::with_capacity(reads.len());
    let mut reads = reads.into_iter().peekable();
    while reads.peek().is_some() {
        let group: Vec<_> = reads.by_ref().take(FILES_AT_ONCE).collect();
        outcomes.extend(read_group(location, group, progress).await);
    }
    outcomes
}

/// [`read_files`] of at most [`FILES_AT_ONCE`] files.
async fn read_group(
    location: &Location,
    reads: Vec<BlobRead<'_>>,
    progress: &Progress,
) -> Vec<std::result::Result<u32, DownloadError>> {
    let mut opened = Vec::with_capacity(reads.len());
    for (path, offset, dest) in reads {
        let file = open_file(location, &path, offset, dest.len()).await;
        opened.push(file.map(|file| (path, offset.unwrap_or(0), file, dest)));
    }
    let paths: Vec<Path> = opened
        .iter()
        .flatten()
        .map(|(path, ..)| path.clone())
        .collect();
    let transfers = opened
        .iter_mut()
        .flatten()
        .map(|(_, start, file, dest)| file_io::Transfer::Read(file, *start, dest))
        .collect();
    let mut read = run_files(
        location,
        "reading",
        transfers,
        &paths,
        progress,
        DownloadError::Other,
    )
    .into_iter();
    opened
        .into_iter()
        .map(|opened| opened.and_then(|_| read.next().expect("one outcome per opened file")))
        .collect()
}

/// Runs local file transfers (`paths` names each, for errors) on [`FILE_THREADS`] threads,
/// telling `progress` and stopping when it is cancelled; errors are made into `E` by `into`.
/// Blocks: from async code through `file_io::run_blocking` (which may nest).
pub(crate) fn run_files<E: Send>(
    location: &Location,
    action: &'static str,
    transfers: Vec<file_io::Transfer<'_>>,
    paths: &[Path],
    progress: &Progress,
    into: fn(Error) -> E,
) -> Vec<std::result::Result<u32, E>> {
    let failed = |index: usize, error: std::io::Error| {
        into(file_error(action, location, &paths[index], &error))
    };
    let before = || progress.check().map_err(into);
    let done = |bytes: u64| progress.add(bytes);
    let hooks = file_io::Hooks {
        before: &before,
        done: &done,
        failed: &failed,
    };
    file_io::run_blocking(|| file_io::run(transfers, FILE_THREADS, &hooks))
}

/// Writes blobs to local files (a [`Location`] with `local` set): each to a staging file
/// beside its path, all their pieces written straight from the blobs' memory by up to
/// [`FILE_THREADS`] threads, then renamed into place; a file that fails is removed. Returns,
/// for each blob in order, the CRC-32C of what was written.
pub async fn write_files(
    location: &Location,
    writes: Vec<(Path, &[u8])>,
    progress: &Progress,
) -> Vec<Result<u32>> {
    let mut outcomes = Vec::with_capacity(writes.len());
    for group in writes.chunks(FILES_AT_ONCE) {
        outcomes.extend(write_group(location, group, progress));
    }
    outcomes
}

/// [`write_files`] of at most [`FILES_AT_ONCE`] files.
fn write_group(
    location: &Location,
    writes: &[(Path, &[u8])],
    progress: &Progress,
) -> Vec<Result<u32>> {
    let staged: Vec<Result<StagedFile>> = writes
        .iter()
        .map(|(path, _)| StagedFile::create(location, path))
        .collect();
    let mut transfers = Vec::new();
    let mut paths = Vec::new();
    for ((path, bytes), staging) in writes.iter().zip(&staged) {
        if let Ok(staged) = staging {
            transfers.push(file_io::Transfer::Write(&staged.file, 0, bytes));
            paths.push(path.clone());
        }
    }
    let mut written = run_files(
        location,
        "writing",
        transfers,
        &paths,
        progress,
        std::convert::identity,
    )
    .into_iter();
    staged
        .into_iter()
        .map(|staged| {
            let staged = staged?;
            let crc = written.next().expect("one outcome per staged file")?;
            staged.place().map(|()| crc)
        })
        .collect()
}

/// A local file written beside its path (`<name>.saving-<pid>`) and renamed into place once
/// whole ([`StagedFile::place`]), so that no reader sees it half written; removed if dropped
/// before.
pub struct StagedFile {
    /// The file being written.
    pub file: std::fs::File,
    staging: std::path::PathBuf,
    dest: std::path::PathBuf,
    url: String,
    path: Path,
    placed: bool,
}

impl StagedFile {
    /// Creates the staging file of `path` (a local [`Location`]'s), and its folders.
    pub fn create(location: &Location, path: &Path) -> Result<StagedFile> {
        let Some(local) = &location.local else {
            unreachable!("staged files are for local directories");
        };
        let dest = local
            .path_to_filesystem(path)
            .map_err(|error| storage("writing", location, path, &error))?;
        let failed = |error: std::io::Error| file_error("writing", location, path, &error);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut name = dest.clone().into_os_string();
        name.push(format!(".saving-{}", std::process::id()));
        let staging = std::path::PathBuf::from(name);
        let file = std::fs::File::create(&staging).map_err(failed)?;
        Ok(StagedFile {
            file,
            staging,
            dest,
            url: location.url.clone(),
            path: path.clone(),
            placed: false,
        })
    }

    /// Renames the file into place.
    pub fn place(mut self) -> Result<()> {
        std::fs::rename(&self.staging, &self.dest).map_err(|error| Error::Storage {
            action: "writing",
            path: self.path.to_string(),
            url: self.url.clone(),
            reason: error.to_string(),
        })?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

fn file_error(
    action: &'static str,
    location: &Location,
    path: &Path,
    error: &std::io::Error,
) -> Error {
    Error::Storage {
        action,
        path: path.to_string(),
        url: location.url.clone(),
        reason: error.to_string(),
    }
}

/// A blob to read: the file, where in it the blob starts (`None`: the file is the blob's own
/// and holds exactly its bytes), and the memory it goes to.
pub type BlobRead<'a> = (Path, Option<u64>, &'a mut [u8]);

/// Whether a file of `file_size` bytes holds a blob of `size` bytes at `offset` (`None`:
/// exactly those bytes).
fn holds(file_size: u64, offset: Option<u64>, size: usize) -> bool {
    match offset {
        None => file_size == size as u64,
        Some(offset) => offset
            .checked_add(size as u64)
            .is_some_and(|end| end <= file_size),
    }
}

/// A local file of the store, opened through it, checked to hold `size` bytes at `offset`.
async fn open_file(
    location: &Location,
    path: &Path,
    offset: Option<u64>,
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
    if !holds(got.meta.size, offset, size) {
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
