//! [`LocalStore`]: objects as files under a root directory (`STORAGE_URL=file://...`).
//!
//! A write goes to a hidden temporary file in the object's own directory and is renamed into
//! place once complete and flushed to disk: the rename is atomic within one file system, so a
//! reader never sees half a file, and a failed or abandoned write deletes its temporary file.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{ObjectInfo, StorageError};

/// Bytes per read when streaming a file back: one sealed chunk and its tag fit.
const READ_BUFFER: usize = 80 * 1024;

/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<Path>,
}

impl LocalStore {
    /// Uses `root`, creating it if needed.
    pub async fn open(root: PathBuf) -> Result<Self, StorageError> {
        tokio::fs::create_dir_all(&root).await.map_err(|source| StorageError::Io {
            op: "create directory",
            path: root.clone(),
            source,
        })?;
        Ok(LocalStore { root: root.into() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key` (already checked to stay under the root).
    pub fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.root.to_path_buf(), |path, segment| path.join(segment))
    }

    pub(super) async fn put<S>(&self, key: &str, stream: S) -> Result<(), StorageError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let path = self.path_of(key);
        let dir = path.parent().map_or_else(|| self.root.to_path_buf(), Path::to_path_buf);
        let io_error = |op, path: &Path| {
            let path = path.to_owned();
            move |source| StorageError::Io { op, path, source }
        };
        tokio::fs::create_dir_all(&dir).await.map_err(io_error("create directory", &dir))?;

        let temp = TempFile(Some(dir.join(format!(".partial-{}", uuid::Uuid::new_v4().simple()))));
        let temp_path = temp.path().to_owned();
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .await
            .map_err(io_error("create", &temp_path))?;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(StorageError::Source)?;
            file.write_all(&chunk).await.map_err(io_error("write", &temp_path))?;
        }
        file.sync_all().await.map_err(io_error("sync", &temp_path))?;
        drop(file);
        tokio::fs::rename(&temp_path, &path).await.map_err(io_error("rename", &path))?;
        temp.disarm();
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StorageError::NotFound(key.to_owned())),
            Err(source) => Err(StorageError::Io { op: "read", path, source }),
        }
    }

    /// The object's bytes as they are read from disk, at most `limit` of them when given.
    pub(super) async fn get_stream(
        &self,
        key: &str,
        limit: Option<u64>,
    ) -> Result<BoxStream<'static, io::Result<Bytes>>, StorageError> {
        let path = self.path_of(key);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound(key.to_owned()))
            }
            Err(source) => return Err(StorageError::Io { op: "open", path, source }),
        };
        let reader = file.take(limit.unwrap_or(u64::MAX));
        Ok(ReaderStream::with_capacity(reader, READ_BUFFER).boxed())
    }

    /// The keys of every object whose key starts with `prefix`, sorted. Files that are not
    /// objects (a write's hidden temporary file, anything whose name starts with `.`) are left
    /// out.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        // Only the directory the prefix names is walked; a partial last segment filters.
        let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        let start = if dir_part.is_empty() { self.root.to_path_buf() } else { self.path_of(dir_part) };
        let base = dir_part.to_owned();
        let prefix = prefix.to_owned();
        let walked = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&start, &base, &mut keys)?;
            keys.retain(|key| key.starts_with(&prefix));
            keys.sort();
            Ok::<_, StorageError>(keys)
        })
        .await
        .map_err(|err| StorageError::Io {
            op: "list",
            path: self.root.to_path_buf(),
            source: io::Error::other(err),
        })?;
        walked
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectInfo { size: meta.len() })),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io { op: "stat", path, source }),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Io { op: "delete", path, source }),
        }
    }

    pub(super) async fn ping(&self) -> Result<(), StorageError> {
        let root = self.root.to_path_buf();
        match tokio::fs::metadata(&root).await {
            Ok(meta) if meta.is_dir() && !meta.permissions().readonly() => Ok(()),
            Ok(_) => Err(StorageError::Io {
                op: "check",
                path: root,
                source: io::Error::other("not a writable directory"),
            }),
            Err(source) => Err(StorageError::Io { op: "check", path: root, source }),
        }
    }
}

/// Appends the keys of the files under `dir` (whose key is `base`) to `keys`.
fn walk(dir: &Path, base: &str, keys: &mut Vec<String>) -> Result<(), StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StorageError::Io { op: "list", path: dir.to_owned(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| StorageError::Io { op: "list", path: dir.to_owned(), source })?;
        let name = entry.file_name();
        // Keys are ASCII (`check_key`): a name that is not UTF-8 is nobody's object.
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let key = if base.is_empty() { name.to_owned() } else { format!("{base}/{name}") };
        let kind = entry.file_type().map_err(|source| StorageError::Io {
            op: "list",
            path: entry.path(),
            source,
        })?;
        if kind.is_dir() {
            walk(&entry.path(), &key, keys)?;
        } else if kind.is_file() {
            keys.push(key);
        }
    }
    Ok(())
}

/// Deletes the temporary file when a write fails or its future is dropped mid-way (a client
/// that disconnects), unless the write completed and renamed it.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Blocking, but a single unlink; drop cannot await.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{sha256_hex, ObjectStore};

    fn chunks(parts: Vec<io::Result<&'static [u8]>>) -> impl Stream<Item = io::Result<Bytes>> + Send {
        futures_util::stream::iter(parts.into_iter().map(|p| p.map(Bytes::from_static)))
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    #[tokio::test]
    async fn a_streamed_object_reads_back_with_its_size_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Local(LocalStore::open(dir.path().join("uploads")).await.unwrap());

        let put =
            store.put_stream("orgs/a/uploads/b", chunks(vec![Ok(b"hello "), Ok(b""), Ok(b"world")])).await;

        let put = put.unwrap();
        assert_eq!(put.size, 11);
        assert_eq!(put.sha256, sha256_hex(b"hello world"));
        assert_eq!(store.get("orgs/a/uploads/b").await.unwrap(), Bytes::from_static(b"hello world"));
        assert_eq!(store.head("orgs/a/uploads/b").await.unwrap(), Some(ObjectInfo { size: 11 }));
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_stream_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Local(LocalStore::open(dir.path().to_path_buf()).await.unwrap());

        let err = store
            .put_stream("orgs/a/uploads/b", chunks(vec![Ok(b"part"), Err(io::Error::other("limit"))]))
            .await
            .unwrap_err();

        assert!(matches!(err, StorageError::Source(_)), "{err}");
        assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
        assert!(matches!(store.get("orgs/a/uploads/b").await, Err(StorageError::NotFound(_))));
        assert_eq!(store.head("orgs/a/uploads/b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_abandoned_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Local(LocalStore::open(dir.path().to_path_buf()).await.unwrap());
        let never_ending =
            futures_util::stream::iter([Ok(Bytes::from_static(b"x"))]).chain(futures_util::stream::pending());

        let put = store.put_stream("orgs/a/uploads/b", never_ending);
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), put).await;

        assert!(timed_out.is_err());
        assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn deleting_twice_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Local(LocalStore::open(dir.path().to_path_buf()).await.unwrap());
        store.put_stream("k", chunks(vec![Ok(b"x")])).await.unwrap();

        store.delete("k").await.unwrap();
        store.delete("k").await.unwrap();

        assert_eq!(store.head("k").await.unwrap(), None);
    }
}
