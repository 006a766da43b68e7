//! The fresh-machine demo: the service on embedded defaults (test-pattern
//! capture, a demo application key, recordings under ./demo-output), driven
//! over HTTP like a classroom app would, and the result checked with ffprobe.

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::Value;

use crate::{cargo, local, setup, workspace_root};

/// The demo's application: an id and key used only here.
const DEMO_APP: u64 = 1400000000;
const DEMO_KEY: &str = "demo-secret-key-change-me";

/// Send a command and show it, as a classroom app would see it.
fn post(port: u16, cmd: &str, body: &str) -> anyhow::Result<Value> {
    let r = local::post(port, cmd, body)?;
    println!("    {cmd:<12} -> {r}");
    Ok(r)
}

pub fn run() -> anyhow::Result<()> {
    setup::ensure()?;
    cargo(&["build", "--release", "-p", "txcloudrecord"])?;
    let root = workspace_root();
    let out_dir = root.join("demo-output");
    std::fs::create_dir_all(&out_dir)?;
    let exe = root.join("target/release/txcloudrecord");
    let mut child = Command::new(&exe)
        .args(["--port", "0", "--capture", "test-pattern"])
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
            r#"{{"AppProc":"demo","DstPath":"class-{stamp}.flv","VideoFps":15,"SliceTime":5,"ClassId":1,"EnableUpload":false}}"#
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
    let slices = post(port, "GetState", "")?["Record"]["Slices"].clone();
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
        "==> play them with: ffplay {}/class-{stamp}_0001.flv",
        out_dir.display()
    );
    Ok(())
}
