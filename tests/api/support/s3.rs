//! A real S3 server in-process: `s3s` + `s3s-fs` over a temporary directory on 127.0.0.1:0, with
//! SigV4 authentication, so the production `aws-sdk-s3` code path is exercised, not a mock.
//!
//! Like a bucket whose policy denies unencrypted uploads, the server refuses a `PutObject` or
//! `CreateMultipartUpload` that does not request server-side encryption (`AES256`), so every
//! S3 test also checks that the store asks for it.
//!
//! Each test starts its own server (and directory), so tests stay independent when run in
//! parallel; settings are passed as values, never through the process environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rivvi_server::config::Secret;
use rivvi_server::storage::{S3Credentials, StorageLocation, StorageSettings};
use s3s::access::S3Access;
use s3s::auth::SimpleAuth;
use s3s::dto::{CreateMultipartUploadInput, PutObjectInput, ServerSideEncryption};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Request, S3Result};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ACCESS_KEY: &str = "rivvi-test-access-key";
pub const SECRET_KEY: &str = "rivvi-test-secret-key";
pub const BUCKET: &str = "rivvi-test";
pub const PREFIX: &str = "uploads";

pub struct S3Server {
    pub address: SocketAddr,
    /// The directory s3s-fs serves: buckets are its subdirectories, objects files below them.
    pub root: TempDir,
    accept_loop: JoinHandle<()>,
}

impl S3Server {
    /// Starts a server whose bucket [`BUCKET`] exists and accepts [`ACCESS_KEY`] / [`SECRET_KEY`].
    pub async fn start() -> S3Server {
        let root = tempfile::tempdir().expect("s3 root");
        // s3s-fs maps a bucket to a directory: creating it is creating the bucket.
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket directory");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs over the root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.set_access(RequireEncryption);
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind s3");
        let address = listener.local_addr().expect("s3 address");
        let accept_loop = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        S3Server { address, root, accept_loop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `STORAGE_URL=s3://rivvi-test/uploads` on this server with the right credentials.
    pub fn settings(&self) -> StorageSettings {
        self.settings_with_secret(SECRET_KEY)
    }

    /// The same, signing with `secret`.
    pub fn settings_with_secret(&self, secret: &str) -> StorageSettings {
        StorageSettings {
            location: StorageLocation::S3 { bucket: BUCKET.into(), prefix: PREFIX.into() },
            s3_endpoint: Some(self.endpoint()),
            s3_region: Some("us-east-1".into()),
            s3_credentials: Some(S3Credentials {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: Secret::new(secret),
            }),
        }
    }

    /// Where s3s-fs keeps the object stored under our storage `key`.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(PREFIX).join(key)
    }

    /// Every object file in the bucket.
    pub fn objects(&self) -> Vec<PathBuf> {
        files_under(&self.root.path().join(BUCKET))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Access control that, beyond the default (signed requests only), requires server-side
/// encryption on every write.
struct RequireEncryption;

#[async_trait::async_trait]
impl S3Access for RequireEncryption {
    async fn put_object(&self, request: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        require_aes256(request.input.server_side_encryption.as_ref())
    }

    async fn create_multipart_upload(
        &self,
        request: &mut S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<()> {
        require_aes256(request.input.server_side_encryption.as_ref())
    }
}

fn require_aes256(requested: Option<&ServerSideEncryption>) -> S3Result<()> {
    match requested {
        Some(sse) if sse.as_str() == ServerSideEncryption::AES256 => Ok(()),
        _ => Err(s3s::s3_error!(AccessDenied, "uploads must request server-side encryption (AES256)")),
    }
}

/// Every file below `dir` (recursively); empty when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}
