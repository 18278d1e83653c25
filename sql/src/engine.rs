//! `SqlEngine`: a DataFusion session over one instance, its statements checked and planned
//! into [`Statement`]s, run as streams that count while they live.
//!
//! The engine's catalog, [`CATALOG`], is the default one, so tables are named as stored
//! (`SELECT * FROM sales`). What a statement may do is checked before it runs: queries,
//! `EXPLAIN`, `SHOW`/`DESCRIBE`, `CREATE TABLE name AS SELECT ...` (stored as a named
//! `vineyard::Table`) and `DROP TABLE name`; nothing that writes files (`COPY`, external
//! tables), changes the shared session (`SET`), or pretends to change immutable objects
//! (`INSERT`, `UPDATE`, `DELETE`). Memory that queries hold (hash tables, sorts) comes from
//! one pool of [`SqlOptions::memory_limit`] bytes shared by every query of the engine;
//! nothing spills to disk, so a query past the limit fails with a clear error and the others
//! run on.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use futures::StreamExt;
use vineyard_core::{IpcClient, ObjectID};

use crate::catalog::{VineyardCatalog, CATALOG, SCHEMA};
use crate::error::{Error, Result};
use crate::placeholders::number_placeholders;
use crate::remote::RemoteReader;
use crate::store::store_table;

/// How an engine runs queries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlOptions {
    /// Bytes all running queries may hold at once; `None`: no limit.
    pub memory_limit: Option<usize>,
    /// Partitions of a scan and of the plan above it; `None`: one per core.
    pub target_partitions: Option<usize>,
    /// Rows per batch; `None`: DataFusion's default (8192).
    pub batch_size: Option<usize>,
}

/// SQL over one instance.
pub struct SqlEngine {
    context: SessionContext,
    running: Arc<AtomicUsize>,
    memory_limit: Option<usize>,
}

impl std::fmt::Debug for SqlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlEngine")
            .field("session", &self.context.session_id())
            .field("memory_limit", &self.memory_limit)
            .field("running", &self.running_queries())
            .finish()
    }
}

impl SqlEngine {
    /// An engine over the instance `client` is connected to; parts of global tables held by
    /// other instances cannot be read (see [`SqlEngine::with_remote_reader`]).
    pub fn new(client: IpcClient, options: SqlOptions) -> Result<SqlEngine> {
        SqlEngine::with_catalog(VineyardCatalog::new(client), options)
    }

    /// Like [`SqlEngine::new`]; parts held by other instances are read with `reader`.
    pub fn with_remote_reader(
        client: IpcClient,
        reader: Arc<dyn RemoteReader>,
        options: SqlOptions,
    ) -> Result<SqlEngine> {
        SqlEngine::with_catalog(VineyardCatalog::with_remote_reader(client, reader), options)
    }

    fn with_catalog(catalog: VineyardCatalog, options: SqlOptions) -> Result<SqlEngine> {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true);
        // Strings stay `Utf8`, the type stored tables and most clients use.
        config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        if let Some(partitions) = options.target_partitions {
            config = config.with_target_partitions(partitions.max(1));
        }
        if let Some(rows) = options.batch_size {
            config = config.with_batch_size(rows.max(1));
        }
        let mut runtime = RuntimeEnvBuilder::new().with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        );
        if let Some(limit) = options.memory_limit {
            runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
                GreedyMemoryPool::new(limit),
                NonZeroUsize::new(3).expect("non-zero"),
            )));
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime.build_arc()?)
            .with_default_features()
            .build();
        let context = SessionContext::new_with_state(state);
        context.register_catalog(CATALOG, Arc::new(catalog));
        Ok(SqlEngine {
            context,
            running: Arc::default(),
            memory_limit: options.memory_limit,
        })
    }

    /// The DataFusion session, for DataFrame work of one's own over the same catalog.
    pub fn context(&self) -> &SessionContext {
        &self.context
    }

    /// Parses, checks and plans `query`; placeholders (`$1`, or `?` numbered in order) are
    /// bound later.
    pub async fn prepare(&self, query: &str) -> Result<Statement> {
        let query = number_placeholders(query)?;
        let plan = self.context.state().create_logical_plan(&query).await?;
        check(&plan)?;
        Ok(Statement { plan })
    }

    /// Runs `query` to a DataFrame; a `CREATE TABLE ... AS` or `DROP TABLE` runs now.
    pub async fn sql(&self, query: &str) -> Result<DataFrame> {
        let statement = self.prepare(query).await?;
        self.dataframe(statement).await
    }

    /// The statement as a DataFrame (a command runs now and gives an empty one).
    pub async fn dataframe(&self, statement: Statement) -> Result<DataFrame> {
        Ok(self.context.execute_logical_plan(statement.plan).await?)
    }

    /// Runs the statement and streams its rows; the stream counts as a running query
    /// ([`SqlEngine::running_queries`]) until dropped, and dropping it stops the query.
    pub async fn execute(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        let guard = Running::new(&self.running);
        let frame = self.dataframe(statement).await?;
        let stream = frame
            .execute_stream()
            .await
            .map_err(|error| self.explain(error))?;
        let schema = stream.schema();
        let memory_limit = self.memory_limit;
        let batches = stream.map(move |batch| {
            let _running = &guard;
            batch.map_err(|error| DataFusionError::from(explain_memory(error, memory_limit)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }

    /// Runs `query` and collects its rows.
    pub async fn collect(&self, query: &str) -> Result<Vec<RecordBatch>> {
        let statement = self.prepare(query).await?;
        let mut stream = self.execute(statement).await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        Ok(batches)
    }

    /// Runs the query `query` and stores its rows as a `vineyard::Table` named `name` (all or
    /// nothing, like `CREATE TABLE name AS query`); returns the table's id.
    pub async fn store(&self, name: &str, query: &str) -> Result<ObjectID> {
        let statement = self.prepare(query).await?;
        if statement.is_command() {
            return Err(Error::invalid(
                "only the rows of a query can be stored: give a SELECT (or VALUES)",
            ));
        }
        let schema = statement.schema();
        let frame = self.dataframe(statement).await?;
        let batches = frame.collect().await.map_err(|error| self.explain(error))?;
        let client = self.client()?;
        let name = name.to_string();
        tokio::task::spawn_blocking(move || store_table(&client, &name, &schema, &batches))
            .await
            .map_err(|error| Error::invalid(format!("storing the result failed: {error}")))?
    }

    /// Queries running now: streams from [`SqlEngine::execute`] not dropped yet.
    pub fn running_queries(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Bytes the running queries hold in the memory pool.
    pub fn memory_used(&self) -> usize {
        self.context.runtime_env().memory_pool.reserved()
    }

    fn client(&self) -> Result<IpcClient> {
        self.context
            .catalog(CATALOG)
            .and_then(|catalog| {
                catalog
                    .schema(SCHEMA)?
                    .downcast_ref::<crate::catalog::VineyardSchema>()
                    .map(|schema| schema.client().clone())
            })
            .ok_or_else(|| Error::invalid("the engine's catalog is missing"))
    }

    fn explain(&self, error: DataFusionError) -> Error {
        explain_memory(error, self.memory_limit)
    }
}

/// Adds what to do to an error of the memory pool.
fn explain_memory(error: DataFusionError, limit: Option<usize>) -> Error {
    let error = Error::from(error);
    if error.kind() != crate::ErrorKind::ResourceExhausted || error.core().is_some() {
        return error;
    }
    let limit = limit.map_or_else(|| "no limit".to_string(), |bytes| format!("{bytes} bytes"));
    Error::MemoryLimit {
        limit,
        source: Box::new(error),
    }
}

/// A checked, planned statement; placeholders are bound with [`Statement::bind`].
#[derive(Clone, Debug)]
pub struct Statement {
    plan: LogicalPlan,
}

impl Statement {
    /// True for `CREATE TABLE ... AS` and `DROP TABLE`: they run when executed and return no
    /// rows.
    pub fn is_command(&self) -> bool {
        matches!(self.plan, LogicalPlan::Ddl(_))
    }

    /// The schema of the rows it returns (empty for a command).
    pub fn schema(&self) -> SchemaRef {
        if self.is_command() {
            return Arc::new(Schema::empty());
        }
        Arc::new(self.plan.schema().as_arrow().clone())
    }

    /// Its placeholders as fields `$1`, `$2`, ... in order, typed where the query says
    /// their type (`Null` where it does not).
    pub fn parameter_schema(&self) -> Result<Schema> {
        let mut parameters: Vec<(String, Option<DataType>)> =
            self.plan.get_parameter_types()?.into_iter().collect();
        parameters.sort_by_key(|(name, _)| {
            (
                name.trim_start_matches('$')
                    .parse::<usize>()
                    .unwrap_or(usize::MAX),
                name.clone(),
            )
        });
        Ok(Schema::new(
            parameters
                .into_iter()
                .map(|(name, data_type)| {
                    Field::new(name, data_type.unwrap_or(DataType::Null), true)
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The statement with its placeholders replaced by `values`, in order.
    pub fn bind(self, values: Vec<ScalarValue>) -> Result<Statement> {
        Ok(Statement {
            plan: self.plan.with_param_values(values)?,
        })
    }

    /// The logical plan.
    pub fn plan(&self) -> &LogicalPlan {
        &self.plan
    }
}

/// Placeholder values from the one row of `batch` (a prepared statement's parameters, as
/// Flight SQL clients send them), column by column.
pub fn parameters_of(batch: &RecordBatch) -> Result<Vec<ScalarValue>> {
    if batch.num_rows() != 1 {
        return Err(Error::invalid(format!(
            "a query takes one row of parameters, {} were bound; run it once per row",
            batch.num_rows()
        )));
    }
    batch
        .columns()
        .iter()
        .map(|column| Ok(ScalarValue::try_from_array(column, 0)?))
        .collect()
}

/// Refuses what this engine does not run, saying what to do instead.
fn check(plan: &LogicalPlan) -> Result<()> {
    const CHANGES: &str = "only CREATE TABLE name AS SELECT ... and DROP TABLE name change \
                           what the instance holds";
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) if create.temporary => Err(
            Error::unsupported(format!("temporary tables are not supported: {CHANGES}")),
        ),
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(_) | DdlStatement::DropTable(_)) => Ok(()),
        LogicalPlan::Ddl(other) => Err(Error::unsupported(format!(
            "{} is not supported: {CHANGES}",
            other.name()
        ))),
        LogicalPlan::Dml(dml) => Err(Error::unsupported(format!(
            "{} is not supported: stored objects are immutable; store the rows you want as a \
             new table with CREATE TABLE name AS SELECT ...",
            dml.op
        ))),
        LogicalPlan::Copy(_) => Err(Error::unsupported(
            "COPY is not supported: it would write files on the instance's machine; read the \
             rows with a query and write them where the client runs",
        )),
        LogicalPlan::Statement(statement) => Err(Error::unsupported(format!(
            "{} is not supported: every query runs on its own (no SET, transactions or \
             PREPARE; use the prepared statements of your client, e.g. Flight SQL's)",
            statement.name()
        ))),
        _ => Ok(()),
    }
}

/// Counts one running query while alive.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::Relaxed);
        Running(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
