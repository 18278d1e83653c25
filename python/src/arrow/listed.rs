//! The blob source of a `get`: the blobs the fetch mapped, whose Arrow buffers also list them
//! in the client's `MappedBlobs` for as long as the buffers live, so that putting an Arrow
//! value from `get` again reuses its blobs instead of copying them.

use std::ptr::NonNull;
use std::sync::Arc;

use arrow::buffer::Buffer;
use vineyard_core::{Blob, ObjectID, Result};
use vineyard_resolvers::{blob_buffer, BlobSource, FetchedBlobs};

use crate::mapped::{Listing, MappedBlobs};

/// A blob and its listing: the owner of an Arrow buffer over it.
struct ListedBlob {
    _blob: Blob,
    _listing: Option<Listing>,
}

/// Fetched blobs whose buffers are listed in `mapped`.
pub struct ListedBlobs {
    /// The blobs the fetch mapped.
    pub fetched: FetchedBlobs,
    /// The client's table of blobs alive in Python.
    pub mapped: Arc<MappedBlobs>,
}

impl BlobSource for ListedBlobs {
    fn blobs(&self, ids: &[ObjectID]) -> Result<Vec<Blob>> {
        self.fetched.blobs(ids)
    }

    fn buffer(&self, blob: Blob) -> Buffer {
        let (address, size) = (blob.as_ptr(), blob.size());
        let Some(start) = NonNull::new(address.cast_mut()).filter(|_| size > 0) else {
            return blob_buffer(blob);
        };
        let listing = self.mapped.list(blob.id(), address as usize, size);
        let owner = Arc::new(ListedBlob {
            _blob: blob,
            _listing: listing,
        });
        // SAFETY: a sealed blob is immutable and its `size` bytes at `start` stay mapped for as
        // long as the `Blob` lives; the buffer owns it (inside `owner`) and never writes
        // through the pointer (`Buffer::into_mutable` refuses custom allocations).
        unsafe { Buffer::from_custom_allocation(start, size, owner) }
    }
}
