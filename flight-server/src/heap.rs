//! Giving freed heap back to the system after calls that went through a lot of it.
//!
//! A put of many columns allocates and frees many small pieces of metadata on several threads
//! (this service's and the IPC server's, which share the process); glibc keeps what was freed
//! in its per-thread arenas, so without a trim the process stays as large as at its peak
//! long after the objects were deleted.

/// Objects a put stored (or a delete removed) from which the heap is trimmed after it.
pub(crate) const TRIM_AFTER_OBJECTS: usize = 1024;

/// Returns the heap's free pages to the system, if `objects` made it worth it.
pub(crate) fn trim_after(objects: usize) {
    if objects < TRIM_AFTER_OBJECTS {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::time::Instant::now();
        // SAFETY: malloc_trim only releases free memory; it is safe to call from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
        tracing::debug!(objects, elapsed = ?started.elapsed(), "trimmed the heap");
    }
}
