//! Object storage for uploaded files: a local directory (the default) or an S3 bucket, every
//! object sealed.
//!
//! The application reads and writes through [`SealedStore`]: a write is encrypted as it streams
//! (chunked AES-256-GCM with a fresh data key per object, wrapped by `RIVVI_DATA_KEY`; the format
//! is in [`envelope`]) before any byte reaches a disk or a bucket, and a read authenticates each
//! chunk before handing it on. [`ObjectStore`] underneath moves bytes as they are stored.
//!
//! [`ObjectStore`] is an enum over the two backends rather than a trait object: the set is
//! closed, the methods are plain `async fn`s (no boxed futures, generic streams allowed), and a
//! clone is a couple of reference counts, so it sits in `AppState` as is.
//!
//! Writes stream: [`ObjectStore::put_stream`] hashes and counts the bytes as they pass, and never
//! holds a whole file in memory (the local backend writes chunk by chunk; S3 buffers at most one
//! multipart part). A write that fails or is abandoned leaves no object behind.
//!
//! Keys are ours (`orgs/<org id>/uploads/<upload id>`), never a client's file name, which may
//! hold PHI; so keys are safe to log.
//!
//! # Layout
//! - [`sealed`]: [`SealedStore`], sealing on write and opening on read; the key id of an object,
//!   re-wrapping its data key, sealing objects stored before sealing, listing.
//! - [`envelope`]: the sealed object format (header, STREAM chunks) and its streaming sealer and
//!   opener.
//! - [`local`]: [`LocalStore`], files under a root directory, published by rename.
//! - [`s3`]: [`S3Store`], `aws-sdk-s3` with path-style addressing, multipart for large objects,
//!   server-side encryption requested on every write.

pub mod envelope;
pub mod local;
pub mod s3;
pub mod sealed;

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

pub use envelope::EnvelopeError;
pub use local::LocalStore;
pub use s3::S3Store;
pub use sealed::{Opened, Rewrapped, SealedStore, Sealing, StoredFormat};

use crate::config::Secret;

/// Where objects live: `STORAGE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// `file://./data/uploads` (relative to the working directory) or `file:///abs/path`.
    Local { root: PathBuf },
    /// `s3://bucket/optional/prefix`.
    S3 { bucket: String, prefix: String },
}

impl StorageLocation {
    /// Parses `STORAGE_URL`; the error says what is wrong and what is expected.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("{url:?} names no directory (expected file://./data/uploads)"));
            }
            return Ok(StorageLocation::Local { root: PathBuf::from(path) });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|reason| format!("{url:?}: {reason}"))?;
            let prefix = prefix.trim_matches('/');
            let bad_segment = |segment: &str| segment.is_empty() || segment == "." || segment == "..";
            if !prefix.is_empty() && prefix.split('/').any(bad_segment) {
                return Err(format!("{url:?}: the prefix has an empty, '.' or '..' segment"));
            }
            return Ok(StorageLocation::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() });
        }
        Err(format!("{url:?} is neither file://DIRECTORY nor s3://BUCKET/PREFIX"))
    }
}

/// S3 bucket naming rules (the subset that matters for path-style URLs).
fn check_bucket(bucket: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(valid_char) {
        return Err(format!(
            "bucket {bucket:?} must be 3 to 63 characters of lowercase letters, digits, '-' and '.'"
        ));
    }
    Ok(())
}

/// Explicit S3 credentials. Without them the standard AWS chain applies (`AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY`, profiles, web identity, instance metadata).
#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Storage settings: `STORAGE_URL` and, for S3, `S3_ENDPOINT`.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub location: StorageLocation,
    /// `S3_ENDPOINT`: an S3-compatible server (MinIO, s3s-fs, ...). `None` is AWS itself.
    pub s3_endpoint: Option<String>,
    /// Overrides the region from the AWS chain (`AWS_REGION`); `us-east-1` when neither is set.
    pub s3_region: Option<String>,
    /// Overrides the AWS credential chain (tests set this; deployments use the chain).
    pub s3_credentials: Option<S3Credentials>,
}

impl StorageSettings {
    /// Settings for `STORAGE_URL` and an optional `S3_ENDPOINT`.
    pub fn parse(url: &str, s3_endpoint: Option<String>) -> Result<Self, String> {
        let location = StorageLocation::parse(url)?;
        if let Some(endpoint) = &s3_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(format!("S3_ENDPOINT {endpoint:?} must start with http:// or https://"));
            }
        }
        Ok(StorageSettings { location, s3_endpoint, s3_region: None, s3_credentials: None })
    }

    /// Local storage under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        StorageSettings {
            location: StorageLocation::Local { root: root.into() },
            s3_endpoint: None,
            s3_region: None,
            s3_credentials: None,
        }
    }
}

/// What a finished write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
}

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    // not found
    #[error("object not found <key={0}>")]
    NotFound(String),

    // stored data
    /// A sealed object that does not open: damaged, cut short, moved to another key, or wrapped
    /// by a key id `RIVVI_DATA_KEY` does not list.
    #[error("sealed object does not open <key={key}>")]
    Sealed {
        key: String,
        #[source]
        source: EnvelopeError,
    },

    // caller
    /// The stream being stored failed; the inner error is the caller's own (such as a size limit).
    #[error("reading the data to store failed")]
    Source(#[source] io::Error),
    #[error("invalid object key <key={0}>")]
    InvalidKey(String),

    // backend
    #[error("local storage {op} failed <path={path}>")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("S3 {op} failed <key={key}>: {message}")]
    S3 { op: &'static str, key: String, message: String },
    /// Reading an object's bytes failed after the read had started.
    #[error("reading the object failed <key={key}>")]
    Read {
        key: String,
        #[source]
        source: io::Error,
    },
}

/// The backend: bytes exactly as stored, neither sealed nor opened (the application goes through
/// [`SealedStore`]; this is for it, and for tools and tests that look at what is stored). Cheap
/// to clone.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    Local(LocalStore),
    S3(S3Store),
}

impl ObjectStore {
    /// Opens the configured store. The local root directory is created; an S3 bucket is not
    /// contacted here (see [`ObjectStore::ping`]), so a brief network problem does not stop the
    /// server from starting.
    pub async fn from_settings(settings: &StorageSettings) -> Result<Self, StorageError> {
        Ok(match &settings.location {
            StorageLocation::Local { root } => ObjectStore::Local(LocalStore::open(root.clone()).await?),
            StorageLocation::S3 { bucket, prefix } => {
                ObjectStore::S3(S3Store::connect(bucket, prefix, settings).await)
            }
        })
    }

    /// Stores the bytes of `stream` under `key`, replacing any object there, and returns their
    /// size and SHA-256. The object appears only once complete: if the stream fails (for example
    /// when the caller's size limit trips, as a [`StorageError::Source`]) or the future is
    /// dropped, nothing is left under `key`.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn put_stream<S>(&self, key: &str, stream: S) -> Result<PutResult, StorageError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        check_key(key)?;
        let mut digest = BytesSeen::default();
        let counted = digest.count(stream);
        match self {
            ObjectStore::Local(store) => store.put(key, counted).await?,
            ObjectStore::S3(store) => store.put(key, counted).await?,
        }
        Ok(digest.result())
    }

    /// The whole object as stored.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        check_key(key)?;
        match self {
            ObjectStore::Local(store) => store.get(key).await,
            ObjectStore::S3(store) => store.get(key).await,
        }
    }

    /// The object's bytes as stored, streamed; only the first `limit` bytes when given.
    pub async fn get_stream(
        &self,
        key: &str,
        limit: Option<u64>,
    ) -> Result<BoxStream<'static, io::Result<Bytes>>, StorageError> {
        check_key(key)?;
        match self {
            ObjectStore::Local(store) => store.get_stream(key, limit).await,
            ObjectStore::S3(store) => store.get_stream(key, limit).await,
        }
    }

    /// The keys of every object whose key starts with `prefix` (`""` for all), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        match self {
            ObjectStore::Local(store) => store.list(prefix).await,
            ObjectStore::S3(store) => store.list(prefix).await,
        }
    }

    /// The object's size, or `None` when there is no object under `key`.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        check_key(key)?;
        match self {
            ObjectStore::Local(store) => store.head(key).await,
            ObjectStore::S3(store) => store.head(key).await,
        }
    }

    /// Deletes the object; deleting a missing object succeeds.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        match self {
            ObjectStore::Local(store) => store.delete(key).await,
            ObjectStore::S3(store) => store.delete(key).await,
        }
    }

    /// Whether the store answers: the root directory exists, or the bucket is reachable with our
    /// credentials. For `/readyz`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        match self {
            ObjectStore::Local(store) => store.ping().await,
            ObjectStore::S3(store) => store.ping().await,
        }
    }

    /// Where objects go, for logs (`file://...` or `s3://bucket/prefix`); no credentials.
    pub fn describe(&self) -> String {
        match self {
            ObjectStore::Local(store) => format!("file://{}", store.root().display()),
            ObjectStore::S3(store) => store.describe(),
        }
    }
}

/// The storage key of an organization's upload.
pub fn upload_key(org_id: rivvi_domain::ids::OrgId, upload_id: rivvi_domain::ids::UploadId) -> String {
    format!("orgs/{org_id}/uploads/{upload_id}")
}

/// Keys are relative, `/`-separated, without empty, `.` or `..` segments: they can never escape
/// the local root or the S3 prefix.
fn check_key(key: &str) -> Result<(), StorageError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    let valid = !key.is_empty()
        && key.len() <= 512
        && key.chars().all(valid_char)
        && key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if valid {
        Ok(())
    } else {
        Err(StorageError::InvalidKey(key.to_owned()))
    }
}

/// Lowercase hex SHA-256 of `bytes`, as [`PutResult::sha256`] reports it.
/// The size and SHA-256 of the bytes a stream carried, taken as they pass.
#[derive(Default)]
pub(crate) struct BytesSeen {
    hasher: Sha256,
    size: u64,
}

impl BytesSeen {
    /// `stream` as it was, counting and hashing its bytes here on their way through.
    pub(crate) fn count<'a, S>(&'a mut self, stream: S) -> impl Stream<Item = io::Result<Bytes>> + Send + 'a
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'a,
    {
        stream.map(move |chunk| {
            self.add(&chunk);
            chunk
        })
    }

    fn add(&mut self, chunk: &io::Result<Bytes>) {
        if let Ok(bytes) = chunk {
            self.hasher.update(bytes);
            self.size += bytes.len() as u64;
        }
    }

    pub(crate) fn result(self) -> PutResult {
        PutResult { size: self.size, sha256: hex::encode(self.hasher.finalize()) }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_parse_into_locations() {
        assert_eq!(
            StorageLocation::parse("file://./data/uploads").unwrap(),
            StorageLocation::Local { root: PathBuf::from("./data/uploads") }
        );
        assert_eq!(
            StorageLocation::parse("file:///var/lib/rivvi").unwrap(),
            StorageLocation::Local { root: PathBuf::from("/var/lib/rivvi") }
        );
        assert_eq!(
            StorageLocation::parse("s3://rivvi-prod/uploads/v1/").unwrap(),
            StorageLocation::S3 { bucket: "rivvi-prod".into(), prefix: "uploads/v1".into() }
        );
        assert_eq!(
            StorageLocation::parse("s3://rivvi-prod").unwrap(),
            StorageLocation::S3 { bucket: "rivvi-prod".into(), prefix: String::new() }
        );
    }

    #[test]
    fn bad_storage_urls_say_what_is_expected() {
        for (url, expected) in [
            ("http://example.com", "neither file://"),
            ("file://", "names no directory"),
            ("s3://", "bucket"),
            ("s3://Upper_Case/x", "lowercase"),
            ("s3://bucket/a//b", "segment"),
            ("s3://bucket/../x", "segment"),
        ] {
            let err = StorageLocation::parse(url).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
        }
        let err = StorageSettings::parse("s3://bucket", Some("localhost:9000".into())).unwrap_err();
        assert!(err.contains("S3_ENDPOINT"), "{err}");
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(check_key("orgs/0190/uploads/0191").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "a/./b", "a\\b", "with space", "trailing/"] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
