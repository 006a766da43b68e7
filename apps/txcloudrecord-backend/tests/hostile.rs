//! Slices that are not what their manifest says, at the backend: a real class
//! is recorded and uploaded to a real S3 server, then copied into tasks whose
//! slices are broken in one way each (the manifest's sizes and MD5s made to
//! match, so the splice itself must notice; or the manifest claiming 4 GiB,
//! or fewer bytes than stored; or a slice of another recording, whose picture
//! size differs). Each such task fails with a
//! reason naming the slice by number and object key (never a file of the
//! backend's own), the untouched class is spliced, and the backend serves on.

use crate::util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::{json, Value};
use util::backend::Backend;
use util::s3::S3;
use util::*;

/// An FLV header and its first back-pointer: a file with no tags at all.
const BARE_FLV: &[u8] = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";

/// Copy task `task` of class `class` as `id`, slice `seq` replaced by `bytes`
/// (its manifest entry's size and MD5 follow, its duration stays).
fn copy_with(s3: &S3, class: u64, task: &str, id: &str, seq: u64, bytes: &[u8]) {
    copy_claiming(s3, class, task, id, seq, bytes, bytes.len() as u64);
}

/// As [`copy_with`], the manifest claiming `claimed` bytes for the slice.
fn copy_claiming(s3: &S3, class: u64, task: &str, id: &str, seq: u64, bytes: &[u8], claimed: u64) {
    let prefix = format!("school/{APP}/{class}/{task}/");
    let mut m: Value = serde_json::from_slice(&s3.get(&format!("{prefix}manifest.json"))).unwrap();
    m["TaskId"] = json!(id);
    for s in m["Slices"].as_array_mut().unwrap() {
        let old = s["Key"].as_str().unwrap().to_owned();
        let new = old.replace(task, id);
        let body = if s["Seq"] == seq {
            s["Bytes"] = json!(claimed);
            s["Md5"] = json!(hex(&Md5::digest(bytes)));
            bytes.to_vec()
        } else {
            s3.get(&old)
        };
        s3.put(&new, body);
        s["Key"] = json!(new);
    }
    s3.put(
        &format!("school/{APP}/{class}/{id}/manifest.json"),
        m.to_string().into_bytes(),
    );
}

/// `flv` with every tag from the middle on stamped `shift_ms` later (or
/// earlier, clamped at 0): time jumping ahead or back inside a slice.
fn shifted(flv: &[u8], shift_ms: i64) -> Vec<u8> {
    let mut out = flv.to_vec();
    let mut at = 13; // header and the first back-pointer
    let mut tags = Vec::new();
    while at + 11 <= out.len() {
        let size = u32::from_be_bytes([0, out[at + 1], out[at + 2], out[at + 3]]) as usize;
        if at + 11 + size + 4 > out.len() {
            break;
        }
        tags.push(at);
        at += 11 + size + 4;
    }
    for &t in &tags[tags.len() / 2..] {
        let b = &mut out[t + 4..t + 8];
        let ts = u32::from_be_bytes([b[3], b[0], b[1], b[2]]) as i64;
        let new = (ts + shift_ms).clamp(0, u32::MAX as i64) as u32;
        let [hi, x, y, z] = new.to_be_bytes();
        b.copy_from_slice(&[x, y, z, hi]);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn slices_unlike_their_manifest_fail_their_task_by_name_and_nothing_else() {
    let s3 = S3::start();
    let env = s3.env("school");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let svc = Svc::start_env(&[], &env);
    svc.init("teacher1");
    let class = 4004;
    svc.cmd(
        "StartRecord",
        &format!(r#"{{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":{class},"DstPath":"h.flv"}}"#),
    );
    sleep(Duration::from_secs(5));
    svc.cmd("StopRecord", "");
    let task = svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned();
    let manifest = format!("school/{APP}/{class}/{task}/manifest.json");
    let t0 = Instant::now();
    while !s3
        .list(&format!("school/{APP}/{class}/"))
        .contains(&manifest)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the class is uploaded"
        );
        sleep(Duration::from_millis(100));
    }
    // A second recording of another size, for a slice whose codec
    // configuration does not match the rest of its task.
    svc.cmd(
        "StartRecord",
        &format!(r#"{{"Wnd":1,"Width":640,"Height":480,"SliceTime":2,"ClassId":{class},"DstPath":"h2.flv","EnableUpload":false}}"#),
    );
    sleep(Duration::from_secs(3));
    svc.cmd("StopRecord", "");
    let other = std::fs::read(
        svc.state()["Record"]["Slices"][0]
            .as_str()
            .expect("the second recording's first slice"),
    )
    .unwrap();
    let first = s3.get(&format!("school/{APP}/{class}/{task}/0001.flv"));
    // A slice of another picture size in the middle of the class.
    copy_with(&s3, class, &task, &format!("{task}-codec"), 2, &other);
    // A manifest claiming 4 GiB for a slice of a few kilobytes.
    let second = s3.get(&format!("school/{APP}/{class}/{task}/0002.flv"));
    copy_claiming(
        &s3,
        class,
        &task,
        &format!("{task}-huge"),
        2,
        &second,
        4 << 30,
    );
    // A manifest claiming fewer bytes than the object holds: the download
    // stops there.
    copy_claiming(&s3, class, &task, &format!("{task}-longer"), 1, &first, 100);
    // Time jumping three hours ahead in the middle of a slice, and back.
    copy_with(
        &s3,
        class,
        &task,
        &format!("{task}-ahead"),
        1,
        &shifted(&first, 3 * 3_600_000),
    );
    copy_with(
        &s3,
        class,
        &task,
        &format!("{task}-back"),
        2,
        &shifted(&second, -1_500),
    );
    // A valid header with no tags where 2 s of class should be.
    copy_with(&s3, class, &task, &format!("{task}-empty"), 2, BARE_FLV);
    // The first slice's header followed by garbage.
    let mut garbled = first[..13].to_vec();
    garbled.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    copy_with(&s3, class, &task, &format!("{task}-garbled"), 1, &garbled);
    // The first slice cut in the middle of a tag.
    copy_with(
        &s3,
        class,
        &task,
        &format!("{task}-torn"),
        1,
        &first[..first.len() / 2],
    );

    let backend = Backend::start(&s3, "school", &[]);
    let t0 = Instant::now();
    let tasks = loop {
        let a = backend.signed("tasks", &format!(r#"{{"class_id":{class}}}"#));
        let list = a["task_list"].as_array().cloned().unwrap_or_default();
        if list.len() == 9
            && list
                .iter()
                .all(|t| t["State"] == "done" || t["State"] == "failed")
        {
            break list;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{a}");
        sleep(Duration::from_millis(200));
    };
    let of = |suffix: &str| {
        let id = format!("{task}{suffix}");
        tasks
            .iter()
            .find(|t| t["TaskId"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in {tasks:?}"))
            .clone()
    };
    assert_eq!(
        of("")["State"],
        "done",
        "the class itself is spliced: {tasks:?}"
    );
    let local = backend.dir.path().to_string_lossy().into_owned();
    for (suffix, seq, says) in [
        ("-empty", 2, "holds 0 ms"),
        ("-garbled", 1, "corrupt"),
        ("-torn", 1, ""),
        ("-codec", 2, "codec"),
        ("-huge", 2, "expected 4294967296 bytes"),
        ("-longer", 1, "larger than the manifest's 100 bytes"),
        ("-ahead", 1, "its timestamps jump ahead"),
        ("-back", 2, "time goes backwards"),
    ] {
        let t = of(suffix);
        let why = t["Error"].as_str().unwrap_or_default();
        assert_eq!(t["State"], "failed", "{t}");
        let key = format!("school/{APP}/{class}/{task}{suffix}/{seq:04}.flv");
        assert!(
            why.contains(&format!("slice {seq} ({key})")),
            "names the slice: {why}"
        );
        assert!(why.contains(says), "{why}");
        assert!(
            !why.contains(&local) && !why.contains("/work/"),
            "no server-local path: {why}"
        );
    }
    // Still serving: the good class is listed by the query API.
    let q = backend.query(&format!(r#"{{"class_id":{class}}}"#));
    assert_eq!(q["total"], 1, "{q}");
    // The playback page plays the good one and says why the others are not
    // there, instead of an empty class.
    let expire = util::backend::now() + 600;
    let sign = txcr_auth::play_sign(
        util::backend::TICKEY,
        APP as i64,
        class as i64,
        expire as i64,
    );
    let page = backend.request(
        "GET",
        &format!("/play?sdkappid={APP}&class_id={class}&expire_time={expire}&sign={sign}"),
        &[],
        "",
    );
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<video").count(), 1, "{}", page.body);
    assert_eq!(
        page.body.matches(r#"data-state="failed""#).count(),
        8,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("could not be put together: slice 2"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("No recordings"), "{}", page.body);
}
