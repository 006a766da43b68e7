//! An S3-compatible server on a local directory, from `s3s` + `s3s-fs`
//! (Apache-2.0): buckets are directories, objects files. It checks SigV4
//! signatures, so clients are exercised as against a production server.
//!
//! Owns: serving one directory on one TCP listener until told to stop.
//! Does not own: durability guarantees or scale (use a real object store).

use std::future::Future;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// Serve `root` on `listener` with one access key until `stop` completes.
/// `buckets` are created (as directories) first.
pub async fn serve(
    listener: TcpListener,
    root: &Path,
    access_key: &str,
    secret_key: &str,
    buckets: &[String],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    for b in buckets {
        std::fs::create_dir_all(root.join(b))?;
    }
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let socket = tokio::select! {
            r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
            () = &mut stop => break,
        };
        let conn = http.serve_connection(TokioIo::new(socket), service.clone());
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
    }
    Ok(())
}
