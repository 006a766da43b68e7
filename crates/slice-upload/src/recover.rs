//! Start-up recovery: re-read what a crashed recording left after its last
//! journaled slice, truncate a torn tail to its last complete tag, and queue
//! every slice that holds video.

use md5::{Digest, Md5};
use txcr_mux::slice_path;

use crate::journal::{SliceRecord, SliceState, TaskRecord};
use crate::store::hex;

/// Add the slices a crash left unjournaled to `t`.
pub(crate) fn recover_orphans(t: &mut TaskRecord) {
    let mut seq = t.slices.iter().map(|s| s.seq).max().unwrap_or(0) + 1;
    loop {
        let path = slice_path(&t.meta.dst, seq);
        let Ok(mut bytes) = std::fs::read(&path) else {
            break;
        };
        let found = txcr_mux::salvage(&bytes).ok();
        let valid = found.map_or(0, |f| f.valid_len);
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), kept = valid, lost = bytes.len() - valid, "repairing a slice cut off by a crash");
            bytes.truncate(valid);
            let ok = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| {
                    f.set_len(valid as u64)?;
                    f.sync_all()
                });
            if ok.is_err() {
                break;
            }
        }
        let Some(video) = found.and_then(|f| f.video) else {
            break;
        };
        t.slices.push(SliceRecord {
            seq,
            path,
            bytes: bytes.len() as u64,
            start_ms: video.start_ms,
            duration_ms: video.duration_ms,
            md5: hex(&Md5::digest(&bytes)),
            state: SliceState::Queued,
            etag: None,
            multipart: None,
        });
        seq += 1;
    }
}
