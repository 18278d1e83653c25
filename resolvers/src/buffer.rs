//! Arrow buffers over blobs: no copy, the mapping kept alive by the buffer itself.

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow::buffer::{Buffer, MutableBuffer};
use vineyard_core::{Blob, ObjectID, ObjectMeta, EMPTY_BLOB_ID};

use crate::error::{typename_of, Error, Result};
use crate::fields;
use crate::source::BlobSource;

/// An Arrow [`Buffer`] over the bytes of `blob`, without copying.
///
/// The buffer owns a clone of the `Blob`, which keeps the mapping and the server-side hold
/// alive until the last Arrow array over it is dropped. The empty blob gives an empty buffer.
pub fn blob_buffer(blob: Blob) -> Buffer {
    let len = blob.size();
    match NonNull::new(blob.as_ptr().cast_mut()) {
        // SAFETY: a sealed blob is immutable and its `len` bytes stay mapped for as long as
        // the `Blob` lives; the buffer owns it (the `Arc` owner), and never writes through the
        // pointer (`Buffer::into_mutable` refuses custom allocations).
        Some(ptr) if len > 0 => unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(blob)) },
        // An empty `Vec<u8>` has a 1-aligned dangling pointer, which Arrow rejects as a
        // misaligned buffer of wider values; an empty `MutableBuffer` is aligned.
        _ => Buffer::from(MutableBuffer::new(0)),
    }
}

/// The blob members `names` of `meta`, mapped in one request (absent ones are `None`).
pub(crate) fn member_blobs(
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    names: &[&str],
) -> Result<Vec<Option<Blob>>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        ids.push(match meta.member_ref(name) {
            Some(member) => Some(
                member
                    .id()
                    .ok_or_else(|| Error::invalid_field(meta, name, "is a member without an id"))?,
            ),
            None => None,
        });
    }
    // The empty blob needs no request (and no hold); a blob shared by two members is asked
    // for once, so that one hold backs both.
    let mut wanted: Vec<ObjectID> = ids
        .iter()
        .flatten()
        .copied()
        .filter(|id| *id != EMPTY_BLOB_ID)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let fetched: HashMap<ObjectID, Blob> = if wanted.is_empty() {
        HashMap::new()
    } else {
        source
            .blobs(&wanted)?
            .into_iter()
            .map(|blob| (blob.id(), blob))
            .collect()
    };
    let mut blobs = Vec::with_capacity(names.len());
    for id in ids {
        blobs.push(match id {
            None => None,
            Some(EMPTY_BLOB_ID) => Some(Blob::empty()),
            Some(id) => Some(
                fetched
                    .get(&id)
                    .cloned()
                    .ok_or(vineyard_core::Error::ObjectNotExists { id })?,
            ),
        });
    }
    Ok(blobs)
}

/// The blob members `names` of `meta`, all required.
pub(crate) fn required_blobs(
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    names: &[&str],
) -> Result<Vec<Blob>> {
    member_blobs(source, meta, names)?
        .into_iter()
        .zip(names)
        .map(|(blob, name)| {
            blob.ok_or_else(|| Error::MissingMember {
                typename: typename_of(meta).into(),
                id: meta.id(),
                member: (*name).into(),
            })
        })
        .collect()
}

/// A validity bitmap: `None` when absent or empty (no nulls).
pub(crate) fn bitmap(source: &dyn BlobSource, blob: Option<Blob>) -> Option<Buffer> {
    blob.filter(|blob| blob.size() > 0)
        .map(|blob| source.buffer(blob))
}

/// The blob member `name` as a buffer (required).
pub(crate) fn member_buffer(
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    name: &str,
) -> Result<Buffer> {
    fields::member(meta, name)?;
    let blob = required_blobs(source, meta, &[name])?.remove(0);
    Ok(source.buffer(blob))
}
