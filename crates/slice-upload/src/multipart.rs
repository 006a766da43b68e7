//! A large slice in parts: each stored part's ETag is journaled as it
//! happens, so after a restart the upload continues from the last stored
//! part; an upload the storage lost starts over.

use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};
use txcr_storage::{ObjectKey, StoreError};

use crate::journal::Multipart;
use crate::shared::Inner;
use crate::store::ObjectStore;

/// Store `path` (`size` bytes) at `key` in parts of `part_size`.
pub(crate) async fn put_multipart<S: ObjectStore>(
    inner: &Inner,
    store: &S,
    key: &ObjectKey,
    path: &Path,
    size: u64,
    part_size: u64,
) -> Result<String, StoreError> {
    let mut mp = match inner.multipart(key) {
        Some(mp) => mp,
        None => {
            let upload_id = store.create_multipart(key).await?;
            let mp = Multipart {
                upload_id,
                part_size: part_size.max(5 << 20),
                parts: Vec::new(),
            };
            inner.save_multipart(key, Some(mp.clone()))?;
            mp
        }
    };
    let count = size.div_ceil(mp.part_size).max(1) as i32;
    for n in 1..=count {
        if mp.parts.iter().any(|(p, _)| *p == n) {
            continue;
        }
        let (offset, len) = (u64::from(n as u32 - 1) * mp.part_size, mp.part_size);
        let bytes = read_part(path, offset, len).await?;
        let md5: [u8; 16] = Md5::digest(&bytes).into();
        let attempt = store.upload_part(key, &mp.upload_id, n, bytes, md5).await;
        let etag = match attempt {
            Err(e) => return Err(restart(inner, key, e)?),
            Ok(etag) => etag,
        };
        mp.parts.push((n, etag));
        inner.save_multipart(key, Some(mp.clone()))?;
    }
    mp.parts.sort_by_key(|(n, _)| *n);
    match store
        .complete_multipart(key, &mp.upload_id, &mp.parts)
        .await
    {
        Err(e) => Err(restart(inner, key, e)?),
        ok => ok,
    }
}

/// After a failed part or completion: forget an upload the storage lost (or
/// refused: some S3-compatible servers, s3s-fs among them, answer a part for
/// a vanished upload with AccessDenied rather than NoSuchUpload), so the next
/// try starts a fresh one (and fails at once if the keys really are refused).
/// Returns the error to report.
fn restart(inner: &Inner, key: &ObjectKey, e: StoreError) -> Result<StoreError, StoreError> {
    Ok(match e {
        StoreError::NoSuchUpload(why) => {
            inner.save_multipart(key, None)?;
            StoreError::Transient(format!("multipart upload restarted: {why}"))
        }
        e @ StoreError::Permanent(_) => {
            inner.save_multipart(key, None)?;
            e
        }
        e => e,
    })
}

async fn read_part(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
    let file = path.to_owned();
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::open(&file)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    })
    .await
    .map_err(|e| StoreError::Transient(e.to_string()))?
    .map_err(|e| StoreError::Permanent(format!("reading {}: {e}", path.display())))
}
