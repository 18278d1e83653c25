//! Flight SQL's metadata commands: catalogs, schemas, tables (with their Arrow schemas),
//! table types and `SqlInfo`, each answered as one record batch from the engine's catalog.
//!
//! The catalog is `vineyard`, its schema `public` holds a table per named Arrow-shaped object
//! (type `TABLE`), and `information_schema` holds DataFusion's views (type `VIEW`).

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::sql::metadata::{
    GetCatalogsBuilder, GetTablesBuilder, SqlInfoData, SqlInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTables, SqlInfo,
    SqlSupportedCaseSensitivity, SqlSupportedTransaction,
};
use datafusion::catalog::information_schema::{INFORMATION_SCHEMA, INFORMATION_SCHEMA_TABLES};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;
use vineyard_sql::datafusion;
use vineyard_sql::SqlEngine;

use crate::error::Result;

/// The table types this service lists.
const TABLE_TYPES: [&str; 2] = ["TABLE", "VIEW"];

/// The schema of `CommandGetTableTypes`' result.
pub(crate) fn table_types_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "table_type",
        DataType::Utf8,
        false,
    )]))
}

/// `CommandGetTableTypes`: the table types.
pub(crate) fn table_types() -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        table_types_schema(),
        vec![Arc::new(StringArray::from(TABLE_TYPES.to_vec()))],
    )?)
}

/// `CommandGetCatalogs`.
pub(crate) fn catalogs(engine: &SqlEngine, command: CommandGetCatalogs) -> Result<RecordBatch> {
    let mut builder = command.into_builder();
    for catalog in engine.context().catalog_names() {
        builder.append(catalog);
    }
    Ok(builder.build()?)
}

/// The schema of `CommandGetCatalogs`' result.
pub(crate) fn catalogs_schema() -> SchemaRef {
    GetCatalogsBuilder::new().schema()
}

/// `CommandGetDbSchemas`.
pub(crate) fn schemas(engine: &SqlEngine, command: CommandGetDbSchemas) -> Result<RecordBatch> {
    let mut builder = command.into_builder();
    for (catalog, schema) in schema_names(engine.context()) {
        builder.append(catalog, schema);
    }
    Ok(builder.build()?)
}

/// The schema of `CommandGetDbSchemas`' result.
pub(crate) fn schemas_schema(command: CommandGetDbSchemas) -> SchemaRef {
    command.into_builder().schema()
}

/// The schema of `CommandGetTables`' result (with or without the tables' schemas).
pub(crate) fn tables_schema(command: CommandGetTables) -> SchemaRef {
    command.into_builder().schema()
}

/// `CommandGetTables`: every table of every schema (the builder applies the command's
/// filters), with its Arrow schema if asked.
pub(crate) async fn tables(engine: &SqlEngine, command: CommandGetTables) -> Result<RecordBatch> {
    let mut builder: GetTablesBuilder = command.into_builder();
    let include_schema = builder.include_schema();
    let context = engine.context();
    for (catalog, schema_name) in schema_names(context) {
        let Some(provider) = schema_provider(context, &catalog, &schema_name) else {
            continue;
        };
        let (names, table_type) = if schema_name == INFORMATION_SCHEMA {
            let names = INFORMATION_SCHEMA_TABLES
                .iter()
                .map(|name| name.to_string())
                .collect();
            (names, "VIEW")
        } else {
            (provider.table_names(), "TABLE")
        };
        for name in names {
            let schema = if include_schema {
                // A table dropped since it was listed is left out.
                match provider.table(&name).await {
                    Ok(Some(table)) => table.schema(),
                    _ => continue,
                }
            } else {
                Arc::new(Schema::empty())
            };
            let table_type = match provider.table_type(&name).await {
                Ok(Some(TableType::View)) => "VIEW",
                _ => table_type,
            };
            builder.append(&catalog, &schema_name, &name, table_type, &schema)?;
        }
    }
    Ok(builder.build()?)
}

/// Every (catalog, schema), `information_schema` included.
fn schema_names(context: &SessionContext) -> Vec<(String, String)> {
    let mut names = Vec::new();
    for catalog in context.catalog_names() {
        let Some(provider) = context.catalog(&catalog) else {
            continue;
        };
        for schema in provider.schema_names() {
            names.push((catalog.clone(), schema));
        }
        if context.copied_config().information_schema() {
            names.push((catalog, INFORMATION_SCHEMA.to_string()));
        }
    }
    names
}

fn schema_provider(
    context: &SessionContext,
    catalog: &str,
    schema: &str,
) -> Option<Arc<dyn SchemaProvider>> {
    let table = datafusion::common::TableReference::full(catalog, schema, "_");
    context.state().schema_for_ref(table).ok()
}

/// What `CommandGetSqlInfo` says about this service.
pub(crate) fn sql_info() -> SqlInfoData {
    let mut builder = SqlInfoDataBuilder::new();
    builder.append(SqlInfo::FlightSqlServerName, "vineyard");
    builder.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    builder.append(SqlInfo::FlightSqlServerReadOnly, false);
    builder.append(SqlInfo::FlightSqlServerSql, true);
    builder.append(SqlInfo::FlightSqlServerSubstrait, false);
    builder.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    builder.append(SqlInfo::FlightSqlServerCancel, false);
    builder.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    builder.append(SqlInfo::SqlDdlCatalog, false);
    builder.append(SqlInfo::SqlDdlSchema, false);
    builder.append(SqlInfo::SqlDdlTable, true);
    builder.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    builder.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    builder.append(SqlInfo::SqlAllTablesAreSelectable, true);
    builder
        .build()
        .expect("the SqlInfo values above have the types Flight SQL gives them")
}
