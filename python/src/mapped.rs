//! Which blobs a client has handed to Python, by the address they are mapped at.
//!
//! Values that `get` returns (numpy arrays, pyarrow buffers, memoryviews) are views over
//! mapped blobs. When such a value is put again, its bytes are in vineyard already: `put` asks
//! the client which of its blobs starts at the value's address with the value's size, and
//! adds that blob as a member instead of copying it. Numpy arrays and memoryviews also lead
//! back to their `Blob` through `.base` / `.obj`; pyarrow buffers do not, hence this table.
//!
//! Every `Blob` the client hands out is listed while it lives (its `Listing` unlists it when
//! it drops); a view keeps its `Blob` alive, so a blob is listed for as long as any view of
//! it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use vineyard_core::ObjectID;

/// The blobs of one client that are alive in Python, by start address.
#[derive(Default)]
pub struct MappedBlobs {
    /// Start address -> (blob id, size) of each live `Blob` there (one per handle: the same
    /// blob read twice is listed twice).
    by_address: Mutex<HashMap<usize, Vec<(ObjectID, usize)>>>,
}

impl MappedBlobs {
    fn table(&self) -> MutexGuard<'_, HashMap<usize, Vec<(ObjectID, usize)>>> {
        self.by_address
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Lists blob `id` of `size` bytes at `address` until the returned `Listing` drops;
    /// `None` for empty blobs, which have no address.
    pub fn list(self: &Arc<Self>, id: ObjectID, address: usize, size: usize) -> Option<Listing> {
        if size == 0 {
            return None;
        }
        self.table().entry(address).or_default().push((id, size));
        Some(Listing {
            table: Arc::clone(self),
            id,
            address,
            size,
        })
    }

    /// The live blob that starts at `address` and is `size` bytes long (any size if `None`).
    pub fn find(&self, address: usize, size: Option<usize>) -> Option<ObjectID> {
        let table = self.table();
        table
            .get(&address)?
            .iter()
            .find(|(_, listed)| size.is_none_or(|size| size == *listed))
            .map(|(id, _)| *id)
    }

    fn unlist(&self, id: ObjectID, address: usize, size: usize) {
        let mut table = self.table();
        let Some(listed) = table.get_mut(&address) else {
            return;
        };
        if let Some(index) = listed.iter().position(|entry| *entry == (id, size)) {
            listed.swap_remove(index);
        }
        if listed.is_empty() {
            table.remove(&address);
        }
    }
}

/// One `Blob`'s entry in its client's `MappedBlobs`; removes it when dropped.
pub struct Listing {
    table: Arc<MappedBlobs>,
    id: ObjectID,
    address: usize,
    size: usize,
}

impl Drop for Listing {
    fn drop(&mut self) {
        self.table.unlist(self.id, self.address, self.size);
    }
}
