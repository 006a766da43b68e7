//! Helpers for the end-to-end tests of both apps (and the tools that drive the
//! same parts): the real binaries on free ports, a raw HTTP client (so tests
//! control every header), real servers (S3, PostgreSQL, PulseAudio, Xvfb,
//! Chromium), and ffprobe/ffmpeg checks.
//!
//! Owns: starting and stopping those parts for a test. Does not own: any
//! assertion about the product (the tests make those).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed set-up fails the test
#![allow(missing_debug_implementations)] // handles on child processes; nothing prints them

pub mod backend;
pub mod browser;
pub mod fuzz;
pub mod openapi;
#[cfg(target_os = "linux")]
pub mod pg;
pub mod proxy;
#[cfg(target_os = "linux")]
pub mod pulse;
pub mod s3;
#[cfg(target_os = "linux")]
pub mod x11;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const APP: u64 = 1400000000;
pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

pub fn user_sig(user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    txcr_auth::gen_user_sig(APP, KEY, user, 86400, now)
}

/// A running `txcloudrecord`; killed (if still running) when dropped.
pub struct Svc {
    pub port: u16,
    pub root: PathBuf,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// Where cargo puts the binaries of this build (the test runs from `deps/` below it).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.ends_with("deps") {
        dir.parent().unwrap().to_owned()
    } else {
        dir.to_owned()
    }
}

/// A binary of the workspace (built on demand when a test runs alone).
pub fn workspace_bin(name: &str, package: &str) -> PathBuf {
    let p = target_dir().join(name);
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-q", "-p", package])
            .status()
            .unwrap()
            .success();
        assert!(ok, "building {package}");
    }
    p
}

/// The local service, as a command.
pub fn bin() -> Command {
    Command::new(workspace_bin("txcloudrecord", "txcloudrecord"))
}

impl Svc {
    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the service's thread named `name` has used so far (Linux:
    /// `/proc/PID/task/*/stat`, user + system), `None` if there is none.
    pub fn thread_cpu(&self, name: &str) -> Option<f64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let ticks = 100.0; // USER_HZ, fixed at 100 on Linux
        tasks.flatten().find_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            if comm.trim() != name {
                return None;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
            let rest = stat.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
            Some((u + s) / ticks)
        })
    }

    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), args, env)
    }

    /// Start in `dir` (data in `dir/data`, recordings in `dir/rec`): a restart
    /// after [`Svc::kill9`] finds what the previous process left.
    pub fn start_in(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Self {
        let root = dir.path().join("rec");
        std::fs::create_dir_all(&root).unwrap();
        let root = root.canonicalize().unwrap();
        let port = if args.contains(&"--port") {
            &[][..]
        } else {
            &["--port", "0"][..]
        };
        let capture = if args.contains(&"--capture") {
            &[][..]
        } else {
            &["--capture", "test-pattern"][..]
        };
        let mut child = bin()
            .args(port)
            .args(capture)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--record-root")
            .arg(&root)
            .args(args)
            .env("TXCR_SDKAPPID", APP.to_string())
            .env("TXCR_SECRET_KEY", KEY)
            .env_remove("TXCR_ALLOWED_ORIGINS")
            .env_remove("TXCR_CONFIG")
            .env("TXCR_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let port = read_port(&mut child);
        Svc {
            port,
            root,
            dir,
            child,
        }
    }

    /// POST a command as a native client; returns the `Response` object.
    pub fn cmd(&self, name: &str, body: &str) -> Value {
        let r = self.request("POST", &format!("/localrecord/v1/{name}"), &[], body);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        r.json()["Response"].clone()
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let host = format!("127.0.0.1:{}", self.port);
        let mut all: Vec<(&str, &str)> = vec![];
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            all.push(("Host", &host));
        }
        all.extend_from_slice(headers);
        raw(self.port, method, path, &all, body.as_bytes())
    }

    pub fn init(&self, user: &str) {
        let r = self.cmd(
            "Init",
            &format!(
                r#"{{"SdkAppId":{APP},"UserId":"{user}","UserSig":"{}"}}"#,
                user_sig(user)
            ),
        );
        assert_eq!(r, serde_json::json!({}), "Init failed");
    }

    pub fn state(&self) -> Value {
        self.cmd("GetState", "")
    }

    /// SIGKILL, as a crash or a power cut would; hands the directory back.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Wait for the process to leave on its own; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        wait_child(&mut self.child, within)
    }
}

/// Wait up to `within` for a child to exit.
pub fn wait_child(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A child process killed (if still running) when dropped, so a failing test
/// leaves nothing behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port from the service's "listening on" line (it binds port 0).
pub fn read_port(child: &mut Child) -> u16 {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(out).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {} // keep draining so the service never blocks on stdout
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("service printed its address");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok());
    port.unwrap_or_else(|| panic!("no port in {line:?}"))
}

pub fn error_code(response: &Value) -> Option<i64> {
    response["Error"]["Code"].as_i64()
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// One HTTP/1.1 request with exactly these headers, over a fresh connection.
pub fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let (status, head, body) = raw_bytes(port, method, path, headers, body);
    Reply {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Like [`raw`], with the body as bytes: (status, head, body).
pub fn raw_bytes(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    raw_bytes_at("127.0.0.1", port, method, path, headers, body)
}

/// [`raw_bytes`] to a server on another (loopback) address.
pub fn raw_bytes_at(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect((host, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

/// `ffprobe -show_entries <entries>` on the first video stream, as CSV lines.
fn ffprobe_v0(path: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            entries,
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (cargo xtask setup)");
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Video packets of a file as ffprobe sees them: (pts seconds, keyframe).
pub fn probe_packets(path: &Path) -> Vec<(f64, bool)> {
    ffprobe_v0(path, "packet=pts_time,flags")
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let pts = it.next()?.parse().ok()?;
            Some((pts, it.next().unwrap_or("").contains('K')))
        })
        .collect()
}

/// (codec, width, height) of the first video stream.
pub fn probe_stream(path: &Path) -> (String, u32, u32) {
    let text = ffprobe_v0(path, "stream=codec_name,width,height");
    let f: Vec<&str> = text.trim().split(',').collect();
    (
        f[0].to_owned(),
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
    )
}

/// Decode every frame with ffmpeg; returns its error output (empty = clean).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg could not decode {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What `ffmpeg -v error -i FILE -f null -` prints (empty = clean): every
/// frame decoded at the stream's own frame rate, as a player does, so two
/// frames stamped into one frame slot are reported.
pub fn strict_decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg could not read {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Packet times (seconds) of one stream (`v:0`, `a:0`) as ffprobe reads them.
pub fn stream_times(path: &Path, stream: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream])
        .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Each file decodes with nothing printed by `ffmpeg -v error`, and per
/// stream its packet times strictly increase.
pub fn assert_clean_and_increasing(files: &[PathBuf]) {
    for f in files {
        assert_eq!(strict_decode_errors(f), "", "{}", f.display());
        for stream in ["v:0", "a:0"] {
            let t = stream_times(f, stream);
            if let Some(w) = t.windows(2).find(|w| w[1] <= w[0]) {
                panic!("{}: {stream} at {}s, then {}s", f.display(), w[0], w[1]);
            }
        }
    }
}

/// Every `.flv` file below `dir`, sorted.
pub fn flv_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "flv") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn slices(state: &Value) -> Vec<PathBuf> {
    state["Record"]["Slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| PathBuf::from(v.as_str().unwrap()))
        .collect()
}

/// Every video frame decoded to raw `pix_fmt` bytes (`gray`: 1 byte a pixel,
/// `rgb24`: 3), in decode order, as ffmpeg's independent decoder sees them.
fn decoded_raw(path: &Path, pix_fmt: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Decode every frame to 8-bit grey and read the test pattern's time stamp
/// from each: what moment (ms) each frame shows.
pub fn decoded_stamps(path: &Path, width: usize, height: usize) -> Vec<u64> {
    decoded_raw(path, "gray")
        .chunks_exact(width * height)
        .map(|frame| txcr_capture::decode_stamp(frame, width).unwrap())
        .collect()
}

/// Decode every frame to RGB: `width*height*3` bytes each.
pub fn decoded_rgb(path: &Path) -> Vec<Vec<u8>> {
    let (_, w, h) = probe_stream(path);
    decoded_raw(path, "rgb24")
        .chunks_exact((w * h * 3) as usize)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The RGB pixel at (x, y) of a decoded frame `width` pixels wide.
pub fn pixel(frame: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [frame[i], frame[i + 1], frame[i + 2]]
}

/// Whether two colours are the same within encoder tolerance.
pub fn close_to(got: [u8; 3], want: [u8; 3]) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| (i32::from(*g) - i32::from(w)).abs() <= 24)
}
