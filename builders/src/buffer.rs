//! Blobs from Arrow buffers: each buffer is copied once, straight into a new blob, when the
//! put is written (see [`Put`]).

use arrow::array::{Array, OffsetSizeTrait};
use arrow::buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer, OffsetBuffer};
use serde_json::{json, Value};
use vineyard_core::meta::BLOB_TYPENAME;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta, EMPTY_BLOB_ID};
use vineyard_layout::ARROW_ARRAY;

use crate::error::Result;
use crate::put::Put;

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

/// A blob holding `bytes` (the empty blob for no bytes), written with the put.
pub fn put_bytes(put: &Put, bytes: Buffer) -> Result<ObjectMeta> {
    put.bytes(bytes)
}

/// Bits starting at bit 0 (shifted when the buffer starts mid-byte).
pub(crate) fn put_bits(put: &Put, bits: &BooleanBuffer) -> Result<ObjectMeta> {
    if bits.offset().is_multiple_of(8) {
        let start = bits.offset() / 8;
        return put_bytes(
            put,
            bits.inner()
                .slice_with_length(start, bits.len().div_ceil(8)),
        );
    }
    // A slice starting mid-byte: re-packing is cheap next to the values (1 bit each).
    put_bytes(put, bits.sliced())
}

/// The validity bitmap, or the empty blob when the array has no nulls.
pub(crate) fn put_validity(put: &Put, nulls: Option<&NullBuffer>) -> Result<ObjectMeta> {
    match nulls {
        Some(nulls) if nulls.null_count() > 0 => put_bits(put, nulls.inner()),
        _ => put_bytes(put, Buffer::from(MutableBuffer::new(0))),
    }
}

/// The range of values a (possibly sliced) offsets buffer spans: `(first, last)`.
pub(crate) fn offset_span<O: OffsetSizeTrait>(offsets: &[O]) -> (usize, usize) {
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => (first.as_usize(), last.as_usize()),
        _ => (0, 0),
    }
}

/// Offsets rebased to start at 0 (a slice's offsets start wherever the slice does); offsets
/// that start at 0 already are stored as they are.
pub(crate) fn put_offsets<O: OffsetSizeTrait>(
    put: &Put,
    offsets: &OffsetBuffer<O>,
) -> Result<ObjectMeta> {
    if offsets.is_empty() {
        return put_bytes(put, Buffer::from_vec(vec![O::usize_as(0)]));
    }
    let first = offsets[0];
    if first.as_usize() == 0 {
        return put_bytes(put, offsets.inner().inner().clone());
    }
    let rebased: Vec<O> = offsets.iter().map(|offset| *offset - first).collect();
    put_bytes(put, Buffer::from_vec(rebased))
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

/// `meta` with `nbytes` the sum of its members' (unless set already), to be created when the
/// put is written.
pub(crate) fn create(meta: ObjectMeta) -> Result<ObjectMeta> {
    let mut meta = meta;
    if meta.get("nbytes").is_none() {
        let nbytes: u64 = meta
            .members()
            .filter_map(|(_, tree)| tree.get("nbytes").and_then(Value::as_u64))
            .sum();
        meta.set_nbytes(nbytes);
    }
    Ok(meta)
}
