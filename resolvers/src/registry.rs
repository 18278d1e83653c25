//! `ResolverRegistry`: resolvers keyed by typename prefix; the most precise prefix wins.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use arrow::array::ArrayRef;
use vineyard_core::{Blob, ObjectMeta, EMPTY_BLOB_ID};
use vineyard_layout::{
    ARRAY, BASE_BINARY_ARRAY, BINARY_ARRAY_TYPES, BLOB, BOOLEAN_ARRAY, CHUNKED_ARRAY, DATA_FRAME,
    DICTIONARY_ARRAY, FIXED_SIZE_BINARY_ARRAY, INDEX, LARGE_LIST_ARRAY, LIST_ARRAY, NULL_ARRAY,
    NUMERIC_ARRAY, RANGE_INDEX, RECORD_BATCH, SCHEMA_PROXY, SERIES, STRUCT_ARRAY, TABLE, TENSOR,
};

use crate::error::{typename_of, Error, Result};
use crate::source::BlobSource;
use crate::{binary, nested, pandas, primitive, table, tensor, Resolved};

/// A resolver: turns a tree (and the blobs it names) into a value; nested members go back
/// through the registry it is given.
pub type Resolver =
    Box<dyn Fn(&ResolverRegistry, &dyn BlobSource, &ObjectMeta) -> Result<Resolved> + Send + Sync>;

/// Resolvers keyed by typename prefix, open to user types.
///
/// ```
/// use vineyard_resolvers::{Resolved, ResolverRegistry};
///
/// let mut registry = ResolverRegistry::with_defaults();
/// registry.register(
///     "my::Blob",
///     Box::new(|registry, source, meta| {
///         let inner = meta.member("buffer_").expect("my::Blob has a buffer_");
///         registry.resolve(source, &inner)
///     }),
/// );
/// assert!(registry.prefixes().any(|prefix| prefix == "my::Blob"));
/// ```
#[derive(Default)]
pub struct ResolverRegistry {
    resolvers: BTreeMap<String, Resolver>,
}

impl ResolverRegistry {
    /// An empty registry.
    pub fn new() -> ResolverRegistry {
        ResolverRegistry::default()
    }

    /// A registry with the built-in resolvers (every layout of the Python package that has an
    /// Arrow or tensor form).
    pub fn with_defaults() -> ResolverRegistry {
        let mut registry = ResolverRegistry::new();
        registry.register(BLOB.typename, Box::new(resolve_blob));
        for (prefix, resolver) in arrow_resolvers() {
            registry.register(prefix, resolver);
        }
        registry.register(TENSOR.typename, Box::new(tensor::resolve_tensor));
        registry.register(ARRAY.typename, Box::new(tensor::resolve_array));
        registry.register(DATA_FRAME.typename, Box::new(pandas::resolve_data_frame));
        registry.register(SERIES.typename, Box::new(pandas::resolve_series));
        registry.register(INDEX.typename, Box::new(pandas::resolve_index));
        registry.register(RANGE_INDEX.typename, Box::new(pandas::resolve_range_index));
        registry
    }

    /// Registers `resolver` for typenames starting with `prefix`; replaces an earlier
    /// resolver of the same prefix.
    pub fn register(&mut self, prefix: impl Into<String>, resolver: Resolver) {
        self.resolvers.insert(prefix.into(), resolver);
    }

    /// The registered prefixes, in order.
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.resolvers.keys().map(String::as_str)
    }

    /// The resolver of the longest registered prefix of `typename`.
    fn find(&self, typename: &str) -> Option<&Resolver> {
        self.resolvers
            .iter()
            .filter(|(prefix, _)| typename.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, resolver)| resolver)
    }

    /// Resolves an object by its typename.
    pub fn resolve(&self, source: &dyn BlobSource, meta: &ObjectMeta) -> Result<Resolved> {
        let typename = typename_of(meta);
        // Member trees of blobs may lack the typename; their ids say what they are.
        let typename = if typename.is_empty() && meta.is_blob() {
            BLOB.typename
        } else {
            typename
        };
        match self.find(typename) {
            Some(resolver) => resolver(self, source, meta),
            None => Err(Error::UnsupportedType {
                typename: typename.into(),
                id: meta.id(),
            }),
        }
    }

    /// Resolves an object that must be array-shaped: an array, a 1-D tensor's values (any
    /// tensor's, flattened), or a table or chunked array of one column in one batch.
    pub fn resolve_array(&self, source: &dyn BlobSource, meta: &ObjectMeta) -> Result<ArrayRef> {
        self.resolve(source, meta)?.into_array(meta)
    }
}

impl fmt::Debug for ResolverRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolverRegistry")
            .field("prefixes", &self.resolvers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The resolvers of the Arrow layouts (arrays, chunked arrays, schemas, record batches and
/// tables), by typename prefix.
fn arrow_resolvers() -> Vec<(&'static str, Resolver)> {
    let mut resolvers: Vec<(&'static str, Resolver)> = vec![
        (NUMERIC_ARRAY.typename, Box::new(primitive::resolve_numeric)),
        (BOOLEAN_ARRAY.typename, Box::new(primitive::resolve_boolean)),
        (NULL_ARRAY.typename, Box::new(primitive::resolve_null)),
        (BASE_BINARY_ARRAY.typename, Box::new(binary::resolve_binary)),
        (
            FIXED_SIZE_BINARY_ARRAY.typename,
            Box::new(binary::resolve_fixed_size_binary),
        ),
        (LIST_ARRAY.typename, Box::new(nested::resolve_list)),
        (LARGE_LIST_ARRAY.typename, Box::new(nested::resolve_list)),
        (STRUCT_ARRAY.typename, Box::new(nested::resolve_struct)),
        (
            DICTIONARY_ARRAY.typename,
            Box::new(nested::resolve_dictionary),
        ),
        (CHUNKED_ARRAY.typename, Box::new(nested::resolve_chunked)),
        (SCHEMA_PROXY.typename, Box::new(table::resolve_schema_proxy)),
        (RECORD_BATCH.typename, Box::new(table::resolve_record_batch)),
        (TABLE.typename, Box::new(table::resolve_table)),
    ];
    for binary in &BINARY_ARRAY_TYPES {
        resolvers.push((binary.alias, Box::new(binary::resolve_binary)));
    }
    resolvers
}

/// The typename prefixes of the Arrow layouts: arrays of every kind, chunked arrays, schemas,
/// record batches and tables. Objects of these resolve to Arrow values (the Python package
/// resolves them through this crate).
pub fn arrow_prefixes() -> Vec<&'static str> {
    arrow_resolvers()
        .into_iter()
        .map(|(prefix, _)| prefix)
        .collect()
}

/// The registry behind [`crate::resolve`], built once.
pub fn default_registry() -> &'static ResolverRegistry {
    static DEFAULT: OnceLock<ResolverRegistry> = OnceLock::new();
    DEFAULT.get_or_init(ResolverRegistry::with_defaults)
}

fn resolve_blob(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let id = meta
        .id()
        .ok_or_else(|| Error::invalid_field(meta, "id", "is missing from a blob's tree"))?;
    if id == EMPTY_BLOB_ID {
        return Ok(Resolved::Blob(Blob::empty()));
    }
    Ok(Resolved::Blob(source.blobs(&[id])?.remove(0)))
}
