//! Window capture on a real X server (Xvfb) through the HTTP API, checked by
//! decoding the recording and comparing it with what the test window painted.
#![cfg(target_os = "linux")]

use crate::util;

use std::thread::sleep;
use std::time::Duration;

use serde_json::json;
use util::x11::{TestWin, XClient, Xvfb};
use util::*;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConfigureWindowAux, ConnectionExt as _};

const WHITE: [u8; 3] = [255, 255, 255];
const YELLOW: [u8; 3] = [255, 255, 0];
const CYAN: [u8; 3] = [0, 255, 255];
const GREEN: [u8; 3] = [0, 255, 0];
const MAGENTA: [u8; 3] = [255, 0, 255];
const RED: [u8; 3] = [255, 0, 0];
const BLACK: [u8; 3] = [0, 0, 0];

fn x11_service(x: &Xvfb) -> Svc {
    let svc = Svc::start_env(&["--capture", "x11"], &[("DISPLAY", &x.display)]);
    svc.init("teacher");
    svc
}

fn record(svc: &Svc, body: &str, secs: f64) -> std::path::PathBuf {
    assert_eq!(svc.cmd("StartRecord", body), json!({}), "{body}");
    sleep(Duration::from_secs_f64(secs));
    assert_eq!(svc.cmd("StopRecord", ""), json!({}));
    let files = slices(&svc.state());
    assert_eq!(files.len(), 1);
    assert_eq!(decode_errors(&files[0]), "");
    files[0].clone()
}

#[test]
fn records_a_window_region_by_id_with_the_painted_colours() {
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "640x360"]);
    let svc = x11_service(&x);
    let body = format!(
        r#"{{"Wnd":{},"x":80,"y":100,"Width":320,"Height":160,"DstPath":"r.flv","ClassId":1}}"#,
        win.xid
    );
    let f = record(&svc, &body, 3.0);
    assert_eq!(probe_stream(&f), ("h264".into(), 320, 160));
    let frames = decoded_rgb(&f);
    let fps = frames.len() as f64 / 3.0;
    assert!((fps - 15.0).abs() <= 1.5, "{fps} fps");
    // Bars are 80 px wide in a 640 px window: x 80..400 holds bars 1..4.
    let last = frames.last().unwrap();
    for (x, want) in [(40, YELLOW), (120, CYAN), (200, GREEN), (280, MAGENTA)] {
        let got = pixel(last, 320, x, 40);
        assert!(close_to(got, want), "at x={x}: {got:?}, want {want:?}");
    }
    let changing = frames.iter().filter(|f| **f != frames[0]).count();
    assert!(
        changing > frames.len() / 3,
        "the picture is live, not a still ({changing} of {} frames differ)",
        frames.len()
    );
}

#[test]
fn records_by_process_name_live_and_refuses_unknown_windows() {
    let x = Xvfb::start(true);
    let _small = TestWin::start(
        &x.display,
        &["--size", "200x120", "--pos", "700,500", "--solid", "00ff00"],
    );
    let _win = TestWin::start(&x.display, &["--size", "640x360"]);
    let svc = x11_service(&x);
    assert_eq!(
        error_code(&svc.cmd("StartRecord", r#"{"AppProc":"no-such-app","ClassId":1}"#)),
        Some(-10008)
    );
    assert_eq!(
        error_code(&svc.cmd("StartRecord", r#"{"Wnd":123456789,"ClassId":1}"#)),
        Some(-10008)
    );
    assert_eq!(svc.state()["Record"]["State"], "Idle");
    // The larger of the two txcr-testwin windows is chosen; its whole 640x360.
    let f = record(
        &svc,
        r#"{"AppProc":"txcr-testwin.exe","DstPath":"p.flv","ClassId":1}"#,
        3.0,
    );
    assert_eq!(probe_stream(&f), ("h264".into(), 640, 360));
    // The window draws its own clock into the picture: it must advance with the
    // recording's timestamps (a frozen or stale grab would not).
    let stamps = decoded_stamps(&f, 640, 360);
    let pts: Vec<f64> = probe_packets(&f).iter().map(|p| p.0).collect();
    assert!(
        stamps.windows(2).all(|w| w[1] >= w[0]),
        "window clock never runs backwards"
    );
    let painted = (stamps[stamps.len() - 1] - stamps[0]) as f64 / 1000.0;
    let recorded = pts[pts.len() - 1] - pts[0];
    assert!(
        (painted - recorded).abs() < 0.25,
        "window clock advanced {painted:.3}s over {recorded:.3}s of recording"
    );
}

/// Move the pointer round a circle on `display` for `how_long`, as a user's
/// mouse does (XTest: device motion, which xeyes follows; a plain
/// WarpPointer it does not see), so clients that follow it repaint.
fn move_pointer_for(display: &str, how_long: Duration) {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < how_long {
        let a = t0.elapsed().as_secs_f64() * 6.0;
        let (x, y) = (200.0 + 150.0 * a.cos(), 150.0 + 100.0 * a.sin());
        x11rb::protocol::xtest::fake_input(
            &conn,
            x11rb::protocol::xproto::MOTION_NOTIFY_EVENT,
            0,
            x11rb::CURRENT_TIME,
            root,
            x as i16,
            y as i16,
            0,
        )
        .unwrap();
        conn.flush().unwrap();
        sleep(Duration::from_millis(15));
    }
}

#[test]
fn the_cpp_client_records_a_stock_x_client_by_process_name() {
    // xeyes sets no _NET_WM_PID: the X server's own record of the client's
    // process finds it.
    let x = Xvfb::start(true);
    let _eyes = XClient::start(&x.display, "xeyes", &["-geometry", "320x240+40+30"]);
    let svc = x11_service(&x);
    // TICLocalRecorderImpl::startLocalRecord sends every TEduRecordParam
    // field, zero where the app set nothing; JsonCpp's FastWriter sorts the
    // keys and ends with a newline.
    let dst = serde_json::to_string(&svc.root.join("cpp.flv")).unwrap();
    let body = format!(
        "{{\"AppProc\":\"xeyes.exe\",\"ClassId\":42,\"DstPath\":{dst},\"EnableAudio\":false,\"Height\":0,\"VideoBps\":0,\"VideoFps\":0,\"Wnd\":0,\"Width\":0,\"x\":0,\"y\":0}}\n"
    );
    let t0 = std::time::Instant::now();
    let started = loop {
        let r = svc.cmd("StartRecord", &body);
        if error_code(&r) != Some(-10008) || t0.elapsed() > Duration::from_secs(10) {
            break r;
        }
        sleep(Duration::from_millis(100)); // xeyes is still mapping its window
    };
    assert_eq!(started, json!({}));
    // Only a changing picture makes frames: the eyes follow a moving pointer.
    move_pointer_for(&x.display, Duration::from_secs(2));
    assert_eq!(svc.cmd("StopRecord", ""), json!({}));
    let files = slices(&svc.state());
    assert_eq!(files, [svc.root.join("cpp_0001.flv")]);
    assert_eq!(decode_errors(&files[0]), "");
    assert_eq!(probe_stream(&files[0]), ("h264".into(), 320, 240));
    let frames = probe_packets(&files[0]).len();
    assert!(
        (25..=32).contains(&frames),
        "VideoFps 0 records at 15 fps: {frames} frames in 2 s"
    );
}

#[test]
fn a_covered_window_still_records_its_own_content() {
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "640x360"]);
    let _cover = TestWin::start(&x.display, &["--size", "640x360", "--solid", "ff0000"]);
    let svc = x11_service(&x);
    let f = record(
        &svc,
        &format!(r#"{{"Wnd":{},"DstPath":"c.flv","ClassId":1}}"#, win.xid),
        2.0,
    );
    let last = decoded_rgb(&f).pop().unwrap();
    for (x, want) in [(40, WHITE), (120, YELLOW), (440, RED), (600, BLACK)] {
        let got = pixel(&last, 640, x, 100);
        assert!(close_to(got, want), "at x={x}: {got:?}, want {want:?}");
    }
    let got = pixel(&last, 640, 200, 100);
    assert!(close_to(got, CYAN), "cyan bar, not the red cover: {got:?}");
}

#[test]
fn without_composite_start_is_refused_with_10004() {
    let x = Xvfb::start(false);
    let win = TestWin::start(&x.display, &["--size", "320x240"]);
    let svc = x11_service(&x);
    let r = svc.cmd(
        "StartRecord",
        &format!(r#"{{"Wnd":{},"ClassId":1}}"#, win.xid),
    );
    assert_eq!(error_code(&r), Some(-10004), "{r}");
    assert_eq!(svc.state()["Record"]["State"], "Idle");
}

#[test]
fn screen_fallback_records_without_composite_when_configured() {
    let x = Xvfb::start(false);
    let win = TestWin::start(&x.display, &["--size", "320x240", "--pos", "100,50"]);
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), "screen_fallback = true\n").unwrap();
    let svc = Svc::start_env(
        &["--capture", "x11", "--config", cfg.path().to_str().unwrap()],
        &[("DISPLAY", &x.display)],
    );
    svc.init("teacher");
    let f = record(
        &svc,
        &format!(r#"{{"Wnd":{},"DstPath":"s.flv","ClassId":1}}"#, win.xid),
        2.0,
    );
    let last = decoded_rgb(&f).pop().unwrap();
    // 320 px window: 40 px bars; x=60 is yellow.
    assert!(close_to(pixel(&last, 320, 60, 100), YELLOW));
}

#[test]
fn moving_and_resizing_keep_the_output_size_and_record_on() {
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "640x360"]);
    let svc = x11_service(&x);
    let body = format!(r#"{{"Wnd":{},"DstPath":"m.flv","ClassId":1}}"#, win.xid);
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    let (conn, _) = x11rb::connect(Some(&x.display)).unwrap();
    sleep(Duration::from_millis(1000));
    conn.configure_window(win.xid, &ConfigureWindowAux::new().x(300).y(200))
        .unwrap();
    conn.flush().unwrap();
    sleep(Duration::from_millis(1000));
    conn.configure_window(win.xid, &ConfigureWindowAux::new().width(400).height(300))
        .unwrap();
    conn.flush().unwrap();
    sleep(Duration::from_millis(1500));
    assert_eq!(svc.state()["Record"]["State"], "Recording");
    svc.cmd("StopRecord", "");
    let f = slices(&svc.state()).pop().unwrap();
    assert_eq!(decode_errors(&f), "");
    assert_eq!(probe_stream(&f).1, 640, "output size does not change");
    let frames = decoded_rgb(&f);
    assert!(frames.len() >= 45, "{} frames", frames.len());
    let last = frames.last().unwrap();
    // Now 400x300 with 50 px bars; outside the window is black.
    assert!(
        close_to(pixel(last, 640, 75, 100), YELLOW),
        "{:?}",
        pixel(last, 640, 75, 100)
    );
    assert!(close_to(pixel(last, 640, 500, 100), BLACK));
    assert!(close_to(pixel(last, 640, 100, 330), BLACK));
}

#[test]
fn closing_the_window_ends_the_recording_cleanly_and_says_why() {
    let x = Xvfb::start(true);
    let mut win = TestWin::start(&x.display, &["--size", "320x240"]);
    let svc = x11_service(&x);
    assert_eq!(
        svc.cmd(
            "StartRecord",
            &format!(r#"{{"Wnd":{},"DstPath":"k.flv","ClassId":1}}"#, win.xid)
        ),
        json!({})
    );
    sleep(Duration::from_millis(1500));
    win.kill();
    sleep(Duration::from_millis(800));
    let st = svc.state();
    assert_eq!(st["Record"]["State"], "Idle", "{st}");
    assert!(
        st["Record"]["LastError"]
            .as_str()
            .unwrap()
            .contains("closed"),
        "{st}"
    );
    let f = slices(&st).pop().unwrap();
    assert_eq!(decode_errors(&f), "");
    assert!(probe_packets(&f).len() >= 15);
    // The service records the next class as usual.
    assert_eq!(error_code(&svc.cmd("StopRecord", "")), Some(-10006));
}
