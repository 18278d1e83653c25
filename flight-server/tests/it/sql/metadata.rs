//! Catalogs, schemas, tables with their schemas, table types, `SqlInfo`.

use arrow::array::{Array, BinaryArray, StringArray, UnionArray};
use arrow::ipc::convert::try_schema_from_ipc_buffer;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, SqlInfo};

use super::*;
use crate::fixture::{flight_instance, FlightClients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_named_tables_with_their_schemas() {
    let instance = flight_instance();
    put_named(&instance.client(), "sales", &[sample(0, 10)]);
    let mut client = sql_client(instance.endpoint(), None).await;

    let info = client.get_catalogs().await.unwrap();
    let catalogs = fetch(&mut client, info).await.unwrap();
    assert_eq!(strings(&catalogs, "catalog_name"), ["vineyard"]);

    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: None,
        })
        .await
        .unwrap();
    let schemas = fetch(&mut client, info).await.unwrap();
    assert_eq!(
        strings(&schemas, "db_schema_name"),
        ["information_schema", "public"]
    );

    let info = client
        .get_tables(CommandGetTables {
            catalog: Some("vineyard".into()),
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: Some("sal%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .unwrap();
    let tables = fetch(&mut client, info).await.unwrap();
    assert_eq!(strings(&tables, "table_name"), ["sales"]);
    assert_eq!(strings(&tables, "table_type"), ["TABLE"]);
    let column = tables[0].column_by_name("table_schema").unwrap();
    let bytes = column.as_any().downcast_ref::<BinaryArray>().unwrap();
    assert_eq!(bytes.len(), 1);
    let schema = try_schema_from_ipc_buffer(bytes.value(0)).unwrap();
    let names: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect();
    assert_eq!(names, ["k", "v", "s"]);

    let info = client.get_table_types().await.unwrap();
    let types = fetch(&mut client, info).await.unwrap();
    assert_eq!(strings(&types, "table_type"), ["TABLE", "VIEW"]);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_info_names_the_server() {
    let instance = flight_instance();
    let mut client = sql_client(instance.endpoint(), None).await;
    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let rows = fetch(&mut client, info).await.unwrap();
    let names: Vec<u32> = rows
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name("info_name").unwrap();
            let column = column
                .as_any()
                .downcast_ref::<arrow::array::UInt32Array>()
                .unwrap();
            column.values().to_vec()
        })
        .collect();
    assert_eq!(
        names,
        [
            SqlInfo::FlightSqlServerName as u32,
            SqlInfo::FlightSqlServerReadOnly as u32
        ]
    );
    let values = rows[0].column_by_name("value").unwrap();
    let values = values.as_any().downcast_ref::<UnionArray>().unwrap();
    let texts = values
        .child(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(
        texts.iter().any(|text| text == Some("vineyard")),
        "{texts:?}"
    );
    instance.stop();
}
