//! The fresh-machine demo, on embedded defaults: the backend (SQLite and its
//! built-in object store) and the local service (a demo application key,
//! recordings under ./demo-output, uploads brokered by the backend), driven
//! over HTTP like a classroom app would. It records a real X11 window (one the
//! user names, or our moving test window, on a new Xvfb display when there is
//! no DISPLAY) for a short class with a pause, checks the slices with ffprobe,
//! waits for the backend's splice and callback, fetches the MP4 through the
//! query API's link, and prints a signed playback page link.

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::Value;

use crate::{local, setup, workspace_root};

/// The demo's application: an id and key used only here.
pub(crate) const DEMO_APP: u64 = 1400000000;
pub(crate) const DEMO_KEY: &str = "demo-secret-key-change-me";
const DEMO_TICKEY: &str = "demo-tickey-change-me";

/// Send a command and show it, as a classroom app would see it.
fn post(port: u16, cmd: &str, body: &str) -> anyhow::Result<Value> {
    let r = local::post(port, cmd, body)?;
    println!("    {cmd:<12} -> {r}");
    Ok(r)
}

/// The backend (in `bin`) on embedded defaults; its port.
pub(crate) fn start_backend(
    bin: &std::path::Path,
    data: &std::path::Path,
) -> anyhow::Result<(local::Killed, u16)> {
    let exe = bin.join("txcloudrecord-backend");
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

/// The local service (in `bin`) with the demo app, recording under `out`,
/// uploading through the backend on `backend_port`; its port.
pub(crate) fn start_service(
    bin: &std::path::Path,
    out: &std::path::Path,
    backend_port: u16,
    capture: &str,
    display: Option<&str>,
) -> anyhow::Result<(local::Killed, u16)> {
    let exe = bin.join("txcloudrecord");
    let mut cmd = Command::new(&exe);
    if let Some(d) = display {
        cmd.env("DISPLAY", d);
    }
    let mut child = cmd
        .args(["--port", "0", "--capture", capture])
        .env(
            "TXCR_BACKEND_URL",
            format!("http://127.0.0.1:{backend_port}"),
        )
        .arg("--data-dir")
        .arg(out.join("data"))
        .arg("--record-root")
        .arg(out)
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
    Ok((svc, port))
}

/// A record's MP4, through its media link.
pub(crate) fn fetch_media(backend_port: u16, rec: &Value) -> anyhow::Result<Vec<u8>> {
    let url = rec["VideoOutputUrl"].as_str().unwrap_or_default();
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let (status, mp4) = local::http(backend_port, "GET", &path, "")?;
    anyhow::ensure!(status == 200, "fetching the MP4 answered {status}");
    Ok(mp4)
}

/// The query API, signed with the demo TicKey.
pub(crate) fn query(port: u16, class: u64) -> anyhow::Result<Value> {
    let expire = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 300;
    let sign = txcr_auth::query_sign(DEMO_TICKEY, expire);
    let (_, body) = local::http(
        port,
        "POST",
        &format!("/paas/v1/localrecord/query?sdkappid={DEMO_APP}&sign={sign}&expire_time={expire}&random=1"),
        &format!(r#"{{"class_id":{class}}}"#),
    )?;
    Ok(serde_json::from_slice(&body)?)
}

/// What to record: a window the user names on their display, or our moving
/// test window (on a new Xvfb display when there is none); elsewhere the
/// built-in test pattern.
struct Source {
    _guards: Vec<local::Killed>,
    capture: &'static str,
    display: Option<String>,
    target: String,
}

fn source(window: Option<&String>) -> anyhow::Result<Source> {
    #[cfg(unix)]
    {
        let display = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty());
        if let Some(name) = window {
            let display = display.context("naming a window needs a DISPLAY")?;
            println!("==> recording the window of process {name:?} on {display}");
            return Ok(Source {
                _guards: Vec::new(),
                capture: "x11",
                display: Some(display),
                target: format!(r#""AppProc":{}"#, serde_json::json!(name)),
            });
        }
        let (guards, display, xid) = local::test_window(display.as_deref(), 1280, 720)?;
        println!("==> recording a moving test window (XID {xid}) on {display}");
        Ok(Source {
            _guards: guards,
            capture: "x11",
            display: Some(display),
            target: format!(r#""Wnd":{xid}"#),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = window;
        Ok(Source {
            _guards: Vec::new(),
            capture: "test-pattern",
            display: None,
            target: r#""AppProc":"demo""#.into(),
        })
    }
}

/// A webhook receiver on 127.0.0.1: its URL, and the bodies it gets.
fn receiver() -> anyhow::Result<(String, std::sync::mpsc::Receiver<String>)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let Ok(clone) = s.try_clone() else { continue };
            let mut r = BufReader::new(clone);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    Ok((url, rx))
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    setup::ensure_demo()?;
    crate::build_release(&["txcloudrecord", "txcloudrecord-backend", "txcr-testwin"])?;
    let root = workspace_root();
    let out_dir = root.join("demo-output");
    std::fs::create_dir_all(&out_dir)?;
    let backend_dir = out_dir.join("backend");
    let (backend, backend_port) = start_backend(&root.join("target/release"), &backend_dir)?;
    let (hook_url, hooks) = receiver()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let admin = txcr_auth::gen_user_sig(DEMO_APP, DEMO_KEY, "administrator", 3600, now);
    let (status, body) = local::http(
        backend_port,
        "POST",
        &format!("/v4/ilvb_edu/local_record?sdkappid={DEMO_APP}&identifier=administrator&usersig={admin}&random=1&contenttype=json"),
        &format!(r#"{{"Action":"RegisteredCallback","CallbackUrl":"{hook_url}"}}"#),
    )?;
    anyhow::ensure!(
        status == 200,
        "RegisteredCallback: {}",
        String::from_utf8_lossy(&body)
    );
    println!("==> callback registered: {hook_url}");
    let src = source(args.first())?;
    let (svc, port) = start_service(
        &root.join("target/release"),
        &out_dir,
        backend_port,
        src.capture,
        src.display.as_deref(),
    )?;

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
            r#"{{{},"DstPath":"class-{stamp}.flv","VideoFps":15,"SliceTime":5,"ClassId":1}}"#,
            src.target
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
        let st = local::post(port, "GetState", "")?;
        let up = local::upload_of(&st, state["Record"]["TaskId"].as_str().unwrap_or_default());
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
    let mp4 = fetch_media(backend_port, &rec)?;
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
    // Callbacks of earlier runs' tasks may come too; wait for this one's.
    let task = state["Record"]["TaskId"].as_str().unwrap_or_default();
    loop {
        let body = hooks
            .recv_timeout(Duration::from_secs(30))
            .context("no callback within 30 s")?;
        if body.contains(&format!(r#""TaskId":"{task}""#)) {
            println!(
                "==> callback received {:.2} s after StopRecord:\n    {body}",
                stopped.elapsed().as_secs_f64()
            );
            break;
        }
    }
    let expire = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 86_400;
    let sign = txcr_auth::play_sign(DEMO_TICKEY, DEMO_APP as i64, 1, expire as i64);
    drop(backend);
    println!(
        "==> the playback page (valid 24 h) while the backend runs:\n    TXCR_SDKAPPID={DEMO_APP} TXCR_SECRET_KEY={DEMO_KEY} TXCR_TICKEY={DEMO_TICKEY} \\\n      target/release/txcloudrecord-backend --data-dir {}\n    http://127.0.0.1:37605/play?sdkappid={DEMO_APP}&class_id=1&expire_time={expire}&sign={sign}",
        backend_dir.display()
    );
    Ok(())
}
