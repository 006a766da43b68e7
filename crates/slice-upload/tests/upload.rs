//! The upload queue against a real S3-compatible server (s3s-fs, signatures
//! checked), read back with the SDK client.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use txcr_slice_upload::{Journal, TaskStatus, UploadConfig, UploadQueue};

async fn wait_for(q: &UploadQueue, want: &str, within: Duration) -> TaskStatus {
    let t0 = Instant::now();
    loop {
        let st = q.status().into_iter().next().expect("one task");
        if st.state.as_str() == want || t0.elapsed() > within {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cfg() -> UploadConfig {
    UploadConfig {
        permanent_retry: Duration::from_millis(500),
        ..UploadConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slice_arrives_byte_for_byte_with_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s3"), 0).await;
    let q = UploadQueue::start(&dir.path().join("journal"), store(srv.port, SK), cfg()).unwrap();
    q.begin_task(meta(dir.path())).unwrap();
    let files = slices(dir.path(), 3);
    for f in &files {
        let path = f.path.clone();
        let (q2, info) = (q.clone(), f.info.clone());
        tokio::task::spawn_blocking(move || {
            q2.add_slice("7-100", info.seq, &path, info.start_ms, info.duration_ms())
        })
        .await
        .unwrap()
        .unwrap();
    }
    assert_ne!(
        q.status()[0].state.as_str(),
        "uploaded",
        "not complete while recording"
    );
    q.end_task("7-100").unwrap();
    let st = wait_for(&q, "uploaded", Duration::from_secs(20)).await;
    assert_eq!(
        (
            st.state.as_str(),
            st.slices,
            st.total_secs,
            st.uploaded_secs
        ),
        ("uploaded", (3, 3), 3, 3),
        "{st:?}"
    );
    let reader = store(srv.port, SK);
    for f in &files {
        let key = format!("1400000000/7/7-100/{:04}.flv", f.info.seq);
        assert_eq!(
            get(&reader, &key).await,
            std::fs::read(&f.path).unwrap(),
            "{key}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&get(&reader, "1400000000/7/7-100/manifest.json").await).unwrap();
    assert_eq!(manifest["Slices"].as_array().unwrap().len(), 3);
    assert_eq!(manifest["UserId"], "teacher");
    assert_eq!(manifest["Slices"][2]["Key"], "1400000000/7/7-100/0003.flv");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_recording_is_repaired_and_uploaded_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let files = slices(dir.path(), 3);
    // The journal knew slice 1; slice 2 was closed but not journaled; slice 3
    // was being written when the process died.
    let journal = Journal::open(&dir.path().join("journal")).unwrap();
    let mut rec = txcr_slice_upload::TaskRecord {
        meta: meta(dir.path()),
        recording: true,
        slices: vec![],
        manifest_stored: false,
        uploaded_at: None,
        chapters: Vec::new(),
    };
    journal.save(&rec).unwrap();
    let torn: PathBuf = files[2].path.clone();
    let len = std::fs::metadata(&torn).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&torn)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    rec.recording = true;
    let srv = server(&dir.path().join("s3"), 0).await;
    let q = UploadQueue::start(&dir.path().join("journal"), store(srv.port, SK), cfg()).unwrap();
    let st = wait_for(&q, "uploaded", Duration::from_secs(20)).await;
    assert_eq!(
        (st.state.as_str(), st.slices),
        ("uploaded", (3, 3)),
        "{st:?}"
    );
    let repaired = std::fs::read(&torn).unwrap();
    assert_eq!(
        txcr_mux::valid_prefix_len(&repaired).unwrap(),
        repaired.len(),
        "torn tail cut at the last complete tag"
    );
    assert_eq!(
        get(&store(srv.port, SK), "1400000000/7/7-100/0003.flv").await,
        repaired
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_upload_failed_and_an_outage_only_delays() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s3"), 0).await;
    let port = srv.port;
    let bad =
        UploadQueue::start(&dir.path().join("j1"), store(port, "wrong-secret"), cfg()).unwrap();
    bad.begin_task(meta(dir.path())).unwrap();
    let files = slices(dir.path(), 3);
    let f = files[0].clone();
    let b2 = bad.clone();
    tokio::task::spawn_blocking(move || b2.add_slice("7-100", 1, &f.path, 0, 1000))
        .await
        .unwrap()
        .unwrap();
    let st = wait_for(&bad, "upload failed", Duration::from_secs(20)).await;
    assert_eq!(st.state.as_str(), "upload failed", "{st:?}");
    assert!(
        st.error.unwrap().contains("Signature"),
        "the reason is kept"
    );

    // Storage down while slices arrive: they wait, then arrive once it is back.
    srv.shutdown().await;
    let q = UploadQueue::start(&dir.path().join("j2"), store(port, SK), cfg()).unwrap();
    q.begin_task(meta(dir.path())).unwrap();
    for f in &files {
        let (q2, f) = (q.clone(), f.clone());
        tokio::task::spawn_blocking(move || {
            q2.add_slice(
                "7-100",
                f.info.seq,
                &f.path,
                f.info.start_ms,
                f.info.duration_ms(),
            )
        })
        .await
        .unwrap()
        .unwrap();
    }
    q.end_task("7-100").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = q.status().remove(0);
    assert!(matches!(st.state.as_str(), "wait" | "uploading"), "{st:?}");
    assert_eq!(st.uploaded_secs, 0);
    let srv = server(&dir.path().join("s3"), port).await;
    let st = wait_for(&q, "uploaded", Duration::from_secs(60)).await;
    assert_eq!(
        (st.state.as_str(), st.slices),
        ("uploaded", (3, 3)),
        "{st:?}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_slice_goes_up_in_parts_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s3"), 0).await;
    // A previous process started the upload of 12 MiB (parts of 5 + 5 + 2
    // MiB), stored part 1, journaled it, died.
    let st = store(srv.port, SK);
    let (key, upload_id, bytes) =
        died_after_part_one(dir.path(), &st, 12 << 20, 0x9e37_79b9_7f4a_7c15).await;

    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 5 << 20,
        ..cfg()
    };
    let q = UploadQueue::start(&dir.path().join("journal"), store(srv.port, SK), cfg).unwrap();
    let status = wait_for(&q, "uploaded", Duration::from_secs(30)).await;
    assert_eq!(status.state.as_str(), "uploaded", "{status:?}");
    assert_eq!(get(&st, &key).await, bytes, "the object is the whole file");
    // The interrupted upload was the one completed: had a second upload been
    // begun instead, the first would still hold the part stored before the crash.
    let old = st
        .client()
        .list_parts()
        .bucket(BUCKET)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await;
    assert!(
        old.as_ref().map_or(true, |o| o.parts().is_empty()),
        "the resumed upload is complete: {old:?}"
    );
    srv.shutdown().await;
}
