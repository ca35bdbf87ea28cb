//! [`S3Store`]: objects in an S3 bucket (`STORAGE_URL=s3://bucket/prefix`), through `aws-sdk-s3`.
//!
//! Streaming writes use a multipart upload once a file outgrows one part ([`PART_SIZE`]); a
//! smaller file is one `PutObject`. That bounds memory to one part per upload in flight, needs no
//! local disk (containers often have little, or a read-only root), and keeps the object invisible
//! until `CompleteMultipartUpload`: a failed or abandoned upload is aborted and never appears.
//!
//! Every write asks for server-side encryption (`x-amz-server-side-encryption: AES256`) on top of
//! the sealing done before the bytes leave the process ([`super::envelope`]): a bucket policy
//! that denies unencrypted uploads is satisfied, and the provider's own at-rest encryption holds
//! even for whoever reads the bucket's disks.
//!
//! Addressing is path-style (`endpoint/bucket/key`), which every S3-compatible server accepts;
//! checksums are computed and validated only where an operation requires them, a safety net for
//! servers that do not implement the SDK's newer default checksum modes.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use super::{ObjectInfo, StorageError, StorageSettings};

/// The size of each multipart part, and the largest object sent in a single `PutObject`. S3's
/// minimum part size is 5 MiB; 8 MiB parts keep a 50 MB upload to 7 requests.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Used when neither the settings nor the AWS chain name a region (S3-compatible servers ignore
/// it, but SigV4 needs one).
const DEFAULT_REGION: &str = "us-east-1";

/// Cheap to clone (the client is reference counted).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: Arc<str>,
    prefix: Arc<str>,
}

impl S3Store {
    /// Builds the client from the settings and the standard AWS environment. No request is made.
    pub async fn connect(bucket: &str, prefix: &str, settings: &StorageSettings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                // Between bytes, not for the whole transfer: a slow 8 MiB part is fine, a stalled
                // one is not.
                .read_timeout(Duration::from_secs(30))
                .operation_attempt_timeout(Duration::from_secs(120))
                .build(),
        );
        if let Some(region) = &settings.s3_region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(credentials) = &settings.s3_credentials {
            loader = loader.credentials_provider(Credentials::new(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.expose().to_owned(),
                None,
                None,
                "rivvi-settings",
            ));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            config = config.region(Region::new(DEFAULT_REGION));
        }
        if let Some(endpoint) = &settings.s3_endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        S3Store { client: Client::from_conf(config.build()), bucket: bucket.into(), prefix: prefix.into() }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    pub(super) async fn put<S>(&self, key: &str, stream: S) -> Result<(), StorageError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let object_key = self.object_key(key);
        let mut stream = std::pin::pin!(stream);
        let mut buffer = BytesMut::new();
        let mut ended = false;
        while buffer.len() < PART_SIZE {
            match stream.next().await {
                Some(chunk) => buffer.extend_from_slice(&chunk.map_err(StorageError::Source)?),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let length = buffer.len();
            self.client
                .put_object()
                .bucket(&*self.bucket)
                .key(&object_key)
                .content_type("application/octet-stream")
                .server_side_encryption(ServerSideEncryption::Aes256)
                .content_length(i64::try_from(length).unwrap_or(i64::MAX))
                .body(ByteStream::from(buffer.freeze()))
                .send()
                .await
                .map_err(|err| s3_error("PutObject", key, err))?;
            return Ok(());
        }
        self.put_multipart(key, &object_key, buffer, stream).await
    }

    async fn put_multipart<S>(
        &self,
        key: &str,
        object_key: &str,
        mut buffer: BytesMut,
        mut stream: std::pin::Pin<&mut S>,
    ) -> Result<(), StorageError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&*self.bucket)
            .key(object_key)
            .content_type("application/octet-stream")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(|err| s3_error("CreateMultipartUpload", key, err))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        if upload_id.is_empty() {
            return Err(StorageError::S3 {
                op: "CreateMultipartUpload",
                key: key.to_owned(),
                message: "no upload id in the response".into(),
            });
        }
        let guard = AbortOnDrop {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            object_key: object_key.to_owned(),
            upload_id: Some(upload_id.clone()),
        };

        let mut parts = Vec::new();
        let mut ended = false;
        loop {
            while !ended && buffer.len() < PART_SIZE {
                match stream.next().await {
                    Some(chunk) => buffer.extend_from_slice(&chunk.map_err(StorageError::Source)?),
                    None => ended = true,
                }
            }
            if buffer.is_empty() {
                break;
            }
            let take = buffer.len().min(PART_SIZE);
            let part = buffer.split_to(take).freeze();
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            let uploaded = self
                .client
                .upload_part()
                .bucket(&*self.bucket)
                .key(object_key)
                .upload_id(&upload_id)
                .part_number(number)
                .content_length(i64::try_from(part.len()).unwrap_or(i64::MAX))
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(|err| s3_error("UploadPart", key, err))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .build(),
            );
            if ended && buffer.is_empty() {
                break;
            }
        }
        self.client
            .complete_multipart_upload()
            .bucket(&*self.bucket)
            .key(object_key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|err| s3_error("CompleteMultipartUpload", key, err))?;
        guard.disarm();
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let request = self.client.get_object().bucket(&*self.bucket).key(self.object_key(key));
        let output = request.send().await.map_err(|err| get_object_error(key, err))?;
        let body = output.body.collect().await.map_err(|err| StorageError::S3 {
            op: "GetObject",
            key: key.to_owned(),
            message: format!("reading the body: {}", DisplayErrorContext(&err)),
        })?;
        Ok(body.into_bytes())
    }

    /// The object's bytes as the response body delivers them; with `limit`, a ranged read of at
    /// most that many bytes from the start.
    pub(super) async fn get_stream(
        &self,
        key: &str,
        limit: Option<u64>,
    ) -> Result<BoxStream<'static, io::Result<Bytes>>, StorageError> {
        let mut request = self.client.get_object().bucket(&*self.bucket).key(self.object_key(key));
        if let Some(limit) = limit {
            request = request.range(format!("bytes=0-{}", limit.saturating_sub(1)));
        }
        let output = request.send().await.map_err(|err| get_object_error(key, err))?;
        let body = futures_util::stream::unfold(output.body, |mut body| async move {
            match body.try_next().await {
                Ok(Some(bytes)) => Some((Ok(bytes), body)),
                Ok(None) => None,
                Err(err) => Some((Err(io::Error::other(err)), body)),
            }
        });
        Ok(body.boxed())
    }

    /// The keys of every object whose key starts with `prefix` (below this store's prefix),
    /// sorted, one `ListObjectsV2` page of up to 1,000 at a time.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let mut keys = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&*self.bucket)
                .prefix(format!("{strip}{prefix}"))
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|err| s3_error("ListObjectsV2", prefix, err))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|key| key.strip_prefix(strip.as_str())) {
                    keys.push(key.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(token) if page.is_truncated() == Some(true) => continuation = Some(token.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self.client.head_object().bucket(&*self.bucket).key(self.object_key(key)).send().await {
            Ok(output) => Ok(Some(ObjectInfo {
                size: output.content_length().and_then(|len| u64::try_from(len).ok()).unwrap_or(0),
            })),
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_not_found()) || status(&err) == Some(404) =>
            {
                Ok(None)
            }
            Err(err) => Err(s3_error("HeadObject", key, err)),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&*self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|err| s3_error("DeleteObject", key, err))?;
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&*self.bucket)
            .send()
            .await
            .map_err(|err| s3_error("HeadBucket", "", err))?;
        Ok(())
    }
}

fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|response| response.status().as_u16())
}

/// A failed `GetObject`; a missing key is [`StorageError::NotFound`].
fn get_object_error(key: &str, err: SdkError<GetObjectError>) -> StorageError {
    if err.as_service_error().is_some_and(|e| e.is_no_such_key()) || status(&err) == Some(404) {
        StorageError::NotFound(key.to_owned())
    } else {
        s3_error("GetObject", key, err)
    }
}

fn s3_error<E>(op: &'static str, key: &str, err: SdkError<E>) -> StorageError
where
    E: std::error::Error + 'static,
{
    let message = match status(&err) {
        Some(code) => format!("HTTP {code}: {}", DisplayErrorContext(&err)),
        None => DisplayErrorContext(&err).to_string(),
    };
    StorageError::S3 { op, key: key.to_owned(), message }
}

/// Aborts a multipart upload that did not complete (an error, or the future dropped when a
/// client disconnects), so its parts do not linger in the bucket.
struct AbortOnDrop {
    client: Client,
    bucket: Arc<str>,
    object_key: String,
    upload_id: Option<String>,
}

impl AbortOnDrop {
    fn disarm(mut self) {
        self.upload_id = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let client = self.client.clone();
        let bucket = self.bucket.clone();
        let object_key = std::mem::take(&mut self.object_key);
        runtime.spawn(async move {
            let aborted = client
                .abort_multipart_upload()
                .bucket(&*bucket)
                .key(&object_key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(err) = aborted {
                tracing::warn!(key = %object_key, error = %DisplayErrorContext(&err), "aborting a multipart upload failed");
            }
        });
    }
}
