//! Deleting recordings, against a real S3 server: the signed `delete`
//! extension removes a class's objects and rows (its links stop working,
//! other classes stay), and `retention_days` removes a recording once its
//! class started that long ago, not before.

use crate::util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::backend::{now, Backend};
use util::s3::S3;
use util::*;

fn env_of(s3: &S3) -> Vec<(String, String)> {
    s3.env("school")
}

/// Record `secs` of class `class` (2 s slices); its task id.
fn record(svc: &Svc, class: u64, secs: u64) -> String {
    let r = svc.cmd(
        "StartRecord",
        &format!(r#"{{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":{class},"DstPath":"r{class}.flv"}}"#),
    );
    assert_eq!(r, json!({}));
    sleep(Duration::from_secs(secs));
    svc.cmd("StopRecord", "");
    svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned()
}

/// The class's one record, once spliced.
fn spliced(backend: &Backend, class: u64) -> Value {
    let t0 = Instant::now();
    loop {
        let q = backend.query(&format!(r#"{{"class_id":{class}}}"#));
        if q["total"] == 1 {
            return q["record_info_list"][0].clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{q}");
        sleep(Duration::from_millis(200));
    }
}

fn media_status(backend: &Backend, rec: &Value) -> u16 {
    let url = rec["VideoOutputUrl"].as_str().unwrap();
    let rest = url.split_once("://").unwrap().1;
    let path = &rest[rest.find('/').unwrap()..];
    raw_bytes(backend.port, "GET", path, &[("Host", "x")], b"").0
}

#[test]
fn the_signed_delete_removes_a_class_whole_and_leaves_the_others() {
    let s3 = S3::start();
    let env = env_of(&s3);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let svc = Svc::start_env(&[], &env);
    svc.init("teacher1");
    let gone = record(&svc, 6006, 3);
    let kept = record(&svc, 6007, 3);
    let backend = Backend::start(&s3, "school", &[]);
    let rec_gone = spliced(&backend, 6006);
    let rec_kept = spliced(&backend, 6007);
    assert_eq!(media_status(&backend, &rec_gone), 200);

    // Not without the TicKey's signature, and not without a class.
    let expire = now() + 300;
    let bad = backend
        .post(
            &format!("/paas/v1/localrecord/delete?sdkappid={APP}&sign=00&expire_time={expire}"),
            r#"{"class_id":6006}"#,
        )
        .json();
    assert_eq!(bad["error_code"], 10003, "{bad}");
    assert_eq!(backend.signed("delete", "{}")["error_code"], 10001);
    assert!(!s3.list(&format!("school/{APP}/6006/")).is_empty());

    let a = backend.signed("delete", r#"{"class_id":6006}"#);
    assert_eq!(a["error_code"], 0, "{a}");
    assert_eq!(a["deleted_task_list"], json!([gone]));
    assert!(a["deleted_objects"].as_u64().unwrap() >= 3, "{a}");
    assert_eq!(
        s3.list(&format!("school/{APP}/6006/")),
        Vec::<String>::new()
    );
    assert_eq!(backend.query(r#"{"class_id":6006}"#)["total"], 0);
    assert_eq!(
        backend.signed("tasks", r#"{"class_id":6006}"#)["task_list"],
        json!([])
    );
    assert_eq!(
        media_status(&backend, &rec_gone),
        404,
        "its link stops working"
    );
    // A scan of the bucket does not bring it back.
    sleep(Duration::from_secs(1));
    assert_eq!(backend.query(r#"{"class_id":6006}"#)["total"], 0);

    // The other class is whole.
    assert_eq!(backend.query(r#"{"class_id":6007}"#)["total"], 1);
    assert!(s3
        .list(&format!("school/{APP}/6007/{kept}/"))
        .iter()
        .any(|k| k.ends_with("record.mp4")));
    assert_eq!(media_status(&backend, &rec_kept), 200);
    // Deleting again finds nothing, and says so.
    let again = backend.signed("delete", r#"{"class_id":6006}"#);
    assert_eq!(
        (
            again["error_code"].clone(),
            again["deleted_objects"].clone()
        ),
        (json!(0), json!(0))
    );
}

#[test]
fn past_retention_a_recording_is_deleted_and_not_before() {
    // 0.0002 days: 17.28 s after the class started.
    let retention = Duration::from_secs_f64(0.0002 * 86_400.0);
    let s3 = S3::start();
    let env = env_of(&s3);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let svc = Svc::start_env(&[], &env);
    svc.init("teacher1");
    let backend = Backend::start(&s3, "school", &[("TXCR_RETENTION_DAYS", "0.0002")]);
    let started = Instant::now();
    let task = record(&svc, 6008, 3);
    let rec = spliced(&backend, 6008);
    let prefix = format!("school/{APP}/6008/{task}/");
    let gone_at = loop {
        let objects = s3.list(&prefix);
        let total = backend.query(r#"{"class_id":6008}"#)["total"].clone();
        if objects.is_empty() && total == 0 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < retention + Duration::from_secs(30),
            "still there: {total} records, {objects:?}"
        );
        sleep(Duration::from_millis(250));
    };
    // The class's start time is stored in whole seconds: allow one.
    assert!(
        gone_at + Duration::from_secs(1) >= retention,
        "deleted after {gone_at:?}, before the retention of {retention:?}"
    );
    assert_eq!(media_status(&backend, &rec), 404);
}
