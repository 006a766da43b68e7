//! Slices reach a real S3-compatible server while the class is recorded, and
//! survive the service being killed.

use crate::util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::s3::S3;
use util::*;

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn upload_entry(svc: &Svc) -> Value {
    svc.state()["Upload"][0].clone()
}

fn wait_uploaded(svc: &Svc) -> Value {
    wait_uploaded_within(svc, Duration::from_secs(30))
}

/// The first upload entry once it is uploaded, or when `within` is over.
fn wait_uploaded_within(svc: &Svc, within: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let u = upload_entry(svc);
        if u["State"] == "uploaded" || t0.elapsed() > within {
            return u;
        }
        sleep(Duration::from_millis(200));
    }
}

#[test]
fn slices_upload_while_recording_and_arrive_byte_for_byte() {
    let s3 = S3::start();
    let env = s3.env("school/rec");
    let svc = Svc::start_env(&[], &env_refs(&env));
    svc.init("teacher");
    let r = svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":42,"DstPath":"up.flv"}"#,
    );
    assert_eq!(r, json!({}));
    sleep(Duration::from_millis(4800));
    // Uploads happen during the class, not after it.
    let during = upload_entry(&svc);
    assert_eq!(during["IsCurrentRecoding"], true, "{during}");
    assert!(
        during["Duration"].as_u64().unwrap() >= 2,
        "a slice is already stored: {during}"
    );
    assert!(
        matches!(during["State"].as_str().unwrap(), "wait" | "uploading"),
        "{during}"
    );
    svc.cmd("StopRecord", "");
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();
    let done = wait_uploaded(&svc);
    assert_eq!(done["State"], "uploaded", "{done}");
    assert_eq!(done["IsCurrentRecoding"], false);
    assert_eq!(done["Id"], task.as_str());
    assert_eq!(done["Duration"], done["Total"]);

    let local = slices(&svc.state());
    assert_eq!(local.len(), 3);
    let prefix = format!("school/rec/1400000000/42/{task}/");
    let keys = s3.list(&prefix);
    let want: Vec<String> = ["0001.flv", "0002.flv", "0003.flv", "manifest.json"]
        .iter()
        .map(|k| format!("{prefix}{k}"))
        .collect();
    assert_eq!(keys, want);
    for (i, f) in local.iter().enumerate() {
        assert_eq!(s3.get(&keys[i]), std::fs::read(f).unwrap(), "{}", keys[i]);
    }
    let manifest: Value = serde_json::from_slice(&s3.get(&keys[3])).unwrap();
    assert_eq!(manifest["ClassId"], 42);
    assert_eq!(manifest["UserId"], "teacher");
    assert_eq!(manifest["Slices"].as_array().unwrap().len(), 3);
}

#[test]
fn a_service_killed_mid_recording_uploads_everything_after_restart() {
    let s3 = S3::start();
    let env = s3.env("");
    let svc = Svc::start_env(&[], &env_refs(&env));
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":9,"DstPath":"crash.flv"}"#,
    );
    sleep(Duration::from_millis(3300));
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();
    let dir = svc.kill9();
    let torn = dir.path().join("rec/crash_0002.flv");
    assert!(torn.exists(), "the slice being written is on disk");

    let svc = Svc::start_in(dir, &[], &env_refs(&env));
    let recovered = upload_entry(&svc);
    assert_eq!(recovered["Id"], task.as_str(), "{recovered}");
    assert_eq!(recovered["IsCurrentRecoding"], false);
    let done = wait_uploaded(&svc);
    assert_eq!(done["State"], "uploaded", "{done}");

    let keys = s3.list(&format!("1400000000/9/{task}/"));
    assert_eq!(
        keys.len(),
        3,
        "two slices and the manifest, each once: {keys:?}"
    );
    let repaired = std::fs::read(&torn).unwrap();
    assert_eq!(
        txcr_mux::valid_prefix_len(&repaired).unwrap(),
        repaired.len(),
        "cut at the last complete tag"
    );
    let tmp = tempfile::tempdir().unwrap();
    for key in keys.iter().filter(|k| k.ends_with(".flv")) {
        let local = tmp.path().join(key.rsplit('/').next().unwrap());
        std::fs::write(&local, s3.get(key)).unwrap();
        assert_eq!(decode_errors(&local), "", "{key} plays");
    }
    assert_eq!(s3.get(&keys[1]), repaired);
}

#[test]
fn a_storage_outage_mid_class_delays_uploads_but_loses_nothing() {
    let mut s3 = S3::start();
    let env = s3.env("");
    let svc = Svc::start_env(&[], &env_refs(&env));
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":5,"DstPath":"outage.flv"}"#,
    );
    sleep(Duration::from_millis(500));
    s3.stop();
    sleep(Duration::from_millis(4500));
    let during = upload_entry(&svc);
    assert!(
        matches!(during["State"].as_str().unwrap(), "wait" | "uploading"),
        "{during}"
    );
    assert_eq!(
        during["Duration"], 0,
        "nothing stored during the outage: {during}"
    );
    assert_eq!(
        svc.state()["Record"]["State"],
        "Recording",
        "recording goes on"
    );
    s3.restart();
    sleep(Duration::from_millis(1000));
    svc.cmd("StopRecord", "");
    let done = wait_uploaded(&svc);
    assert_eq!(done["State"], "uploaded", "{done}");
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();
    let local = slices(&svc.state());
    let keys = s3.list(&format!("1400000000/5/{task}/"));
    assert_eq!(keys.len(), local.len() + 1, "{keys:?}");
    for (k, f) in keys.iter().zip(&local) {
        assert_eq!(s3.get(k), std::fs::read(f).unwrap(), "{k}");
    }
}

/// Poll GetState for `d`: the last upload entry and every `LastError` seen;
/// fails if the recording stopped or its frames stopped coming.
fn watch(svc: &Svc, d: Duration, errors: &mut Vec<String>) -> Value {
    let t0 = Instant::now();
    let mut frames = svc.state()["Record"]["Frames"].as_u64().unwrap();
    let mut last_new_frame = Instant::now();
    loop {
        let st = svc.state();
        assert_eq!(
            st["Record"]["State"], "Recording",
            "recording goes on: {st}"
        );
        let f = st["Record"]["Frames"].as_u64().unwrap();
        if f > frames {
            (frames, last_new_frame) = (f, Instant::now());
        }
        assert!(
            // Generous for a loaded CI machine; waiting on storage would
            // stall it for the whole fault.
            last_new_frame.elapsed() < Duration::from_secs(5),
            "frames stopped coming while storage misbehaved: {st}"
        );
        if let Some(e) = st["Upload"][0]["LastError"].as_str() {
            if !errors.iter().any(|s| s == e) {
                errors.push(e.to_owned());
            }
        }
        if t0.elapsed() >= d {
            return st["Upload"][0].clone();
        }
        sleep(Duration::from_millis(100));
    }
}

#[test]
fn storage_behind_a_faulty_network_loses_nothing_and_getstate_says_why() {
    use util::proxy::{Fault, FaultProxy};
    let s3 = S3::start();
    let proxy = FaultProxy::start(&s3.endpoint);
    let env = s3.env_via(&proxy.endpoint, "");
    let svc = Svc::start_env(&[], &env_refs(&env));
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":8,"DstPath":"faults.flv"}"#,
    );
    let mut errors = Vec::new();

    // Every request held 2 s: uploads lag, recording does not wait.
    proxy.set(Fault::Delay(Duration::from_secs(2)));
    watch(&svc, Duration::from_secs(7), &mut errors);

    // Connections reset in the middle of each request body.
    proxy.set(Fault::ResetMidBody(1000));
    watch(&svc, Duration::from_secs(6), &mut errors);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("reset") || e.contains("closed")),
        "GetState named the reset connections: {errors:?}"
    );

    // A minute of 503 Slow Down: nothing is stored, GetState says so.
    proxy.set(Fault::Unavailable);
    sleep(Duration::from_secs(3)); // requests in flight finish
    let before = watch(&svc, Duration::from_secs(1), &mut errors);
    let during = watch(&svc, Duration::from_secs(57), &mut errors);
    assert_eq!(during["StoredSlices"], before["StoredSlices"], "{during}");
    assert!(
        during["Slices"].as_u64() > before["Slices"].as_u64(),
        "slices kept being made: {before} → {during}"
    );
    assert_eq!(during["State"], "wait", "{during}");
    assert!(during["LastError"].is_string(), "{during}");
    assert!(
        errors.iter().any(|e| e.contains("SlowDown")),
        "GetState named the 503s: {errors:?}"
    );

    proxy.set(Fault::Pass);
    sleep(Duration::from_secs(1));
    svc.cmd("StopRecord", "");
    let done = wait_uploaded_within(&svc, Duration::from_secs(120));
    assert_eq!(done["State"], "uploaded", "{done}");
    assert!(done.get("LastError").is_none(), "{done}");
    let [requests, delayed, reset, refused] = proxy.counts().get();
    assert!(
        delayed > 0 && reset > 0 && refused > 0,
        "each fault hit: {requests} requests, {delayed} delayed, {reset} reset, {refused} refused"
    );

    // Every slice once, byte for byte, and the manifest.
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();
    let local = slices(&svc.state());
    let keys = s3.list(&format!("1400000000/8/{task}/"));
    let mut want: Vec<String> = (1..=local.len())
        .map(|i| format!("1400000000/8/{task}/{i:04}.flv"))
        .collect();
    want.push(format!("1400000000/8/{task}/manifest.json"));
    assert_eq!(keys, want);
    for (k, f) in keys.iter().zip(&local) {
        assert_eq!(s3.get(k), std::fs::read(f).unwrap(), "{k}");
    }
    eprintln!("faults: {requests} requests, {delayed} delayed, {reset} reset, {refused} refused; errors seen: {errors:?}");
}

/// How many requests the proxy saw whose first line starts with `start` and
/// holds `with`.
#[cfg(target_os = "linux")]
fn seen(proxy: &util::proxy::FaultProxy, start: &str, with: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with(start) && r.contains(with))
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn a_service_killed_mid_part_resumes_its_multipart_upload_from_the_stored_parts() {
    use util::proxy::{Fault, FaultProxy};
    use util::x11::{XClient, Xvfb};
    // Slices of several 5 MiB parts in seconds: a stock X client (ffplay)
    // showing noise, recorded at 40 Mbit/s.
    let x = Xvfb::start(true);
    let _noise = XClient::start(
        &x.display,
        "ffplay",
        &[
            "-loglevel",
            "error",
            "-an",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=s=960x540:r=15,geq=lum='random(1)*255':cb=128:cr=128",
        ],
    );
    let s3 = S3::start();
    let proxy = FaultProxy::start(&s3.endpoint);
    // Each request held 1.5 s, so a part is in flight long enough to be cut.
    proxy.set(Fault::Delay(Duration::from_millis(1500)));
    let mut env = s3.env_via(&proxy.endpoint, "");
    env.extend(
        [
            ("DISPLAY", x.display.as_str()),
            ("TXCR_MULTIPART_THRESHOLD_MB", "5"),
            ("TXCR_PART_SIZE_MB", "5"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let args = ["--capture", "x11"];
    let svc = Svc::start_env(&args, &env_refs(&env));
    svc.init("teacher");
    let body = r#"{"AppProc":"ffplay","VideoBps":40000000,"SliceTime":3,"ClassId":12,"EnableAudio":false,"DstPath":"big.flv"}"#;
    let t0 = Instant::now();
    while svc.cmd("StartRecord", body) != json!({}) {
        assert!(t0.elapsed() < Duration::from_secs(10), "ffplay's window");
        sleep(Duration::from_millis(100));
    }
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();

    // Kill -9 while the first slice's second part is on its way.
    let part2 = "partNumber=2&";
    let t0 = Instant::now();
    let cut = loop {
        if let Some(r) = proxy.requests().iter().find(|r| r.contains(part2)) {
            break r.clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "a second part was sent: {:?}",
            proxy.requests()
        );
        sleep(Duration::from_millis(20));
    };
    let dir = svc.kill9();
    proxy.set(Fault::Pass);
    // "PUT /classes/<key>?partNumber=2&uploadId=… HTTP/1.1" → "/classes/<key>"
    let path = cut
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.split('?').next())
        .unwrap()
        .to_owned();
    let put = format!("PUT {path}?");
    assert_eq!(seen(&proxy, &put, "partNumber=1&"), 1);

    let svc = Svc::start_in(dir, &args, &env_refs(&env));
    let done = wait_uploaded_within(&svc, Duration::from_secs(120));
    assert_eq!(done["State"], "uploaded", "{done}");
    // The same upload went on: begun once, part 1 sent once, then completed.
    let log = proxy.requests();
    assert_eq!(
        seen(&proxy, &format!("POST {path}?uploads"), ""),
        1,
        "{log:?}"
    );
    assert_eq!(seen(&proxy, &put, "partNumber=1&"), 1, "{log:?}");
    assert!(seen(&proxy, &put, "partNumber=2&") >= 1, "{log:?}");
    assert!(
        seen(&proxy, &format!("POST {path}?uploadId="), "") >= 1,
        "completed: {log:?}"
    );

    let key = path.trim_start_matches("/classes/").to_owned();
    let local = dir_slice(&svc, &key);
    let stored = s3.get(&key);
    assert!(
        stored.len() > 10 << 20,
        "several parts: {} bytes",
        stored.len()
    );
    assert_eq!(
        stored,
        std::fs::read(&local).unwrap(),
        "{key} byte for byte"
    );
    let keys = s3.list(&format!("1400000000/12/{task}/"));
    assert!(
        keys.iter().any(|k| k.ends_with("manifest.json")),
        "{keys:?}"
    );
}

/// The local file of the slice stored at `key` (`…/0001.flv` is the task's
/// first slice).
#[cfg(target_os = "linux")]
fn dir_slice(svc: &Svc, key: &str) -> std::path::PathBuf {
    let seq: usize = key
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".flv"))
        .and_then(|n| n.parse().ok())
        .unwrap();
    svc.root.join(format!("big_{seq:04}.flv"))
}
