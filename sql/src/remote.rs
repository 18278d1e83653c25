//! Parts of global tables held by other instances: [`RemoteReader`] streams one from its
//! owner. The Flight service (`vineyard-flight-server`, feature `sql`) gives the one it uses,
//! a Flight `do_get` of the part by id with the instance's token.

use arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use vineyard_core::ObjectID;

use crate::error::Result;

/// The batches of one part, as they arrive.
pub type RemoteBatches = BoxStream<'static, Result<RecordBatch>>;

/// Reads objects held by other instances of the cluster.
#[async_trait::async_trait]
pub trait RemoteReader: Send + Sync + std::fmt::Debug {
    /// Streams the record batches of object `id` (a `vineyard::RecordBatch`) from the
    /// instance whose Flight endpoint is `endpoint`.
    async fn read(&self, endpoint: &str, id: ObjectID) -> Result<RemoteBatches>;
}
