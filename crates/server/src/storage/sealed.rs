//! [`SealedStore`]: the object store as the application uses it. Every write is sealed before it
//! leaves the process ([`envelope`]); every read opens and authenticates chunk by chunk.
//!
//! Objects written before sealing existed have no header. They are recognized by the missing
//! magic and still read (as [`StoredFormat::Plaintext`], logged as a warning), because uploads
//! are checked against the SHA-256 recorded when they arrived, which vouches for their bytes;
//! `rivvi storage seal` ([`SealedStore::seal_plaintext`]) seals them in place.
//!
//! For key rotation: [`SealedStore::key_id_of`] reads only an object's header (a ranged read on
//! S3), [`SealedStore::rewrap`] re-wraps its data key with the active key and copies the sealed
//! chunks unchanged, and [`SealedStore::list`] enumerates the objects under a prefix.

use std::io;

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use rivvi_persistence::sealing::Sealer;

use super::envelope::{self, EnvelopeError, ReadError, DEFAULT_CHUNK_SIZE, MAX_HEADER_LEN};
use super::{check_key, BytesSeen, ObjectInfo, ObjectStore, PutResult, StorageError};

/// How an object is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFormat {
    /// Sealed; its data key is wrapped by the `RIVVI_DATA_KEY` key with this id.
    Sealed { key_id: String },
    /// Written before sealing: the bytes as uploaded.
    Plaintext,
}

/// What [`SealedStore::rewrap`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrapped {
    /// The object was already wrapped by the active key; nothing was written.
    AlreadyActive,
    /// The data key was wrapped by key `from` and now is by the active key.
    Rewrapped { from: String },
    /// The object is not sealed (see [`SealedStore::seal_plaintext`]).
    Plaintext,
}

/// What [`SealedStore::seal_plaintext`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealing {
    AlreadySealed,
    /// The plaintext object is now sealed; `size` is its plaintext size.
    Sealed {
        size: u64,
    },
}

/// An object being read: its format, known from its first bytes, and its plaintext.
pub struct Opened {
    pub format: StoredFormat,
    body: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl Opened {
    /// The plaintext, one authenticated chunk per item. An error ends the stream: no byte of an
    /// unauthenticated chunk is ever produced.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, StorageError>> {
        self.body
    }

    /// The whole plaintext, gathered chunk by chunk.
    pub async fn read_all(self) -> Result<Bytes, StorageError> {
        let mut whole = BytesMut::new();
        let mut body = self.body;
        while let Some(chunk) = body.next().await {
            whole.extend_from_slice(&chunk?);
        }
        Ok(whole.freeze())
    }
}

/// The object store with sealing. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SealedStore {
    raw: ObjectStore,
    sealer: Sealer,
    chunk_size: u32,
}

impl SealedStore {
    pub fn new(raw: ObjectStore, sealer: Sealer) -> Self {
        SealedStore { raw, sealer, chunk_size: DEFAULT_CHUNK_SIZE }
    }

    /// The same store writing chunks of `chunk_size` plaintext bytes (tests use small chunks to
    /// exercise chunk boundaries with small files).
    pub fn with_chunk_size(self, chunk_size: u32) -> Self {
        SealedStore { chunk_size, ..self }
    }

    /// The backend underneath: bytes exactly as stored, sealed or not.
    pub fn raw(&self) -> &ObjectStore {
        &self.raw
    }

    /// Seals the bytes of `stream` and stores them under `key` (see [`ObjectStore::put_stream`]:
    /// nothing is left behind on failure). The size and SHA-256 are the plaintext's. Errors of
    /// `stream` come back as [`StorageError::Source`] holding the caller's own error.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn put_stream<S>(&self, key: &str, stream: S) -> Result<PutResult, StorageError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        check_key(key)?;
        let mut digest = BytesSeen::default();
        let counted = digest.count(stream);
        let sealed =
            envelope::seal(&self.sealer, key, counted, self.chunk_size).map_err(sealed_error(key))?;
        self.raw.put_stream(key, sealed).await.map_err(|err| unwrap_sealing_failure(key, err))?;
        Ok(digest.result())
    }

    /// Opens the object under `key` for reading: its header is read and its data key unwrapped
    /// now; the chunks are read, authenticated and decrypted as the returned stream is polled.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn open(&self, key: &str) -> Result<Opened, StorageError> {
        check_key(key)?;
        let mut raw = self.raw.get_stream(key, None).await?;
        let (header, rest) = envelope::read_header(&mut raw).await.map_err(read_error(key))?;
        let Some(header) = header else {
            tracing::warn!(key = %key, "reading an object stored before sealing: run `rivvi storage seal`");
            let body = futures_util::stream::iter([Ok(rest.freeze())])
                .chain(raw)
                .map_err(read_error_io(key.to_owned()));
            return Ok(Opened { format: StoredFormat::Plaintext, body: body.boxed() });
        };
        let key_id = header.key_id().map_err(sealed_error(key))?.to_owned();
        let body = envelope::open(&self.sealer, key, &header, rest, raw).map_err(sealed_error(key))?;
        let owned = key.to_owned();
        let body = body.map_err(move |err| read_error(&owned)(err));
        Ok(Opened { format: StoredFormat::Sealed { key_id }, body: body.boxed() })
    }

    /// The whole plaintext of the object under `key` (a sealed object is authenticated chunk by
    /// chunk as it is gathered).
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.open(key).await?.read_all().await
    }

    /// How the object under `key` is stored and, when sealed, which key wraps its data key. Only
    /// the header is read.
    pub async fn key_id_of(&self, key: &str) -> Result<StoredFormat, StorageError> {
        check_key(key)?;
        let mut raw = self.raw.get_stream(key, Some(MAX_HEADER_LEN as u64)).await?;
        let (header, _) = envelope::read_header(&mut raw).await.map_err(read_error(key))?;
        match header {
            Some(header) => {
                Ok(StoredFormat::Sealed { key_id: header.key_id().map_err(sealed_error(key))?.to_owned() })
            }
            None => Ok(StoredFormat::Plaintext),
        }
    }

    /// Re-wraps the object's data key with the active key, when another key wraps it. The new
    /// header and the unchanged sealed chunks replace the object (atomically: a rename locally,
    /// a completed upload on S3), so an interrupted re-wrap leaves the old, still readable,
    /// object. Its chunks are not decrypted, so a damaged body is copied as it is (and still
    /// fails when read). The copy is written back under the same key: a delete of the object
    /// landing while the copy is in flight (a retention purge) would be undone, so a caller
    /// running both should re-check that the object is still wanted, or not run them at once.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn rewrap(&self, key: &str) -> Result<Rewrapped, StorageError> {
        check_key(key)?;
        let mut raw = self.raw.get_stream(key, None).await?;
        let (header, rest) = envelope::read_header(&mut raw).await.map_err(read_error(key))?;
        let Some(header) = header else { return Ok(Rewrapped::Plaintext) };
        let from = header.key_id().map_err(sealed_error(key))?.to_owned();
        if from == self.sealer.active_key_id() {
            return Ok(Rewrapped::AlreadyActive);
        }
        let new_header = header.rewrapped(&self.sealer, key).map_err(sealed_error(key))?;
        let copy =
            futures_util::stream::iter([Ok(Bytes::from(new_header.encode())), Ok(rest.freeze())]).chain(raw);
        self.raw.put_stream(key, copy).await.map_err(|err| copy_error(key, err))?;
        Ok(Rewrapped::Rewrapped { from })
    }

    /// Seals an object written before sealing, in place (atomically, as [`SealedStore::rewrap`]);
    /// an object already sealed is left alone, so a run can be repeated after an interruption.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
    pub async fn seal_plaintext(&self, key: &str) -> Result<Sealing, StorageError> {
        check_key(key)?;
        let mut raw = self.raw.get_stream(key, None).await?;
        let (header, rest) = envelope::read_header(&mut raw).await.map_err(read_error(key))?;
        if header.is_some() {
            return Ok(Sealing::AlreadySealed);
        }
        let plaintext = futures_util::stream::iter([Ok(rest.freeze())]).chain(raw);
        let stored = self.put_stream(key, plaintext).await.map_err(|err| copy_error(key, err))?;
        Ok(Sealing::Sealed { size: stored.size })
    }

    /// The keys of every object whose key starts with `prefix` (`""` for all), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.raw.list(prefix).await
    }

    /// The stored size (a sealed object's header and tags included), or `None` when there is no
    /// object under `key`.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        self.raw.head(key).await
    }

    /// Deletes the object; deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.raw.delete(key).await
    }

    /// See [`ObjectStore::ping`].
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.raw.ping().await
    }

    /// See [`ObjectStore::describe`].
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}

fn sealed_error(key: &str) -> impl FnOnce(EnvelopeError) -> StorageError + '_ {
    move |source| StorageError::Sealed { key: key.to_owned(), source }
}

fn read_error(key: &str) -> impl Fn(ReadError) -> StorageError + '_ {
    move |err| match err {
        ReadError::Io(source) => StorageError::Read { key: key.to_owned(), source },
        ReadError::Envelope(source) => StorageError::Sealed { key: key.to_owned(), source },
    }
}

fn read_error_io(key: String) -> impl Fn(io::Error) -> StorageError {
    move |source| StorageError::Read { key: key.clone(), source }
}

/// A sealing failure travels through the backend's write as the stream's own error; this puts
/// it back in its place. The caller's errors stay [`StorageError::Source`].
fn unwrap_sealing_failure(key: &str, err: StorageError) -> StorageError {
    match err {
        StorageError::Source(source) => match source.downcast::<EnvelopeError>() {
            Ok(envelope) => StorageError::Sealed { key: key.to_owned(), source: envelope },
            Err(source) => StorageError::Source(source),
        },
        other => other,
    }
}

/// In a copy of an object onto itself the source stream is the object being read: its failures
/// are read failures, not a caller's.
fn copy_error(key: &str, err: StorageError) -> StorageError {
    match err {
        StorageError::Source(source) => StorageError::Read { key: key.to_owned(), source },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rivvi_persistence::sealing::Keyring;

    use super::*;
    use crate::storage::{sha256_hex, LocalStore};

    fn sealer(ids: &[&str]) -> Sealer {
        let keys = ids.iter().map(|id| ((*id).to_owned(), [id.as_bytes()[1]; 32])).collect();
        Sealer::new(Keyring::from_keys(keys).unwrap())
    }

    async fn stores(dir: &std::path::Path, ids: &[&str]) -> (SealedStore, ObjectStore) {
        let raw = ObjectStore::Local(LocalStore::open(dir.to_path_buf()).await.unwrap());
        (SealedStore::new(raw.clone(), sealer(ids)).with_chunk_size(64), raw)
    }

    fn once(bytes: &[u8]) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures_util::stream::iter([Ok(Bytes::copy_from_slice(bytes))])
    }

    const SHEET: &[u8] = b"First Name,Last Name,DOB,Phone\nJane,Doe,03/04/1985,(312) 555-0101\n";

    #[tokio::test]
    async fn a_put_is_sealed_on_disk_and_reads_back_with_the_plaintext_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (store, raw) = stores(dir.path(), &["k1"]).await;

        let put = store.put_stream("orgs/a/uploads/b", once(SHEET)).await.unwrap();

        assert_eq!(put, PutResult { size: SHEET.len() as u64, sha256: sha256_hex(SHEET) });
        let on_disk = raw.get("orgs/a/uploads/b").await.unwrap();
        assert!(!on_disk.windows(4).any(|w| w == b"Jane"), "plaintext on disk");
        let opened = store.open("orgs/a/uploads/b").await.unwrap();
        assert_eq!(opened.format, StoredFormat::Sealed { key_id: "k1".into() });
        assert_eq!(opened.read_all().await.unwrap().as_ref(), SHEET);
        assert_eq!(
            store.key_id_of("orgs/a/uploads/b").await.unwrap(),
            StoredFormat::Sealed { key_id: "k1".into() }
        );
        assert!(matches!(store.open("orgs/a/uploads/none").await, Err(StorageError::NotFound(_))));
    }

    #[tokio::test]
    async fn a_plaintext_object_reads_as_is_until_sealed_and_sealing_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let (store, raw) = stores(dir.path(), &["k1"]).await;
        raw.put_stream("orgs/a/uploads/old", once(SHEET)).await.unwrap();

        let before = store.open("orgs/a/uploads/old").await.unwrap();
        assert_eq!(before.format, StoredFormat::Plaintext);
        assert_eq!(before.read_all().await.unwrap().as_ref(), SHEET);

        let first = store.seal_plaintext("orgs/a/uploads/old").await.unwrap();
        let second = store.seal_plaintext("orgs/a/uploads/old").await.unwrap();

        assert_eq!(first, Sealing::Sealed { size: SHEET.len() as u64 });
        assert_eq!(second, Sealing::AlreadySealed);
        assert!(!raw.get("orgs/a/uploads/old").await.unwrap().windows(4).any(|w| w == b"Jane"));
        assert_eq!(store.get("orgs/a/uploads/old").await.unwrap().as_ref(), SHEET);
    }

    #[tokio::test]
    async fn rewrapping_moves_an_object_to_the_active_key_without_touching_its_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (old, raw) = stores(dir.path(), &["k1"]).await;
        let sheet = SHEET.repeat(5);
        old.put_stream("orgs/a/uploads/b", once(&sheet)).await.unwrap();
        let before = raw.get("orgs/a/uploads/b").await.unwrap();
        let (rotated, _) = stores(dir.path(), &["k2", "k1"]).await;

        let first = rotated.rewrap("orgs/a/uploads/b").await.unwrap();
        let again = rotated.rewrap("orgs/a/uploads/b").await.unwrap();

        assert_eq!(first, Rewrapped::Rewrapped { from: "k1".into() });
        assert_eq!(again, Rewrapped::AlreadyActive);
        assert_eq!(
            rotated.key_id_of("orgs/a/uploads/b").await.unwrap(),
            StoredFormat::Sealed { key_id: "k2".into() }
        );
        let after = raw.get("orgs/a/uploads/b").await.unwrap();
        // Same chunks (the wrapped keys are the same length: one-character key ids).
        let tail = sheet.len() + 16 * sheet.len().div_ceil(64);
        assert_eq!(before[before.len() - tail..], after[after.len() - tail..]);
        let (new_only, _) = stores(dir.path(), &["k2"]).await;
        assert_eq!(new_only.get("orgs/a/uploads/b").await.unwrap().as_ref(), sheet.as_slice());
    }

    #[tokio::test]
    async fn listing_finds_objects_under_a_prefix_and_skips_unfinished_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = stores(dir.path(), &["k1"]).await;
        for key in ["orgs/a/uploads/1", "orgs/a/uploads/2", "orgs/b/uploads/3"] {
            store.put_stream(key, once(SHEET)).await.unwrap();
        }
        std::fs::write(dir.path().join("orgs/a/uploads/.partial-0123"), b"half").unwrap();

        assert_eq!(
            store.list("").await.unwrap(),
            ["orgs/a/uploads/1", "orgs/a/uploads/2", "orgs/b/uploads/3"]
        );
        assert_eq!(store.list("orgs/a/").await.unwrap(), ["orgs/a/uploads/1", "orgs/a/uploads/2"]);
        assert_eq!(store.list("orgs/b").await.unwrap(), ["orgs/b/uploads/3"]);
        assert!(store.list("orgs/c/").await.unwrap().is_empty());
    }
}
