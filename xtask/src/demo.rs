//! The fresh-machine demo, on embedded defaults: the backend (SQLite and its
//! built-in object store) and the local service (test-pattern capture, a demo
//! application key, recordings under ./demo-output, uploads brokered by the
//! backend), driven over HTTP like a classroom app would. The slices are
//! checked with ffprobe, spliced by the backend into one MP4, fetched through
//! the query API's link, and a signed playback page link is printed.

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::Value;

use crate::{cargo, local, setup, workspace_root};

/// The demo's application: an id and key used only here.
const DEMO_APP: u64 = 1400000000;
const DEMO_KEY: &str = "demo-secret-key-change-me";
const DEMO_TICKEY: &str = "demo-tickey-change-me";

/// Send a command and show it, as a classroom app would see it.
fn post(port: u16, cmd: &str, body: &str) -> anyhow::Result<Value> {
    let r = local::post(port, cmd, body)?;
    println!("    {cmd:<12} -> {r}");
    Ok(r)
}

/// The backend on embedded defaults; its port.
fn start_backend(
    root: &std::path::Path,
    data: &std::path::Path,
) -> anyhow::Result<(local::Killed, u16)> {
    let exe = root.join("target/release/txcloudrecord-backend");
    let mut child = Command::new(&exe)
        .args(["--listen", "127.0.0.1:0", "--embedded-s3-port", "0"])
        .arg("--data-dir")
        .arg(data)
        .env("TXCR_SDKAPPID", DEMO_APP.to_string())
        .env("TXCR_SECRET_KEY", DEMO_KEY)
        .env("TXCR_TICKEY", DEMO_TICKEY)
        .env("TXCR_WATCH_INTERVAL", "1")
        .env("TXCR_LOG", "warn")
        .env_remove("TXCR_S3_BUCKET")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let line = local::first_line(&mut child)?;
    println!("==> backend up: {line}");
    let port = local::port_of(&line)?;
    Ok((local::Killed(child), port))
}

/// One HTTP request to the backend: (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
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

/// The query API, signed with the demo TicKey.
fn query(port: u16, class: u64) -> anyhow::Result<Value> {
    let expire = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 300;
    let sign = txcr_auth::query_sign(DEMO_TICKEY, expire);
    let (_, body) = http(
        port,
        "POST",
        &format!("/paas/v1/localrecord/query?sdkappid={DEMO_APP}&sign={sign}&expire_time={expire}&random=1"),
        &format!(r#"{{"class_id":{class}}}"#),
    )?;
    Ok(serde_json::from_slice(&body)?)
}

pub fn run() -> anyhow::Result<()> {
    setup::ensure()?;
    cargo(&[
        "build",
        "--release",
        "-p",
        "txcloudrecord",
        "-p",
        "txcloudrecord-backend",
    ])?;
    let root = workspace_root();
    let out_dir = root.join("demo-output");
    std::fs::create_dir_all(&out_dir)?;
    let backend_dir = out_dir.join("backend");
    let (backend, backend_port) = start_backend(&root, &backend_dir)?;
    let exe = root.join("target/release/txcloudrecord");
    let mut child = Command::new(&exe)
        .args(["--port", "0", "--capture", "test-pattern"])
        .env(
            "TXCR_BACKEND_URL",
            format!("http://127.0.0.1:{backend_port}"),
        )
        .arg("--data-dir")
        .arg(out_dir.join("data"))
        .arg("--record-root")
        .arg(&out_dir)
        .env("TXCR_SDKAPPID", DEMO_APP.to_string())
        .env("TXCR_SECRET_KEY", DEMO_KEY)
        .env("TXCR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let line = local::first_line(&mut child)?;
    let svc = local::Killed(child);
    let port = local::port_of(&line)?;
    println!("==> service up: {}", line.trim());

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let sig = txcr_auth::gen_user_sig(DEMO_APP, DEMO_KEY, "teacher", 3600, now);
    let stamp = now.to_string();
    post(
        port,
        "Init",
        &format!(r#"{{"SdkAppId":{DEMO_APP},"UserId":"teacher","UserSig":"{sig}"}}"#),
    )?;
    post(
        port,
        "StartRecord",
        &format!(
            r#"{{"AppProc":"demo","DstPath":"class-{stamp}.flv","VideoFps":15,"SliceTime":5,"ClassId":1}}"#
        ),
    )?;
    println!("==> recording 6 s, pausing 2 s, recording 5 s more");
    sleep(Duration::from_secs(6));
    post(port, "PauseRecord", "")?;
    sleep(Duration::from_secs(2));
    post(port, "ResumeRecord", "")?;
    sleep(Duration::from_secs(5));
    let state = post(port, "GetState", "")?;
    post(port, "StopRecord", "")?;
    let stopped = std::time::Instant::now();
    let slices = post(port, "GetState", "")?["Record"]["Slices"].clone();
    println!("==> waiting for the slices to be uploaded (brokered by the backend)");
    let t0 = std::time::Instant::now();
    loop {
        let up = local::post(port, "GetState", "")?["Upload"][0].clone();
        if up["State"] == "uploaded" {
            println!("    Upload       -> {up}");
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("slices not uploaded within 60 s: {up}");
        }
        sleep(Duration::from_millis(200));
    }
    post(port, "Exit", "")?;
    drop(svc);

    println!(
        "==> recorded {} s in {} slices:",
        state["Record"]["Duration"],
        slices.as_array().map_or(0, Vec::len)
    );
    for s in slices
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-count_packets",
                "-show_entries",
                "stream=codec_name,width,height,nb_read_packets:format=duration",
                "-of",
                "compact=p=0:nk=0",
            ])
            .arg(s)
            .output()?;
        println!(
            "    {s}\n      {}",
            String::from_utf8_lossy(&probe.stdout)
                .trim()
                .replace('\n', " | ")
        );
    }
    println!(
        "==> play a slice with: ffplay {}/class-{stamp}_0001.flv",
        out_dir.display()
    );

    println!("==> waiting for the backend to splice the class into one MP4");
    let t0 = std::time::Instant::now();
    let rec = loop {
        let q = query(backend_port, 1)?;
        let found = q["record_info_list"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["VideoOutputUrl"]
                    .as_str()
                    .is_some_and(|_| r["TaskId"] == state["Record"]["TaskId"])
            })
            .cloned();
        if let Some(r) = found {
            break r;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("the backend did not splice the class within 60 s: {q}");
        }
        sleep(Duration::from_millis(250));
    };
    println!(
        "    StopRecord -> MP4 listed by the query API: {:.2} s",
        stopped.elapsed().as_secs_f64()
    );
    println!("    query API   -> {rec}");
    let url = rec["VideoOutputUrl"].as_str().unwrap_or_default();
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let (status, mp4) = http(backend_port, "GET", &path, "")?;
    anyhow::ensure!(status == 200, "fetching the MP4 answered {status}");
    let mp4_path = out_dir.join(format!("class-{stamp}.mp4"));
    std::fs::write(&mp4_path, &mp4)?;
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
            "-of",
            "compact=p=0:nk=0",
        ])
        .arg(&mp4_path)
        .output()?;
    println!(
        "==> spliced MP4 ({} bytes): {}\n      {}",
        mp4.len(),
        mp4_path.display(),
        String::from_utf8_lossy(&probe.stdout)
            .trim()
            .replace('\n', " | ")
    );
    let expire = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 86_400;
    let sign = play_sign(expire);
    drop(backend);
    println!(
        "==> the playback page (valid 24 h) while the backend runs:\n    TXCR_SDKAPPID={DEMO_APP} TXCR_SECRET_KEY={DEMO_KEY} TXCR_TICKEY={DEMO_TICKEY} \\\n      target/release/txcloudrecord-backend --data-dir {}\n    http://127.0.0.1:37605/play?sdkappid={DEMO_APP}&class_id=1&expire_time={expire}&sign={sign}",
        backend_dir.display()
    );
    Ok(())
}

/// The playback link's signature (README "Backend").
fn play_sign(expire: u64) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(DEMO_TICKEY.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("play\n{DEMO_APP}\n1\n{expire}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
