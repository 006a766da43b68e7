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
    let t0 = Instant::now();
    loop {
        let u = upload_entry(svc);
        if u["State"] == "uploaded" || t0.elapsed() > Duration::from_secs(30) {
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
