//! `PieceOrder`: which of a partition's slices a scan reads first when a sort sits above it.
//!
//! DataFusion offers a sort's order to the scan below it (`try_pushdown_sort`). The scan
//! cannot promise sorted output, but it can emit each partition's slices (runs of at most
//! `batch_size` rows) starting with the one holding the row that sorts first: a `TopK`
//! (`ORDER BY ... LIMIT n`) then finds its final rows in the first slices, and the threshold
//! it pushes down turns the rest away with one comparison per row instead of a row
//! conversion and a heap replacement each. Over data stored in key order (time series, ids,
//! anything appended in order) and sorted the other way, this is the difference between
//! converting every row and converting one slice. Finding each slice's lead is one pass
//! over the key column. The order is a heuristic only: the sort above stays, so the result
//! never depends on it.

use std::cmp::Ordering;

use arrow::compute::SortOptions;
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalSortExpr;

use crate::error::Result;

/// The leading key of a sort above the scan: a column of the scan's output and its order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PieceOrder {
    /// The column's index in the scan's output schema.
    pub(crate) column: usize,
    /// Descending or not, nulls first or not.
    pub(crate) options: SortOptions,
}

/// A batch a scan emits, and where its first row in the order falls.
#[derive(Debug)]
pub(crate) struct Slice {
    /// The rows.
    pub(crate) batch: RecordBatch,
    /// Where the first of them in the order falls.
    pub(crate) lead: Lead,
}

/// Where a slice's first row (in the order) falls, coarsely.
#[derive(Debug)]
pub(crate) enum Lead {
    /// A null, and nulls sort first.
    Null,
    /// The value that sorts first.
    Value(ScalarValue),
    /// Nothing that sorts ahead of nulls last: no rows, or only nulls.
    Last,
}

impl PieceOrder {
    /// The order of `sort`'s leading key, when that key is a plain column.
    pub(crate) fn of(sort: &[PhysicalSortExpr]) -> Option<PieceOrder> {
        let first = sort.first()?;
        let column = first.expr.downcast_ref::<Column>()?;
        Some(PieceOrder {
            column: column.index(),
            options: first.options,
        })
    }

    /// `batches` rearranged so that the batch holding the row that sorts first comes first,
    /// and so on (ties keep their order), each with where its first row falls.
    pub(crate) fn arrange(&self, batches: Vec<RecordBatch>) -> Result<Vec<Slice>> {
        let mut slices = batches
            .into_iter()
            .map(|batch| {
                Ok(Slice {
                    lead: self.lead(&batch)?,
                    batch,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        slices.sort_by(|left, right| self.compare(&left.lead, &right.lead));
        Ok(slices)
    }

    /// Where `batch`'s first row in the order falls: its maximum when descending, its
    /// minimum when ascending, unless a null sorts ahead of both.
    fn lead(&self, batch: &RecordBatch) -> Result<Lead> {
        let values = batch.column(self.column);
        if values.null_count() > 0 && self.options.nulls_first {
            return Ok(Lead::Null);
        }
        let mut extreme: Box<dyn Accumulator> = if self.options.descending {
            Box::new(MaxAccumulator::try_new(values.data_type())?)
        } else {
            Box::new(MinAccumulator::try_new(values.data_type())?)
        };
        extreme.update_batch(std::slice::from_ref(values))?;
        let value = extreme.evaluate()?;
        Ok(if value.is_null() {
            Lead::Last
        } else {
            Lead::Value(value)
        })
    }

    fn compare(&self, left: &Lead, right: &Lead) -> Ordering {
        let rank = |lead: &Lead| match lead {
            Lead::Null => 0,
            Lead::Value(_) => 1,
            Lead::Last => 2,
        };
        match (left, right) {
            (Lead::Value(left), Lead::Value(right)) => {
                let ascending = left.partial_cmp(right).unwrap_or(Ordering::Equal);
                if self.options.descending {
                    ascending.reverse()
                } else {
                    ascending
                }
            }
            _ => rank(left).cmp(&rank(right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Float64Array};

    use super::*;

    fn batch(values: &[Option<f64>]) -> RecordBatch {
        let values = Float64Array::from(values.to_vec());
        RecordBatch::try_from_iter([("v", Arc::new(values) as ArrayRef)]).unwrap()
    }

    fn firsts(order: PieceOrder, batches: Vec<RecordBatch>) -> Vec<Option<f64>> {
        order
            .arrange(batches)
            .unwrap()
            .iter()
            .map(|slice| {
                let values = slice
                    .batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .unwrap();
                (!values.is_empty() && values.is_valid(0)).then(|| values.value(0))
            })
            .collect()
    }

    fn order(descending: bool, nulls_first: bool) -> PieceOrder {
        PieceOrder {
            column: 0,
            options: SortOptions {
                descending,
                nulls_first,
            },
        }
    }

    #[test]
    fn descending_reads_the_batch_with_the_largest_value_first() {
        let batches = vec![
            batch(&[Some(1.0), Some(2.0)]),
            batch(&[Some(5.0), Some(3.0)]),
            batch(&[Some(4.0), Some(0.0)]),
        ];
        assert_eq!(
            firsts(order(true, false), batches),
            [Some(5.0), Some(4.0), Some(1.0)]
        );
    }

    #[test]
    fn ascending_reads_the_batch_with_the_smallest_value_first() {
        let batches = vec![
            batch(&[Some(3.0), Some(9.0)]),
            batch(&[Some(7.0), Some(1.0)]),
            batch(&[Some(2.0)]),
        ];
        assert_eq!(
            firsts(order(false, false), batches),
            [Some(7.0), Some(2.0), Some(3.0)]
        );
    }

    #[test]
    fn nulls_go_where_the_sort_puts_them_and_empty_batches_last() {
        let batches = || {
            vec![
                batch(&[]),
                batch(&[Some(1.0)]),
                batch(&[Some(2.0), None]),
                batch(&[None]),
            ]
        };
        assert_eq!(
            firsts(order(true, true), batches()),
            [Some(2.0), None, Some(1.0), None],
            "nulls first: both batches with nulls lead, in table order"
        );
        let last = order(true, false).arrange(batches()).unwrap();
        let rows: Vec<usize> = last.iter().map(|slice| slice.batch.num_rows()).collect();
        assert_eq!(
            rows,
            [2, 1, 0, 1],
            "nulls last: values first, then the rest"
        );
    }

    #[test]
    fn only_a_plain_column_leads_an_order() {
        let column = Arc::new(Column::new("v", 2));
        let sort = [PhysicalSortExpr::new(column, SortOptions::default())];
        assert_eq!(PieceOrder::of(&sort).map(|order| order.column), Some(2));
        assert_eq!(PieceOrder::of(&[]), None);
        let literal = Arc::new(datafusion::physical_expr::expressions::Literal::new(
            ScalarValue::Int64(Some(1)),
        ));
        let sort = [PhysicalSortExpr::new(literal, SortOptions::default())];
        assert_eq!(PieceOrder::of(&sort), None);
    }
}
