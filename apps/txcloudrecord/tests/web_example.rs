//! The example page (`examples/web`, plain JavaScript) drives the real
//! service from headless Chromium: it finds no recorder and asks for it
//! through tc-record:// (the test then starts it, as the protocol handler
//! would), then Init, Start, Pause, Resume, a preview and Stop, following the
//! state through the event stream; it reports what it saw to the test.

use crate::util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use util::{decode_errors, user_sig, Svc, APP};

/// Serve `examples/web` and take the page's report (POST /report).
fn page_server() -> (u16, mpsc::Receiver<Value>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/web");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (root, tx) = (root.clone(), tx.clone());
            std::thread::spawn(move || serve(s, &root, &tx));
        }
    });
    (port, rx)
}

fn serve(mut s: TcpStream, root: &std::path::Path, tx: &mpsc::Sender<Value>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).is_err() {
        return;
    }
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let path = first
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/");
    let (status, ctype, body) = if first.starts_with("POST /report") {
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
        ("200 OK", "text/plain", Vec::new())
    } else {
        let file = root.join(path.trim_start_matches('/'));
        let ctype = if path.ends_with(".js") {
            "text/javascript"
        } else {
            "text/html"
        };
        match std::fs::read(&file) {
            Ok(b) if !path.contains("..") => ("200 OK", ctype, b),
            _ => ("404 Not Found", "text/plain", Vec::new()),
        }
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(&body);
}

/// A JSON array of strings.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn the_example_page_launches_and_drives_a_class_in_chromium() {
    let (page_port, reports) = page_server();
    // The port the recorder will have once "launched".
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "http://127.0.0.1:{page_port}/index.html?auto=1&port={port}&sdkappid={APP}&userid=teacher&usersig={}&wnd=1&classid=55&slicetime=1&report=/report",
        user_sig("teacher")
    );
    let profile = tempfile::tempdir().unwrap();
    let _browser = util::browser::open(&url, profile.path());
    // The page finds nobody on the port and fires tc-record://; the OS would
    // start the recorder now.
    std::thread::sleep(Duration::from_millis(1500));
    let port_arg = port.to_string();
    let svc = Svc::start_with(&["--port", &port_arg]);
    assert_eq!(svc.port, port);

    let report = reports
        .recv_timeout(Duration::from_secs(90))
        .expect("the page reports");
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["launched"], true, "{report:#}");
    let steps = strings(&report["steps"]);
    assert_eq!(steps, ["init", "start", "paused", "resumed", "stopped"]);
    // The states it saw, live, without polling (the stream opens after
    // Init, so its first state may already be Recording).
    let states = strings(&report["states"]);
    let class = ["Recording", "Paused", "Recording", "Idle"];
    assert!(
        states == class || states[1..] == class && states[0] == "Idle",
        "{report:#}"
    );
    assert_eq!(report["preview"]["Width"], 320, "{report:#}");
    // A level meter for the sound (the test pattern's tone), shown live.
    assert_eq!(report["meters"], 1, "{report:#}");
    assert!(
        report["sound"].as_str().unwrap().contains("tone: on"),
        "{report:#}"
    );
    assert!(report["shown"].as_str().unwrap().starts_with("Idle"));
    // Every slice the page was told about is on disk and decodes.
    let slices: Vec<PathBuf> = report["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| PathBuf::from(s.as_str().unwrap()))
        .collect();
    assert!(!slices.is_empty(), "{report:#}");
    assert_eq!(report["slices"], report["finalSlices"], "{report:#}");
    for s in &slices {
        assert!(s.starts_with(&svc.root), "{}", s.display());
        assert_eq!(decode_errors(s), "", "{}", s.display());
    }
}
