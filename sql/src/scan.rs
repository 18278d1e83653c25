//! `StoredScan`: the leaf of every plan over a stored table, reading its batches where they
//! live.
//!
//! The table's rows are cut into *pieces* (a run of rows of one part or batch) and the
//! pieces into partitions: local rows in up to `target_partitions` partitions of about equal
//! rows (whole batches dealt in turn when there are enough of them, so the partitions move
//! through the table side by side; a large batch cut by row ranges otherwise, so one stored
//! batch still keeps every core busy), and each part held by another instance in a
//! partition of its own, so that remote parts are fetched in parallel. A `LIMIT` keeps only the pieces that hold its rows, so the
//! first rows of a huge table cost what they cost on a small one.
//!
//! Local pieces are read when the partition gets to them (on the blocking pool: the client
//! is synchronous): their Arrow buffers are views of the mapped blobs and hold them until the
//! last batch over them is dropped. Remote pieces stream over the remote reader.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Statistics;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream, SortOrderPushdownResult, StatisticsArgs,
};
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt, TryStreamExt};
use vineyard_core::InstanceID;

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::order::PieceOrder;
use crate::prune::Pruned;
use crate::stored::{read_parts, Contents, Part, StoredObject};

/// Where a piece's rows come from.
#[derive(Clone, Debug)]
enum Source {
    /// A part on this instance, read (projected) when reached.
    Local(Arc<Part>),
    /// A part on another instance, streamed from its Flight endpoint.
    Remote { part: Arc<Part>, endpoint: String },
    /// A batch resolved already, projected.
    Batch(RecordBatch),
}

/// A run of rows of one source.
#[derive(Clone, Debug)]
struct Piece {
    source: Source,
    rows: Range<usize>,
}

impl Piece {
    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Slices of rows read in table order hold at most this many times `batch_size` rows. A
/// slice is a view and costs nothing to make, but every batch costs each operator above a
/// fixed setup (a filter's kernels, a coalescer's bookkeeping): in 8,192-row slices of
/// stored 1,000,000-row batches, a selective filter over 10^7 rows took ~15% longer than
/// DataFusion's own in-memory table, which hands its batches on as they are. The cap
/// keeps one huge stored batch (an array of 10^8 values) from reaching a hash table or a
/// sort as a single input. Ordered reads keep `batch_size` slices: they are what a pushed
/// down threshold skips.
const UNORDERED_SLICE_BATCHES: usize = 64;

/// How the rows of a table are to be read.
pub(crate) struct ScanRequest<'a> {
    /// Column indices into the table's schema.
    pub(crate) projection: Vec<usize>,
    /// Rows wanted at most.
    pub(crate) limit: Option<usize>,
    /// Partitions for local rows at most.
    pub(crate) target_partitions: usize,
    /// Rows per slice of an ordered read (reads in table order hand on up to
    /// [`UNORDERED_SLICE_BATCHES`] times as many), and per local partition at least.
    pub(crate) batch_size: usize,
    /// Flight endpoints by instance, for parts held elsewhere.
    pub(crate) endpoints: &'a dyn Fn(InstanceID) -> Option<String>,
}

/// The scan of one stored table.
#[derive(Clone)]
pub(crate) struct StoredScan {
    label: String,
    instance: Instance,
    /// The table's schema (before projection).
    table_schema: SchemaRef,
    projection: Vec<usize>,
    partitions: Vec<Vec<Piece>>,
    batch_size: usize,
    /// The order a sort above asked for: each partition reads its rows in slices of at most
    /// `batch_size`, starting with the slice whose rows come first in it.
    order: Option<PieceOrder>,
    /// Filters of the plan above (a `TopK`'s threshold), pushed down to skip slices that
    /// hold no row they keep; they stay applied above.
    filters: Vec<Arc<dyn PhysicalExpr>>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl StoredScan {
    /// Plans the scan of `object`.
    pub(crate) fn new(
        instance: Instance,
        object: &StoredObject,
        request: ScanRequest<'_>,
    ) -> Result<StoredScan> {
        let pieces = pieces(instance.id(), object, &request)?;
        let partitions = partition(pieces, &request);
        let schema = Arc::new(object.schema.project(&request.projection)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(StoredScan {
            label: object.label.clone(),
            instance,
            table_schema: Arc::clone(&object.schema),
            projection: request.projection,
            partitions,
            batch_size: request.batch_size.max(1),
            order: None,
            filters: Vec::new(),
            metrics: ExecutionPlanMetricsSet::new(),
            properties: Arc::new(properties),
        })
    }

    /// Rows of partition `partition`, or of all.
    fn rows(&self, partition: Option<usize>) -> usize {
        let count = |pieces: &Vec<Piece>| pieces.iter().map(Piece::len).sum::<usize>();
        match partition {
            Some(index) => self.partitions.get(index).map(count).unwrap_or(0),
            None => self.partitions.iter().map(count).sum(),
        }
    }

    /// The rows of local pieces, read with one request for all their blobs when the
    /// partition reaches them, then given to `then`: both on the blocking pool.
    fn read_local_then<T: Send + 'static>(
        &self,
        pieces: Vec<(Arc<Part>, Range<usize>)>,
        then: impl FnOnce(Vec<RecordBatch>) -> Result<T> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T>> + Send + 'static {
        let instance = self.instance.clone();
        let label = self.label.clone();
        let schema = Arc::clone(&self.table_schema);
        let projection = self.projection.clone();
        let (parts, ranges): (Vec<_>, Vec<_>) = pieces.into_iter().unzip();
        async move {
            instance
                .run(move |client| {
                    let batches = read_parts(client, &label, &parts, &schema, &projection)?;
                    let sliced = batches
                        .into_iter()
                        .zip(ranges)
                        .map(|(batch, rows)| batch.slice(rows.start, rows.len()));
                    then(sliced.collect())
                })
                .await
        }
    }

    /// Rows per slice of a read in table order.
    fn unordered_slice(&self) -> usize {
        self.batch_size.saturating_mul(UNORDERED_SLICE_BATCHES)
    }

    /// The rows of local pieces, in table order.
    fn read_local(
        &self,
        pieces: Vec<(Arc<Part>, Range<usize>)>,
    ) -> BoxStream<'static, Result<RecordBatch>> {
        let slice_rows = self.unordered_slice();
        stream::once(self.read_local_then(pieces, Ok))
            .map_ok(move |batches| stream::iter(slices(batches, slice_rows).into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// A partition's rows in slices of at most `batch_size`, in `order`, starting with the
    /// slice whose rows come first, less the slices the filters pushed down rule out: its
    /// local pieces read with one request, or its resolved ones. `None` when the partition
    /// mixes kinds of pieces or reads a remote one (read in table order then).
    fn read_ordered(
        &self,
        pieces: &[Piece],
        order: PieceOrder,
        skipped: Count,
    ) -> Option<BoxStream<'static, Result<RecordBatch>>> {
        let batch_size = self.batch_size;
        let arrange = move |batches: Vec<RecordBatch>| order.arrange(slices(batches, batch_size));
        let local: Option<Vec<_>> = pieces
            .iter()
            .map(|piece| match &piece.source {
                Source::Local(part) => Some((Arc::clone(part), piece.rows.clone())),
                _ => None,
            })
            .collect();
        let resolved: Option<Vec<_>> = pieces
            .iter()
            .map(|piece| match &piece.source {
                Source::Batch(batch) => Some(batch.slice(piece.rows.start, piece.rows.len())),
                _ => None,
            })
            .collect();
        // Finding the leads is a pass over the key column: on the blocking pool either way.
        let arranged = match (local, resolved) {
            (Some(local), _) => self.read_local_then(local, arrange).boxed(),
            (None, Some(resolved)) => {
                let instance = self.instance.clone();
                async move { instance.run(move |_| arrange(resolved)).await }.boxed()
            }
            (None, None) => return None,
        };
        let filters = self.filters.clone();
        let schema = self.schema();
        let pruned = arranged.map(move |slices| {
            slices.map(|slices| Pruned::new(slices, filters, schema, order, skipped))
        });
        let pruned = stream::once(pruned)
            .map_ok(|pruned| stream::iter(pruned.map(Ok)))
            .try_flatten();
        Some(pruned.boxed())
    }

    /// The streams of a partition's pieces, in order: each run of local pieces as one read.
    fn read_all(&self, pieces: Vec<Piece>) -> Vec<BoxStream<'static, Result<RecordBatch>>> {
        let mut streams = Vec::new();
        let mut local = Vec::new();
        for piece in pieces {
            match piece.source {
                Source::Local(part) => local.push((part, piece.rows)),
                source => {
                    if !local.is_empty() {
                        streams.push(self.read_local(std::mem::take(&mut local)));
                    }
                    streams.push(self.read(Piece {
                        source,
                        rows: piece.rows,
                    }));
                }
            }
        }
        if !local.is_empty() {
            streams.push(self.read_local(local));
        }
        streams
    }

    fn read(&self, piece: Piece) -> BoxStream<'static, Result<RecordBatch>> {
        match piece.source {
            Source::Batch(batch) => chunks(
                batch.slice(piece.rows.start, piece.rows.len()),
                self.unordered_slice(),
            ),
            Source::Local(part) => self.read_local(vec![(part, piece.rows)]),
            Source::Remote { part, endpoint } => {
                let Some(reader) = self.instance.remote().cloned() else {
                    let error = no_reader(&self.label, &part);
                    return stream::once(async move { Err(error) }).boxed();
                };
                let schema = self.schema();
                let projection = self.projection.clone();
                let label = self.label.clone();
                let id = part.id;
                let failed = move |message: String| Error::Remote {
                    what: label.clone(),
                    part: part.id,
                    instance: part.instance,
                    message,
                };
                let opened = stream::once(async move { reader.read(&endpoint, id).await });
                let batches = opened
                    .try_flatten()
                    .map(move |batch| {
                        batch
                            .and_then(|batch| reshape(batch, &schema, &projection))
                            .map_err(|error| failed(error.to_string()))
                    })
                    .boxed();
                cut(batches, piece.rows)
            }
        }
    }
}

fn no_reader(label: &str, part: &Part) -> Error {
    Error::Remote {
        what: label.to_string(),
        part: part.id,
        instance: part.instance,
        message: "this SQL engine reads only its own instance: give it a remote reader \
                  (the Flight service's, `SqlEngine::builder(..).remote_reader(..)`) to read \
                  parts held by other instances"
            .into(),
    }
}

/// `batch` (a whole stored batch) with only the columns `projection`, under `schema`.
fn reshape(batch: RecordBatch, schema: &SchemaRef, projection: &[usize]) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let projected = batch.project(projection)?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        projected.columns().to_vec(),
        &options,
    )?)
}

/// `batch` in slices of at most `size` rows (views, no copy).
fn chunks(batch: RecordBatch, size: usize) -> BoxStream<'static, Result<RecordBatch>> {
    stream::iter(slices([batch], size).into_iter().map(Ok)).boxed()
}

/// `batches` in slices of at most `size` rows each (views, no copy).
fn slices(batches: impl IntoIterator<Item = RecordBatch>, size: usize) -> Vec<RecordBatch> {
    let mut slices = Vec::new();
    for batch in batches {
        let rows = batch.num_rows();
        for start in (0..rows).step_by(size) {
            slices.push(batch.slice(start, size.min(rows - start)));
        }
    }
    slices
}

/// The rows `range` of a stream of batches, ending the stream once they are through.
fn cut(
    batches: BoxStream<'static, Result<RecordBatch>>,
    range: Range<usize>,
) -> BoxStream<'static, Result<RecordBatch>> {
    batches
        .scan(0usize, move |seen, batch| {
            let start = *seen;
            let next = match batch {
                Err(error) => Some(Some(Err(error))),
                Ok(_) if start >= range.end => None,
                Ok(batch) => {
                    let count = batch.num_rows();
                    *seen += count;
                    let from = range.start.saturating_sub(start).min(count);
                    let to = (range.end - start).min(count);
                    Some((to > from).then(|| Ok(batch.slice(from, to - from))))
                }
            };
            futures::future::ready(next)
        })
        .filter_map(futures::future::ready)
        .boxed()
}

/// The table's rows as pieces, in order, cut at the limit.
fn pieces(
    local: InstanceID,
    object: &StoredObject,
    request: &ScanRequest<'_>,
) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut wanted = request.limit.unwrap_or(usize::MAX);
    let mut add = |source: Source, rows: usize| {
        let take = rows.min(wanted);
        wanted -= take;
        if take > 0 {
            pieces.push(Piece {
                source,
                rows: 0..take,
            });
        }
    };
    match &object.contents {
        Contents::Batches(batches) => {
            for batch in batches {
                let rows = batch.num_rows();
                add(Source::Batch(batch.project(&request.projection)?), rows);
            }
        }
        Contents::Parts(parts) => {
            for part in parts {
                let source = if part.instance == local {
                    Source::Local(Arc::clone(part))
                } else {
                    let endpoint =
                        (request.endpoints)(part.instance).ok_or_else(|| Error::Remote {
                            what: object.label.clone(),
                            part: part.id,
                            instance: part.instance,
                            message: "the instance is not in the cluster (it may have stopped) or \
                                  serves no Flight endpoint; start it with RPC enabled"
                                .into(),
                        })?;
                    Source::Remote {
                        part: Arc::clone(part),
                        endpoint,
                    }
                };
                add(source, part.rows);
            }
        }
    }
    Ok(pieces)
}

/// Whether `pieces` are read in more than one slice of `batch_size` rows (their order can
/// then start with the slice that leads).
fn several_slices(pieces: &[Piece], batch_size: usize) -> bool {
    pieces.len() > 1 || pieces.iter().any(|piece| piece.len() > batch_size)
}

/// Pieces into partitions: local rows spread over at most `target_partitions` partitions
/// (at least `batch_size` rows each), remote pieces one partition each; at least one
/// partition.
///
/// When there are at least as many local pieces as partitions, whole pieces are dealt in
/// table order, each to the partition with the fewest rows so far (round robin for equal
/// batches): every partition then walks the whole table from its start, so the partitions
/// move through the rows side by side, and a pushed-down `TopK` threshold found by one
/// skips the others' batches over sorted or time-ordered data. Fewer pieces than
/// partitions (one huge batch) are cut into row ranges of about equal rows instead.
fn partition(pieces: Vec<Piece>, request: &ScanRequest<'_>) -> Vec<Vec<Piece>> {
    let (remote, local): (Vec<Piece>, Vec<Piece>) = pieces
        .into_iter()
        .partition(|piece| matches!(piece.source, Source::Remote { .. }));
    let local_rows: usize = local.iter().map(Piece::len).sum();
    let wanted = local_rows
        .div_ceil(request.batch_size.max(1))
        .clamp(1, request.target_partitions.max(1));
    let mut partitions = if local.is_empty() {
        Vec::new()
    } else if local.len() >= wanted {
        deal(local, wanted)
    } else {
        cut_evenly(local, local_rows.div_ceil(wanted).max(1))
    };
    partitions.extend(remote.into_iter().map(|piece| vec![piece]));
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    partitions
}

/// Whole `pieces`, in order, each to the partition of `count` with the fewest rows so far.
fn deal(pieces: Vec<Piece>, count: usize) -> Vec<Vec<Piece>> {
    let mut partitions: Vec<Vec<Piece>> = vec![Vec::new(); count];
    let mut rows = vec![0usize; count];
    for piece in pieces {
        let (lightest, _) = rows
            .iter()
            .enumerate()
            .min_by_key(|(index, rows)| (**rows, *index))
            .expect("at least one partition");
        rows[lightest] += piece.len();
        partitions[lightest].push(piece);
    }
    partitions
}

/// `pieces` cut into runs of `per_partition` rows (the last one shorter).
fn cut_evenly(pieces: Vec<Piece>, per_partition: usize) -> Vec<Vec<Piece>> {
    let mut partitions: Vec<Vec<Piece>> = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut room = per_partition;
    for mut piece in pieces {
        while piece.len() > 0 {
            let take = piece.len().min(room);
            let mut head = piece.clone();
            head.rows = piece.rows.start..piece.rows.start + take;
            piece.rows.start += take;
            current.push(head);
            room -= take;
            if room == 0 {
                partitions.push(std::mem::take(&mut current));
                room = per_partition;
            }
        }
    }
    if !current.is_empty() {
        partitions.push(current);
    }
    partitions
}

impl fmt::Debug for StoredScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredScan")
            .field("table", &self.label)
            .field("projection", &self.projection)
            .field("partitions", &self.partitions.len())
            .finish_non_exhaustive()
    }
}

impl DisplayAs for StoredScan {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let remote = self
            .partitions
            .iter()
            .flatten()
            .filter(|piece| matches!(piece.source, Source::Remote { .. }))
            .count();
        write!(
            f,
            "StoredScan: table={}, partitions={}, remote_parts={remote}, rows={}",
            self.label,
            self.partitions.len(),
            self.rows(None)
        )?;
        if let Some(order) = &self.order {
            let schema = self.schema();
            let direction = if order.options.descending {
                "DESC"
            } else {
                "ASC"
            };
            write!(
                f,
                ", slices_first_by={} {direction}",
                schema.field(order.column).name()
            )?;
        }
        Ok(())
    }
}

impl ExecutionPlan for StoredScan {
    fn name(&self) -> &str {
        "StoredScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        for filter in &self.filters {
            if f(filter)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    /// An ordered scan keeps the filters offered from above (a `TopK`'s threshold) to skip
    /// slices by their leads; every filter is reported unsupported, so it stays applied
    /// above.
    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DfResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let offered: Vec<_> = child_pushdown_result
            .parent_filters
            .iter()
            .map(|offered| Arc::clone(&offered.filter))
            .collect();
        let propagation = FilterPushdownPropagation::all_unsupported(child_pushdown_result);
        if self.order.is_none() || offered.is_empty() {
            return Ok(propagation);
        }
        let scan = StoredScan {
            filters: [self.filters.clone(), offered].concat(),
            ..self.clone()
        };
        Ok(propagation.with_updated_node(Arc::new(scan)))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "StoredScan is a leaf and takes no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let pieces = self.partitions.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "StoredScan has {} partitions, partition {partition} was asked for",
                self.partitions.len()
            ))
        })?;
        let ordered = match self.order {
            Some(order) if several_slices(&pieces, self.batch_size) => {
                let skipped =
                    MetricBuilder::new(&self.metrics).counter("slices_skipped", partition);
                self.read_ordered(&pieces, order, skipped)
            }
            _ => None,
        };
        let streams = match ordered {
            Some(stream) => vec![stream],
            None => self.read_all(pieces),
        };
        let batches = stream::iter(streams)
            .flatten()
            .map_err(DataFusionError::from);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }

    /// A sort led by a plain column is taken as a hint (`Inexact`: the sort stays): each
    /// partition then reads its slices starting with the one whose rows come first.
    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
    ) -> DfResult<SortOrderPushdownResult<Arc<dyn ExecutionPlan>>> {
        let several = self
            .partitions
            .iter()
            .any(|pieces| several_slices(pieces, self.batch_size));
        match PieceOrder::of(order) {
            Some(order) if several => Ok(SortOrderPushdownResult::Inexact {
                inner: Arc::new(StoredScan {
                    order: Some(order),
                    ..self.clone()
                }),
            }),
            _ => Ok(SortOrderPushdownResult::Unsupported),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        let rows = self.rows(args.partition());
        Ok(Arc::new(
            Statistics::new_unknown(&self.schema()).with_num_rows(Precision::Exact(rows)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    fn batch(rows: usize) -> RecordBatch {
        let values = Int64Array::from_iter_values(0..rows as i64);
        RecordBatch::try_from_iter([("x", Arc::new(values) as _)]).unwrap()
    }

    fn request(limit: Option<usize>, target: usize, batch_size: usize) -> ScanRequest<'static> {
        ScanRequest {
            projection: vec![0],
            limit,
            target_partitions: target,
            batch_size,
            endpoints: &|_| None,
        }
    }

    fn object(batches: Vec<RecordBatch>) -> StoredObject {
        StoredObject {
            label: "t".into(),
            id: vineyard_core::ObjectID(1),
            schema: batches[0].schema(),
            contents: Contents::Batches(batches),
        }
    }

    fn layout(object: &StoredObject, request: &ScanRequest<'_>) -> Vec<Vec<Range<usize>>> {
        let pieces = pieces(0, object, request).unwrap();
        partition(pieces, request)
            .into_iter()
            .map(|part| part.into_iter().map(|piece| piece.rows).collect())
            .collect()
    }

    #[test]
    fn one_large_batch_is_cut_across_partitions() {
        let table = object(vec![batch(100)]);
        assert_eq!(
            layout(&table, &request(None, 4, 10)),
            vec![vec![0..25], vec![25..50], vec![50..75], vec![75..100]]
        );
    }

    #[test]
    fn many_batches_are_dealt_whole_in_turn() {
        let table = object(vec![batch(10), batch(10), batch(10), batch(10), batch(10)]);
        assert_eq!(
            layout(&table, &request(None, 2, 10)),
            vec![vec![0..10, 0..10, 0..10], vec![0..10, 0..10]]
        );
    }

    #[test]
    fn uneven_batches_go_to_the_lightest_partition() {
        let table = object(vec![batch(30), batch(10), batch(10), batch(10)]);
        assert_eq!(
            layout(&table, &request(None, 2, 10)),
            vec![vec![0..30], vec![0..10, 0..10, 0..10]]
        );
    }

    #[test]
    fn small_tables_stay_in_one_partition() {
        let table = object(vec![batch(3), batch(4)]);
        assert_eq!(
            layout(&table, &request(None, 4, 10)),
            vec![vec![0..3, 0..4]]
        );
    }

    #[test]
    fn a_limit_keeps_only_the_pieces_it_needs() {
        let table = object(vec![batch(5), batch(5), batch(5)]);
        assert_eq!(
            layout(&table, &request(Some(7), 1, 10)),
            vec![vec![0..5, 0..2]]
        );
        assert_eq!(
            layout(&table, &request(Some(0), 4, 10)),
            vec![Vec::<Range<usize>>::new()]
        );
    }

    #[tokio::test]
    async fn cut_takes_a_row_range_across_batches() {
        let batches = stream::iter([Ok(batch(4)), Ok(batch(4)), Ok(batch(4))]).boxed();
        let rows: Vec<usize> = cut(batches, 3..9)
            .map_ok(|batch| batch.num_rows())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(rows, vec![1, 4, 1]);
    }
}
