//! `txcloudrecord doctor`: each finding, caused for real where this machine
//! can (no display, Xvfb with and without Composite, a private PulseAudio, a
//! full disk threshold, an unwritable folder, a real S3 server, a refused
//! bucket, an unreachable endpoint, a busy port); only the wrong clock comes
//! from a fake server, since the system clock cannot be moved in a test.
#![cfg(target_os = "linux")]

use crate::util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use util::backend::Backend;
use util::pulse::Pulse;
use util::s3::S3;
use util::x11::Xvfb;
use util::{bin, Svc, APP, KEY};

/// Run doctor with these arguments and environment; (exit code, findings by check).
fn doctor(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, Vec<Value>) {
    let out = command(dir, args, env).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let all: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), all.as_array().unwrap().clone())
}

fn command(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut c = bin();
    c.args(["doctor", "--json"])
        .arg("--data-dir")
        .arg(dir.join("data"));
    if !args.contains(&"--record-root") {
        c.arg("--record-root").arg(dir.join("rec"));
    }
    for k in [
        "TXCR_CONFIG",
        "TXCR_S3_BUCKET",
        "TXCR_BACKEND_URL",
        "AWS_ENDPOINT_URL",
        "TXCR_MIN_FREE_MB",
        "TXCR_AUDIO_DEVICE",
        "TXCR_CAPTURE",
    ] {
        c.env_remove(k);
    }
    if !args.contains(&"--port") {
        c.args(["--port", "0"]);
    }
    c.args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c
}

fn finding<'a>(all: &'a [Value], check: &str) -> &'a Value {
    all.iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {all:?}"))
}

fn level(all: &[Value], check: &str) -> String {
    finding(all, check)["level"].as_str().unwrap().to_owned()
}

fn says(all: &[Value], check: &str, text: &str) -> bool {
    let f = finding(all, check);
    f["message"].as_str().unwrap().contains(text)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn display_and_compositor_findings() {
    let dir = tempfile::tempdir().unwrap();
    // No display at all.
    let (code, all) = doctor(dir.path(), &["--capture", "x11"], &env(&[("DISPLAY", "")]));
    assert_eq!(code, 1);
    assert_eq!(level(&all, "display"), "fail", "{all:?}");
    assert!(finding(&all, "display")["fix"]
        .as_str()
        .unwrap()
        .contains("DISPLAY"));

    // A display with Composite and MIT-SHM.
    let x = Xvfb::start(true);
    let with = env(&[("DISPLAY", &x.display)]);
    let (_, all) = doctor(dir.path(), &["--capture", "x11"], &with);
    assert_eq!(level(&all, "display"), "ok", "{all:?}");
    assert!(says(&all, "display", "1280x720, MIT-SHM"), "{all:?}");
    assert_eq!(level(&all, "compositor"), "ok", "{all:?}");

    // Without Composite: StartRecord would answer -10004 …
    let bare = Xvfb::start(false);
    let without = env(&[("DISPLAY", &bare.display)]);
    let (code, all) = doctor(dir.path(), &["--capture", "x11"], &without);
    assert_eq!(code, 1);
    assert_eq!(level(&all, "compositor"), "fail", "{all:?}");
    assert!(says(&all, "compositor", "-10004"));
    // … unless the screen area may be recorded instead.
    let cfg = dir.path().join("fallback.toml");
    std::fs::write(&cfg, "screen_fallback = true\n").unwrap();
    let (_, all) = doctor(
        dir.path(),
        &["--capture", "x11", "--config", cfg.to_str().unwrap()],
        &without,
    );
    assert_eq!(level(&all, "compositor"), "warn", "{all:?}");
}

#[test]
fn audio_findings() {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start();
    let penv: Vec<(String, String)> = pulse
        .client_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .collect();
    let x = Xvfb::start(true);
    let mut both = penv.clone();
    both.push(("DISPLAY".into(), x.display.clone()));
    let (code, all) = doctor(dir.path(), &["--capture", "x11"], &both);
    assert_eq!(level(&all, "audio"), "ok", "{all:?}");
    assert!(says(&all, "audio", "sound arrives"), "{all:?}");
    assert_eq!(code, 0, "{all:?}");

    let (code, all) = doctor(
        dir.path(),
        &["--capture", "x11", "--audio-device", "no such microphone"],
        &both,
    );
    assert_eq!(code, 1);
    assert_eq!(level(&all, "audio"), "fail", "{all:?}");
    assert!(says(&all, "audio", "without sound"));
}

#[test]
fn disk_findings() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--capture", "test-pattern"];
    let (code, all) = doctor(dir.path(), &args, &[]);
    assert_eq!(level(&all, "disk"), "ok", "{all:?}");
    assert_eq!(code, 0, "{all:?}");

    let huge = env(&[("TXCR_MIN_FREE_MB", "999999999")]);
    let (code, all) = doctor(dir.path(), &args, &huge);
    assert_eq!(code, 1);
    assert_eq!(level(&all, "disk"), "fail", "{all:?}");
    assert!(says(&all, "disk", "-10005"));

    // A recording folder that cannot be created (its parent is a file; this
    // holds for root too, unlike permissions).
    std::fs::write(dir.path().join("file"), b"").unwrap();
    let (code, all) = doctor(
        dir.path(),
        &[
            "--capture",
            "test-pattern",
            "--record-root",
            dir.path().join("file/rec").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(level(&all, "disk"), "fail", "{all:?}");
    assert!(says(&all, "disk", "cannot write"), "{all:?}");
}

#[test]
fn storage_and_clock_findings() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--capture", "test-pattern"];
    let (_, all) = doctor(dir.path(), &args, &[]);
    assert!(says(&all, "storage", "stay on disk"), "{all:?}");
    assert_eq!(level(&all, "clock"), "skip");

    let s3 = S3::start();
    let (code, all) = doctor(dir.path(), &args, &s3.env("p"));
    assert_eq!(level(&all, "storage"), "ok", "{all:?}");
    assert_eq!(level(&all, "clock"), "ok", "{all:?}");
    assert_eq!(code, 0, "{all:?}");

    let mut wrong = s3.env("p");
    wrong.retain(|(k, _)| k != "TXCR_S3_BUCKET");
    wrong.push(("TXCR_S3_BUCKET".into(), "no-such-bucket".into()));
    let (code, all) = doctor(dir.path(), &args, &wrong);
    assert_eq!(code, 1);
    assert_eq!(level(&all, "storage"), "fail", "{all:?}");
    assert!(says(&all, "storage", "refused"), "{all:?}");

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut gone = s3.env("p");
    gone.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    gone.push(("AWS_ENDPOINT_URL".into(), format!("http://{closed}")));
    let (code, all) = doctor(dir.path(), &args, &gone);
    assert_eq!(code, 1);
    assert_eq!(level(&all, "storage"), "fail", "{all:?}");
    assert!(says(&all, "storage", "unreachable"), "{all:?}");

    // A server whose clock is ten minutes ahead, then one minute behind.
    for (skew, want, text) in [(600i64, "fail", "behind"), (-60, "warn", "ahead of")] {
        let fake = skewed_server(skew);
        let mut e = s3.env("p");
        e.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        e.push(("AWS_ENDPOINT_URL".into(), format!("http://{fake}")));
        let (_, all) = doctor(dir.path(), &args, &e);
        assert_eq!(level(&all, "clock"), want, "{all:?}");
        assert!(says(&all, "clock", text), "{all:?}");
    }
}

/// An HTTP server answering everything with 403 and a `Date` `skew` seconds
/// off ours (a fault this machine's clock cannot be made to have).
fn skewed_server(skew: i64) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let now = std::time::SystemTime::now();
            let when = if skew >= 0 {
                now + std::time::Duration::from_secs(skew as u64)
            } else {
                now - std::time::Duration::from_secs(skew.unsigned_abs())
            };
            let body = "<Error><Code>AccessDenied</Code></Error>";
            let _ = write!(
                s,
                "HTTP/1.1 403 Forbidden\r\nDate: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                httpdate::fmt_http_date(when),
                body.len()
            );
        }
    });
    addr
}

#[test]
fn port_findings() {
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let mut c = command(
        dir.path(),
        &["--capture", "test-pattern", "--port", &port],
        &[],
    );
    let out = c.output().unwrap();
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&all, "port"), "fail", "{all:?}");
    drop(busy);

    let svc = Svc::start();
    let port = svc.port.to_string();
    let out = command(
        dir.path(),
        &["--capture", "test-pattern", "--port", &port],
        &[],
    )
    .output()
    .unwrap();
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&all, "port"), "ok", "{all:?}");
    assert!(says(&all, "port", "already serving"), "{all:?}");
}

#[test]
fn a_backend_whose_upload_urls_this_machine_cannot_reach_fails_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--capture", "test-pattern"];
    let app = APP.to_string();
    let keys = |url: &str| {
        env(&[
            ("TXCR_BACKEND_URL", url),
            ("TXCR_SDKAPPID", &app),
            ("TXCR_SECRET_KEY", KEY),
        ])
    };
    // On embedded defaults, on this machine: its store answers.
    let embedded = Backend::start_embedded(&[]);
    let (code, all) = doctor(dir.path(), &args, &keys(&embedded.url()));
    assert_eq!(level(&all, "upload-url"), "ok", "{all:?}");
    assert!(says(&all, "upload-url", "reachable from here"), "{all:?}");
    assert_eq!(code, 0, "{all:?}");

    // A backend whose bucket is at an address nobody answers on: its
    // presigned URLs name that address.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s3 = S3::start();
    let endpoint = format!("http://{closed}");
    let far = Backend::start(&s3, "p", &[("AWS_ENDPOINT_URL", &endpoint)]);
    let (code, all) = doctor(dir.path(), &args, &keys(&far.url()));
    assert_eq!(code, 1, "{all:?}");
    assert_eq!(level(&all, "upload-url"), "fail", "{all:?}");
    assert!(says(&all, "upload-url", &closed.to_string()), "{all:?}");
    assert!(
        finding(&all, "upload-url")["fix"]
            .as_str()
            .is_some_and(|f| f.contains("--public-url")),
        "{all:?}"
    );

    // A backend that does not know this machine's application.
    let (_, all) = doctor(
        dir.path(),
        &args,
        &env(&[
            ("TXCR_BACKEND_URL", &embedded.url()),
            ("TXCR_SDKAPPID", "1400000999"),
            ("TXCR_SECRET_KEY", "another-key"),
        ]),
    );
    assert_eq!(level(&all, "upload-url"), "fail", "{all:?}");
    assert!(says(&all, "upload-url", "no upload URL"), "{all:?}");
}
