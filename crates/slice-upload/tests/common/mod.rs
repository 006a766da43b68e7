//! Shared by the upload tests: a real S3-compatible server in-process
//! (s3s-fs, signatures checked), a client, and real FLV slices.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::Path;

use txcr_core::{MediaKind, Packet, VideoConfig};
use txcr_mux::{FinishedSlice, SliceWriter};
use txcr_slice_upload::{
    Journal, Multipart, ObjectStore, S3Store, SliceRecord, SliceState, TaskMeta, TaskRecord,
};
use txcr_storage::{Layout, Leaf, S3Settings};

pub const AK: &str = "test-access";
pub const SK: &str = "test-secret";
pub const BUCKET: &str = "class";

pub struct Server {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

pub async fn server(root: &Path, port: u16) -> Server {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let root = root.to_owned();
    let task = tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        txcr_s3dev::serve(listener, &root, AK, SK, &[BUCKET.into()], stop)
            .await
            .unwrap();
    });
    Server {
        port,
        stop: Some(tx),
        task,
    }
}

impl Server {
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = self.task.await;
    }
}

pub fn store(port: u16, secret: &str) -> S3Store {
    S3Store::new(S3Settings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        path_style: true,
        access_key: AK.into(),
        secret_key: secret.into(),
    })
}

/// Real FLV slices of a fake recording: `n` slices of 1 s at 10 fps.
pub fn slices(dir: &Path, n: u64) -> Vec<FinishedSlice> {
    let cfg = VideoConfig {
        width: 64,
        height: 32,
        fps: 10,
        bitrate: 1,
        sps: vec![0x67, 66, 0, 30],
        pps: vec![0x68],
    };
    let mut w = SliceWriter::new(&dir.join("c.flv"), 1000, cfg, None);
    let mut out = vec![];
    for i in 0..n * 10 {
        let p = Packet {
            kind: MediaKind::Video,
            pts_ms: i * 100,
            dts_ms: i * 100,
            keyframe: i % 10 == 0,
            data: vec![0, 0, 0, 2, 0x65, i as u8],
        };
        out.extend(w.write(&p).unwrap());
    }
    out.extend(w.finish().unwrap());
    out
}

pub fn meta(dir: &Path) -> TaskMeta {
    TaskMeta {
        task_id: "7-100".into(),
        sdkappid: 1400000000,
        class_id: 7,
        user_id: "teacher".into(),
        start_time: 100,
        dst: dir.join("c.flv"),
    }
}

pub async fn get(store: &S3Store, key: &str) -> Vec<u8> {
    let o = store
        .client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Every key under `prefix`, sorted.
pub async fn keys(s: &S3Store, prefix: &str) -> Vec<String> {
    let out = s
        .client()
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut k: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    k.sort();
    k
}

/// `len` bytes of reproducible noise (incompressible, like video).
pub fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn md5(b: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(b).into()
}

pub fn hex(d: [u8; 16]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A previous process's state: a `len`-byte slice (noise from `seed`) whose
/// multipart upload was started with part 1 (5 MiB) stored and journaled under
/// `<dir>/journal`, then the process died. Returns (key, upload id, bytes).
pub async fn died_after_part_one(
    dir: &Path,
    st: &S3Store,
    len: usize,
    seed: u64,
) -> (String, String, Vec<u8>) {
    let bytes = noise(len, seed);
    let path = dir.join("c_0001.flv");
    std::fs::write(&path, &bytes).unwrap();
    let key = Layout::new("").key(&meta(dir).task_path(), Leaf::Slice(1));
    assert_eq!(key.as_str(), "1400000000/7/7-100/0001.flv");
    let upload_id = st.create_multipart(&key).await.unwrap();
    let part1 = bytes[..5 << 20].to_vec();
    let etag1 = st
        .upload_part(&key, &upload_id, 1, part1.clone(), md5(&part1))
        .await
        .unwrap();
    let rec = TaskRecord {
        meta: meta(dir),
        recording: false,
        slices: vec![SliceRecord {
            seq: 1,
            path,
            bytes: bytes.len() as u64,
            start_ms: 0,
            duration_ms: 300_000,
            md5: hex(md5(&bytes)),
            state: SliceState::Queued,
            etag: None,
            multipart: Some(Multipart {
                upload_id: upload_id.clone(),
                part_size: 5 << 20,
                parts: vec![(1, etag1)],
            }),
        }],
        manifest_stored: false,
        uploaded_at: None,
        chapters: Vec::new(),
    };
    Journal::open(&dir.join("journal"))
        .unwrap()
        .save(&rec)
        .unwrap();
    (key.as_str().to_owned(), upload_id, bytes)
}
