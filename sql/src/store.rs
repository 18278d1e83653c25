//! Query results stored back: batches become one `vineyard::Table` (the `vineyard-builders`
//! layout, so Python and Flight read it like any other), persisted and named, all or
//! nothing.

use std::sync::Arc;

use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use vineyard_core::{Code, IpcClient, ObjectID};

use crate::error::{Error, Result};

/// Stores `batches` (all of `schema`) as one `vineyard::Table` named `name`; returns its id.
/// The name must be free. One all-or-nothing write: if any step fails (the store is full,
/// the name is taken meanwhile), everything the call created is deleted again.
pub fn store_table(
    client: &IpcClient,
    name: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<ObjectID> {
    if let Some(id) = named(client, name)? {
        return Err(Error::TableExists {
            name: name.to_string(),
            id,
        });
    }
    let (schema, batches) = storable(schema, batches)?;
    let mut failure = None;
    let stored = client.all_or_nothing(|client| {
        let stored = vineyard_builders::put_table(client, &schema, &batches)
            .map_err(|source| Error::Store {
                name: name.to_string(),
                source,
            })
            .and_then(|meta| {
                let id = meta.id().ok_or_else(|| {
                    Error::invalid("the instance created the table but returned no id")
                })?;
                client.persist(id)?;
                client.put_name(id, name)?;
                Ok(id)
            });
        // The write needs a core error to roll back; the caller gets the real one.
        stored.map_err(|error| {
            let rolled_back = vineyard_core::Error::invalid(error.to_string());
            failure = Some(error);
            rolled_back
        })
    });
    match (stored, failure) {
        (Ok(id), _) => Ok(id),
        (Err(_), Some(error)) => Err(error),
        (Err(error), None) => Err(error.into()),
    }
}

/// Drops the table `name`: the name, and the object unless another object uses it as a
/// member. Returns the object's id, or `None` if no such name exists.
pub fn drop_table(client: &IpcClient, name: &str) -> Result<Option<ObjectID>> {
    let Some(id) = named(client, name)? else {
        return Ok(None);
    };
    client.drop_name(name)?;
    if let Err(error) = client.delete(&[id], false, true) {
        // The name is gone, which is what DROP TABLE promises; the object stays for its users.
        tracing::debug!(%id, %error, "dropped table kept: it is in use");
    }
    Ok(Some(id))
}

/// The object named `name`, if any.
pub(crate) fn named(client: &IpcClient, name: &str) -> Result<Option<ObjectID>> {
    match client.get_name(name, false) {
        Ok(id) => Ok(Some(id)),
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Whether a vineyard error says that the object or name does not exist.
pub(crate) fn is_missing(error: &vineyard_core::Error) -> bool {
    matches!(
        error.code(),
        Code::ObjectNotExists | Code::MetaTreeSubtreeNotExists
    )
}

/// The batches with view types (`Utf8View`, `BinaryView`, which the stored layouts do not
/// have) cast to their plain forms.
fn storable(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let plain = |data_type: &DataType| match data_type {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    };
    if !schema
        .fields()
        .iter()
        .any(|field| plain(field.data_type()).is_some())
    {
        return Ok((Arc::clone(schema), batches.to_vec()));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match plain(field.data_type()) {
            Some(data_type) => field.as_ref().clone().with_data_type(data_type),
            None => field.as_ref().clone(),
        })
        .collect();
    let stored = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .zip(stored.fields())
                .map(|(column, field)| cast(column, field.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            Ok(RecordBatch::try_new_with_options(
                Arc::clone(&stored),
                columns,
                &options,
            )?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((stored, batches))
}
