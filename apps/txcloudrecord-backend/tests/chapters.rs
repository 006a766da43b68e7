//! Chapters end to end: marked by the teacher's app (`AddChapter`) and by a
//! slide change of a real X window, through a kill -9 of the local service,
//! into the MP4 (read by ffprobe), the callback, the query API and the
//! playback page (Chromium seeking to a chapter).

use crate::end_to_end::{chromium_video, env_refs, hmac_hex, path_of};
use crate::util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::backend::{now, Backend, Receiver, TICKEY};
use util::s3::S3;
use util::x11::{TestWin, Xvfb};
use util::*;

/// (start s, title) of each chapter `ffprobe -show_chapters` lists.
fn probed_chapters(file: &std::path::Path) -> Vec<(f64, String)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["chapters"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| {
            let start: f64 = c["start_time"].as_str().unwrap().parse().unwrap();
            (start, c["tags"]["title"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The times (s) of the MP4's frames at which the slides scene's picture
/// changed: its time stamp shows when the picture last changed.
fn picture_changes(file: &std::path::Path, width: usize, height: usize) -> Vec<f64> {
    let stamps = decoded_stamps(file, width, height);
    let mut times = stream_times(file, "v:0");
    times.sort_by(f64::total_cmp);
    assert_eq!(stamps.len(), times.len(), "a time for every frame");
    stamps
        .windows(2)
        .zip(&times[1..])
        .filter(|(w, _)| w[0] != w[1])
        .map(|(_, t)| *t)
        .collect()
}

#[test]
fn chapters_from_the_app_and_a_slide_change_reach_the_mp4_callback_query_and_page_through_a_kill_9()
{
    let x = Xvfb::start(true);
    let (w, h) = (640, 360);
    let win = TestWin::start(
        &x.display,
        &["--size", &format!("{w}x{h}"), "--scene", "slides"],
    );
    let s3 = S3::start();
    let receiver = Receiver::start(0);
    let backend = Backend::start(&s3, "school", &[]);
    assert_eq!(backend.register_callback(&receiver.url()).status, 200);
    let mut env = s3.env("school");
    env.push(("DISPLAY".into(), x.display.clone()));
    let args = ["--capture", "x11"];
    let svc = Svc::start_env(&args, &env_refs(&env));
    svc.init("teacher1");
    let start = format!(
        r#"{{"Wnd":{},"SliceTime":3,"ClassId":3001,"EnableAudio":false,"DstPath":"ch.flv"}}"#,
        win.xid
    );
    assert_eq!(svc.cmd("StartRecord", &start), json!({}));
    let t0 = Instant::now();
    let at = |secs: f64| {
        let wait = Duration::from_secs_f64(secs).saturating_sub(t0.elapsed());
        sleep(wait);
    };
    at(2.0);
    let first = svc.cmd("AddChapter", r#"{"Title":"Introduction"}"#);
    at(9.0);
    let second = svc.cmd("AddChapter", r#"{"Title":"Questions, then homework"}"#);
    let pts = |r: &Value| r["Pts"].as_u64().unwrap_or_else(|| panic!("{r}"));
    assert!((1800..2600).contains(&pts(&first)), "{first}");
    assert!(
        (8800..9600).contains(&pts(&second)) && second["Index"].as_u64() >= Some(1),
        "{second}"
    );
    // Killed soon after the answer: the chapter was journaled before it.
    // 2.5 s of class after the chapter, so the MP4 reaches it: a kill -9
    // loses what the encoder still held (its lookahead, about a second).
    at(11.5);
    let dir = svc.kill9();
    let svc = Svc::start_in(dir, &args, &env_refs(&env));

    let deliveries = receiver.wait_success(Duration::from_secs(120));
    let d = deliveries
        .iter()
        .find(|d| d.answered == 200)
        .unwrap_or_else(|| panic!("a callback: {deliveries:?}"));
    let cb: Value = serde_json::from_str(&d.body).unwrap();
    let chapters = cb["Chapters"].as_array().unwrap().clone();
    let titles: Vec<&str> = chapters
        .iter()
        .map(|c| c["Title"].as_str().unwrap())
        .collect();
    // The picture changes every 5 s: one of them in these 9 s is a slide
    // change (after 3 s of stillness; the next is within 10 s of it).
    assert_eq!(
        titles.iter().filter(|t| t.starts_with("Slide ")).count(),
        1,
        "{cb}"
    );
    assert!(titles.contains(&"Introduction"), "{cb}");
    assert!(titles.contains(&"Questions, then homework"), "{cb}");
    let starts: Vec<u64> = chapters
        .iter()
        .map(|c| c["StartMs"].as_u64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|p| p[0] <= p[1]),
        "in time order: {cb}"
    );

    // The MP4 lists the same chapters, at the times they were marked.
    let url = cb["VideoOutputUrl"].as_str().unwrap();
    let (status, _, mp4) = raw_bytes(backend.port, "GET", &path_of(url), &[("Host", "x")], b"");
    assert_eq!(status, 200);
    let file = svc.dir.path().join("class.mp4");
    std::fs::write(&file, &mp4).unwrap();
    let probed = probed_chapters(&file);
    let listed: Vec<(f64, String)> = chapters
        .iter()
        .map(|c| {
            (
                c["StartMs"].as_f64().unwrap() / 1000.0,
                c["Title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(probed.len(), listed.len(), "{probed:?} {listed:?}");
    for ((pt, ptitle), (lt, ltitle)) in probed.iter().zip(&listed) {
        assert_eq!(ptitle, ltitle);
        assert!(
            (pt - lt).abs() < 0.002,
            "{ptitle}: {pt} in the MP4, {lt} listed"
        );
    }
    let time_of = |title: &str| listed.iter().find(|(_, t)| t == title).unwrap().0;
    for (title, marked) in [
        ("Introduction", &first),
        ("Questions, then homework", &second),
    ] {
        let want = pts(marked) as f64 / 1000.0;
        assert!(
            (time_of(title) - want).abs() < 0.2,
            "{title} at {} s, marked at {want} s",
            time_of(title)
        );
    }
    // The slide's chapter is where the decoded picture changed.
    let slide = listed
        .iter()
        .find(|(_, t)| t.starts_with("Slide "))
        .unwrap();
    let changes = picture_changes(&file, w, h);
    assert!(
        changes.iter().any(|c| (c - slide.0).abs() < 0.2),
        "{slide:?}; the picture changed at {changes:?}"
    );

    // The query API says the same.
    let q = backend.query(r#"{"class_id":3001}"#);
    assert_eq!(q["record_info_list"][0]["Chapters"], cb["Chapters"], "{q}");

    // The page lists them; opened at a chapter's moment, it plays from there.
    let expire = now() + 600;
    let sign = hmac_hex(TICKEY, &format!("play\n{APP}\n3001\n{expire}"));
    let page_url = format!(
        "http://127.0.0.1:{}/play?sdkappid={APP}&class_id=3001&expire_time={expire}&sign={sign}",
        backend.port
    );
    let page = backend.request("GET", &path_of(&page_url), &[], "");
    let questions = time_of("Questions, then homework");
    assert!(
        page.body.contains(&format!(r#"data-at="{questions:.3}""#))
            && page.body.contains("Questions, then homework"),
        "{}",
        page.body
    );
    let video = chromium_video(&format!("{page_url}&autoplay=1#v=1&t={questions:.3}"));
    let seeked: f64 = video.attr("data-seeked").parse().unwrap_or(-1.0);
    let (state, time) = (video.attr("data-state"), video.attr("data-time"));
    assert!(
        (seeked - questions).abs() < 0.1 && matches!(state.as_str(), "playing" | "ended" | "pause"),
        "opened at {questions} s: seeked to {seeked} s, {state} at {time} s"
    );
}
