//! `txcloudrecord record`: record a window from the command line, no HTTP, no
//! UserSig (the person at the keyboard is the user). A progress line shows
//! elapsed time, frame rate, drops, slices and uploads; Ctrl-C (or SIGTERM)
//! stops cleanly: the last slice is finished before the command returns.
//!
//! The same code records as `StartRecord` does (`crate::task`), and the same
//! validation applies (the arguments are checked as a StartRecord body).
//! Uploads use their own journal (`<data-dir>/uploads-record`), so a running
//! service's queue is never touched; what is left when the command is
//! interrupted goes up on its next run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use txcr_protocol::{parse_request, Request, StartRecordBody};
use txcr_slice_upload::{UploadQueue, UploadState};

use crate::config::{Config, Flags};
use crate::task::{self, Task};

/// `record`'s arguments (the service's flags apply too: `--capture`,
/// `--record-root`, `--preset`, storage variables…).
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Window to record: X11 window id (decimal or 0x…) or HWND
    #[arg(long, value_parser = parse_wnd, conflicts_with = "app")]
    window: Option<u64>,
    /// Or the program whose largest window to record (e.g. `firefox`)
    #[arg(long)]
    app: Option<String>,
    /// Output file (`.flv`); slices are `<stem>_0001.flv`, … beside it
    /// [default: <record root>/<class id>/<task id>.flv]
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Frames per second (1–60)
    #[arg(long, default_value_t = 15)]
    fps: u32,
    /// Video bits per second [default: automatic]
    #[arg(long)]
    bitrate: Option<u32>,
    /// Slice length, seconds
    #[arg(long, default_value_t = 300)]
    slice: u32,
    /// Part of the window: `x,y,width,height`
    #[arg(long)]
    region: Option<String>,
    /// Stop after this many seconds [default: at Ctrl-C]
    #[arg(long)]
    duration: Option<f64>,
    /// Video only
    #[arg(long)]
    no_audio: bool,
    /// Keep the slices on disk even when storage is configured
    #[arg(long)]
    no_upload: bool,
    /// ClassId (names the folder and the upload path)
    #[arg(long, default_value_t = 0)]
    class_id: u64,
    /// UserId the upload is filed under [default: $USER]
    #[arg(long)]
    user: Option<String>,
}

fn parse_wnd(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("{s:?} is not a window id: {e}"))
}

/// Run the command; `Ok(false)` when the recording ended on its own with an
/// error (its slices are kept).
pub fn run(flags: &Flags, args: &RecordArgs) -> anyhow::Result<bool> {
    let cfg = Config::load(flags)?;
    let (root, dst) = match &args.output {
        Some(out) => {
            let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.map_or_else(|| PathBuf::from("."), PathBuf::from);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let name = out.file_name().context("--output names no file")?;
            (dir, Some(name.to_string_lossy().into_owned()))
        }
        None => (cfg.record_root.clone(), None),
    };
    let upload = !args.no_upload && cfg.upload.is_some();
    let start = start_request(args, dst, upload)?;
    // The upload workers run on this runtime, beside the recording.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _in_runtime = rt.enter();
    let uploads = match upload {
        true => crate::uploads::start(&cfg, "uploads-record")?.0,
        false => None,
    };
    let user = args
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "teacher".into());
    let limit = match args.duration {
        Some(d) => Some(
            Duration::try_from_secs_f64(d)
                .ok()
                .filter(|d| !d.is_zero())
                .with_context(|| {
                    format!("--duration {d}: expected a positive number of seconds")
                })?,
        ),
        None => None,
    };
    let mut task = task::start(
        &cfg,
        &root,
        uploads.as_ref(),
        &start,
        (user, flags.sdkappid.unwrap_or(0)),
        limit,
    )
    .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code.code()))?;

    let mut line = Progress::new();
    let stopped_by = rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let signal = crate::server::shutdown_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                _ = &mut signal => return "interrupted",
                _ = tick.tick() => {}
            }
            let Some(rec) = &task.recording else {
                return "ended";
            };
            let stats = rec.stats();
            line.show(&task, &stats, uploads.as_ref());
            if rec.has_ended() {
                // The recorder ends on its own at the limit, after exactly
                // the frames of [0, limit).
                let reached = stats.failure.is_none() && limit.is_some_and(|l| stats.recorded >= l);
                return if reached { "duration reached" } else { "ended" };
            }
        }
    });
    task::stop(&mut task);
    let stats = task.last.clone().unwrap_or_default();
    line.finish(&format!(
        "stopped ({stopped_by}): {:.1} s, {} frames, {} dropped",
        stats.recorded.as_secs_f64(),
        stats.frames,
        stats.dropped
    ));
    for s in &stats.slices {
        println!("{}", s.path.display());
    }
    if let Some(q) = &uploads {
        rt.block_on(wait_for_upload(q, &task, &mut line));
    }
    if let Some(why) = &stats.failure {
        eprintln!("the recording ended on its own: {why}");
        return Ok(false);
    }
    Ok(true)
}

/// The arguments as a StartRecord body, checked like one.
fn start_request(
    args: &RecordArgs,
    dst: Option<String>,
    upload: bool,
) -> anyhow::Result<txcr_protocol::StartRecord> {
    // In a StartRecord body a zero means "the default" (clients send every
    // field); typed on a command line it is a mistake.
    if !(1..=60).contains(&args.fps) {
        bail!("--fps {}: VideoFps must be between 1 and 60", args.fps);
    }
    if args.slice == 0 {
        bail!("--slice 0: SliceTime must be between 1 and 86400 seconds");
    }
    let mut body = StartRecordBody::default();
    body.video_fps = Some(args.fps);
    body.slice_time = Some(args.slice);
    body.enable_audio = Some(!args.no_audio);
    body.enable_upload = Some(upload);
    body.class_id = args.class_id;
    body.video_bps = args.bitrate;
    body.dst_path = dst;
    body.app_proc = args.app.clone();
    // The test pattern needs no window: any id will do.
    body.wnd = args.window.or(args.app.is_none().then_some(1));
    if let Some(r) = &args.region {
        let v: Vec<u32> = r
            .split(',')
            .map(|n| n.trim().parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("--region {r:?}: expected x,y,width,height"))?;
        let [x, y, w, h] = v[..] else {
            bail!("--region {r:?}: expected four numbers x,y,width,height");
        };
        (body.x, body.y, body.width, body.height) = (Some(x), Some(y), Some(w), Some(h));
    }
    let json = serde_json::to_vec(&body)?;
    match parse_request("StartRecord", &json) {
        Ok(Request::StartRecord(s)) => Ok(s),
        Ok(_) => bail!("not a StartRecord"),
        Err(e) => bail!("{}", e.message),
    }
}

/// Wait until the task, and whatever an interrupted earlier run left in the
/// journal, is stored; a second Ctrl-C leaves the rest to the journal.
async fn wait_for_upload(q: &UploadQueue, task: &Task, line: &mut Progress) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let signal = crate::server::shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => {
                line.finish("upload interrupted: the rest goes up at the next `txcloudrecord record`");
                return;
            }
            _ = tick.tick() => {}
        }
        let all = q.status();
        let ours = all.iter().find(|s| s.task_id == task.id);
        let (done, total) = ours.map_or((0, 0), |s| s.slices);
        let pending: Vec<_> = all
            .iter()
            .filter(|s| s.state != UploadState::Uploaded)
            .collect();
        if pending.is_empty() {
            let earlier = all.len().saturating_sub(usize::from(ours.is_some()));
            let also = match earlier {
                0 => String::new(),
                n => format!(" (and {n} earlier task(s))"),
            };
            line.finish(&format!("uploaded {done}/{total} slices{also}"));
            return;
        }
        let why = pending
            .iter()
            .find_map(|s| s.error.clone())
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let state = ours.map_or(UploadState::Wait, |s| s.state);
        line.write(&format!(
            "upload: {state} {done}/{total} slices, {} task(s) waiting{why}",
            pending.len()
        ));
    }
}

/// The live line: rewritten in place on a terminal, a line a second otherwise.
struct Progress {
    tty: bool,
    last: Option<(Instant, u64)>,
    printed: Option<Instant>,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last: None,
            printed: None,
        }
    }

    fn show(&mut self, task: &Task, stats: &txcr_recorder::Stats, uploads: Option<&UploadQueue>) {
        let now = Instant::now();
        let fps = match self.last {
            Some((t, frames)) if now > t => {
                stats.frames.saturating_sub(frames) as f64 / (now - t).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last = Some((now, stats.frames));
        let secs = stats.recorded.as_secs();
        let mut text = format!(
            "recording {:02}:{:02}:{:02}  {fps:4.1} fps  {} frames  {} dropped  {} slices",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            stats.frames,
            stats.dropped,
            stats.slices.len(),
        );
        let upload = uploads.and_then(|q| q.status().into_iter().find(|s| s.task_id == task.id));
        if let Some(st) = upload {
            text.push_str(&format!(
                "  upload {}/{} {}",
                st.slices.0, st.slices.1, st.state
            ));
        }
        self.write(&text);
    }

    fn write(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K{text}");
            let _ = err.flush();
        } else if self
            .printed
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(900))
        {
            let _ = writeln!(err, "{text}");
            self.printed = Some(Instant::now());
        }
    }

    fn finish(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            writeln!(err, "\r\x1b[K{text}")
        } else {
            writeln!(err, "{text}")
        };
    }
}
