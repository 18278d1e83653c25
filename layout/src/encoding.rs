//! Arrow types and schemas as trees hold them: `arrow_type_` (base64 of a one-field schema) and
//! `schema_binary_` (a schema's Arrow IPC encoding, as pyarrow's `Schema.serialize()`).

use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::ipc::writer::{write_message, DictionaryTracker, IpcDataGenerator, IpcWriteOptions};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The Arrow IPC encoding of `schema` (continuation marker, length, flatbuffer), as pyarrow's
/// `Schema.serialize()`.
pub fn encode_schema(schema: &Schema) -> Result<Vec<u8>, ArrowError> {
    let options = IpcWriteOptions::default();
    let mut tracker = DictionaryTracker::new(false);
    let encoded = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        schema,
        &mut tracker,
        &options,
    );
    let mut bytes = Vec::new();
    write_message(&mut bytes, encoded, &options)?;
    Ok(bytes)
}

/// Reads a schema written by [`encode_schema`] or pyarrow's `Schema.serialize()`.
pub fn decode_schema(bytes: &[u8]) -> Result<Schema, ArrowError> {
    arrow::ipc::convert::try_schema_from_ipc_buffer(bytes)
}

/// `arrow_type_`: base64 of a one-field (`item`) schema holding `data_type`.
pub fn encode_type(data_type: &DataType) -> Result<String, ArrowError> {
    let schema = Schema::new(vec![Field::new("item", data_type.clone(), true)]);
    Ok(STANDARD.encode(encode_schema(&schema)?))
}

/// Reads an `arrow_type_` field.
pub fn decode_type(text: &str) -> Result<DataType, ArrowError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|error| ArrowError::ParseError(format!("arrow_type_ is not base64: {error}")))?;
    let schema = decode_schema(&bytes)?;
    match schema.fields().first() {
        Some(field) => Ok(field.data_type().clone()),
        None => Err(ArrowError::ParseError(
            "arrow_type_ holds a schema without fields".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn reads_a_type_pyarrow_wrote() {
        // pa.timestamp('ms', tz='UTC'), as the Python package wrote it.
        let text = "/////4gAAAAQAAAAAAAKAAwABgAFAAgACgAAAAABBAAMAAAACAAIAAAABAAIAAAABAAAAAEAAAAU\
                    AAAAEAAUAAgABgAHAAwAAAAQABAAAAAAAAEKEAAAACAAAAAEAAAAAAAAAAQAAABpdGVtAAAAAAgA\
                    DAAGAAgACAAAAAAAAQAEAAAAAwAAAFVUQwAAAAAA";
        assert_eq!(
            decode_type(text).unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
    }

    #[test]
    fn types_round_trip_through_arrow_type() {
        let item = Field::new("item", DataType::Utf8, true);
        for data_type in [
            DataType::Timestamp(TimeUnit::Nanosecond, Some("Asia/Shanghai".into())),
            DataType::List(item.clone().into()),
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
            DataType::Decimal128(20, 3),
        ] {
            assert_eq!(
                decode_type(&encode_type(&data_type).unwrap()).unwrap(),
                data_type
            );
        }
    }

    #[test]
    fn bad_arrow_types_say_why() {
        let error = decode_type("not base64!").unwrap_err().to_string();
        assert!(error.contains("not base64"), "{error}");
        let empty = STANDARD.encode(encode_schema(&Schema::empty()).unwrap());
        let error = decode_type(&empty).unwrap_err().to_string();
        assert!(error.contains("without fields"), "{error}");
    }
}
