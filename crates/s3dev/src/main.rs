//! `txcr-s3dev --root DIR [--port N] --access-key K --secret-key S [--bucket B]…`
//!
//! Serves an S3-compatible endpoint on 127.0.0.1 and prints
//! `listening on http://127.0.0.1:PORT` (port 0 picks a free one).

use std::path::PathBuf;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(
        arg(&args, "--root").ok_or_else(|| anyhow::anyhow!("--root DIR is required"))?,
    );
    let port: u16 = arg(&args, "--port").map_or(Ok(0), |p| p.parse())?;
    let ak =
        arg(&args, "--access-key").ok_or_else(|| anyhow::anyhow!("--access-key is required"))?;
    let sk =
        arg(&args, "--secret-key").ok_or_else(|| anyhow::anyhow!("--secret-key is required"))?;
    let buckets: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--bucket")
        .map(|w| w[1].clone())
        .collect();
    std::fs::create_dir_all(&root)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        txcr_s3dev::serve(listener, &root, &ak, &sk, &buckets, stop).await
    })
}
