//! Where slices go: the [`ObjectStore`] trait and the S3 implementation.
//! Keys come made ([`ObjectKey`]); the layout is `txcr-storage`'s.

use std::future::Future;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use txcr_storage::{classify, s3_client, ObjectKey, S3Settings, StoreError};

/// The upload stage: put a file or bytes under a key, verified.
pub trait ObjectStore: Send + Sync + 'static {
    /// A task this store will receive objects of (from the journal or a new
    /// recording). Stores that need to know whose task it is keep it.
    fn task_known(&self, _meta: &crate::TaskMeta) {}

    /// Store the file at `key`; `md5` is its digest, which the storage checks.
    /// Returns the ETag.
    fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        md5: [u8; 16],
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Store small bytes (the manifest) at `key`.
    fn put_bytes(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether large objects go up in parts (the multipart calls below);
    /// stores that only take whole objects keep the default `false`.
    fn uploads_in_parts(&self) -> bool {
        false
    }

    /// Start a multipart upload at `key`; returns its upload id.
    fn create_multipart(
        &self,
        _key: &ObjectKey,
    ) -> impl Future<Output = Result<String, StoreError>> + Send {
        async { Err(no_parts()) }
    }

    /// Store part `part` (from 1) of an upload; returns its ETag.
    fn upload_part(
        &self,
        _key: &ObjectKey,
        _upload_id: &str,
        _part: i32,
        _bytes: Vec<u8>,
        _md5: [u8; 16],
    ) -> impl Future<Output = Result<String, StoreError>> + Send {
        async { Err(no_parts()) }
    }

    /// Join the parts into the object.
    fn complete_multipart(
        &self,
        _key: &ObjectKey,
        _upload_id: &str,
        _parts: &[(i32, String)],
    ) -> impl Future<Output = Result<String, StoreError>> + Send {
        async { Err(no_parts()) }
    }

    /// Where keys go, for logs (never credentials).
    fn describe(&self) -> String;
}

/// An S3-compatible bucket through `aws-sdk-s3`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    settings: S3Settings,
}

impl S3Store {
    /// A client for these settings (keys under no prefix of its own: the
    /// queue's layout makes them).
    pub fn new(s: S3Settings) -> Self {
        Self {
            client: s3_client(&s),
            settings: s,
        }
    }

    /// Whether the bucket is there and the keys open it (HeadBucket; its
    /// answers have no body, so the status says which).
    pub async fn check(&self) -> Result<(), StoreError> {
        let e = match self
            .client
            .head_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let status = e.raw_response().map(|r| r.status().as_u16());
        Err(match status {
            Some(404) => StoreError::Permanent("NoSuchBucket: the bucket does not exist".into()),
            Some(403) => StoreError::Permanent(
                "AccessDenied: the keys are refused or may not use this bucket".into(),
            ),
            Some(400) => StoreError::Permanent("the request was refused as malformed".into()),
            _ => classify(e),
        })
    }

    /// The SDK client (for tests and tools that read back).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

fn no_parts() -> StoreError {
    StoreError::Permanent("this store does not upload in parts".into())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag of a whole-object PUT, unquoted, checked against the body's MD5:
/// a single-part ETag is the MD5; anything else (SSE-KMS) is left to
/// Content-MD5, which the storage checked.
pub(crate) fn checked_etag(etag: &str, md5: [u8; 16]) -> Result<String, StoreError> {
    let etag = etag.trim_matches('"');
    if etag.len() == 32
        && etag.chars().all(|c| c.is_ascii_hexdigit())
        && !etag.eq_ignore_ascii_case(&hex(&md5))
    {
        return Err(StoreError::Transient(format!(
            "ETag {etag} does not match the file's MD5"
        )));
    }
    Ok(etag.to_owned())
}

impl ObjectStore for S3Store {
    fn uploads_in_parts(&self) -> bool {
        true
    }

    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        md5: [u8; 16],
    ) -> Result<String, StoreError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::Permanent(format!("reading {}: {e}", path.display())))?;
        let out = self
            .client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .content_type("video/x-flv")
            .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        checked_etag(out.e_tag().unwrap_or_default(), md5)
    }

    async fn put_bytes(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn create_multipart(&self, key: &ObjectKey) -> Result<String, StoreError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .content_type("video/x-flv")
            .send()
            .await
            .map_err(classify)?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Transient("no upload id in the answer".into()))
    }

    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part: i32,
        bytes: Vec<u8>,
        md5: [u8; 16],
    ) -> Result<String, StoreError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(part)
            .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(classify)?;
        Ok(out.e_tag().unwrap_or_default().to_owned())
    }

    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<String, StoreError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let parts = parts
            .iter()
            .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
            .collect();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(out.e_tag().unwrap_or_default().trim_matches('"').to_owned())
    }

    fn describe(&self) -> String {
        format!(
            "s3://{} at {}",
            self.settings.bucket,
            self.settings.endpoint.as_deref().unwrap_or("AWS")
        )
    }
}
