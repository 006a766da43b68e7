//! `txcloudrecord-backend`: the self-hosted replacement for the vendor's cloud.
//!
//! Finds finished recordings in object storage (a manifest scan, or the local
//! service's completion call), splices each into one faststart MP4
//! (`txcr-splice`), stores it beside the slices, indexes it (SQLite by default,
//! PostgreSQL for several instances), calls the school's webhook (a
//! transactional outbox with signed, retried deliveries), and serves the
//! contract's query API, a signed playback page, brokered upload URLs, health
//! and Prometheus metrics.
//!
//! With no bucket configured it starts an embedded S3-compatible store
//! (`txcr-s3dev`) in the data directory and talks to it through the same
//! `aws-sdk-s3` client as production.

mod broker;
mod config;
mod ctx;
mod db;
mod error;
mod http;
mod jobs;
mod live;
mod metrics;
mod page;
mod query;
mod reply;
mod storage;
mod wire;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use txcr_storage::S3Settings;

use crate::config::{Config, Flags, Storage as StorageCfg};
use crate::ctx::Ctx;
use crate::storage::Storage;

/// Bucket of the embedded store.
const EMBEDDED_BUCKET: &str = "txcloudrecord";

#[derive(Serialize, Deserialize)]
struct EmbeddedKeys {
    access_key: String,
    secret_key: String,
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

/// The embedded store's keys: made once, kept in the data directory (0600).
fn embedded_keys(dir: &Path) -> anyhow::Result<EmbeddedKeys> {
    let path = dir.join("embedded-s3.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(k) = serde_json::from_str(&text) {
            return Ok(k);
        }
    }
    let keys = EmbeddedKeys {
        access_key: format!("TXCR{}", random_hex(16).to_uppercase()),
        secret_key: random_hex(40),
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&keys)?)
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(keys)
}

/// The host of `public_url`, where the embedded store listens and what its
/// upload URLs name: teachers' machines reach the backend there, so they
/// reach its store there too.
fn public_host(public_url: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(public_url)
        .with_context(|| format!("--public-url {public_url:?} is not a URL"))?;
    let host = url
        .host_str()
        .with_context(|| format!("--public-url {public_url:?} names no host"))?;
    Ok(host.to_owned())
}

async fn open_storage(
    cfg: &Config,
    public_url: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Storage> {
    match &cfg.storage {
        StorageCfg::External(settings, prefix) => Ok(Storage::new(settings.clone(), prefix)),
        StorageCfg::Embedded(port) => {
            let keys = embedded_keys(&cfg.data_dir)?;
            let host = public_host(public_url)?;
            let bind_host = host.trim_start_matches('[').trim_end_matches(']');
            let listener = TcpListener::bind((bind_host, *port))
                .await
                .with_context(|| {
                    format!("embedded object store: {host}:{port} (the --public-url host)")
                })?;
            let addr = listener.local_addr()?;
            if addr.ip().is_unspecified() {
                tracing::warn!(%addr, "the backend listens on every interface but no --public-url says how teachers' machines reach it: upload URLs and links name {host}; set --public-url http://<this server>:<port>");
            }
            let root = cfg.data_dir.join("objects");
            std::fs::create_dir_all(&root)?;
            let (ak, sk) = (keys.access_key.clone(), keys.secret_key.clone());
            let mut stop = stop;
            tokio::spawn(async move {
                let buckets = [EMBEDDED_BUCKET.to_owned()];
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) =
                    txcr_s3dev::serve(listener, &root, &ak, &sk, &buckets, stopped).await
                {
                    tracing::error!(error = %e, "embedded object store stopped");
                }
            });
            let endpoint = format!("http://{host}:{}", addr.port());
            tracing::info!(
                endpoint = %endpoint,
                listening = %addr,
                bucket = EMBEDDED_BUCKET,
                keys = %cfg.data_dir.join("embedded-s3.json").display(),
                "embedded object store"
            );
            Ok(Storage::new(
                S3Settings {
                    endpoint: Some(endpoint),
                    region: "us-east-1".into(),
                    bucket: EMBEDDED_BUCKET.into(),
                    path_style: true,
                    access_key: keys.access_key,
                    secret_key: keys.secret_key,
                },
                "",
            ))
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("data directory {}", cfg.data_dir.display()))?;
    if cfg.apps.is_empty() {
        tracing::warn!("no application configured (TXCR_SDKAPPID/TXCR_SECRET_KEY or [[apps]]): the query API, callbacks and playback links refuse everything");
    }
    let (stop_tx, stop) = watch::channel(false);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let storage = open_storage(&cfg, &public_url, stop.clone()).await?;
    let db = db::Db::open(&cfg.database_url)
        .await
        .context("opening the database")?;
    let ctx = Arc::new(Ctx {
        me: format!("{}-{}", std::process::id(), random_hex(6)),
        public_url,
        cfg,
        db,
        storage,
        metrics: metrics::Metrics::default(),
        live: live::Live::default(),
        wake: tokio::sync::Notify::new(),
        http: reqwest::Client::builder()
            .user_agent("txcloudrecord-backend")
            .build()
            .context("HTTP client")?,
    });
    println!("txcloudrecord-backend listening on http://{addr}");
    tracing::info!(instance = %ctx.me, %addr, "backend started");
    let watcher = tokio::spawn(jobs::watch_storage(ctx.clone(), stop.clone()));
    let worker = tokio::spawn(jobs::splice_worker(ctx.clone(), stop.clone()));
    let sender = tokio::spawn(jobs::callback_sender(ctx.clone(), stop.clone()));
    let sweeper = tokio::spawn(jobs::sweep_old(ctx.clone(), stop.clone()));
    let live_sweeper = tokio::spawn(jobs::drop_live_segments(ctx.clone(), stop.clone()));
    let server = tokio::spawn(http::serve(listener, ctx.clone(), stop.clone()));
    // Type=notify units: ready once the listeners, store and index are up.
    #[cfg(target_os = "linux")]
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    shutdown_signal().await;
    tracing::info!("stopping");
    #[cfg(target_os = "linux")]
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = tokio::join!(watcher, sender, sweeper, live_sweeper, server);
    tracing::info!("stopped");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let filter = flags
        .log
        .as_deref()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let cfg = Config::load(&flags)?;
    if cfg.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    tokio::runtime::Builder::new_multi_thread()
        // File I/O (the built-in store, media served to viewers) and the
        // splice run on blocking threads. Tokio's default bound is 512: with
        // many viewers the process would grow a thread per open read. Sixteen
        // keep the disk busy; more requests wait their turn.
        .max_blocking_threads(16)
        .enable_all()
        .build()?
        .block_on(run(cfg))
}
