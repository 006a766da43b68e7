//! Settings: flags beat environment variables (clap reads both), which beat the
//! TOML config file, which beats the defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use txcr_auth::AppKeys;
use txcr_protocol::guard::OriginPolicy;
use txcr_protocol::SoundKind;
use txcr_slice_upload::UploadConfig;
use txcr_storage::{S3Fields, S3Settings};

/// Where pictures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureMode {
    /// The platform's window capture: Windows Graphics Capture on Windows, X11
    /// elsewhere.
    Auto,
    /// X11 window capture (Composite + MIT-SHM).
    X11,
    /// Windows Graphics Capture (`windows-capture`).
    Windows,
    /// A synthetic moving picture for any StartRecord.
    TestPattern,
}

/// The operator interface's flags and variables (section 3 of the API contract).
#[derive(Debug, Clone, Args, Default)]
pub struct Flags {
    /// Port on 127.0.0.1 [default: 37604]
    #[arg(long, env = "TXCR_PORT", global = true)]
    pub port: Option<u16>,
    /// Queue, logs and state [default: the per-user data directory]
    #[arg(long, env = "TXCR_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Where recordings may be written [default: the user's videos directory]
    #[arg(long, env = "TXCR_RECORD_ROOT", global = true)]
    pub record_root: Option<PathBuf>,
    /// TOML config file
    #[arg(long, env = "TXCR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Browser origin allowed to call the API (repeatable; `*` for any)
    #[arg(
        long = "allow-origin",
        env = "TXCR_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub allow_origin: Vec<String>,
    /// Capture backend
    #[arg(long, env = "TXCR_CAPTURE", value_enum, global = true)]
    pub capture: Option<CaptureMode>,
    /// Microphone to record (a PulseAudio source name, part of a device's
    /// name, or its cpal id) [default: the system's default input]
    #[arg(long, env = "TXCR_AUDIO_DEVICE", global = true)]
    pub audio_device: Option<String>,
    /// Sounds mixed into a recording with EnableAudio: any of mic, app,
    /// system, comma-separated [default: mic,app]
    #[arg(long, env = "TXCR_AUDIO_SOURCES", value_delimiter = ',', global = true)]
    pub audio_sources: Vec<String>,
    /// x264 preset (ultrafast … veryslow): CPU against quality at a bitrate.
    #[arg(long, env = "TXCR_X264_PRESET", global = true)]
    pub preset: Option<String>,
    /// x264 tune (`zerolatency`, `stillimage`, … or `none`).
    #[arg(long, env = "TXCR_X264_TUNE", global = true)]
    pub tune: Option<String>,
    /// Extra x264 options, `key=value:…` (default: the screen-content set,
    /// `txcr_encode::SCREEN_PARAMS`; `none` for none).
    #[arg(long, env = "TXCR_X264_PARAMS", global = true)]
    pub x264_params: Option<String>,
    /// SdkAppId whose UserSigs are accepted
    #[arg(long, env = "TXCR_SDKAPPID", global = true)]
    pub sdkappid: Option<u64>,
    /// Secret key of that application (prefer the variable: flags show in `ps`)
    #[arg(long, env = "TXCR_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,
    /// Recording stops cleanly (-10005) below this much free disk space, MB
    /// [default: 200]
    #[arg(long, env = "TXCR_MIN_FREE_MB", global = true)]
    pub min_free_mb: Option<u64>,
    /// A chapter at each slide change (true/false), unless a StartRecord's
    /// `AutoChapters` says otherwise [default: true]
    #[arg(long, env = "TXCR_AUTO_CHAPTERS", global = true)]
    pub auto_chapters: Option<bool>,
    /// Log filter (`info`, `warn`, `txcr_recorder=debug`, …) [default: info]
    #[arg(long = "log", env = "TXCR_LOG", global = true)]
    pub log: Option<String>,
    /// Upload through URLs this backend presigns (`http(s)://…`), with the
    /// teacher's UserSig: no bucket keys on the teacher's machine
    #[arg(long, env = "TXCR_BACKEND_URL", global = true, help_heading = "Upload")]
    pub backend_url: Option<String>,
    /// Slices uploaded at once (1–16) [default: 3]
    #[arg(
        long,
        env = "TXCR_UPLOAD_WORKERS",
        global = true,
        help_heading = "Upload"
    )]
    pub upload_workers: Option<usize>,
    /// Slices larger than this many MiB go up in parts, each part journaled,
    /// so an upload cut off resumes after the last stored part (1–5120)
    /// [default: 64]
    #[arg(
        long,
        env = "TXCR_MULTIPART_THRESHOLD_MB",
        global = true,
        help_heading = "Upload"
    )]
    pub multipart_threshold_mb: Option<u64>,
    /// MiB per part of such an upload (5–5120: S3 refuses smaller parts)
    /// [default: 16]
    #[arg(
        long,
        env = "TXCR_PART_SIZE_MB",
        global = true,
        help_heading = "Upload"
    )]
    pub part_size_mb: Option<u64>,
    /// Upload straight to a bucket with these keys (or the config file's
    /// `[upload]`)
    #[command(flatten)]
    pub s3: S3Fields,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    sdkappid: u64,
    secret_key: String,
}

/// `[upload]` in the config file; the AWS/TXCR variables win over it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpload {
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    path_style: Option<bool>,
    access_key: Option<String>,
    secret_key: Option<String>,
    workers: Option<usize>,
    delete_after_upload: Option<bool>,
    keep_uploaded_secs: Option<u64>,
    multipart_threshold_mb: Option<u64>,
    part_size_mb: Option<u64>,
    backend_url: Option<String>,
}

/// Where slices go.
#[derive(Debug, Clone)]
pub enum UploadTarget {
    /// Straight to the school's bucket, with keys in this config.
    Direct(S3Settings),
    /// Through URLs the backend at this address presigns (`TXCR_BACKEND_URL`).
    Brokered(String),
}

/// Upload settings.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// The bucket (or the broker) and how to reach it.
    pub target: UploadTarget,
    /// Queue behaviour.
    pub queue: UploadConfig,
}

impl FileUpload {
    /// The bucket fields, as `txcr-storage` reads them.
    fn s3(&self) -> S3Fields {
        S3Fields {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            path_style: self.path_style,
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }
}

fn queue_settings(flags: &Flags, f: &FileUpload, s3: &S3Fields) -> UploadConfig {
    let defaults = UploadConfig::default();
    UploadConfig {
        prefix: s3.prefix(),
        workers: flags.upload_workers.or(f.workers).unwrap_or(3).clamp(1, 16),
        delete_after_upload: f.delete_after_upload.unwrap_or(false),
        keep_uploaded: f
            .keep_uploaded_secs
            .map_or(defaults.keep_uploaded, std::time::Duration::from_secs),
        multipart_threshold: flags
            .multipart_threshold_mb
            .or(f.multipart_threshold_mb)
            .map_or(defaults.multipart_threshold, |mb| mb.clamp(1, 5120) << 20),
        part_size: flags
            .part_size_mb
            .or(f.part_size_mb)
            .map_or(defaults.part_size, |mb| mb.clamp(5, 5120) << 20),
        ..defaults
    }
}

fn upload_settings(flags: &Flags, f: FileUpload) -> anyhow::Result<Option<UploadSettings>> {
    let s3 = flags.s3.clone().over(f.s3());
    let backend_url = flags.backend_url.clone().filter(|u| !u.trim().is_empty());
    if let Some(url) = backend_url.or(f.backend_url.clone()) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("TXCR_BACKEND_URL must be an http:// or https:// URL");
        }
        // The backend owns the bucket layout (its prefix).
        let queue = UploadConfig {
            prefix: String::new(),
            ..queue_settings(flags, &f, &s3)
        };
        return Ok(Some(UploadSettings {
            target: UploadTarget::Brokered(url),
            queue,
        }));
    }
    let Some(settings) = s3.settings()? else {
        return Ok(None);
    };
    Ok(Some(UploadSettings {
        target: UploadTarget::Direct(settings),
        queue: queue_settings(flags, &f, &s3),
    }))
}

/// `[audio_gain_db]` in the config file: gain per sound, dB.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoundGains {
    /// The microphone.
    #[serde(default)]
    pub mic: f32,
    /// The class app's sound.
    #[serde(default)]
    pub app: f32,
    /// The system output.
    #[serde(default)]
    pub system: f32,
}

impl SoundGains {
    /// The gain of `kind`, dB.
    pub fn of(&self, kind: SoundKind) -> f32 {
        match kind {
            SoundKind::Mic => self.mic,
            SoundKind::App => self.app,
            SoundKind::System => self.system,
        }
    }
}

/// The sounds recorded unless configured: the teacher and the class app.
pub const DEFAULT_SOUNDS: [SoundKind; 2] = [SoundKind::Mic, SoundKind::App];

fn sound_kinds(names: &[String]) -> anyhow::Result<Vec<SoundKind>> {
    let mut kinds = Vec::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let k = SoundKind::parse(n)
            .with_context(|| format!("audio_sources: {n:?} is not one of mic, app, system"))?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok(kinds)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    record_root: Option<PathBuf>,
    allow_origins: Option<Vec<String>>,
    capture: Option<CaptureMode>,
    preset: Option<String>,
    tune: Option<String>,
    x264_params: Option<String>,
    screen_fallback: Option<bool>,
    capture_cursor: Option<bool>,
    capture_border: Option<bool>,
    audio_device: Option<String>,
    /// The same as `audio_device`.
    mic_device: Option<String>,
    audio_sources: Option<Vec<String>>,
    #[serde(default)]
    audio_gain_db: SoundGains,
    min_free_mb: Option<u64>,
    auto_chapters: Option<bool>,
    #[serde(default)]
    upload: FileUpload,
    #[serde(default)]
    apps: Vec<FileApp>,
}

/// x264's tune unless configured: no look-ahead, no frame threads (slices
/// instead), so memory stays small and the encoder keeps up frame by frame;
/// `cargo xtask bench` measured it against the alternatives.
pub const DEFAULT_TUNE: &str = "zerolatency";

/// A configured value, the default when unset, nothing for `none`.
fn none_or(v: Option<String>, default: &str) -> Option<String> {
    match v {
        Some(v) if v == "none" => None,
        Some(v) => Some(v),
        None => Some(default.into()),
    }
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Port.
    pub port: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Recording root (canonical once created).
    pub record_root: PathBuf,
    /// Browser origins allowed.
    pub origins: OriginPolicy,
    /// Capture backend.
    pub capture: CaptureMode,
    /// x264's preset, tune and extra options (`None`s for none).
    pub x264: txcr_encode::X264Options,
    /// Window capture options: X11 `screen_fallback` (without a compositor,
    /// record the screen area of the window, what covers it included, instead
    /// of refusing with -10004); Windows cursor and capture border (where the
    /// OS cannot change one, it stays at the OS default and GetState says so).
    pub window: txcr_capture::WindowOptions,
    /// The microphone (a PulseAudio source name, part of a device's name, or
    /// its cpal id); default: the system's default input.
    pub audio_device: Option<String>,
    /// The sounds a recording with `EnableAudio` mixes, unless its
    /// `AudioSources` says otherwise.
    pub audio_sources: Vec<SoundKind>,
    /// Gain of each sound, dB.
    pub audio_gain_db: SoundGains,
    /// Recording stops cleanly (-10005) below this much free disk space, MB.
    pub min_free_mb: u64,
    /// Slide changes add chapters, unless a StartRecord's `AutoChapters`
    /// says otherwise.
    pub auto_chapters: bool,
    /// Where slices are uploaded; `None` keeps them on disk only.
    pub upload: Option<UploadSettings>,
    /// Applications whose UserSigs are accepted.
    pub apps: AppKeys,
}

fn default_dirs() -> (PathBuf, PathBuf) {
    let data = directories::ProjectDirs::from("", "", "txcloudrecord")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".txcloudrecord"));
    let videos = directories::UserDirs::new()
        .and_then(|u| {
            u.video_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().join("Videos")))
        })
        .map(|v| v.join("txcloudrecord"))
        .unwrap_or_else(|| data.join("recordings"));
    (data, videos)
}

impl Config {
    /// Merge flags/env, the config file and defaults; create the directories.
    pub fn load(flags: &Flags) -> anyhow::Result<Self> {
        Self::build(flags, true)
    }

    /// The settings without creating the folders they name (for `doctor`,
    /// which reports a folder that cannot be created instead of failing).
    pub fn read(flags: &Flags) -> anyhow::Result<Self> {
        Self::build(flags, false)
    }

    fn build(flags: &Flags, create: bool) -> anyhow::Result<Self> {
        let file: File = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config {}", path.display()))?
            }
            None => File::default(),
        };
        let (data_default, videos_default) = default_dirs();
        let data_dir = flags
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or(data_default);
        let record_root = flags
            .record_root
            .clone()
            .or(file.record_root)
            .unwrap_or(videos_default);
        if create {
            for dir in [&data_dir, &record_root] {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        let record_root = std::fs::canonicalize(&record_root).or_else(|e| {
            if create {
                Err(e)
            } else {
                Ok(record_root)
            }
        })?;
        let origins = if flags.allow_origin.is_empty() {
            file.allow_origins.unwrap_or_default()
        } else {
            flags.allow_origin.clone()
        };
        let mut apps = AppKeys::new();
        for a in &file.apps {
            apps.insert(a.sdkappid, &a.secret_key);
        }
        match (flags.sdkappid, &flags.secret_key) {
            (Some(id), Some(key)) => apps.insert(id, key),
            (None, None) => {}
            _ => anyhow::bail!("TXCR_SDKAPPID and TXCR_SECRET_KEY must be given together"),
        }
        let cfg = Self {
            port: flags.port.or(file.port).unwrap_or(37604),
            data_dir,
            record_root,
            origins: OriginPolicy::new(&origins),
            capture: flags.capture.or(file.capture).unwrap_or(CaptureMode::Auto),
            x264: txcr_encode::X264Options {
                preset: flags
                    .preset
                    .clone()
                    .or(file.preset)
                    .unwrap_or_else(|| "veryfast".into()),
                tune: none_or(flags.tune.clone().or(file.tune), DEFAULT_TUNE),
                params: none_or(
                    flags.x264_params.clone().or(file.x264_params),
                    txcr_encode::SCREEN_PARAMS,
                ),
            },
            window: txcr_capture::WindowOptions {
                screen_fallback: file.screen_fallback.unwrap_or(false),
                look: txcr_capture::Look {
                    cursor: file.capture_cursor.unwrap_or(true),
                    border: file.capture_border.unwrap_or(false),
                },
            },
            audio_device: flags
                .audio_device
                .clone()
                .or(file.audio_device)
                .or(file.mic_device),
            audio_sources: if !flags.audio_sources.is_empty() {
                sound_kinds(&flags.audio_sources)?
            } else if let Some(names) = &file.audio_sources {
                sound_kinds(names)?
            } else {
                DEFAULT_SOUNDS.to_vec()
            },
            audio_gain_db: file.audio_gain_db,
            upload: upload_settings(flags, file.upload)?,
            min_free_mb: flags.min_free_mb.or(file.min_free_mb).unwrap_or(200),
            auto_chapters: flags.auto_chapters.or(file.auto_chapters).unwrap_or(true),
            apps,
        };
        cfg.check_encoder()?;
        Ok(cfg)
    }

    /// Refuse preset/tune/x264 options libx264 refuses now, not at the
    /// first StartRecord.
    fn check_encoder(&self) -> anyhow::Result<()> {
        self.x264.check().with_context(|| {
            let x = &self.x264;
            format!(
                "x264 settings: preset {:?}, tune {:?}, x264_params {:?}",
                x.preset, x.tune, x.params
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/txcloudrecord.toml")
    }

    #[test]
    fn the_sample_config_loads_with_the_values_it_shows() {
        let flags = Flags {
            config: Some(sample()),
            ..Flags::default()
        };
        let cfg = Config::read(&flags).expect("the sample config loads");
        assert_eq!(cfg.port, 37604);
        assert_eq!(cfg.capture, CaptureMode::Auto);
        assert_eq!(cfg.min_free_mb, 500);
        assert!(cfg.auto_chapters);
        assert_eq!(cfg.audio_sources, [SoundKind::Mic, SoundKind::App]);
        assert_eq!(cfg.audio_gain_db.mic, 3.0);
        assert_eq!(cfg.x264.preset, "veryfast");
        assert!(cfg.window.look.cursor && !cfg.window.look.border);
        assert_eq!(cfg.apps.get(1400000000), Some("change-me"));
        let upload = cfg.upload.expect("uploads configured");
        assert!(
            matches!(&upload.target, UploadTarget::Brokered(u) if u == "http://school-server.example.edu:37605"),
            "{:?}",
            upload.target
        );
        assert_eq!(upload.queue.workers, 3);
        assert_eq!(upload.queue.keep_uploaded.as_secs(), 600);
    }

    #[test]
    fn flags_override_the_file_and_every_setting_is_a_flag() {
        use clap::{Args, FromArgMatches};
        let cmd = Flags::augment_args(clap::Command::new("txcloudrecord"));
        cmd.clone().debug_assert();
        let m = cmd
            .try_get_matches_from([
                "txcloudrecord",
                "--config",
                sample().to_str().expect("utf-8 path"),
                "--min-free-mb",
                "50",
                "--upload-workers",
                "5",
                "--backend-url",
                "https://other.example.edu",
                "--auto-chapters",
                "false",
            ])
            .expect("flags parse");
        let flags = Flags::from_arg_matches(&m).expect("flags");
        let cfg = Config::read(&flags).expect("loads");
        assert_eq!(cfg.min_free_mb, 50);
        assert!(!cfg.auto_chapters);
        let upload = cfg.upload.expect("uploads configured");
        assert_eq!(upload.queue.workers, 5);
        assert!(
            matches!(&upload.target, UploadTarget::Brokered(u) if u == "https://other.example.edu")
        );
    }
}
