//! Where a save goes: a URL and options to an object store and a prefix in it.
//!
//! - `file:///abs/dir` (or a plain path): a local directory, made if missing;
//! - `s3://bucket/prefix`: S3 or an S3-compatible server, configured from the usual AWS
//!   environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`, ...) and then from the options (`endpoint`, `region`,
//!   `access_key_id`, ..., with or without the `aws_` prefix); an `http://` endpoint is
//!   allowed as such. Every part and object sent carries its SHA-256 checksum
//!   (`x-amz-checksum-sha256`), which S3 checks on receipt and keeps; the option
//!   `checksum_algorithm` set to `none` sends none (for a server that refuses them);
//! - `memory://name`: a store in this process's memory, shared by every use of the same name
//!   (for tests).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::error::{Error, Result};

/// A store and the prefix of one save in it.
#[derive(Clone, Debug)]
pub struct Location {
    /// The URL as given (for messages).
    pub url: String,
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The save's prefix in the store.
    pub prefix: Path,
    /// The store again when it is a local directory: its files are read straight into the
    /// blobs and written straight from them, on several threads
    /// ([`crate::transfer::read_files`], [`crate::transfer::write_files`]).
    pub local: Option<Arc<LocalFileSystem>>,
}

impl Location {
    /// Opens the store a URL names (see the module's documentation for URLs and options).
    pub fn parse(url: &str, options: &BTreeMap<String, String>) -> Result<Location> {
        let invalid = |reason: String| Error::Url {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme, rest),
            None => ("file", url),
        };
        match scheme {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(invalid(
                        "a local directory must be an absolute path, e.g. file:///data/snap".into(),
                    ));
                }
                std::fs::create_dir_all(rest)
                    .map_err(|error| invalid(format!("cannot create the directory: {error}")))?;
                let store = LocalFileSystem::new_with_prefix(rest)
                    .map_err(|error| invalid(crate::error::describe(&error)))?;
                let store = Arc::new(store);
                Ok(Location {
                    url: url.to_string(),
                    store: Arc::clone(&store) as Arc<dyn ObjectStore>,
                    prefix: Path::default(),
                    local: Some(store),
                })
            }
            "s3" | "s3a" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(invalid(
                        "an S3 URL names a bucket: s3://bucket/prefix".into(),
                    ));
                }
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                let mut checksums = true;
                for (key, value) in options {
                    let key = key.to_ascii_lowercase();
                    let parsed: AmazonS3ConfigKey = key
                        .parse()
                        .or_else(|_| format!("aws_{key}").parse())
                        .map_err(|_| invalid(format!("unknown S3 option `{key}`")))?;
                    if parsed == AmazonS3ConfigKey::Checksum && value.eq_ignore_ascii_case("none") {
                        checksums = false;
                        continue;
                    }
                    builder = builder.with_config(parsed, value);
                }
                if checksums
                    && builder
                        .get_config_value(&AmazonS3ConfigKey::Checksum)
                        .is_none()
                {
                    // The SHA-256 of each request body is taken anyway to sign it. Sent as a
                    // checksum, S3 checks the bytes it received against it, and composes a
                    // multipart object's from its parts' instead of computing its default
                    // (CRC64NVME) over the whole object once it is complete.
                    builder = builder.with_checksum_algorithm(Checksum::SHA256);
                }
                let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
                if endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")) {
                    builder = builder.with_allow_http(true);
                }
                if builder
                    .get_config_value(&AmazonS3ConfigKey::Region)
                    .is_none()
                {
                    builder = builder.with_region("us-east-1");
                }
                let store = builder
                    .build()
                    .map_err(|error| invalid(crate::error::describe(&error)))?;
                Ok(Location {
                    url: url.to_string(),
                    store: Arc::new(store),
                    prefix: Path::from(prefix),
                    local: None,
                })
            }
            "memory" => Ok(Location {
                url: url.to_string(),
                store: memory_store(rest),
                prefix: Path::default(),
                local: None,
            }),
            other => Err(invalid(format!(
                "unknown scheme `{other}`; use file:///dir, s3://bucket/prefix or memory://name"
            ))),
        }
    }

    /// The path of `name` (e.g. `manifest.json`, `blobs/o...`) under the save's prefix.
    pub fn path(&self, name: &str) -> Path {
        let mut path = self.prefix.clone();
        for part in name.split('/') {
            path = path.join(part);
        }
        path
    }
}

/// The in-memory store named `name`, shared in this process.
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let store = stores
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(InMemory::new()));
    Arc::clone(store) as Arc<dyn ObjectStore>
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_store() {
        let none = BTreeMap::new();
        let dir = tempfile::tempdir().unwrap();
        let local = Location::parse(&format!("file://{}/snap", dir.path().display()), &none);
        assert_eq!(local.unwrap().path("blobs/x").as_ref(), "blobs/x");
        assert!(dir.path().join("snap").is_dir(), "the directory is made");
        let memory = Location::parse("memory://a", &none).unwrap();
        assert_eq!(memory.path("manifest.json").as_ref(), "manifest.json");
        let error = Location::parse("ftp://host/x", &none)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown scheme `ftp`"), "{error}");
        let error = Location::parse("file://relative", &none)
            .unwrap_err()
            .to_string();
        assert!(error.contains("absolute path"), "{error}");
        let mut options = BTreeMap::new();
        options.insert("endpoint".to_string(), "http://127.0.0.1:1".to_string());
        let s3 = Location::parse("s3://bucket/some/prefix", &options).unwrap();
        assert_eq!(
            s3.path("manifest.json").as_ref(),
            "some/prefix/manifest.json"
        );
        options.insert("frobnicate".to_string(), "1".to_string());
        let error = Location::parse("s3://bucket", &options)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown S3 option `frobnicate`"), "{error}");
    }
}
