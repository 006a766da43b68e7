//! Settings: flags beat environment variables (clap reads both), which beat the
//! TOML config file, which beats the defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;
use txcr_auth::AppKeys;
use txcr_storage::{S3Fields, S3Settings};

/// The operator interface (section 3 of the API contract) plus additions.
#[derive(Debug, Clone, Parser, Default)]
#[command(name = "txcloudrecord-backend", version, about)]
pub struct Flags {
    /// Address to serve on [default: 127.0.0.1:37605]
    #[arg(long, env = "TXCR_BACKEND_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Index, work files and the embedded object store [default: the per-user data directory]
    #[arg(long, env = "TXCR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file
    #[arg(long, env = "TXCR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database: `sqlite://…` or `postgres://…` [default: SQLite in the data directory]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// SdkAppId of the single application (or `[[apps]]` in the config file)
    #[arg(long, env = "TXCR_SDKAPPID")]
    pub sdkappid: Option<u64>,
    /// Its UserSig secret key (prefer the variable: flags show in `ps`)
    #[arg(long, env = "TXCR_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Its TicKey, for query signatures and playback links
    #[arg(long, env = "TXCR_TICKEY", hide_env_values = true)]
    pub tickey: Option<String>,
    /// Base URL under which students reach this backend (links in callbacks)
    /// [default: http://<listen>]
    #[arg(long, env = "TXCR_BACKEND_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds between scans of the bucket for finished tasks [default: 5]
    #[arg(long, env = "TXCR_WATCH_INTERVAL")]
    pub watch_interval: Option<f64>,
    /// Port of the embedded object store, used when no bucket is configured
    /// [default: 37606]
    #[arg(long, env = "TXCR_EMBEDDED_S3_PORT")]
    pub embedded_s3_port: Option<u16>,
    /// Log as JSON lines
    #[arg(long, env = "TXCR_LOG_JSON")]
    pub log_json: bool,
    /// Log filter (`info`, `warn`, `txcloudrecord_backend=debug`, …) [default: info]
    #[arg(long = "log", env = "TXCR_LOG")]
    pub log: Option<String>,
    /// The identifier allowed to register the callback URL [default: administrator]
    #[arg(long, env = "TXCR_ADMIN", help_heading = "Jobs and callbacks")]
    pub admin: Option<String>,
    /// Seconds a running splice gets to finish on SIGTERM before its job is
    /// released [default: 30]
    #[arg(
        long,
        env = "TXCR_SHUTDOWN_GRACE_SECS",
        help_heading = "Jobs and callbacks"
    )]
    pub shutdown_grace_secs: Option<u64>,
    /// Seconds a splice job is leased for; another instance takes it over
    /// once the lease runs out (1–3600) [default: 60]
    #[arg(long, env = "TXCR_JOB_LEASE_SECS", help_heading = "Jobs and callbacks")]
    pub job_lease_secs: Option<f64>,
    /// Hours a callback is retried before it is given up [default: 72]
    #[arg(
        long,
        env = "TXCR_CALLBACK_RETRY_HOURS",
        help_heading = "Jobs and callbacks"
    )]
    pub callback_retry_hours: Option<f64>,
    /// Days a media link in a callback or query answer stays valid [default: 365]
    #[arg(
        long,
        env = "TXCR_MEDIA_LINK_DAYS",
        help_heading = "Jobs and callbacks"
    )]
    pub media_link_days: Option<u64>,
    /// Delete a task's slices from storage once its MP4 is stored (the
    /// manifest stays) [default: keep them]
    #[arg(
        long,
        env = "TXCR_DELETE_SLICES_AFTER_SPLICE",
        help_heading = "Jobs and callbacks"
    )]
    pub delete_slices_after_splice: bool,
    /// Delete recordings (MP4, slices, manifest, index rows) this many days
    /// after their class started, and failed tasks as long after they were
    /// found; fractions allowed [default: keep forever]
    #[arg(long, env = "TXCR_RETENTION_DAYS", help_heading = "Jobs and callbacks")]
    pub retention_days: Option<f64>,
    /// Delete a recording's live replay segments this many hours after its
    /// MP4 is made (viewers still watching live keep them until then; the
    /// MP4 is what remains); fractions allowed [default: 24]
    #[arg(
        long,
        env = "TXCR_LIVE_KEEP_HOURS",
        help_heading = "Jobs and callbacks"
    )]
    pub live_keep_hours: Option<f64>,
    /// Fault tests only: hold each splice job this long after fetching its
    /// slices, so a test can kill the backend mid-job
    #[arg(long, env = "TXCR_TEST_SPLICE_HOLD_MS", hide = true)]
    pub test_splice_hold_ms: Option<u64>,
    /// The bucket (none: the embedded object store)
    #[command(flatten)]
    pub s3: S3Fields,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    sdkappid: u64,
    secret_key: String,
    tickey: Option<String>,
    admin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    watch_interval: Option<f64>,
    embedded_s3_port: Option<u16>,
    callback_retry_hours: Option<f64>,
    media_link_days: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    job_lease_secs: Option<f64>,
    delete_slices_after_splice: Option<bool>,
    retention_days: Option<f64>,
    live_keep_hours: Option<f64>,
    #[serde(default)]
    storage: S3Fields,
    #[serde(default)]
    apps: Vec<FileApp>,
}

/// One application.
#[derive(Debug, Clone)]
pub struct App {
    /// TicKey: query signatures and playback links. Defaults to the secret key.
    pub tickey: String,
    /// The identifier allowed to register the callback.
    pub admin: String,
}

/// Where objects live.
#[derive(Debug, Clone)]
pub enum Storage {
    /// An S3-compatible bucket.
    External(S3Settings, String),
    /// The embedded store: a local S3 server on this port.
    Embedded(u16),
}

/// Everything the backend needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base of media links; `None`: the address actually bound.
    pub public_url: Option<String>,
    pub watch_interval: Duration,
    pub callback_retry: Duration,
    pub media_link_ttl: Duration,
    pub shutdown_grace: Duration,
    pub job_lease: Duration,
    /// Slices are deleted once their task's MP4 is stored.
    pub delete_slices_after_splice: bool,
    /// Recordings older than this are deleted; `None`: kept.
    pub retention: Option<Duration>,
    /// A recording's live segments are deleted this long after its splice.
    pub live_keep: Duration,
    /// Fault tests only: hold each splice job this long after fetching its
    /// slices (`TXCR_TEST_SPLICE_HOLD_MS`), so a test can kill the backend mid-job.
    pub splice_hold: Duration,
    pub storage: Storage,
    pub keys: AppKeys,
    pub apps: BTreeMap<u64, App>,
    pub log_json: bool,
}

fn storage(fields: S3Fields, embedded_port: u16) -> anyhow::Result<Storage> {
    Ok(match fields.settings()? {
        Some(settings) => Storage::External(settings, fields.prefix()),
        None => Storage::Embedded(embedded_port),
    })
}

fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "txcloudrecord-backend")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from("txcloudrecord-backend-data"))
}

impl Config {
    /// Merge flags/env, the config file and defaults.
    pub fn load(flags: &Flags) -> anyhow::Result<Self> {
        let file: File = match &flags.config {
            Some(p) => read_file(p)?,
            None => File::default(),
        };
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 37605)));
        let data_dir = flags
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let database_url = flags
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("index.db").display())
            });
        let public_url = flags
            .public_url
            .clone()
            .or(file.public_url)
            .map(|u| u.trim_end_matches('/').to_owned());
        let mut keys = AppKeys::new();
        let mut apps = BTreeMap::new();
        for a in file.apps {
            keys.insert(a.sdkappid, &a.secret_key);
            apps.insert(
                a.sdkappid,
                App {
                    tickey: a.tickey.unwrap_or_else(|| a.secret_key.clone()),
                    admin: a.admin.unwrap_or_else(|| "administrator".into()),
                },
            );
        }
        match (flags.sdkappid, &flags.secret_key) {
            (Some(id), Some(key)) => {
                keys.insert(id, key);
                apps.insert(
                    id,
                    App {
                        tickey: flags.tickey.clone().unwrap_or_else(|| key.clone()),
                        admin: flags
                            .admin
                            .clone()
                            .unwrap_or_else(|| "administrator".into()),
                    },
                );
            }
            (None, None) => {}
            _ => anyhow::bail!("TXCR_SDKAPPID and TXCR_SECRET_KEY must be given together"),
        }
        let watch = flags.watch_interval.or(file.watch_interval).unwrap_or(5.0);
        let retention = match flags.retention_days.or(file.retention_days) {
            None => None,
            Some(d) if d.is_finite() && d > 0.0 && d <= 36_500.0 => {
                Some(Duration::from_secs_f64(d * 86_400.0))
            }
            Some(d) => anyhow::bail!("retention_days must be above 0 and at most 36500, not {d}"),
        };
        let live_keep = match flags.live_keep_hours.or(file.live_keep_hours) {
            None => 24.0,
            Some(h) if h.is_finite() && h > 0.0 && h <= 876_000.0 => h,
            Some(h) => anyhow::bail!("live_keep_hours must be above 0 and at most 876000, not {h}"),
        };
        Ok(Self {
            listen,
            database_url,
            public_url,
            watch_interval: Duration::from_secs_f64(watch.clamp(0.1, 3600.0)),
            callback_retry: Duration::from_secs_f64(
                flags
                    .callback_retry_hours
                    .or(file.callback_retry_hours)
                    .unwrap_or(72.0)
                    .max(0.0)
                    * 3600.0,
            ),
            media_link_ttl: Duration::from_secs(
                flags
                    .media_link_days
                    .or(file.media_link_days)
                    .unwrap_or(365)
                    * 86_400,
            ),
            shutdown_grace: Duration::from_secs(
                flags
                    .shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            splice_hold: Duration::from_millis(flags.test_splice_hold_ms.unwrap_or(0)),
            delete_slices_after_splice: flags.delete_slices_after_splice
                || file.delete_slices_after_splice.unwrap_or(false),
            retention,
            live_keep: Duration::from_secs_f64(live_keep * 3600.0),
            job_lease: Duration::from_secs_f64(
                flags
                    .job_lease_secs
                    .or(file.job_lease_secs)
                    .unwrap_or(60.0)
                    .clamp(1.0, 3600.0),
            ),
            storage: storage(
                flags.s3.clone().over(file.storage),
                flags
                    .embedded_s3_port
                    .or(file.embedded_s3_port)
                    .unwrap_or(37606),
            )?,
            keys,
            apps,
            data_dir,
            log_json: flags.log_json,
        })
    }
}

fn read_file(p: &Path) -> anyhow::Result<File> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config {}", p.display()))?;
    toml::from_str(&text).with_context(|| format!("config {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/backend.toml")
    }

    #[test]
    fn the_sample_config_loads_with_the_values_it_shows() {
        let flags = Flags {
            config: Some(sample()),
            ..Flags::default()
        };
        let cfg = Config::load(&flags).expect("the sample config loads");
        assert_eq!(cfg.listen, SocketAddr::from(([0, 0, 0, 0], 37605)));
        assert_eq!(
            cfg.public_url.as_deref(),
            Some("http://school-server.example.edu:37605")
        );
        assert_eq!(cfg.data_dir, Path::new("/var/lib/txcloudrecord"));
        assert!(cfg
            .database_url
            .starts_with("sqlite:///var/lib/txcloudrecord/"));
        assert_eq!(cfg.job_lease, Duration::from_secs(60));
        assert!(!cfg.delete_slices_after_splice);
        assert_eq!(cfg.retention, Some(Duration::from_secs(400 * 86_400)));
        assert_eq!(cfg.live_keep, Duration::from_secs(24 * 3600));
        assert_eq!(cfg.callback_retry, Duration::from_secs(72 * 3600));
        assert!(matches!(cfg.storage, Storage::Embedded(37606)));
        assert_eq!(cfg.keys.get(1400000000), Some("change-me"));
        let app = &cfg.apps[&1400000000];
        assert_eq!(
            (app.tickey.as_str(), app.admin.as_str()),
            ("change-me-too", "administrator")
        );
    }

    #[test]
    fn the_packaged_config_loads_safe_on_loopback_with_no_app() {
        let flags = Flags {
            config: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/backend.toml")),
            ..Flags::default()
        };
        let cfg = Config::load(&flags).expect("the packaged config loads");
        assert_eq!(cfg.listen, SocketAddr::from(([127, 0, 0, 1], 37605)));
        assert_eq!(cfg.data_dir, Path::new("/var/lib/txcloudrecord"));
        assert!(matches!(cfg.storage, Storage::Embedded(37606)));
        assert!(cfg.apps.is_empty(), "no placeholder secret is installed");
    }

    #[test]
    fn flags_override_the_file_and_every_setting_is_a_flag() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
        let flags = Flags::try_parse_from([
            "txcloudrecord-backend",
            "--config",
            sample().to_str().expect("utf-8 path"),
            "--job-lease-secs",
            "5",
            "--s3-bucket",
            "b",
            "--s3-access-key",
            "a",
            "--s3-secret-key",
            "s",
        ])
        .expect("flags parse");
        let cfg = Config::load(&flags).expect("loads");
        assert_eq!(cfg.job_lease, Duration::from_secs(5));
        assert!(matches!(&cfg.storage, Storage::External(s, _) if s.bucket == "b"));
    }
}
