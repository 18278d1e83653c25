//! `Pruned`: an ordered scan's slices, less those that the filters pushed down to the scan
//! prove hold no row the plan keeps.
//!
//! A `TopK` above an ordered scan pushes its threshold down as a dynamic filter
//! (`v IS NULL OR v > x`) that tightens as it finds rows. Each slice's lead (its maximum when
//! descending, its minimum when ascending) and null count are known from ordering it, so
//! DataFusion's `PruningPredicate` can tell that a slice cannot pass before it is emitted:
//! the slice is skipped instead of being evaluated row by row above. Whenever a filter
//! changes (its generation moves), the remaining slices are judged again, all at once. The
//! filters stay applied above: this only skips work, it never decides a row.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, UInt64Array};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, ScalarValue};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::{
    snapshot_generation, snapshot_physical_expr,
};
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::metrics::Count;

use crate::order::{Lead, PieceOrder, Slice};

/// The slices of one partition, in order, skipping those the filters rule out.
pub(crate) struct Pruned {
    slices: VecDeque<Slice>,
    /// Whether each remaining slice may hold rows the filters keep.
    keep: VecDeque<bool>,
    filters: Vec<Arc<dyn PhysicalExpr>>,
    /// The scan's output schema (the filters' columns index it).
    schema: SchemaRef,
    order: PieceOrder,
    /// The filters' generation when `keep` was judged.
    judged: Option<u64>,
    /// Slices skipped so far (a metric of the scan).
    skipped: Count,
}

impl Pruned {
    /// `slices` (in order) under `filters` over `schema`, counting those skipped in
    /// `skipped`.
    pub(crate) fn new(
        slices: Vec<Slice>,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
        order: PieceOrder,
        skipped: Count,
    ) -> Pruned {
        Pruned {
            slices: slices.into(),
            keep: VecDeque::new(),
            filters,
            schema,
            order,
            judged: None,
            skipped,
        }
    }

    /// Judges the remaining slices again if a filter changed since the last time.
    fn refresh(&mut self) {
        let generation = self.filters.iter().fold(0u64, |sum, filter| {
            sum.wrapping_add(snapshot_generation(filter))
        });
        if self.judged == Some(generation) {
            return;
        }
        self.judged = Some(generation);
        let everything = || vec![true; self.slices.len()];
        self.keep = self.judge().unwrap_or_else(everything).into();
    }

    /// Whether each remaining slice may hold rows every filter keeps (`None`: cannot tell).
    fn judge(&self) -> Option<Vec<bool>> {
        let statistics = SliceStatistics {
            slices: &self.slices,
            order: self.order,
            column: self.schema.field(self.order.column).name(),
        };
        let mut keep = vec![true; self.slices.len()];
        for filter in &self.filters {
            let current = snapshot_physical_expr(Arc::clone(filter)).ok()?;
            let predicate = PruningPredicateBuilder::new()
                .with_file_schema(Arc::clone(&self.schema))
                .try_build(current)
                .ok()?;
            if predicate.always_true() {
                continue;
            }
            for (keep, may) in keep.iter_mut().zip(predicate.prune(&statistics).ok()?) {
                *keep &= may;
            }
        }
        Some(keep)
    }
}

impl Iterator for Pruned {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        loop {
            self.refresh();
            let slice = self.slices.pop_front()?;
            if self.keep.pop_front().unwrap_or(true) {
                return Some(slice.batch);
            }
            self.skipped.add(1);
        }
    }
}

/// What is known of the slices for pruning: the order column's lead and null count, and
/// the rows.
struct SliceStatistics<'s> {
    slices: &'s VecDeque<Slice>,
    order: PieceOrder,
    /// The order column's name.
    column: &'s str,
}

impl SliceStatistics<'_> {
    /// The leads as an array, if `column` is the order column and `descending` is its order.
    fn leads(&self, column: &Column, descending: bool) -> Option<ArrayRef> {
        if column.name != self.column || self.order.options.descending != descending {
            return None;
        }
        let data_type = self.slices.iter().find_map(|slice| match &slice.lead {
            Lead::Value(value) => Some(value.data_type()),
            _ => None,
        })?;
        let unknown = ScalarValue::try_from(&data_type).ok()?;
        let values = self.slices.iter().map(|slice| match &slice.lead {
            Lead::Value(value) => value.clone(),
            Lead::Null | Lead::Last => unknown.clone(),
        });
        ScalarValue::iter_to_array(values).ok()
    }
}

impl PruningStatistics for SliceStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.leads(column, false)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.leads(column, true)
    }

    fn num_containers(&self) -> usize {
        self.slices.len()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        if column.name != self.column {
            return None;
        }
        let counts = self.slices.iter().map(|slice| {
            let nulls = slice.batch.column(self.order.column).null_count();
            nulls as u64
        });
        Some(Arc::new(UInt64Array::from_iter_values(counts)))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows = self
            .slices
            .iter()
            .map(|slice| slice.batch.num_rows() as u64);
        Some(Arc::new(UInt64Array::from_iter_values(rows)))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Float64Array;
    use arrow::compute::SortOptions;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column as ColumnExpr, Literal};

    use super::*;

    fn slices(order: PieceOrder) -> Vec<Slice> {
        let batches = (0..4)
            .map(|index| {
                let values =
                    Float64Array::from_iter_values((0..10).map(|i| f64::from(index * 10 + i)));
                RecordBatch::try_from_iter([("v", Arc::new(values) as ArrayRef)]).unwrap()
            })
            .collect();
        order.arrange(batches).unwrap()
    }

    fn greater_than(value: f64) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(
            Arc::new(ColumnExpr::new("v", 0)),
            Operator::Gt,
            Arc::new(Literal::new(ScalarValue::Float64(Some(value)))),
        ))
    }

    fn firsts(pruned: Pruned) -> Vec<f64> {
        pruned
            .map(|batch| {
                let values = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .unwrap();
                values.value(0)
            })
            .collect()
    }

    #[test]
    fn slices_a_filter_rules_out_are_skipped_and_the_rest_kept_in_order() {
        let order = PieceOrder {
            column: 0,
            options: SortOptions {
                descending: true,
                nulls_first: false,
            },
        };
        let schema = slices(order)[0].batch.schema();
        let skipped = Count::new();
        let all = Pruned::new(
            slices(order),
            Vec::new(),
            Arc::clone(&schema),
            order,
            skipped.clone(),
        );
        assert_eq!(firsts(all), [30.0, 20.0, 10.0, 0.0]);
        assert_eq!(skipped.value(), 0);
        // Slices whose maximum is 19 or less cannot hold `v > 25`.
        let filters = vec![greater_than(25.0)];
        let pruned = Pruned::new(slices(order), filters, schema, order, skipped.clone());
        assert_eq!(firsts(pruned), [30.0, 20.0]);
        assert_eq!(skipped.value(), 2);
    }
}
