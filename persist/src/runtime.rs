//! The tokio runtime the blocking API runs on (one per process, made on first use).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// Runs `future` to completion on the crate's runtime, from a thread that is not one of a
/// runtime's (the blocking API's contract).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vineyard-persist")
            .enable_all()
            .build()
            .expect("a tokio runtime for vineyard-persist")
    });
    runtime.block_on(future)
}
