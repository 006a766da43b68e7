//! Upload benchmark (not a test): one hour of class at 2 Mbit/s (12 slices of
//! 5 minutes, ~75 MB each) through the upload queue to a local S3-compatible
//! server (`txcr-s3dev`, signatures checked) over loopback. Eleven slices
//! arrive "during the class", then the last one and the end of the task, as
//! StopRecord does; prints the throughput and the time from that stop until
//! the task is `uploaded` (manifest stored).
//!
//! `cargo run --release -p txcr-examples --example upload_bench [SLICES] [MB_PER_SLICE]`

use std::time::{Duration, Instant};

use txcr_slice_upload::{S3Store, TaskMeta, UploadConfig, UploadQueue, UploadState};
use txcr_storage::S3Settings;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (slices, mb) = (
        args.first().copied().unwrap_or(12),
        args.get(1).copied().unwrap_or(75),
    );
    let dir = std::env::temp_dir().join(format!("txcr-upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rec"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let root = dir.join("s3");
    let server = tokio::spawn(async move {
        let stop = async {
            let _ = stop_rx.await;
        };
        txcr_s3dev::serve(
            listener,
            &root,
            "bench",
            "bench-secret",
            &["classes".into()],
            stop,
        )
        .await
    });

    // Slice files: incompressible bytes, like encoded video.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut files = Vec::new();
    for seq in 1..=slices {
        let path = dir.join(format!("rec/class_{seq:04}.flv"));
        let bytes: Vec<u8> = (0..mb << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&path, bytes)?;
        files.push(path);
    }
    let store = S3Store::new(S3Settings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        bucket: "classes".into(),
        path_style: true,
        access_key: "bench".into(),
        secret_key: "bench-secret".into(),
    });
    let q = UploadQueue::start(&dir.join("journal"), store, UploadConfig::default())?;
    q.begin_task(TaskMeta {
        task_id: "1-1".into(),
        sdkappid: 1,
        class_id: 1,
        user_id: "t".into(),
        start_time: 0,
        dst: dir.join("rec/class.flv"),
    })?;
    let t0 = Instant::now();
    for (i, f) in files.iter().enumerate().take(files.len().saturating_sub(1)) {
        q.queue_slice("1-1", i as u32 + 1, f, i as u64 * 300_000, 300_000);
    }
    // Let the "class" go on until those are stored, as they would be live.
    while q.status()[0].slices.0 + 1 < files.len() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = t0.elapsed();
    let stop = Instant::now();
    let last = files.len() as u32;
    q.queue_slice(
        "1-1",
        last,
        &files[files.len() - 1],
        u64::from(last - 1) * 300_000,
        300_000,
    );
    q.finish_task("1-1");
    while q.status()[0].state != UploadState::Uploaded {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after_stop = stop.elapsed();
    let total_mb = (slices * mb) as f64;
    println!("{slices} slices x {mb} MiB = {total_mb:.0} MiB over loopback, 3 uploaders, Content-MD5 on every PUT");
    println!(
        "first {} slices: {:.2} s ({:.0} MiB/s)",
        slices - 1,
        live.as_secs_f64(),
        (total_mb - mb as f64) / live.as_secs_f64()
    );
    println!(
        "StopRecord -> uploaded (last slice + manifest): {:.3} s",
        after_stop.as_secs_f64()
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
