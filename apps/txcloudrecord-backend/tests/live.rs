//! Live replay end to end: a class recorded by the real local service (test
//! pattern and tone) with 3-second slices, watched through the backend's
//! playlist while it runs (segments decoded by ffprobe, the page played by
//! Chromium), and after StopRecord the same playlist, ended, as long as the MP4.

use crate::end_to_end::{chromium_video_within, env_refs, hmac_hex, path_of};
use crate::util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::backend::{now, Backend, TICKEY};
use util::s3::S3;
use util::*;

const CLASS: u64 = 4001;
const FPS: f64 = 15.0;

/// (EXTINF seconds, segment URI) of each segment, the init segment's URI,
/// and whether the playlist has ended.
fn parse_playlist(text: &str) -> (Vec<(f64, String)>, String, bool) {
    let mut segments = Vec::new();
    let mut init = String::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(d) = l.strip_prefix("#EXTINF:") {
            let secs = d.trim_end_matches(',').parse().unwrap();
            segments.push((secs, lines.next().unwrap().to_owned()));
        } else if let Some(u) = l.strip_prefix("#EXT-X-MAP:URI=\"") {
            init = u.trim_end_matches('"').to_owned();
        }
    }
    (segments, init, text.contains("#EXT-X-ENDLIST"))
}

/// GET a playlist-relative URI (`<task>/<leaf>?...`) beside `playlist_path`.
fn get_part(backend: &Backend, playlist_path: &str, uri: &str) -> Vec<u8> {
    let dir = &playlist_path[..playlist_path.rfind('/').unwrap() + 1];
    let (status, _, body) = raw_bytes(
        backend.port,
        "GET",
        &format!("{dir}{uri}"),
        &[("Host", "x")],
        b"",
    );
    assert_eq!(status, 200, "{uri}");
    body
}

#[test]
fn a_class_plays_live_from_its_start_and_its_playlist_ends_as_long_as_the_mp4() {
    let s3 = S3::start();
    let backend = Backend::start(&s3, "school", &[]);
    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    svc.init("teacher1");
    let start = format!(
        r#"{{"Wnd":1,"Width":320,"Height":240,"VideoFps":15,"SliceTime":3,"ClassId":{CLASS},"DstPath":"live.flv"}}"#
    );
    assert_eq!(svc.cmd("StartRecord", &start), json!({}));
    let t0 = Instant::now();
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();

    // Until 8 s in, as a player polls: each slice the service has stored is
    // in the playlist within 2 s (the link made here as the school's server
    // would; the tasks API's own link is checked below).
    let expire = now() + 600;
    let sign = hmac_hex(TICKEY, &format!("live\n{APP}\n{CLASS}\n{task}\n{expire}"));
    let own_link = format!("/live/{APP}/{CLASS}/{task}.m3u8?expire_time={expire}&sign={sign}");
    let (mut stored_at, mut listed_at) = (Vec::new(), Vec::new());
    while t0.elapsed() < Duration::from_secs(8) {
        let stored = svc.state()["Upload"][0]["StoredSlices"]
            .as_u64()
            .unwrap_or(0);
        while (stored_at.len() as u64) < stored {
            stored_at.push(Instant::now());
        }
        let r = backend.request("GET", &own_link, &[], "");
        assert!(
            r.status == 200 || r.status == 404,
            "{}: {}",
            r.status,
            r.body
        );
        let listed = if r.status == 200 {
            parse_playlist(&r.body).0.len()
        } else {
            0
        };
        while listed_at.len() < listed {
            listed_at.push(Instant::now());
        }
        sleep(Duration::from_millis(100));
    }
    assert!(
        stored_at.len() >= 2,
        "slices stored 8 s in: {}",
        stored_at.len()
    );
    let tampered = own_link.replace("sign=", "sign=0");
    assert_eq!(backend.request("GET", &tampered, &[], "").status, 403);
    let old = now() - 1;
    let sign = hmac_hex(TICKEY, &format!("live\n{APP}\n{CLASS}\n{task}\n{old}"));
    let expired = format!("/live/{APP}/{CLASS}/{task}.m3u8?expire_time={old}&sign={sign}");
    let r = backend.request("GET", &expired, &[], "");
    assert_eq!((r.status, r.body.as_str()), (403, "this link has expired"));
    for (i, at) in stored_at.iter().enumerate() {
        let listed = listed_at.get(i).copied().unwrap_or_else(Instant::now);
        let lag = listed.saturating_duration_since(*at);
        eprintln!("slice {} in the playlist {lag:?} after its upload", i + 1);
        assert!(
            lag <= Duration::from_secs(2),
            "slice {} listed {lag:?} after its upload",
            i + 1
        );
    }

    // 8 s in: the tasks API lists the class as recording, with its playlist.
    let tasks = backend.signed("tasks", &format!(r#"{{"class_id":{CLASS}}}"#));
    let listed = tasks["task_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["TaskId"] == task.as_str())
        .unwrap_or_else(|| panic!("{tasks}"))
        .clone();
    assert_eq!(listed["State"], "recording", "{tasks}");
    let playlist_path = path_of(listed["PlaylistUrl"].as_str().unwrap());
    let live = backend.request("GET", &playlist_path, &[], "");
    assert_eq!(live.status, 200, "{}", live.body);
    assert!(
        live.body.contains("#EXT-X-PLAYLIST-TYPE:EVENT"),
        "{}",
        live.body
    );
    let (segments, init_uri, ended) = parse_playlist(&live.body);
    assert!(!ended, "{}", live.body);
    assert!(segments.len() >= 2, "8 s in: {}", live.body);

    // Each segment decodes (after the init segment) and starts where the one
    // before ended, within a frame.
    let init = get_part(&backend, &playlist_path, &init_uri);
    let mut last_end: Option<f64> = None;
    for (i, (extinf, uri)) in segments.iter().enumerate() {
        let file = svc.dir.path().join(format!("seg{i}.mp4"));
        std::fs::write(
            &file,
            [init.clone(), get_part(&backend, &playlist_path, uri)].concat(),
        )
        .unwrap();
        let mut v = stream_times(&file, "v:0");
        v.sort_by(f64::total_cmp);
        assert!(
            !v.is_empty() && !stream_times(&file, "a:0").is_empty(),
            "segment {i} has picture and sound"
        );
        if let Some(end) = last_end {
            assert!(
                (v[0] - end).abs() < 1.5 / FPS,
                "segment {i} starts at {:.3} s, the one before ended at {end:.3} s",
                v[0]
            );
        }
        let span = v[v.len() - 1] - v[0] + 1.0 / FPS;
        assert!(
            (span - extinf).abs() < 1.5 / FPS,
            "segment {i}: EXTINF {extinf} s, frames span {span:.3} s"
        );
        last_end = Some(v[v.len() - 1] + 1.0 / FPS);
    }

    // About 80 playlist polls so far made each segment once and read the
    // storage listing at most about once a second.
    let m = backend.request("GET", "/metrics", &[], "").body;
    let counter = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {m}"))
    };
    let made = counter("txcr_live_segments_total");
    assert_eq!(made as usize, listed_at.len().max(segments.len()), "{m}");
    assert!(counter("txcr_live_listings_total") <= 12, "{m}");

    // The page, opened while the class runs, plays it (hls.js in Chromium).
    let sign = hmac_hex(TICKEY, &format!("play\n{APP}\n{CLASS}\n{expire}"));
    let page_url = format!(
        "http://127.0.0.1:{}/play?sdkappid={APP}&class_id={CLASS}&expire_time={expire}&sign={sign}",
        backend.port
    );
    let page = backend.request("GET", &path_of(&page_url), &[], "");
    assert!(
        page.body.contains("data-live-since=") && page.body.contains("hls.light.min.js"),
        "{}",
        page.body
    );
    // Under headless Chromium's virtual time the clock moves little (as for
    // the MP4 page), and the dump may come before the decoder has its first
    // frames (virtual time does not wait for them; with 8 s of it a third
    // of openings came too early, with 20 s none of 6): playing and past
    // where it started, on one of five openings.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let video = chromium_video_within(&format!("{page_url}&autoplay=1"), 20_000);
        let time: f64 = video.attr("data-time").parse().unwrap_or(0.0);
        assert!(video.attr("data-hls-error").is_empty(), "{video:?}");
        if video.attr("data-state") == "playing" && time > 0.0 {
            eprintln!("live page playing on opening {}", seen.len() + 1);
            break;
        }
        seen.push(video);
        assert!(seen.len() < 5, "live, never playing: {seen:?}");
    }

    // After StopRecord and the splice: the same playlist, ended, as long as
    // the MP4 within a frame per slice.
    svc.cmd("StopRecord", "");
    backend.wait_task(CLASS, &task, "done", Duration::from_secs(90));
    // (The listing is read at most once a second: poll, as a player does.)
    let t1 = Instant::now();
    let segments = loop {
        let done = backend.request("GET", &playlist_path, &[], "");
        let (segments, _, ended) = parse_playlist(&done.body);
        if ended {
            break segments;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(3),
            "not ended: {}",
            done.body
        );
        sleep(Duration::from_millis(250));
    };
    let q = backend.query(&format!(r#"{{"class_id":{CLASS}}}"#));
    let mp4_ms = q["record_info_list"][0]["VideoOutputDuration"]
        .as_f64()
        .unwrap_or_else(|| panic!("{q}"));
    let total: f64 = segments.iter().map(|(d, _)| d).sum();
    assert!(
        (total - mp4_ms / 1000.0).abs() <= segments.len() as f64 / FPS + 0.001,
        "playlist {total:.3} s in {} segments, MP4 {mp4_ms} ms",
        segments.len()
    );
    let tasks: Value = backend.signed("tasks", &format!(r#"{{"class_id":{CLASS}}}"#));
    assert!(
        tasks["task_list"][0].get("PlaylistUrl").is_none(),
        "{tasks}"
    );

    // A backend restarted on the same storage lists the stored segments
    // (their lengths read back) without making any again.
    let dir = backend.kill9();
    let backend = Backend::start_in(dir, &s3, "school", &[]);
    let again = backend.request("GET", &playlist_path, &[], "");
    assert_eq!(again.status, 200, "{}", again.body);
    let (after_restart, _, ended) = parse_playlist(&again.body);
    assert!(ended, "{}", again.body);
    assert_eq!(after_restart, segments);
    let m = backend.request("GET", "/metrics", &[], "").body;
    assert!(m.contains("txcr_live_segments_total 0\n"), "{m}");

    // Live segments go `live_keep` after the splice (here 1.8 s): a segment
    // link then answers 404 (gone from storage), and the playlist too (the
    // segments are not made again from the slices); the MP4 stays.
    let dir = backend.kill9();
    let backend = Backend::start_in(dir, &s3, "school", &[("TXCR_LIVE_KEEP_HOURS", "0.0005")]);
    let first_segment = &segments[0].1;
    let t2 = Instant::now();
    loop {
        let dir = &playlist_path[..playlist_path.rfind('/').unwrap() + 1];
        let r = backend.request("GET", &format!("{dir}{first_segment}"), &[], "");
        if r.status == 404 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            t2.elapsed() < Duration::from_secs(15),
            "live segments never deleted"
        );
        sleep(Duration::from_millis(250));
    }
    let gone = backend.request("GET", &playlist_path, &[], "");
    assert_eq!(gone.status, 404, "{}", gone.body);
    let m = backend.request("GET", "/metrics", &[], "").body;
    assert!(m.contains("txcr_live_segments_total 0\n"), "{m}");
    let q = backend.query(&format!(r#"{{"class_id":{CLASS}}}"#));
    let media = path_of(q["record_info_list"][0]["VideoOutputUrl"].as_str().unwrap());
    assert_eq!(
        backend
            .request("GET", &media, &[("Range", "bytes=0-99")], "")
            .status,
        206
    );
}
