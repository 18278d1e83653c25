//! pandas DataFrames, Series and indexes, as the Python package (and Vineyard's) stores them.
//!
//! Values of numpy dtypes are `vineyard::Tensor<T>` members; object and extension values
//! (strings, categoricals, nullable integers) are `vineyard::PickleBuffer`s. Labels (names,
//! column keys) are JSON text; a label JSON cannot hold exactly is also pickled, base64, in the
//! field named after the label's with [`PICKLED_LABEL_SUFFIX`] appended.

use crate::macros::layouts;

/// Appended to a label's field to name the field holding its pickle: `namepickled_`.
pub const PICKLED_LABEL_SUFFIX: &str = "pickled_";

layouts! {
    /// `vineyard::DataFrame`: columns keyed by their labels, and an index.
    DATA_FRAME: DataFrameLayout = "vineyard::DataFrame" {
        /// The column labels, as a JSON list.
        field columns = "columns_",
        /// The index.
        member index = "index_",
        /// The columns' own index, which keeps their type and labels exact.
        member columns_index = "columns_index_",
        /// The columns: each label (JSON text) and values.
        map values = "__values_",
        /// The partition's row index among others.
        field partition_index_row = "partition_index_row_",
        /// The partition's column index among others.
        field partition_index_column = "partition_index_column_",
        /// The batch's index among the rows.
        field row_batch_index = "row_batch_index_",
    }

    /// `vineyard::Series`: values, a name and an index.
    SERIES: SeriesLayout = "vineyard::Series" {
        /// The name (a label).
        field name = "name",
        /// The dtype's name.
        field value_type = "value_type_",
        /// The index.
        member index = "index_",
        /// The values.
        member value = "value_",
    }

    /// `vineyard::Index`: an index's values and name.
    INDEX: IndexLayout = "vineyard::Index" {
        /// The name (a label).
        field name = "name",
        /// The dtype's name.
        field value_type = "value_type_",
        /// A DatetimeIndex's frequency.
        field freq = "freq_",
        /// The values.
        member value = "value_",
    }

    /// `vineyard::RangeIndex`: a range; nothing is stored but its bounds.
    RANGE_INDEX: RangeIndexLayout = "vineyard::RangeIndex" {
        /// The first value.
        field start = "start_",
        /// The end (excluded).
        field stop = "stop_",
        /// The step.
        field step = "step_",
        /// The name (a label).
        field name = "name",
    }
}
