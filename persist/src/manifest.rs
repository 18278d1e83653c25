//! The manifest of a save (`manifest.json`): the saved objects' metadata trees, their names,
//! each blob's size, path and CRC-32C, and the Arrow files written beside them. Typed and
//! versioned: a reader checks `format` and `version` before anything else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The `format` of every manifest.
pub const FORMAT: &str = "vineyard-rs-snapshot";

/// The manifest version this build writes (and the newest it reads). Version 2 added
/// [`SavedBlob::offset`]: a blob whose bytes an exported Arrow file holds as they are is not
/// written a second time.
pub const VERSION: u32 = 2;

/// The oldest manifest version this build reads.
pub const OLDEST_VERSION: u32 = 1;

/// The manifest's name under a save's prefix.
pub const MANIFEST_NAME: &str = "manifest.json";

/// One save.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// When the save finished, in milliseconds since the epoch.
    pub created_ms: u64,
    /// The instance saved from.
    pub instance_id: u64,
    /// The objects saved (each with its members), in the order asked.
    pub objects: Vec<SavedObject>,
    /// Every blob of those objects, by its id when saved (`"o8..."`).
    pub blobs: BTreeMap<String, SavedBlob>,
    /// Files other tools read (Arrow IPC, Parquet), one per Arrow-shaped object.
    #[serde(default)]
    pub exports: Vec<SavedExport>,
}

/// A saved object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedObject {
    /// Its id when saved.
    pub id: String,
    /// Its names then.
    #[serde(default)]
    pub names: Vec<String>,
    /// Whether it was persisted (published to the cluster).
    #[serde(default)]
    pub persisted: bool,
    /// Its metadata tree, members expanded.
    pub tree: Map<String, Value>,
}

/// A saved blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedBlob {
    /// Bytes.
    pub size: u64,
    /// CRC-32C (Castagnoli) of the bytes.
    pub crc32c: u32,
    /// Where the bytes are, under the save's prefix: the blob's own file, or (with `offset`)
    /// a file of other things (an exported Arrow file holding the blob as one of its
    /// buffers).
    pub path: String,
    /// Where in `path` the bytes start when the file holds more than the blob; `None` when
    /// the file is the blob's own and holds exactly its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A file written for other tools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedExport {
    /// The object it holds.
    pub object: String,
    /// `arrow` (an Arrow IPC file) or `parquet`.
    pub format: String,
    /// Where it is, under the save's prefix.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

impl Manifest {
    /// An empty manifest of this build's version.
    pub fn new(instance_id: u64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created_ms: 0,
            instance_id,
            objects: Vec::new(),
            blobs: BTreeMap::new(),
            exports: Vec::new(),
        }
    }

    /// Parses a manifest read from `url`, checking its format and version first.
    pub fn parse(url: &str, bytes: &[u8]) -> Result<Manifest> {
        let bad = |reason: String| Error::BadManifest {
            url: url.to_string(),
            reason,
        };
        let value: Value =
            serde_json::from_slice(bytes).map_err(|error| bad(format!("not JSON: {error}")))?;
        match value.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            other => {
                return Err(bad(format!(
                    "`format` is {other:?}, not {FORMAT:?}: this is not a vineyard save"
                )))
            }
        }
        let version = value.get("version").and_then(Value::as_u64);
        if !version.is_some_and(|found| (OLDEST_VERSION as u64..=VERSION as u64).contains(&found)) {
            return Err(match version {
                Some(found) => Error::ManifestVersion {
                    url: url.to_string(),
                    found: found.min(u32::MAX as u64) as u32,
                    supported: VERSION,
                },
                None => bad("`version` is missing or not a number".into()),
            });
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|error| bad(error.to_string()))?;
        for object in &manifest.objects {
            let mut blobs = Vec::new();
            vineyard_core::table::collect_blob_ids(&Value::Object(object.tree.clone()), &mut blobs);
            for blob in blobs {
                if blob != vineyard_core::EMPTY_BLOB_ID
                    && !manifest.blobs.contains_key(&blob.to_string())
                {
                    return Err(bad(format!(
                        "object {} has blob {blob}, which the manifest does not list",
                        object.id
                    )));
                }
            }
        }
        Ok(manifest)
    }

    /// The manifest as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_version_are_checked_first() {
        let manifest = Manifest::new(3);
        let parsed = Manifest::parse("x", &manifest.to_bytes()).unwrap();
        assert_eq!(parsed, manifest);
        let mut future = serde_json::to_value(&manifest).unwrap();
        future["version"] = 99.into();
        future["objects"] = "a shape this build does not know".into();
        let error = Manifest::parse("x", &serde_json::to_vec(&future).unwrap()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::ManifestVersion {
                    found: 99,
                    supported: VERSION,
                    ..
                }
            ),
            "{error}"
        );
        let mut first = serde_json::to_value(&manifest).unwrap();
        first["version"] = 1.into();
        let parsed = Manifest::parse("x", &serde_json::to_vec(&first).unwrap()).unwrap();
        assert_eq!(parsed.version, 1, "version 1 is still read");
        let error = Manifest::parse("x", br#"{"format":"other","version":1}"#).unwrap_err();
        assert!(error.to_string().contains("not a vineyard save"), "{error}");
        let error = Manifest::parse("x", b"{not json").unwrap_err();
        assert!(error.to_string().contains("not JSON"), "{error}");
    }

    #[test]
    fn every_blob_of_a_tree_is_listed() {
        let mut manifest = Manifest::new(1);
        let tree = serde_json::json!({"typename": "T", "id": "o0000000000000001",
            "buffer_": {"typename": "vineyard::Blob", "id": "o8000000000000009", "length": 1}});
        manifest.objects.push(SavedObject {
            id: "o0000000000000001".into(),
            names: vec![],
            persisted: false,
            tree: tree.as_object().unwrap().clone(),
        });
        let error = Manifest::parse("x", &manifest.to_bytes()).unwrap_err();
        assert!(error.to_string().contains("o8000000000000009"), "{error}");
    }
}
