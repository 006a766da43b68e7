//! The whole path: the local service records a class and uploads its slices
//! to a real S3-compatible server; the backend splices them into one MP4,
//! calls the school's webhook (which fails at first), answers the signed query
//! API and serves the recording to a playback page.

use crate::util;

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use util::backend::{now, Backend, Receiver, TICKEY};
use util::s3::S3;
use util::*;

pub(crate) fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub(crate) fn hmac_hex(key: &str, msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Record `secs` seconds of class `class` with 2 s slices; returns the task id.
fn record_class(svc: &Svc, class: u64, secs: u64) -> String {
    svc.init("teacher1");
    let r = svc.cmd(
        "StartRecord",
        &format!(r#"{{"Wnd":1,"Width":320,"Height":240,"SliceTime":2,"ClassId":{class},"DstPath":"c{class}.flv"}}"#),
    );
    assert_eq!(r, json!({}));
    sleep(Duration::from_millis(secs * 1000));
    svc.cmd("StopRecord", "");
    svc.state()["Record"]["TaskId"].as_str().unwrap().to_owned()
}

pub(crate) fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

#[test]
fn a_class_becomes_one_mp4_a_callback_a_query_result_and_a_playable_page() {
    let s3 = S3::start();
    let receiver = Receiver::start(2);
    let backend = Backend::start(&s3, "school", &[]);

    // Registering needs the admin's UserSig.
    let teacher_sig = txcr_auth::gen_user_sig(APP, KEY, "teacher1", 3600, now());
    let refused = backend.post(
        &format!("/v4/ilvb_edu/local_record?sdkappid={APP}&identifier=teacher1&usersig={teacher_sig}&random=1&contenttype=json"),
        &format!(r#"{{"Action":"RegisteredCallback","CallbackUrl":"{}"}}"#, receiver.url()),
    );
    assert_eq!(
        refused.json()["Response"]["Error"]["Code"],
        "AuthFailure",
        "{}",
        refused.body
    );
    let ok = backend.register_callback(&receiver.url());
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.json()["Response"]["RequestId"].is_string(),
        "{}",
        ok.body
    );

    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    let task = record_class(&svc, 1001, 5);
    let stopped = Instant::now();

    // The callback arrives after two refused deliveries, once, signed.
    let deliveries = receiver.wait_success(Duration::from_secs(90));
    let ok: Vec<_> = deliveries.iter().filter(|d| d.answered == 200).collect();
    assert_eq!(ok.len(), 1, "{deliveries:?}");
    eprintln!(
        "StopRecord -> callback received: {:.2} s",
        stopped.elapsed().as_secs_f64()
    );
    assert_eq!(deliveries.len(), 3, "two failures, then success");
    let d = ok[0];
    let ts = d.header("X-TXCR-Timestamp").unwrap();
    assert_eq!(
        d.header("X-TXCR-Signature").unwrap(),
        hmac_hex(KEY, &format!("{ts}.{}", d.body)),
        "webhook signature"
    );
    // The Standard Webhooks headers, checked by that project's own library
    // with the secret as a receiver configures it; one id for every retry.
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let v = d
            .header(name)
            .unwrap_or_else(|| panic!("no {name}: {}", d.head));
        headers.insert(name, v.parse().unwrap());
    }
    let secret = txcr_auth::standard_webhook_secret(KEY);
    let hook = standardwebhooks::Webhook::new(&secret).unwrap();
    hook.verify(d.body.as_bytes(), &headers)
        .expect("a Standard Webhooks receiver accepts the delivery");
    let mut tampered = d.body.clone();
    tampered.push(' ');
    assert!(hook.verify(tampered.as_bytes(), &headers).is_err());
    let ids: Vec<_> = deliveries.iter().map(|d| d.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| id.is_some() && *id == ids[0]),
        "one webhook-id on every attempt: {ids:?}"
    );
    let cb: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(cb["SdkAppId"], APP);
    assert_eq!(cb["RoomId"], 1001);
    assert_eq!(cb["UserId"], "teacher1");
    assert_eq!(cb["TaskId"], task.as_str());
    assert_eq!(cb["VideoOutputType"], "mp4");
    let start = cb["StartTime"].as_u64().unwrap();
    assert!(start.abs_diff(now()) < 120, "{cb}");
    assert!(cb["SplicTime"].as_u64().unwrap() >= start);
    assert!(cb["VideoOutputId"].as_str().unwrap().contains(&task));
    let size = cb["VideoOutputSize"].as_u64().unwrap();
    let dur_ms = cb["VideoOutputDuration"].as_u64().unwrap();
    assert!((4500..6500).contains(&dur_ms), "{cb}");

    // The URL plays: the whole file, stored beside the slices.
    let url = cb["VideoOutputUrl"].as_str().unwrap();
    let (status, _, mp4) = raw_bytes(backend.port, "GET", &path_of(url), &[("Host", "x")], b"");
    assert_eq!(status, 200);
    assert_eq!(mp4.len() as u64, size);
    let key = format!("school/{APP}/1001/{task}/record.mp4");
    assert_eq!(s3.get(&key), mp4, "the MP4 is stored in the bucket");
    let file = svc.dir.path().join("out.mp4");
    std::fs::write(&file, &mp4).unwrap();
    let (codec, w, h) = probe_stream(&file);
    assert_eq!((codec.as_str(), w, h), ("h264", 320, 240));
    assert_eq!(decode_errors(&file), "", "the MP4 decodes cleanly");
    let probed = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probed.stdout);
    assert!(text.contains("aac"), "{text}");
    let secs: f64 = text.lines().last().unwrap().trim().parse().unwrap();
    assert!(
        (secs * 1000.0 - dur_ms as f64).abs() < 100.0,
        "{secs} vs {dur_ms}"
    );

    // Range requests, and links that are not ours.
    let p = path_of(url);
    let (status, head, part) = raw_bytes(
        backend.port,
        "GET",
        &p,
        &[("Host", "x"), ("Range", "bytes=100-199")],
        b"",
    );
    assert_eq!(status, 206);
    assert_eq!(part, mp4[100..200]);
    assert!(head
        .to_ascii_lowercase()
        .contains(&format!("content-range: bytes 100-199/{size}")));
    let tampered = p.replace("sign=", "sign=0");
    assert_eq!(backend.request("GET", &tampered, &[], "").status, 403);

    // The signed query API.
    let q = backend.query(r#"{"class_id":1001}"#);
    assert_eq!(q["error_code"], 0, "{q}");
    assert_eq!(q["total"], 1);
    assert_eq!(q["finish"], true);
    let item = &q["record_info_list"][0];
    for k in [
        "RoomId",
        "UserId",
        "TaskId",
        "StartTime",
        "SplicTime",
        "VideoOutputType",
        "VideoOutputId",
        "VideoOutputSize",
        "VideoOutputDuration",
    ] {
        assert_eq!(item[k], cb[k], "{k}");
    }
    assert!(item.get("SdkAppId").is_none());
    assert_eq!(
        backend.query(r#"{"class_id":1001,"user_id":"nobody"}"#)["total"],
        0
    );
    assert_eq!(
        backend.query(&format!(r#"{{"class_id":1001,"task_id":"{task}"}}"#))["total"],
        1
    );
    let page2 = backend.query(r#"{"class_id":1001,"Index":1,"size":1}"#);
    assert_eq!(page2["record_info_list"], json!([]));
    assert_eq!(page2["finish"], true);
    assert_eq!(backend.query(r#"{"user_id":"x"}"#)["error_code"], 10001);
    let expire = now() + 60;
    let bad = backend.post(
        &format!(
            "/paas/v1/localrecord/query?sdkappid={APP}&sign=00{}&expire_time={expire}&random=1",
            &txcr_auth::query_sign(TICKEY, expire)[2..]
        ),
        r#"{"class_id":1001}"#,
    );
    assert_eq!(bad.json()["error_code"], 10003);
    let old = now() - 10;
    let expired = backend.post(
        &format!(
            "/paas/v1/localrecord/query?sdkappid={APP}&sign={}&expire_time={old}&random=1",
            txcr_auth::query_sign(TICKEY, old)
        ),
        r#"{"class_id":1001}"#,
    );
    assert_eq!(expired.json()["error_code"], 10004);

    // The playback page, by signed link only.
    let expire = now() + 600;
    let sign = hmac_hex(TICKEY, &format!("play\n{APP}\n1001\n{expire}"));
    let page = backend.request(
        "GET",
        &format!("/play?sdkappid={APP}&class_id=1001&expire_time={expire}&sign={sign}"),
        &[],
        "",
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<video"), "{}", page.body);
    let wrong = backend.request(
        "GET",
        &format!("/play?sdkappid={APP}&class_id=1002&expire_time={expire}&sign={sign}"),
        &[],
        "",
    );
    assert_eq!(wrong.status, 403);
    let played = chromium_plays(&format!(
        "http://127.0.0.1:{}/play?sdkappid={APP}&class_id=1001&expire_time={expire}&sign={sign}&autoplay=1",
        backend.port
    ));
    assert!(
        played.0 == "playing" || played.0 == "ended",
        "video state {played:?}"
    );
    assert!(played.1 > 0.0, "currentTime advanced: {played:?}");

    // No second delivery turns up later.
    sleep(Duration::from_secs(2));
    assert_eq!(
        receiver
            .deliveries()
            .iter()
            .filter(|d| d.answered == 200)
            .count(),
        1
    );

    // Health and metrics.
    assert_eq!(backend.request("GET", "/healthz", &[], "").status, 200);
    let m = backend.request("GET", "/metrics", &[], "").body;
    assert!(
        m.contains("txcr_splice_jobs_total{result=\"done\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("txcr_callbacks_total{result=\"retry\"} 2"),
        "{m}"
    );
}

/// Open the page in headless Chromium; the first video's (state, currentTime).
pub(crate) fn chromium_plays(url: &str) -> (String, f64) {
    let video = chromium_video(url);
    let time = video.attr("data-time").parse().unwrap_or(0.0);
    (video.attr("data-state"), time)
}

/// The first `<video>` element of the page at `url` as headless Chromium
/// left it after 8 s of (virtual) time.
#[derive(Debug)]
pub(crate) struct Video(String);

impl Video {
    /// The value of the attribute `name` (empty when it has none).
    pub(crate) fn attr(&self, name: &str) -> String {
        self.0
            .split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }
}

pub(crate) fn chromium_video(url: &str) -> Video {
    chromium_video_within(url, 8000)
}

/// The page's first `<video>` after `virtual_ms` of the browser's virtual time.
pub(crate) fn chromium_video_within(url: &str, virtual_ms: u32) -> Video {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(util::browser::browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
        ])
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("the browser runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let video = dom
        .split("<video")
        .nth(1)
        .unwrap_or_else(|| panic!("no video in {dom}"));
    Video(video.split('>').next().unwrap_or_default().to_owned())
}

#[test]
fn a_splice_survives_sigterm_and_sigkill_of_the_backend_and_the_callback_waits_for_its_receiver() {
    let s3 = S3::start();
    // Nothing listens on the callback port until late in the test.
    let hook_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hold = [
        ("TXCR_TEST_SPLICE_HOLD_MS", "60000"),
        ("TXCR_JOB_LEASE_SECS", "2"),
        ("TXCR_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let mut a = Backend::start(&s3, "school", &hold);
    let reg = a.register_callback(&format!("http://127.0.0.1:{hook_port}/hook"));
    assert_eq!(reg.status, 200, "{}", reg.body);

    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    let task = record_class(&svc, 2002, 3);

    // SIGTERM mid-splice: the job is released within the grace time.
    a.wait_task(2002, &task, "running", Duration::from_secs(60));
    let status = a.terminate(Duration::from_secs(15)).expect("backend stops");
    assert!(status.success(), "{status:?}");
    let dir = a.kill9();

    // The next instance takes it up at once; SIGKILL it mid-splice.
    let b = Backend::start_in(dir, &s3, "school", &hold);
    b.wait_task(2002, &task, "running", Duration::from_secs(30));
    let dir = b.kill9();

    // The third finishes it once its predecessor's lease runs out.
    let c = Backend::start_in(dir, &s3, "school", &[("TXCR_JOB_LEASE_SECS", "2")]);
    c.wait_task(2002, &task, "done", Duration::from_secs(60));
    let q = c.query(r#"{"class_id":2002}"#);
    assert_eq!(q["total"], 1, "{q}");

    // The receiver comes up late; the callback arrives, once.
    sleep(Duration::from_secs(2));
    let receiver = Receiver::start_on(hook_port, 0);
    let got = receiver.wait_success(Duration::from_secs(60));
    assert_eq!(got.len(), 1, "{got:?}");
    let cb: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(cb["TaskId"], task.as_str());
    sleep(Duration::from_secs(2));
    assert_eq!(receiver.deliveries().len(), 1);
    let m = c.request("GET", "/metrics", &[], "").body;
    assert!(
        m.contains("txcr_splice_jobs_total{result=\"done\"} 1"),
        "{m}"
    );
}

/// The `done` count in a backend's metrics.
#[cfg(target_os = "linux")]
fn jobs_done(b: &Backend) -> u64 {
    let m = b.request("GET", "/metrics", &[], "").body;
    m.lines()
        .find_map(|l| l.strip_prefix("txcr_splice_jobs_total{result=\"done\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[cfg(target_os = "linux")]
#[test]
fn two_backends_on_postgresql_share_a_batch_and_splice_each_task_once() {
    let pg = util::pg::Postgres::start();
    let s3 = S3::start();
    let receiver = Receiver::start(0);
    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    let task = record_class(&svc, 3003, 3);
    // Wait for the upload, then make five more tasks of the same slices.
    let prefix = format!("school/{APP}/3003/{task}/");
    let t0 = Instant::now();
    while !s3
        .list(&prefix)
        .iter()
        .any(|k| k.ends_with("manifest.json"))
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "upload");
        sleep(Duration::from_millis(100));
    }
    let manifest: Value =
        serde_json::from_slice(&s3.get(&format!("{prefix}manifest.json"))).unwrap();
    let mut tasks = vec![task.clone()];
    for n in 1..=5 {
        let id = format!("{task}-copy{n}");
        let mut m = manifest.clone();
        m["TaskId"] = json!(id);
        for s in m["Slices"].as_array_mut().unwrap() {
            let old = s["Key"].as_str().unwrap().to_owned();
            let new = old.replace(&task, &id);
            s3.put(&new, s3.get(&old));
            s["Key"] = json!(new);
        }
        s3.put(
            &format!("school/{APP}/3003/{id}/manifest.json"),
            m.to_string().into_bytes(),
        );
        tasks.push(id);
    }

    let common = [
        ("DATABASE_URL", pg.url.as_str()),
        ("TXCR_TEST_SPLICE_HOLD_MS", "400"),
    ];
    let x = Backend::start(&s3, "school", &common);
    let y = Backend::start(&s3, "school", &common);
    assert_eq!(x.register_callback(&receiver.url()).status, 200);

    let t0 = Instant::now();
    loop {
        let q = x.query(r#"{"class_id":3003,"size":100}"#);
        if q["total"] == 6 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(90), "{q}");
        sleep(Duration::from_millis(200));
    }
    let t0 = Instant::now();
    while receiver.deliveries().len() < 6 && t0.elapsed() < Duration::from_secs(30) {
        sleep(Duration::from_millis(100));
    }
    sleep(Duration::from_secs(1));
    let mut got: Vec<String> = receiver
        .deliveries()
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(&d.body).unwrap()["TaskId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    got.sort();
    tasks.sort();
    assert_eq!(got, tasks, "one callback per task, none twice");
    let (dx, dy) = (jobs_done(&x), jobs_done(&y));
    assert_eq!(dx + dy, 6, "each task spliced once ({dx} + {dy})");
    assert!(dx > 0 && dy > 0, "both instances worked ({dx} + {dy})");
}

#[cfg(target_os = "linux")]
#[test]
fn postgresql_down_for_30_s_mid_splice_the_job_is_retried_and_completes_once() {
    let mut pg = util::pg::Postgres::start();
    let s3 = S3::start();
    let receiver = Receiver::start(0);
    let b = Backend::start(
        &s3,
        "school",
        &[
            ("DATABASE_URL", pg.url.as_str()),
            ("TXCR_TEST_SPLICE_HOLD_MS", "3000"),
            ("TXCR_JOB_LEASE_SECS", "3"),
        ],
    );
    assert_eq!(b.register_callback(&receiver.url()).status, 200);
    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    let task = record_class(&svc, 4004, 3);
    b.wait_task(4004, &task, "running", Duration::from_secs(60));

    // The database goes away while the splice runs, for 30 s.
    pg.stop();
    let t0 = Instant::now();
    let health = b.request("GET", "/healthz", &[], "");
    assert_eq!(health.status, 503, "{}", health.body);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the health check answered ({:?})",
        t0.elapsed()
    );
    sleep(Duration::from_secs(30).saturating_sub(t0.elapsed()));
    assert_eq!(b.request("GET", "/healthz", &[], "").status, 503);
    pg.start_again();

    // The same backend retries the job once the database is back.
    b.wait_task(4004, &task, "done", Duration::from_secs(90));
    assert_eq!(b.request("GET", "/healthz", &[], "").status, 200);
    let q = b.query(r#"{"class_id":4004}"#);
    assert_eq!(q["total"], 1, "{q}");
    let got = receiver.wait_success(Duration::from_secs(30));
    assert_eq!(got.len(), 1, "{got:?}");
    sleep(Duration::from_secs(2));
    assert_eq!(receiver.deliveries().len(), 1, "one callback");
    assert_eq!(jobs_done(&b), 1, "spliced once to the end");
}

#[test]
fn brokered_uploads_need_no_bucket_keys_and_only_reach_the_callers_own_task() {
    let s3 = S3::start();
    // A long scan interval: the splice must start from the completion call.
    let backend = Backend::start(&s3, "school", &[("TXCR_WATCH_INTERVAL", "600")]);
    let url = format!("http://127.0.0.1:{}", backend.port);
    let svc = Svc::start_env(&[], &[("TXCR_BACKEND_URL", url.as_str())]);
    let task = record_class(&svc, 4004, 3);
    let t0 = Instant::now();
    loop {
        let u = svc.state()["Upload"][0].clone();
        if u["State"] == "uploaded" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{u}");
        sleep(Duration::from_millis(100));
    }
    let prefix = format!("school/{APP}/4004/{task}/");
    let keys = s3.list(&prefix);
    assert!(keys.contains(&format!("{prefix}0001.flv")), "{keys:?}");
    assert!(keys.contains(&format!("{prefix}manifest.json")), "{keys:?}");
    for (i, f) in slices(&svc.state()).iter().enumerate() {
        assert_eq!(
            s3.get(&format!("{prefix}{:04}.flv", i + 1)),
            std::fs::read(f).unwrap()
        );
    }
    backend.wait_task(4004, &task, "done", Duration::from_secs(20));
    eprintln!(
        "uploaded -> spliced (no scan): {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(s3.list(&prefix).contains(&format!("{prefix}record.mp4")));

    // Another user, even with a valid UserSig, gets nothing for this task.
    let other = txcr_auth::gen_user_sig(APP, KEY, "teacher2", 3600, now());
    let presign = |user: &str, sig: &str, task: &str, obj: &str| {
        backend.post(
            "/v1/upload/presign",
            &format!(r#"{{"SdkAppId":{APP},"UserId":"{user}","UserSig":"{sig}","ClassId":4004,"TaskId":"{task}","Objects":["{obj}"]}}"#),
        )
    };
    let r = presign("teacher2", &other, &task, "0009.flv");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = presign("teacher2", "not-a-sig", "t-new", "0001.flv");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = presign("teacher2", &other, "t-new", "../../x.flv");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = presign("teacher2", &other, "t-new", "0001.flv");
    assert_eq!(r.status, 200, "{}", r.body);
    let u = r.json()["Response"]["Urls"]["0001.flv"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(u.contains("school/1400000000/4004/t-new/0001.flv"), "{u}");
}

#[test]
fn on_embedded_defaults_the_backend_needs_no_other_server() {
    let backend = Backend::start_embedded(&[]);
    let url = format!("http://127.0.0.1:{}", backend.port);
    let svc = Svc::start_env(&[], &[("TXCR_BACKEND_URL", url.as_str())]);
    let task = record_class(&svc, 5005, 3);
    backend.wait_task(5005, &task, "done", Duration::from_secs(60));
    let q = backend.query(r#"{"class_id":5005}"#);
    assert_eq!(q["total"], 1, "{q}");
    let rec = &q["record_info_list"][0];
    let (status, _, mp4) = raw_bytes(
        backend.port,
        "GET",
        &path_of(rec["VideoOutputUrl"].as_str().unwrap()),
        &[("Host", "x")],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(mp4.len() as u64, rec["VideoOutputSize"].as_u64().unwrap());
    let file = svc.dir.path().join("embedded.mp4");
    std::fs::write(&file, &mp4).unwrap();
    assert_eq!(decode_errors(&file), "");
    assert!(backend.dir.path().join("index.db").exists(), "SQLite index");
    assert!(
        backend.dir.path().join("objects").is_dir(),
        "embedded objects"
    );
}

#[test]
fn on_embedded_defaults_a_teacher_on_another_machine_uploads_where_it_reaches_the_backend() {
    // The backend on 127.0.0.2 stands for the school's server, the local
    // service (on 127.0.0.1) for a teacher's PC.
    let backend = Backend::start_embedded_on("127.0.0.2", &[]);
    // The upload URLs it hands out name the address the teacher reaches it
    // at, where its store listens: nothing of the store on 127.0.0.1.
    let sig = txcr_auth::gen_user_sig(APP, KEY, "teacher1", 3600, now());
    let body = json!({"SdkAppId": APP, "ClassId": 5006, "TaskId": "probe-1", "UserId": "teacher1",
                      "UserSig": sig, "Objects": ["0001.flv"]});
    let r = backend.post("/v1/upload/presign", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.json()["Response"]["Urls"]["0001.flv"]
        .as_str()
        .unwrap()
        .to_owned();
    let authority = url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let (host, port) = authority.split_once(':').unwrap();
    assert_eq!(host, "127.0.0.2", "{url}");
    let port: u16 = port.parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the store listens on the public address only"
    );
    // A class recorded on the teacher's PC arrives, is spliced, is announced.
    let receiver = Receiver::start(0);
    assert_eq!(backend.register_callback(&receiver.url()).status, 200);
    let svc = Svc::start_env(&[], &[("TXCR_BACKEND_URL", backend.url().as_str())]);
    let task = record_class(&svc, 5006, 3);
    backend.wait_task(5006, &task, "done", Duration::from_secs(60));
    let deliveries = receiver.wait_success(Duration::from_secs(60));
    assert!(
        deliveries.iter().any(|d| d.body.contains(&task)),
        "a callback for {task}"
    );
    let q = backend.query(r#"{"class_id":5006}"#);
    assert_eq!(q["total"], 1, "{q}");
    let link = q["record_info_list"][0]["VideoOutputUrl"].as_str().unwrap();
    assert!(link.starts_with(&backend.url()), "{link}");
}

#[test]
fn with_delete_slices_after_splice_a_class_keeps_only_its_mp4_and_manifest() {
    let s3 = S3::start();
    let env = s3.env("school");
    let svc = Svc::start_env(&[], &env_refs(&env));
    let backend = Backend::start(
        &s3,
        "school",
        &[("TXCR_DELETE_SLICES_AFTER_SPLICE", "true")],
    );
    let task = record_class(&svc, 5005, 5);
    let t0 = Instant::now();
    let rec = loop {
        let q = backend.query(r#"{"class_id":5005}"#);
        if q["total"] == 1 {
            break q["record_info_list"][0].clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{q}");
        sleep(Duration::from_millis(200));
    };
    let prefix = format!("school/{APP}/5005/{task}/");
    let t0 = Instant::now();
    let mut left = s3.list(&prefix);
    while left.iter().any(|k| k.ends_with(".flv")) && t0.elapsed() < Duration::from_secs(10) {
        sleep(Duration::from_millis(100));
        left = s3.list(&prefix);
    }
    left.sort();
    assert_eq!(
        left,
        [
            format!("{prefix}manifest.json"),
            format!("{prefix}record.mp4")
        ],
        "the slices are gone, the class is not"
    );
    let url = rec["VideoOutputUrl"].as_str().unwrap();
    let (status, _, mp4) = raw_bytes(backend.port, "GET", &path_of(url), &[("Host", "x")], b"");
    assert_eq!(status, 200);
    assert_eq!(mp4.len() as u64, rec["VideoOutputSize"].as_u64().unwrap());
}
