//! `BuilderRegistry`: builders keyed by Arrow type family (the `DataType` variant), open to
//! user builders.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use vineyard_core::{IpcClient, ObjectMeta};

use crate::error::{Error, Result};
use crate::put::Put;
use crate::{binary, nested, primitive, table};

/// A builder: describes an array as a tree whose blobs come from [`Put::bytes`] and whose
/// children come from [`BuilderRegistry::build_array`]; the put creates the tree (members
/// first) when it is written, so a builder returns it uncreated.
pub type Builder =
    Box<dyn Fn(&BuilderRegistry, &Put, &dyn Array) -> Result<ObjectMeta> + Send + Sync>;

/// The family of a type: its `DataType` variant (`Int64`, `Timestamp`, `Utf8`, `List`, ...),
/// the key builders are registered under.
pub fn family_of(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Null => "Null",
        DataType::Boolean => "Boolean",
        DataType::Int8 => "Int8",
        DataType::Int16 => "Int16",
        DataType::Int32 => "Int32",
        DataType::Int64 => "Int64",
        DataType::UInt8 => "UInt8",
        DataType::UInt16 => "UInt16",
        DataType::UInt32 => "UInt32",
        DataType::UInt64 => "UInt64",
        DataType::Float16 => "Float16",
        DataType::Float32 => "Float32",
        DataType::Float64 => "Float64",
        DataType::Timestamp(_, _) => "Timestamp",
        DataType::Date32 => "Date32",
        DataType::Date64 => "Date64",
        DataType::Time32(_) => "Time32",
        DataType::Time64(_) => "Time64",
        DataType::Duration(_) => "Duration",
        DataType::Interval(_) => "Interval",
        DataType::Binary => "Binary",
        DataType::FixedSizeBinary(_) => "FixedSizeBinary",
        DataType::LargeBinary => "LargeBinary",
        DataType::BinaryView => "BinaryView",
        DataType::Utf8 => "Utf8",
        DataType::LargeUtf8 => "LargeUtf8",
        DataType::Utf8View => "Utf8View",
        DataType::List(_) => "List",
        DataType::ListView(_) => "ListView",
        DataType::FixedSizeList(_, _) => "FixedSizeList",
        DataType::LargeList(_) => "LargeList",
        DataType::LargeListView(_) => "LargeListView",
        DataType::Struct(_) => "Struct",
        DataType::Union(_, _) => "Union",
        DataType::Dictionary(_, _) => "Dictionary",
        DataType::Decimal32(_, _) => "Decimal32",
        DataType::Decimal64(_, _) => "Decimal64",
        DataType::Decimal128(_, _) => "Decimal128",
        DataType::Decimal256(_, _) => "Decimal256",
        DataType::Map(_, _) => "Map",
        DataType::RunEndEncoded(_, _) => "RunEndEncoded",
    }
}

/// Builders keyed by type family; the Arrow types of the Python package's layouts are
/// built in, and a registration replaces the builder of its family.
///
/// ```
/// use vineyard_builders::BuilderRegistry;
///
/// let mut registry = BuilderRegistry::with_defaults();
/// registry.register(
///     "FixedSizeList",
///     Box::new(|registry, put, array| {
///         // e.g. store the flattened values under a typename of your own
///         let list = arrow::array::AsArray::as_fixed_size_list(array);
///         registry.build_array(put, list.values().as_ref())
///     }),
/// );
/// assert!(registry.families().any(|family| family == "FixedSizeList"));
/// ```
#[derive(Default)]
pub struct BuilderRegistry {
    builders: HashMap<String, Builder>,
}

impl BuilderRegistry {
    /// An empty registry.
    pub fn new() -> BuilderRegistry {
        BuilderRegistry::default()
    }

    /// A registry with the built-in builders: every numeric, temporal and decimal type,
    /// boolean, null, (large) strings and binaries, fixed-size binaries, (large) lists,
    /// structs and dictionaries.
    pub fn with_defaults() -> BuilderRegistry {
        let mut registry = BuilderRegistry::new();
        for family in [
            "Int8",
            "Int16",
            "Int32",
            "Int64",
            "UInt8",
            "UInt16",
            "UInt32",
            "UInt64",
            "Float16",
            "Float32",
            "Float64",
            "Timestamp",
            "Date32",
            "Date64",
            "Time32",
            "Time64",
            "Duration",
        ] {
            registry.register(family, Box::new(primitive::put_numeric));
        }
        for family in ["Decimal32", "Decimal64", "Decimal128", "Decimal256"] {
            registry.register(family, Box::new(primitive::put_decimal));
        }
        registry.register("Boolean", Box::new(primitive::put_boolean));
        registry.register("Null", Box::new(primitive::put_null));
        for family in ["Utf8", "LargeUtf8", "Binary", "LargeBinary"] {
            registry.register(family, Box::new(binary::put_binary));
        }
        registry.register("FixedSizeBinary", Box::new(binary::put_fixed_size_binary));
        registry.register("List", Box::new(nested::put_list));
        registry.register("LargeList", Box::new(nested::put_list));
        registry.register("Struct", Box::new(nested::put_struct));
        registry.register("Dictionary", Box::new(nested::put_dictionary));
        registry
    }

    /// Registers `builder` for arrays whose type is of `family` (see [`family_of`]),
    /// replacing the builder registered before.
    pub fn register(&mut self, family: impl Into<String>, builder: Builder) {
        self.builders.insert(family.into(), builder);
    }

    /// The families with a builder.
    pub fn families(&self) -> impl Iterator<Item = &str> {
        self.builders.keys().map(String::as_str)
    }

    /// The tree of an array, its blobs allocated, to be created when `put` is written (what
    /// builders call for their children).
    pub fn build_array(&self, put: &Put, array: &dyn Array) -> Result<ObjectMeta> {
        let data_type = array.data_type();
        let family = family_of(data_type);
        match self.builders.get(family) {
            Some(builder) => builder(self, put, array),
            None => Err(Error::UnsupportedType {
                data_type: data_type.clone(),
                family,
            }),
        }
    }

    /// Checks that every type inside `data_type` (list items, struct fields, dictionary keys
    /// and values) has a builder, before anything is written.
    pub fn check(&self, data_type: &DataType) -> Result<()> {
        let family = family_of(data_type);
        if !self.builders.contains_key(family) {
            return Err(Error::UnsupportedType {
                data_type: data_type.clone(),
                family,
            });
        }
        match data_type {
            DataType::List(item) | DataType::LargeList(item) => self.check(item.data_type()),
            DataType::Struct(fields) => fields
                .iter()
                .try_for_each(|field| self.check(field.data_type())),
            DataType::Dictionary(keys, values) => {
                self.check(keys)?;
                self.check(values)
            }
            _ => Ok(()),
        }
    }

    fn check_schema(&self, schema: &Schema) -> Result<()> {
        schema
            .fields()
            .iter()
            .try_for_each(|field| self.check(field.data_type()))
    }

    /// Puts an array (each buffer copied once into a new blob); returns the created tree.
    pub fn put_array(&self, client: &IpcClient, array: &dyn Array) -> Result<ObjectMeta> {
        self.put_array_with(Put::new(client), array)
    }

    /// Puts an array with `put` (which may reuse blobs); returns the created tree.
    pub fn put_array_with(&self, put: Put, array: &dyn Array) -> Result<ObjectMeta> {
        self.check(array.data_type())?;
        put.run(|put| self.build_array(put, array))
    }

    /// Puts a record batch; returns the created tree.
    pub fn put_record_batch(&self, client: &IpcClient, batch: &RecordBatch) -> Result<ObjectMeta> {
        self.put_record_batch_with(Put::new(client), batch)
    }

    /// Puts a record batch with `put`; returns the created tree.
    pub fn put_record_batch_with(&self, put: Put, batch: &RecordBatch) -> Result<ObjectMeta> {
        self.check_schema(&batch.schema())?;
        put.run(|put| table::put_record_batch(self, put, batch))
    }

    /// Puts record batches that share `schema` as one table; returns the created tree.
    pub fn put_table(
        &self,
        client: &IpcClient,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<ObjectMeta> {
        self.put_table_with(Put::new(client), schema, batches)
    }

    /// Puts record batches that share `schema` as one table with `put`.
    pub fn put_table_with(
        &self,
        put: Put,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<ObjectMeta> {
        self.check_schema(schema)?;
        put.run(|put| table::put_table(self, put, schema, batches))
    }

    /// A writer that stores a table of `schema` batch by batch (the schema is stored now).
    pub fn table_writer(
        &self,
        client: &IpcClient,
        schema: &SchemaRef,
    ) -> Result<table::TableWriter<'_>> {
        self.check_schema(schema)?;
        table::TableWriter::begin(self, client, schema)
    }

    /// Puts arrays of `data_type` as one `vineyard::ChunkedArray` with `put`.
    pub fn put_chunked_array_with(
        &self,
        put: Put,
        data_type: &DataType,
        chunks: &[ArrayRef],
    ) -> Result<ObjectMeta> {
        self.check(data_type)?;
        put.run(|put| nested::put_chunked(self, put, data_type, chunks))
    }

    /// Puts a schema alone (a `vineyard::SchemaProxy`).
    pub fn put_schema_with(&self, put: Put, schema: &Schema) -> Result<ObjectMeta> {
        put.run(|put| table::put_schema(put, schema))
    }
}

impl fmt::Debug for BuilderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut families: Vec<_> = self.builders.keys().collect();
        families.sort();
        f.debug_struct("BuilderRegistry")
            .field("families", &families)
            .finish()
    }
}

/// The registry behind [`crate::put_array`] and friends, built once.
pub fn default_registry() -> &'static BuilderRegistry {
    static DEFAULT: OnceLock<BuilderRegistry> = OnceLock::new();
    DEFAULT.get_or_init(BuilderRegistry::with_defaults)
}
