//! Driving a local `txcloudrecord` from xtask: processes that die with their
//! guard, the first line a child prints, and one HTTP command.

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
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "POST /localrecord/v1/{cmd} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let json = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    let v: Value =
        serde_json::from_str(json).with_context(|| format!("{cmd}: bad answer {out:?}"))?;
    if let Some(e) = v["Response"].get("Error") {
        bail!("{cmd} failed: {e}");
    }
    Ok(v["Response"].clone())
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
    use std::process::{Command, Stdio};
    let mut guards = Vec::new();
    let display = match display {
        Some(d) => d.to_owned(),
        None => {
            let mut xvfb = Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    &format!("{w}x{h}x24"),
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("starting Xvfb (cargo xtask setup installs it)")?;
            let d = format!(":{}", first_line(&mut xvfb)?);
            guards.push(Killed(xvfb));
            d
        }
    };
    let mut win = Command::new(crate::workspace_root().join("target/release/txcr-testwin"))
        .args(["--size", &format!("{w}x{h}"), "--fps", "15"])
        .env("DISPLAY", &display)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting txcr-testwin")?;
    let xid = first_line(&mut win)?;
    guards.push(Killed(win));
    Ok((guards, display, xid))
}
