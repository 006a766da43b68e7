//! The bucket, through `aws-sdk-s3` (the same client whether it is AWS, a
//! school's MinIO/Ceph/COS, or the embedded store): list finished tasks,
//! download slices with their MD5 checked, upload the MP4, read ranges for
//! playback, presign uploads for brokered clients.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use txcr_storage::{
    classify, s3_client, Layout, Leaf, ObjectKey, S3Settings, StoreError, TaskPath,
};

use crate::error::Error;

/// Parts of this size for MP4s above it.
const PART: usize = 16 << 20;

/// The bucket and the layout everything lives under.
#[derive(Debug, Clone)]
pub struct Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
    layout: Layout,
}

impl Storage {
    /// A client for these settings; keys go under `prefix`.
    pub fn new(settings: S3Settings, prefix: &str) -> Self {
        Self {
            client: s3_client(&settings),
            bucket: settings.bucket,
            layout: Layout::new(prefix),
        }
    }

    /// The key of `leaf` of `task` in this bucket's layout.
    pub fn key(&self, task: &TaskPath, leaf: Leaf) -> ObjectKey {
        self.layout.key(task, leaf)
    }

    /// Every `manifest.json` of the layout (a task whose slices are all stored).
    pub async fn manifests(&self) -> Result<Vec<ObjectKey>, Error> {
        let mut out = Vec::new();
        self.each_key(self.layout.list_prefix(), |key| {
            out.extend(
                self.layout
                    .parse(key)
                    .filter(|k| k.leaf() == Leaf::Manifest),
            );
        })
        .await?;
        Ok(out)
    }

    /// Every object of the layout under `prefix` (a [`Self::task_prefix`] or
    /// [`Self::class_prefix`]), with when it was stored (unix ms).
    pub async fn objects_under(&self, prefix: &str) -> Result<Vec<(ObjectKey, i64)>, Error> {
        let mut out = Vec::new();
        self.each_object(Some(prefix.to_owned()), |o| {
            let Some(key) = o.key().and_then(|k| self.layout.parse(k)) else {
                return;
            };
            let at = o
                .last_modified()
                .and_then(|t| t.to_millis().ok())
                .unwrap_or(0);
            out.push((key, at));
        })
        .await?;
        Ok(out)
    }

    /// Call `f` with every key under `prefix` (`None`: the whole bucket),
    /// page by page.
    async fn each_key(&self, prefix: Option<String>, mut f: impl FnMut(&str)) -> Result<(), Error> {
        self.each_object(prefix, |o| {
            if let Some(k) = o.key() {
                f(k)
            }
        })
        .await
    }

    /// Call `f` with every object listed under `prefix`, page by page.
    async fn each_object(
        &self,
        prefix: Option<String>,
        mut f: impl FnMut(&aws_sdk_s3::types::Object),
    ) -> Result<(), Error> {
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_prefix(prefix.clone())
                .set_continuation_token(token)
                .send()
                .await
                .map_err(classify)?;
            page.contents().iter().for_each(&mut f);
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(());
            }
        }
    }

    /// GET an object (or a `Range` of it); `None` if it does not exist.
    async fn get(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, Error> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        match req.set_range(range).send().await {
            Ok(o) => Ok(Some(o)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(e).into()),
        }
    }

    /// A small object, whole. `None` if it does not exist.
    pub async fn get_small(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(out) = self.get(key, None).await? else {
            return Ok(None);
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))?;
        Ok(Some(bytes.to_vec()))
    }

    /// Stream an object into `path`; returns its size and MD5, or stops as
    /// soon as it is longer than `max` bytes (returning `max + 1` as its
    /// size: the caller knows the size it expected). `None` if it does not
    /// exist.
    pub async fn download(
        &self,
        key: &str,
        path: &Path,
        max: u64,
    ) -> Result<Option<(u64, [u8; 16])>, Error> {
        let Some(out) = self.get(key, None).await? else {
            return Ok(None);
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(Error::io(format!("saving {key} to the work folder")))?;
        let mut body = out.body;
        let (mut n, mut md5) = (0u64, Md5::new());
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))?
        {
            md5.update(&chunk);
            n += chunk.len() as u64;
            if n > max {
                return Ok(Some((max + 1, md5.finalize().into())));
            }
            file.write_all(&chunk)
                .await
                .map_err(Error::io(format!("saving {key} to the work folder")))?;
        }
        file.flush()
            .await
            .map_err(Error::io(format!("saving {key} to the work folder")))?;
        Ok(Some((n, md5.finalize().into())))
    }

    /// An object as a stream, with its length. `None` if it does not exist.
    pub async fn open(&self, key: &str) -> Result<Option<(ByteStream, Option<u64>)>, Error> {
        Ok(self.get(key, None).await?.map(|o| {
            let len = o.content_length().and_then(|n| u64::try_from(n).ok());
            (o.body, len)
        }))
    }

    /// Store a small object made in memory (a live segment), its MD5 checked.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_md5(md5_b64(&bytes))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Upload a local file (the MP4), in parts when large, each part's MD5
    /// checked by the storage.
    pub async fn upload(&self, key: &str, path: &Path, content_type: &str) -> Result<(), Error> {
        let len = tokio::fs::metadata(path)
            .await
            .map_err(Error::io(format!("reading the file for {key}")))?
            .len();
        if len <= PART as u64 * 4 {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(Error::io(format!("reading the file for {key}")))?;
            return self.put(key, bytes, content_type).await;
        }
        let id = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Transient("no upload id".into()))?;
        let result = self.upload_parts(key, &id, path).await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(&self, key: &str, id: &str, path: &Path) -> Result<(), Error> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(Error::io(format!("reading the file for {key}")))?;
        let mut parts = Vec::new();
        for n in 1.. {
            let mut buf = Vec::with_capacity(PART);
            (&mut file)
                .take(PART as u64)
                .read_to_end(&mut buf)
                .await
                .map_err(Error::io(format!("reading the file for {key}")))?;
            if buf.is_empty() {
                break;
            }
            let etag = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(id)
                .part_number(n)
                .content_md5(md5_b64(&buf))
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(classify)?
                .e_tag()
                .unwrap_or_default()
                .to_owned();
            parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Bytes `first..=last` of an object. `None` if it does not exist.
    pub async fn read_range(
        &self,
        key: &str,
        first: u64,
        last: u64,
    ) -> Result<Option<ByteStream>, Error> {
        let range = format!("bytes={first}-{last}");
        Ok(self.get(key, Some(range)).await?.map(|o| o.body))
    }

    /// The first `n` bytes of an object (fewer if it is shorter), in memory.
    /// `None` if it does not exist.
    pub async fn read_head(&self, key: &str, n: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(body) = self.read_range(key, 0, n.max(1) - 1).await? else {
            return Ok(None);
        };
        let bytes = body
            .collect()
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))?;
        Ok(Some(bytes.to_vec()))
    }

    /// Remove one object (absent already is fine).
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The key prefix of every object of `task`.
    pub fn task_prefix(&self, task: &TaskPath) -> String {
        self.layout.task_prefix(task)
    }

    /// The key prefix of every object of a class.
    pub fn class_prefix(&self, sdkappid: u64, class_id: u64) -> String {
        self.layout.class_prefix(sdkappid, class_id)
    }

    /// Remove every object whose key starts with `prefix`; how many there were.
    pub async fn delete_under(&self, prefix: &str) -> Result<usize, Error> {
        let mut keys = Vec::new();
        self.each_key(Some(prefix.to_owned()), |k| keys.push(k.to_owned()))
            .await?;
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys.len())
    }

    /// A URL that lets its holder PUT one object for `ttl`.
    pub async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, Error> {
        let cfg =
            PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Permanent(e.to_string()))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(classify)?;
        Ok(req.uri().to_owned())
    }
}

fn md5_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

fn is_not_found<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    match e {
        aws_sdk_s3::error::SdkError::ServiceError(se) => {
            matches!(se.err().code(), Some("NoSuchKey" | "NotFound"))
                || se.raw().status().as_u16() == 404
        }
        _ => false,
    }
}
