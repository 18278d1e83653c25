//! `StoredTable`: a stored object as a DataFusion table, scanned by `StoredScan` with the
//! projection and limit pushed down and its exact row count known from the metadata.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::Statistics;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use vineyard_core::ObjectID;

use crate::error::Error;
use crate::instance::{endpoints, Instance};
use crate::scan::{ScanRequest, StoredScan};
use crate::stored::{Contents, StoredObject};

/// A stored object opened as a table: a `vineyard::Table`, a record batch, a dataframe, an
/// array or a tensor. Scans read its batches from the shared memory (and parts held by other
/// instances from them).
#[derive(Debug)]
pub struct StoredTable {
    instance: Instance,
    object: StoredObject,
}

impl StoredTable {
    pub(crate) fn new(instance: Instance, object: StoredObject) -> StoredTable {
        StoredTable { instance, object }
    }

    /// The object's id.
    pub fn id(&self) -> ObjectID {
        self.object.id
    }

    /// Rows in all.
    pub fn rows(&self) -> usize {
        self.object.rows()
    }

    fn has_remote_parts(&self) -> bool {
        let local = self.instance.id();
        matches!(&self.object.contents, Contents::Parts(parts)
            if parts.iter().any(|part| part.instance != local))
    }
}

#[async_trait]
impl TableProvider for StoredTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.object.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projection = projection
            .cloned()
            .unwrap_or_else(|| (0..self.object.schema.fields().len()).collect());
        let endpoints = if self.has_remote_parts() {
            self.instance.run(endpoints).await?
        } else {
            HashMap::new()
        };
        let config = state.config();
        let scan = StoredScan::new(
            self.instance.clone(),
            &self.object,
            ScanRequest {
                projection,
                limit,
                target_partitions: config.target_partitions(),
                batch_size: config.batch_size(),
                endpoints: &|instance| endpoints.get(&instance).cloned(),
            },
        )?;
        Ok(Arc::new(scan))
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(
            Statistics::new_unknown(&self.object.schema)
                .with_num_rows(Precision::Exact(self.object.rows())),
        )
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        _input: Arc<dyn ExecutionPlan>,
        _insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(Error::unsupported(format!(
            "{} cannot change: stored objects are immutable; store the rows you want as a new \
             table with CREATE TABLE name AS SELECT ...",
            self.object.label
        ))
        .into())
    }
}
