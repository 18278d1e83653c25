//! The bulk store: shared-memory arenas and the allocator that carves them into blobs.

mod allocator;
mod arena;

pub use allocator::{OffsetAllocator, ALIGNMENT};
pub use arena::Arena;
