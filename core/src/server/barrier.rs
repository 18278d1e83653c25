//! When the memory of a deleted, indexed blob may be reused.
//!
//! A client that found an object in the metadata index sends a hold on its blobs without
//! waiting, then checks that the object is still indexed (see [`crate::meta_index`]). If it
//! is, the hold was in the client's socket (or read already) when the object left the index.
//! So the blobs of a withdrawn object stay pinned until every other connection has handled
//! what it had sent by then: a [`Barrier`]. Holds that arrive meanwhile keep the memory
//! for as long as they last; without any, it is freed when the barrier passes.
//!
//! The connection that deleted the object is not waited for: its client waited for the
//! delete, so nothing it sent later can be a hold taken before.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::progress::{Progress, ProgressBoard};
use super::Shared;
use crate::error::{Error, Result};
use crate::id::ObjectID;
use crate::table::{ConnectionId, ObjectTable};

/// How often pending barriers are looked at again.
const BARRIER_RECHECK: Duration = Duration::from_millis(1);

/// Longest an allocation waits for barriers to free memory before it fails.
const MEMORY_WAIT_LIMIT: Duration = Duration::from_secs(2);

/// Pinned blobs and the connections whose progress they wait for.
pub struct Barrier {
    blobs: Vec<ObjectID>,
    /// Each connection with the stream position it must get past.
    waiting_on: Vec<(Arc<Progress>, u64)>,
}

impl ProgressBoard {
    /// A barrier for `blobs` over every connection but `me` (those already past are left out).
    fn barrier(&self, me: ConnectionId, blobs: Vec<ObjectID>) -> Barrier {
        let connections = self.lock();
        let waiting_on = connections
            .iter()
            .filter(|(&connection, _)| connection != me)
            .filter_map(|(_, progress)| {
                let target = progress.sent_so_far();
                (!progress.is_past(target)).then(|| (Arc::clone(progress), target))
            })
            .collect();
        Barrier { blobs, waiting_on }
    }

    /// Drops the connections that got past; true when none is left.
    fn is_passed(&self, barrier: &mut Barrier) -> bool {
        // Under the lock: no socket closes (and has its number reused) meanwhile.
        let _connections = self.lock();
        barrier
            .waiting_on
            .retain(|(progress, target)| !progress.is_past(*target));
        barrier.waiting_on.is_empty()
    }
}

impl Shared {
    /// Run after each request of connection `me`: blobs its request withdrew from the index
    /// wait behind a barrier (freed at once if no other connection is busy).
    pub(super) fn after_request(self: &Arc<Self>, me: ConnectionId) {
        let pinned = self.table().take_awaiting_readers();
        if pinned.is_empty() {
            return;
        }
        let barrier = self.progress.barrier(me, pinned);
        if barrier.waiting_on.is_empty() {
            self.table().readers_done(&barrier.blobs);
            return;
        }
        self.barriers().push(barrier);
        self.watch_barriers();
    }

    fn barriers(&self) -> std::sync::MutexGuard<'_, Vec<Barrier>> {
        self.barriers
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Frees the blobs of barriers that passed; true if some are still pending.
    fn check_barriers(&self) -> bool {
        let mut passed = Vec::new();
        let pending = {
            let mut barriers = self.barriers();
            barriers.retain_mut(|barrier| {
                let done = self.progress.is_passed(barrier);
                if done {
                    passed.append(&mut barrier.blobs);
                }
                !done
            });
            !barriers.is_empty()
        };
        if !passed.is_empty() {
            self.table().readers_done(&passed);
        }
        pending
    }

    /// Looks at pending barriers every millisecond until none is left (one task at a time).
    fn watch_barriers(self: &Arc<Self>) {
        if self.watching_barriers.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BARRIER_RECHECK).await;
                if shared.check_barriers() {
                    continue;
                }
                shared.watching_barriers.store(false, Ordering::SeqCst);
                // A barrier added just before the flag dropped found it still set.
                if shared.barriers().is_empty()
                    || shared.watching_barriers.swap(true, Ordering::SeqCst)
                {
                    return;
                }
            }
        });
    }

    /// Runs an allocation; when it fails for lack of memory while barriers hold deleted
    /// blobs, waits for them (up to a limit) and tries again.
    pub(super) async fn allocating<T>(
        &self,
        mut allocate: impl FnMut(&mut ObjectTable) -> Result<T>,
    ) -> Result<T> {
        let started = tokio::time::Instant::now();
        loop {
            let result = allocate(&mut self.table());
            match result {
                Err(Error::NotEnoughMemory { .. })
                    if started.elapsed() < MEMORY_WAIT_LIMIT && !self.barriers().is_empty() =>
                {
                    tokio::time::sleep(BARRIER_RECHECK).await;
                }
                other => return other,
            }
        }
    }
}
