//! Driving a local `txcloudrecord` from xtask: processes that die with their
//! guard, the first line a child prints, one HTTP command, and a file's
//! duration by ffprobe.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;

use anyhow::{bail, Context};
use serde_json::Value;

/// A child process killed (and reaped) when the guard is dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line a child printed on its (piped) stdout.
pub fn first_line(child: &mut Child) -> anyhow::Result<String> {
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout is not piped")?).read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// The port in a "listening on http://127.0.0.1:PORT/…" line.
pub fn port_of(line: &str) -> anyhow::Result<u16> {
    line.rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("no port in {line:?}"))
}

/// POST one command as a native client; the `Response` object, or the
/// envelope's error as an error.
pub fn post(port: u16, cmd: &str, body: &str) -> anyhow::Result<Value> {
    let (_, answer) = http(port, "POST", &format!("/localrecord/v1/{cmd}"), body)?;
    let v: Value = serde_json::from_slice(&answer)
        .with_context(|| format!("{cmd}: bad answer {:?}", String::from_utf8_lossy(&answer)))?;
    if let Some(e) = v["Response"].get("Error") {
        bail!("{cmd} failed: {e}");
    }
    Ok(v["Response"].clone())
}

/// One HTTP/1.1 request to 127.0.0.1:`port`: (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP answer")?;
    let head = String::from_utf8_lossy(&out[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, out[split + 4..].to_vec()))
}

/// A moving test window of `w`x`h` (our `txcr-testwin`, release build) on
/// `display`, or on a new Xvfb display when `display` is `None`. Returns the
/// guards (drop them to stop both), the display and the window id.
#[cfg(unix)]
pub fn test_window(
    display: Option<&str>,
    w: u32,
    h: u32,
) -> anyhow::Result<(Vec<Killed>, String, String)> {
    let mut guards = Vec::new();
    let display = match display {
        Some(d) => d.to_owned(),
        None => {
            let (guard, d) = xvfb(w, h)?;
            guards.push(guard);
            d
        }
    };
    let (win, xid) = window(&display, w, h, &["--fps", "15"])?;
    guards.push(win);
    Ok((guards, display, xid))
}

/// A new Xvfb display of `w`x`h`: its guard and name.
#[cfg(unix)]
pub fn xvfb(w: u32, h: u32) -> anyhow::Result<(Killed, String)> {
    use std::process::{Command, Stdio};
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", &format!("{w}x{h}x24")])
        .args(["-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting Xvfb (cargo xtask setup installs it)")?;
    let d = format!(":{}", first_line(&mut xvfb)?);
    Ok((Killed(xvfb), d))
}

/// A `txcr-testwin` of `w`x`h` at the top left of `display` with `extra`
/// flags: its guard and window id.
#[cfg(unix)]
pub fn window(display: &str, w: u32, h: u32, extra: &[&str]) -> anyhow::Result<(Killed, String)> {
    use std::process::{Command, Stdio};
    let mut win = Command::new(crate::workspace_root().join("target/release/txcr-testwin"))
        .args(["--size", &format!("{w}x{h}")])
        .args(extra)
        .env("DISPLAY", display)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting txcr-testwin")?;
    let xid = first_line(&mut win)?;
    Ok((Killed(win), xid))
}

/// A media file's duration in seconds, by ffprobe.
#[cfg(unix)]
pub fn probe_secs(file: &std::path::Path) -> anyhow::Result<f64> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .context("running ffprobe")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("ffprobe of {}: {text:?}", file.display()))
}

/// GetState's `Upload` entry of task `task` (null when it has none).
pub fn upload_of(state: &Value, task: &str) -> Value {
    state["Upload"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["Id"] == task)
        .cloned()
        .unwrap_or_default()
}
