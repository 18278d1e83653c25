//! Spilling: with `--spill_path DIR`, a create that does not fit, or memory use above
//! `--spill_upper_rate`, writes sealed blobs nobody holds to DIR (least recently used first)
//! until use is under `--spill_lower_rate` and the create fits; a request for a spilled blob
//! reads it back first. The table decides what may move and keeps readers safe (see
//! `table::spill`); this module does the I/O, never under the table's lock: blobs are written
//! from the arena to their files and read back into it by `file_io` (several threads, one
//! copy, the CRC-32C taken on the way), the files named, opened and removed through
//! object_store's local file system.
//!
//! Each instance spills into a directory of its own inside DIR, removed when it stops, and
//! holds a lock on the directory's `.owner` file while it runs: an instance that starts removes
//! the directories of instances that stopped without cleaning up (killed, crashed), whose
//! locks the kernel let go. A blob's file is removed when the blob is deleted or read back,
//! and is read back only if its CRC-32C is the one computed when it was written.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetResultPayload, ObjectStore, ObjectStoreExt};
use tokio::sync::{mpsc, Mutex, Notify};

use super::Shared;
use crate::error::{Error, Result};
use crate::file_io::{self, Transfer};
use crate::id::{InstanceID, ObjectID};
use crate::store::Arena;
use crate::table::{ObjectTable, ReloadStart, SpillCandidate};

/// Spill files open for writing at once (their pieces go on `file_io`'s threads).
const FILES_AT_ONCE: usize = 64;

/// Rounds one `make_room` runs at most (each spills what the table offers; blobs a reader
/// took meanwhile stay, so a round can free less than planned).
const MAX_ROUNDS: usize = 64;

/// How long a request waits for another's reload of the same blob before looking again.
const BUSY_WAIT: Duration = Duration::from_millis(20);

/// How the directories of instances start, inside `--spill_path`.
const DIR_PREFIX: &str = "vineyard-spill-";

/// The file an instance holds locked (`flock`) in its directory while it runs.
const OWNER_FILE: &str = ".owner";

/// The spill directory of one instance and the rates that drive it.
pub struct Spiller {
    dir: PathBuf,
    store: Arc<LocalFileSystem>,
    lower_rate: f64,
    upper_rate: f64,
    /// One spill round at a time: the others wait and then find the room made.
    round: Mutex<()>,
    /// Woken when a spill or reload ends (requests waiting for a busy blob look again).
    settled: Notify,
    /// The CRC-32C of each spilled blob's file, taken from the memory it was written from.
    checksums: Arc<std::sync::Mutex<HashMap<ObjectID, u32>>>,
    /// `OWNER_FILE`, locked until this instance's process ends (the kernel lets go of the lock
    /// even if it is killed).
    _owner: File,
}

fn file_name(id: ObjectID) -> StorePath {
    StorePath::from(id.to_string())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

impl Spiller {
    /// Creates the instance's spill directory inside `spill_path`; removal requests of spill
    /// files are read from the table's channel by a task of its own.
    pub(super) fn open(
        spill_path: &Path,
        instance_id: InstanceID,
        lower_rate: f64,
        upper_rate: f64,
        table: &mut ObjectTable,
    ) -> Result<Arc<Spiller>> {
        if lower_rate > upper_rate {
            return Err(Error::invalid(format!(
                "--spill_lower_rate {lower_rate} is above --spill_upper_rate {upper_rate}; \
                 spilling stops at the lower rate, so it must be the smaller one"
            )));
        }
        let dir = spill_path.join(format!("{DIR_PREFIX}{instance_id}-{}", std::process::id()));
        let unusable = |error: &dyn std::fmt::Display| {
            Error::invalid(format!(
                "cannot use --spill_path {}: {error}; give a writable directory",
                spill_path.display()
            ))
        };
        for abandoned in remove_abandoned(spill_path) {
            tracing::info!(
                dir = %abandoned.display(),
                "removed the spill directory of an instance that stopped without cleaning up"
            );
        }
        std::fs::create_dir_all(&dir).map_err(|error| unusable(&error))?;
        let owner = claim(&dir).map_err(|error| unusable(&error))?;
        let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(|e| unusable(&e))?);
        let (removals, mut removed) = mpsc::unbounded_channel::<ObjectID>();
        table.set_spill_removals(removals);
        let remover = Arc::clone(&store);
        let checksums: Arc<std::sync::Mutex<HashMap<ObjectID, u32>>> = Arc::default();
        let forgotten = Arc::clone(&checksums);
        tokio::spawn(async move {
            while let Some(id) = removed.recv().await {
                forgotten
                    .lock()
                    .expect("no panic holds the lock")
                    .remove(&id);
                match remover.delete(&file_name(id)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(error) => tracing::warn!(%id, %error, "cannot remove a spill file"),
                }
            }
        });
        tracing::info!(dir = %dir.display(), lower_rate, upper_rate, "spilling cold blobs");
        Ok(Arc::new(Spiller {
            dir,
            store,
            lower_rate,
            upper_rate,
            round: Mutex::new(()),
            settled: Notify::new(),
            checksums,
            _owner: owner,
        }))
    }

    /// The instance's own spill directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the spill directory (at stop).
    pub(super) fn remove_all(&self) {
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot remove the spill directory");
            }
        }
    }

    /// Spills until a blob of `needed` bytes fits and, if memory use is above the upper rate,
    /// until it is under the lower rate. Fails with `SpillFailed` (saying why) when that
    /// cannot be done.
    pub(super) async fn make_room(&self, shared: &Shared, needed: u64) -> Result<()> {
        let _round = self.round.lock().await;
        let mut failure: Option<String> = None;
        let mut spilled_down = false;
        for _ in 0..MAX_ROUNDS {
            let candidates = {
                let mut table = shared.table();
                let capacity = table.memory_limit();
                if needed > capacity {
                    return Err(Error::NotEnoughMemory {
                        requested: needed,
                        available: table.largest_free_range(),
                    });
                }
                let used = table.memory_usage();
                let fits = table.largest_free_range() >= needed;
                let over = used > (self.upper_rate * capacity as f64) as u64;
                if fits && (!over || spilled_down) {
                    return Ok(());
                }
                let available = table.largest_free_range();
                if let Some(reason) = failure {
                    return if fits {
                        Ok(())
                    } else {
                        Err(spill_failed(needed, available, reason))
                    };
                }
                let lower = (self.lower_rate * capacity as f64) as u64;
                let want = used.saturating_sub(lower).max(needed);
                let candidates = table.choose_spill(want, None);
                if candidates.is_empty() {
                    return if fits {
                        Ok(())
                    } else {
                        Err(spill_failed(
                            needed,
                            available,
                            "every blob in memory is held by a client, pinned, or not sealed \
                             yet; release or delete objects"
                                .into(),
                        ))
                    };
                }
                candidates
            };
            spilled_down = true;
            failure = self.spill(shared, candidates).await;
        }
        let table = shared.table();
        if table.largest_free_range() >= needed {
            Ok(())
        } else {
            Err(spill_failed(
                needed,
                table.largest_free_range(),
                "blobs kept being read while they were spilled".into(),
            ))
        }
    }

    /// Spills the blobs of `ids` (objects or blobs) that nobody holds and that are not
    /// pinned (Vineyard's `evict`).
    pub(super) async fn evict(&self, shared: &Shared, ids: &[ObjectID]) -> Result<()> {
        let _round = self.round.lock().await;
        let candidates = {
            let mut table = shared.table();
            let blobs = table.blobs_of(ids);
            table.choose_spill(0, Some(&blobs))
        };
        match self.spill(shared, candidates).await {
            None => Ok(()),
            Some(reason) => Err(Error::Io(std::io::Error::other(format!(
                "cannot spill to {}: {reason}",
                self.dir.display()
            )))),
        }
    }

    /// Writes the candidates out and ends their spills; the first write error, if any.
    async fn spill(&self, shared: &Shared, candidates: Vec<SpillCandidate>) -> Option<String> {
        let started = Instant::now();
        let arena = Arc::clone(shared.table().arena());
        let mut written = Vec::with_capacity(candidates.len());
        for group in candidates.chunks(FILES_AT_ONCE) {
            written.extend(file_io::run_blocking(|| self.write_out(&arena, group)));
        }
        let results: Vec<(SpillCandidate, std::result::Result<u32, String>)> =
            candidates.into_iter().zip(written).collect();
        let mut failure = None;
        let (mut count, mut bytes) = (0u64, 0u64);
        let mut unneeded = Vec::new();
        let status = {
            let mut table = shared.table();
            let mut checksums = self.checksums.lock().expect("no panic holds the lock");
            for (candidate, written) in &results {
                if let Err(error) = written {
                    failure.get_or_insert_with(|| error.clone());
                }
                if table.finish_spill(candidate.id, written.is_ok()) {
                    count += 1;
                    bytes += candidate.size;
                    if let Ok(sum) = written {
                        // Before the table's lock goes: no reload can start without it.
                        checksums.insert(candidate.id, *sum);
                    }
                } else {
                    // Written in vain (a reader took the blob meanwhile), or a partial file of
                    // a failed write: it must not stay, nor fill the disk.
                    unneeded.push(candidate.id);
                }
            }
            (table.spill_status(), table.memory_usage())
        };
        // Removed here, not by the table's removal channel: this round's lock keeps the blob
        // from being spilled again (to the same file) before the removal is done.
        for id in unneeded {
            let _ = self.store.delete(&file_name(id)).await;
        }
        self.settled.notify_waiters();
        if count > 0 {
            tracing::info!(
                blobs = count,
                mib = format_args!("{:.1}", mib(bytes)),
                elapsed_ms = started.elapsed().as_millis() as u64,
                spilled_mib = format_args!("{:.1}", mib(status.0.spilled_bytes)),
                in_memory_mib = format_args!("{:.1}", mib(status.1)),
                dir = %self.dir.display(),
                "spilled cold blobs"
            );
        }
        if let Some(reason) = &failure {
            tracing::warn!(dir = %self.dir.display(), %reason, "spilling failed");
        }
        failure
    }

    /// Writes each candidate's bytes from the arena into a file of its own in the spill
    /// directory, pieces of all of them on several threads, each piece's CRC-32C taken as it
    /// goes; per candidate, the file's CRC-32C or why it could not be written.
    fn write_out(
        &self,
        arena: &Arena,
        candidates: &[SpillCandidate],
    ) -> Vec<std::result::Result<u32, String>> {
        let created: Vec<std::result::Result<(PathBuf, File), String>> = candidates
            .iter()
            .map(|candidate| {
                let path = self
                    .store
                    .path_to_filesystem(&file_name(candidate.id))
                    .map_err(|error| describe(&error))?;
                match File::create(&path) {
                    Ok(file) => Ok((path, file)),
                    Err(error) => Err(format!("cannot create {}: {error}", path.display())),
                }
            })
            .collect();
        let mut transfers = Vec::new();
        let mut paths = Vec::new();
        for (candidate, created) in candidates.iter().zip(&created) {
            if let Ok((path, file)) = created {
                // SAFETY: the blob is sealed (immutable) and held by the spiller (the table
                // parks its memory instead of freeing it) until `finish_spill`, after the
                // writes end.
                let bytes = unsafe { arena.bytes(candidate.offset, candidate.size) };
                transfers.push(Transfer::Write(file, 0, bytes));
                paths.push(path);
            }
        }
        let failed = |index: usize, error: std::io::Error| {
            format!("cannot write {}: {error}", paths[index].display())
        };
        let hooks = file_io::Hooks {
            before: &|| Ok(()),
            done: &|_| {},
            failed: &failed,
        };
        let mut written = file_io::run(transfers, file_io::MAX_THREADS, &hooks).into_iter();
        created
            .into_iter()
            .map(|created| {
                created?;
                written.next().expect("one outcome per file created")
            })
            .collect()
    }

    /// Makes sure the blobs `ids` are in memory, reading spilled ones back (and making room
    /// for them). Returns the blobs it read back, which the caller holds and lets go of with
    /// `drop_holder` once its own hold is taken.
    pub(super) async fn bring_back(
        &self,
        shared: &Shared,
        ids: &[ObjectID],
    ) -> Result<Vec<ObjectID>> {
        let mut held = Vec::new();
        loop {
            let pending = shared.table().not_in_memory(ids);
            if pending.is_empty() {
                return Ok(held);
            }
            for id in pending {
                match self.reload(shared, id).await {
                    Ok(true) => held.push(id),
                    Ok(false) => {}
                    Err(error) => {
                        let mut table = shared.table();
                        for id in held {
                            table.drop_holder(id);
                        }
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Reads one spilled blob back; true if this call did (and so holds it), false if it was
    /// in memory already or another request is moving it (wait, then look again).
    async fn reload(&self, shared: &Shared, id: ObjectID) -> Result<bool> {
        let (offset, size) = loop {
            let started = shared.table().start_reload(id);
            match started {
                Ok(ReloadStart::Read { offset, size }) => break (offset, size),
                Ok(ReloadStart::Resident) => return Ok(false),
                Ok(ReloadStart::Busy) => {
                    let _ = tokio::time::timeout(BUSY_WAIT, self.settled.notified()).await;
                    return Ok(false);
                }
                Err(Error::NotEnoughMemory { requested, .. }) => {
                    self.make_room(shared, requested).await?
                }
                Err(error) => return Err(error),
            }
        };
        let arena = Arc::clone(shared.table().arena());
        // SAFETY: the range is this reload's alone until `finish_reload` publishes it, after
        // the slice's last use.
        let dest = unsafe { arena.bytes_mut(offset, size) };
        let read = self.read_into(id, dest).await;
        shared.table().finish_reload(id, read.is_ok());
        self.settled.notify_waiters();
        match read {
            Ok(_) => {
                // Removed here, not by the table's removal channel: the blob is held until
                // this returns, so it cannot be spilled again (to the same file) meanwhile.
                self.forget(id);
                let _ = self.store.delete(&file_name(id)).await;
                Ok(true)
            }
            Err(reason) => {
                tracing::warn!(%id, %reason, "a spilled blob cannot be read back");
                Err(Error::SpilledBlobLost {
                    id,
                    path: self.dir.join(id.to_string()),
                    reason,
                })
            }
        }
    }

    /// Reads a spilled blob's file (opened through the store) straight into `dest`, the
    /// blob's new range, on several threads; checks its size and CRC-32C.
    async fn read_into(&self, id: ObjectID, dest: &mut [u8]) -> std::result::Result<(), String> {
        let got = self
            .store
            .get_opts(&file_name(id), GetOptions::default())
            .await
            .map_err(|error| describe(&error))?;
        if got.meta.size != dest.len() as u64 {
            return Err(format!(
                "the file holds {} bytes, the blob {}",
                got.meta.size,
                dest.len()
            ));
        }
        let GetResultPayload::File(file, _) = got.payload else {
            return Err("the spill store gave a stream, not a local file".into());
        };
        let hooks = file_io::Hooks {
            before: &|| Ok(()),
            done: &|_| {},
            failed: &|_, error: std::io::Error| error.to_string(),
        };
        let found = file_io::run_blocking(|| {
            file_io::run(
                vec![Transfer::Read(&file, 0, dest)],
                file_io::MAX_THREADS,
                &hooks,
            )
        })
        .pop()
        .expect("one transfer, one outcome")?;
        let expected = self
            .checksums
            .lock()
            .expect("no panic holds the lock")
            .get(&id)
            .copied();
        match expected {
            Some(expected) if found != expected => Err(format!(
                "its CRC-32C is {found:08x}, {expected:08x} when it was written: the file \
                 was changed after the spill"
            )),
            _ => Ok(()),
        }
    }

    /// Forgets the checksum of a blob whose spill file goes.
    fn forget(&self, id: ObjectID) {
        self.checksums
            .lock()
            .expect("no panic holds the lock")
            .remove(&id);
    }
}

/// `flock(2)` without blocking.
fn try_lock(file: &File) -> std::io::Result<()> {
    // SAFETY: `flock` only reads the descriptor, which `file` owns and keeps open for the call.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Locks `dir/OWNER_FILE` for this process. The file gets its name only once locked, so an
/// instance that finds the name can take its lock only after this process is gone.
fn claim(dir: &Path) -> std::io::Result<File> {
    let staged = dir.join(format!("{OWNER_FILE}.{}", std::process::id()));
    let file = File::create(&staged)?;
    try_lock(&file)?;
    std::fs::rename(&staged, dir.join(OWNER_FILE))?;
    Ok(file)
}

/// Removes the spill directories in `spill_path` whose instance stopped without removing
/// them (their owner file is there and nobody holds its lock); returns those removed.
/// Directories without an owner file (being set up, or not ours) are left alone.
fn remove_abandoned(spill_path: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(spill_path) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if !is_dir || !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(owner) = File::open(dir.join(OWNER_FILE)) else {
            continue;
        };
        if try_lock(&owner).is_err() {
            continue; // Its instance runs.
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => removed.push(dir),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot remove an abandoned spill directory")
            }
        }
    }
    removed
}

fn spill_failed(requested: u64, available: u64, reason: String) -> Error {
    Error::SpillFailed {
        requested,
        available,
        reason,
    }
}

/// An object_store error in a few words (its source, e.g. "No space left on device", last).
fn describe(error: &object_store::Error) -> String {
    match error {
        object_store::Error::NotFound { .. } => "the file is missing".into(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text = format!("{text}: {cause_text}");
                }
                source = cause.source();
            }
            text
        }
    }
}
