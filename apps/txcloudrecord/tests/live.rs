//! Live progress and preview, through the typed client (`txcr-client`): the
//! event stream follows a class from start to stop, and the preview shows the
//! frame being recorded, decoded by ffmpeg.

use crate::util;

use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use txcr_client::{Client, ErrorCode, Event, StartRecord};
use util::{user_sig, Svc, APP};

/// Collect events on a thread; the receiver gets each as it comes.
fn listen(c: &Client) -> mpsc::Receiver<Event> {
    let events = c.events().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for e in events {
            if tx.send(e.unwrap()).is_err() {
                return;
            }
        }
    });
    rx
}

/// Events up to (and including) the first that `until` accepts.
fn until(rx: &mpsc::Receiver<Event>, what: &str, until: impl Fn(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what} event; saw {seen:#?}"));
        let done = until(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn record_state(e: &Event, want: &str) -> bool {
    matches!(e, Event::State(s) if s.record.state == want)
}

#[test]
fn the_event_stream_follows_a_class_and_ends_when_the_service_exits() {
    let mut svc = Svc::start();
    let c = Client::new(svc.port);
    let rx = listen(&c);
    let first = until(&rx, "first state", |_| true);
    assert!(record_state(&first[0], "Idle"), "{first:?}");

    c.init(APP, "teacher", &user_sig("teacher")).unwrap();
    until(
        &rx,
        "auth",
        |e| matches!(e, Event::State(s) if s.auth_state == "Auth Success" && s.user_id == "teacher"),
    );
    c.start_record(&StartRecord::window(1, 31).slice_time(1).upload(false))
        .unwrap();
    until(&rx, "Recording", |e| record_state(e, "Recording"));
    // Slices are announced one by one as they are finished.
    let seen = until(
        &rx,
        "second slice",
        |e| matches!(e, Event::Slice(s) if s.index == 2),
    );
    let slices: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Slice(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(slices[0].index, 1, "{slices:?}");
    assert!(std::path::Path::new(&slices[1].path).exists());
    let task = slices[0].task_id.clone();
    assert!(task.starts_with("31-"), "{task}");
    // Progress: frames and duration move without anybody polling.
    let progress: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            Event::State(s) => Some(s.record.frames),
            _ => None,
        })
        .collect();
    assert!(
        progress.windows(2).any(|w| w[1] > w[0]),
        "frames never moved: {progress:?}"
    );

    c.pause_record().unwrap();
    until(&rx, "Paused", |e| record_state(e, "Paused"));
    c.resume_record().unwrap();
    until(&rx, "Recording again", |e| record_state(e, "Recording"));
    c.stop_record().unwrap();
    let end = until(&rx, "Idle", |e| record_state(e, "Idle"));
    let Some(Event::State(last)) = end.last() else {
        panic!()
    };
    assert_eq!(last.record.task_id.as_deref(), Some(task.as_str()));
    // Every slice the state lists was announced (before or with the stop).
    let announced: Vec<String> = seen
        .iter()
        .chain(&end)
        .filter_map(|e| match e {
            Event::Slice(s) => Some(s.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(announced, last.record.slices);

    // A page of another origin may not listen to this session.
    let page = Client::new(svc.port).with_origin("http://localhost:8000");
    let refused = page.events().unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden), "{refused}");

    c.exit().unwrap();
    // The stream ends with the service.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the stream did not end"),
        }
    }
    assert!(svc.wait_exit(Duration::from_secs(10)).is_some());
}

/// The PNG's picture as 8-bit grey, decoded by ffmpeg.
fn png_luma(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preview.png");
    std::fs::write(&path, png).unwrap();
    let (codec, w, h) = util::probe_stream(&path);
    assert_eq!(codec, "png");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    (w, h, out.stdout)
}

#[test]
fn the_preview_shows_the_frame_being_recorded_also_while_paused() {
    let svc = Svc::start();
    let c = Client::new(svc.port);
    c.init(APP, "teacher", &user_sig("teacher")).unwrap();
    let idle = c.get_preview(None).unwrap_err();
    assert_eq!(idle.code(), Some(ErrorCode::NotAllowedInState), "{idle}");

    c.start_record(&StartRecord::window(1, 32).upload(false).audio(false))
        .unwrap();
    sleep(Duration::from_millis(1200));
    // Default size: 320 wide, the test window's 16:9 kept.
    let small = c.get_preview(None).unwrap();
    assert_eq!((small.width, small.height), (320, 180));
    let (w, h, _) = png_luma(&small.png);
    assert_eq!((w, h), (320, 180));

    // Full size: the test pattern's time stamp, read from the PNG, is the
    // moment the preview says it shows.
    let full = c.get_preview(Some(1280)).unwrap();
    let (w, _, luma) = png_luma(&full.png);
    let stamp = txcr_capture::decode_stamp(&luma, w as usize).expect("a stamp in the preview");
    assert!(
        stamp.abs_diff(full.pts_ms) <= 100,
        "preview shows {stamp} ms, says {} ms",
        full.pts_ms
    );
    assert!(full.pts_ms >= 1000, "{}", full.pts_ms);

    c.pause_record().unwrap();
    let paused = c.get_preview(Some(1280)).unwrap();
    assert!(paused.pts_ms >= full.pts_ms);
    let before = c.get_state().unwrap().record.frames;
    sleep(Duration::from_millis(400));
    assert_eq!(c.get_state().unwrap().record.frames, before);

    let bad = c.get_preview(Some(5)).unwrap_err();
    assert_eq!(bad.code(), Some(ErrorCode::InvalidParameter), "{bad}");
    c.stop_record().unwrap();
}
