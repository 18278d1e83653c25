//! Blobs from Arrow buffers: each buffer is copied once, straight into a new blob.

use arrow::array::{Array, OffsetSizeTrait};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use serde_json::{json, Value};
use vineyard_core::meta::BLOB_TYPENAME;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta, EMPTY_BLOB_ID};
use vineyard_layout::ARROW_ARRAY;

use crate::error::Result;

/// The member tree of a sealed blob, as Vineyard (and the Python package) write it.
pub fn blob_meta(client: &IpcClient, id: ObjectID, size: usize) -> ObjectMeta {
    let mut tree = json!({
        "id": id.to_string(),
        "instance_id": client.instance_id(),
        "length": size,
        "nbytes": size,
        "transient": true,
        "typename": BLOB_TYPENAME,
    });
    if id == EMPTY_BLOB_ID {
        tree["signature"] = Value::from(EMPTY_BLOB_ID.as_u64());
    }
    ObjectMeta::from_json(tree).expect("a JSON object")
}

/// A new blob of `size` bytes filled by `fill` (the empty blob when `size` is 0).
pub(crate) fn put_with(
    client: &IpcClient,
    size: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Result<ObjectMeta> {
    if size == 0 {
        return Ok(blob_meta(client, EMPTY_BLOB_ID, 0));
    }
    let mut writer = client.create_blob(size)?;
    fill(&mut writer);
    let id = writer.seal()?;
    Ok(blob_meta(client, id, size))
}

/// A new blob holding `bytes` (the empty blob for no bytes).
pub fn put_bytes(client: &IpcClient, bytes: &[u8]) -> Result<ObjectMeta> {
    put_with(client, bytes.len(), |blob| {
        vineyard_core::copy_bytes(blob, bytes)
    })
}

/// Bits starting at bit 0 (shifted when the buffer starts mid-byte).
pub(crate) fn put_bits(client: &IpcClient, bits: &BooleanBuffer) -> Result<ObjectMeta> {
    if bits.offset().is_multiple_of(8) {
        let start = bits.offset() / 8;
        let bytes = &bits.inner().as_slice()[start..start + bits.len().div_ceil(8)];
        return put_bytes(client, bytes);
    }
    // A slice starting mid-byte: re-packing is cheap next to the values (1 bit each).
    put_bytes(client, bits.sliced().as_slice())
}

/// The validity bitmap, or the empty blob when the array has no nulls.
pub(crate) fn put_validity(client: &IpcClient, nulls: Option<&NullBuffer>) -> Result<ObjectMeta> {
    match nulls {
        Some(nulls) if nulls.null_count() > 0 => put_bits(client, nulls.inner()),
        _ => put_bytes(client, &[]),
    }
}

/// The range of values a (possibly sliced) offsets buffer spans: `(first, last)`.
pub(crate) fn offset_span<O: OffsetSizeTrait>(offsets: &[O]) -> (usize, usize) {
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => (first.as_usize(), last.as_usize()),
        _ => (0, 0),
    }
}

/// Offsets rebased to start at 0 (a slice's offsets start wherever the slice does).
pub(crate) fn put_offsets<O: OffsetSizeTrait>(
    client: &IpcClient,
    offsets: &[O],
) -> Result<ObjectMeta> {
    let width = std::mem::size_of::<O>();
    let zero = [O::usize_as(0)];
    let offsets = if offsets.is_empty() {
        &zero[..]
    } else {
        offsets
    };
    let first = offsets[0];
    put_with(client, std::mem::size_of_val(offsets), |blob| {
        for (chunk, offset) in blob.chunks_exact_mut(width).zip(offsets) {
            let rebased = (*offset - first)
                .to_usize()
                .expect("offsets never decrease");
            if width == 4 {
                chunk.copy_from_slice(&(rebased as i32).to_le_bytes());
            } else {
                chunk.copy_from_slice(&(rebased as i64).to_le_bytes());
            }
        }
    })
}

/// The plain fields every array tree has: `length_`, `null_count_`, `offset_` (always 0:
/// builders store slices compacted).
pub(crate) fn array_meta(typename: &str, array: &dyn Array) -> ObjectMeta {
    let mut meta = ObjectMeta::with_typename(typename);
    meta.insert(ARROW_ARRAY.length, array.len());
    meta.insert(ARROW_ARRAY.null_count, array.null_count());
    meta.insert(ARROW_ARRAY.offset, 0);
    meta
}

/// Stores `meta` with `nbytes` the sum of its members' (unless set already).
pub(crate) fn create(client: &IpcClient, mut meta: ObjectMeta) -> Result<ObjectMeta> {
    if meta.get("nbytes").is_none() {
        let nbytes: u64 = meta
            .members()
            .filter_map(|(_, tree)| tree.get("nbytes").and_then(Value::as_u64))
            .sum();
        meta.set_nbytes(nbytes);
    }
    Ok(client.create_metadata(&meta)?)
}
