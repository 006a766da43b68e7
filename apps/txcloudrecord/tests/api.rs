//! The command API over real HTTP: every command, error code, state transition,
//! and the browser-facing guards.

use crate::util;

use std::thread::sleep;
use std::time::Duration;

use serde_json::json;
use util::*;

const START: &str = r#"{"Wnd":1,"Width":160,"Height":120,"ClassId":1,"SliceTime":60}"#;

#[test]
fn state_machine_allows_exactly_the_contract_transitions() {
    let svc = Svc::start();
    assert_eq!(
        error_code(&svc.cmd("StartRecord", START)),
        Some(-10007),
        "Init first"
    );
    svc.init("teacher");
    let st = svc.state();
    assert_eq!(
        st["Auth"],
        json!({"UserId":"teacher","State":"Auth Success"})
    );
    assert_eq!(st["Record"]["State"], "Idle");
    assert_eq!(st["Upload"], json!([]));

    let refused = |cmd: &str, state: &str| {
        let r = svc.cmd(cmd, if cmd == "StartRecord" { START } else { "" });
        assert_eq!(error_code(&r), Some(-10006), "{cmd} in {state}: {r}");
        assert_eq!(
            svc.state()["Record"]["State"],
            state,
            "{cmd} changed nothing"
        );
    };
    for cmd in ["StopRecord", "PauseRecord", "ResumeRecord"] {
        refused(cmd, "Idle");
    }
    assert_eq!(svc.cmd("StartRecord", START), json!({}));
    for cmd in ["StartRecord", "ResumeRecord"] {
        refused(cmd, "Recording");
    }
    assert_eq!(svc.cmd("PauseRecord", ""), json!({}));
    for cmd in ["StartRecord", "PauseRecord"] {
        refused(cmd, "Paused");
    }
    assert_eq!(svc.cmd("ResumeRecord", ""), json!({}));
    assert_eq!(svc.cmd("PauseRecord", ""), json!({}));
    assert_eq!(svc.cmd("StopRecord", ""), json!({}), "Paused -> Idle");
    assert_eq!(svc.state()["Record"]["State"], "Idle");
}

#[test]
fn init_failures_are_10001_and_auth_failed() {
    let svc = Svc::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = [
        (
            "wrong user",
            format!(
                r#"{{"SdkAppId":{APP},"UserId":"other","UserSig":"{}"}}"#,
                user_sig("teacher")
            ),
        ),
        (
            "expired",
            format!(
                r#"{{"SdkAppId":{APP},"UserId":"t","UserSig":"{}"}}"#,
                txcr_auth::gen_user_sig(APP, KEY, "t", 10, now - 100)
            ),
        ),
        (
            "wrong app",
            format!(
                r#"{{"SdkAppId":{},"UserId":"t","UserSig":"{}"}}"#,
                APP + 1,
                txcr_auth::gen_user_sig(APP + 1, KEY, "t", 100, now)
            ),
        ),
        (
            "wrong key",
            format!(
                r#"{{"SdkAppId":{APP},"UserId":"t","UserSig":"{}"}}"#,
                txcr_auth::gen_user_sig(APP, "nope", "t", 100, now)
            ),
        ),
        (
            "garbage",
            format!(r#"{{"SdkAppId":{APP},"UserId":"t","UserSig":"eJyrVkrLz1eyUkpKLFKqBQA"}}"#),
        ),
    ];
    for (what, body) in cases {
        let r = svc.cmd("Init", &body);
        assert_eq!(error_code(&r), Some(-10001), "{what}: {r}");
        assert_eq!(svc.state()["Auth"]["State"], "Auth Failed", "{what}");
        assert_eq!(
            error_code(&svc.cmd("StartRecord", START)),
            Some(-10007),
            "{what}: no recording without auth"
        );
    }
    // A numeric UserId, as some clients send, authenticates as its decimal text.
    let r = svc.cmd(
        "Init",
        &format!(
            r#"{{"SdkAppId":{APP},"UserId":12345,"UserSig":"{}"}}"#,
            user_sig("12345")
        ),
    );
    assert_eq!(r, json!({}));
    assert_eq!(svc.state()["Auth"]["UserId"], "12345");
}

#[test]
fn bad_input_gets_the_envelope_never_a_5xx() {
    let svc = Svc::start();
    svc.init("teacher");
    let bodies = [
        ("Init", "{"),
        ("Init", "[]"),
        ("Init", r#"{"SdkAppId":"x","UserId":"u","UserSig":"s"}"#),
        ("StartRecord", r#"{"ClassId":1}"#),
        // No ClassId is accepted (class 0), but a negative one is refused.
        ("StartRecord", r#"{"Wnd":1,"ClassId":-1}"#),
        ("StartRecord", r#"{"Wnd":1,"ClassId":1,"VideoFps":500}"#),
        ("StartRecord", r#"{"Wnd":1,"ClassId":1,"SliceTime":"5"}"#),
        (
            "StartRecord",
            r#"{"Wnd":1,"ClassId":1,"x":5000,"Width":10}"#,
        ),
        ("StartRecord", "\u{1}\u{2}"),
    ];
    for (cmd, body) in bodies {
        let r = svc.cmd(cmd, body);
        assert_eq!(error_code(&r), Some(-10000), "{cmd} {body}: {r}");
        assert!(r["Error"]["Message"].as_str().unwrap().len() > 5);
    }
    assert_eq!(error_code(&svc.cmd("Frobnicate", "{}")), Some(-10009));
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(200_000));
    let r = svc.request("POST", "/localrecord/v1/GetState", &[], &big);
    assert_eq!(r.status, 413);
    assert_eq!(error_code(&r.json()["Response"]), Some(-10000));
    let r = svc.request("GET", "/localrecord/v1/GetState", &[], "");
    assert_eq!(r.status, 405);
    assert_eq!(error_code(&r.json()["Response"]), Some(-10000));
    let r = svc.request("POST", "/other", &[], "");
    assert_eq!(error_code(&r.json()["Response"]), Some(-10009));
    // Still alive and unchanged.
    assert_eq!(svc.state()["Record"]["State"], "Idle");
    assert_eq!(svc.state()["Auth"]["State"], "Auth Success");
}

#[test]
fn hostile_host_header_is_refused() {
    let svc = Svc::start();
    for host in ["evil.example:1234", "attacker.example", "127.0.0.1.nip.io"] {
        let r = svc.request("POST", "/localrecord/v1/GetState", &[("Host", host)], "");
        assert_eq!(r.status, 403, "{host}");
        assert_eq!(error_code(&r.json()["Response"]), Some(-10010));
    }
    let r = svc.request(
        "POST",
        "/localrecord/v1/GetState",
        &[("Host", &format!("localhost:{}", svc.port))],
        "",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn cors_and_private_network_preflight_for_allowed_origins_only() {
    let svc = Svc::start_with(&["--allow-origin", "https://class.school.example"]);
    let origin = "https://class.school.example";
    let r = svc.request(
        "OPTIONS",
        "/localrecord/v1/Init",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some(origin)
    );
    assert_eq!(
        r.header("access-control-allow-private-network").as_deref(),
        Some("true")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        r.header("access-control-allow-headers").as_deref(),
        Some("content-type")
    );

    let evil = svc.request(
        "OPTIONS",
        "/localrecord/v1/Init",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert_eq!(evil.status, 403);
    assert_eq!(evil.header("access-control-allow-origin"), None);
    // A "simple" cross-origin POST skips the preflight: it must be refused server-side.
    let simple = svc.request(
        "POST",
        "/localrecord/v1/Exit",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        "{}",
    );
    assert_eq!(simple.status, 403);
    assert_eq!(svc.state()["Record"]["State"], "Idle", "still running");
}

#[test]
fn another_origin_cannot_read_or_take_over_a_recording() {
    let svc = Svc::start_with(&["--allow-origin", "https://a.example,https://b.example"]);
    let a = [
        ("Origin", "https://a.example"),
        ("Content-Type", "application/json"),
    ];
    let b = [
        ("Origin", "https://b.example"),
        ("Content-Type", "application/json"),
    ];
    let post = |h: &[(&str, &str)], cmd: &str, body: &str| {
        let r = svc.request("POST", &format!("/localrecord/v1/{cmd}"), h, body);
        assert_eq!(r.status, 200);
        r
    };
    let init = |user: &str| {
        format!(
            r#"{{"SdkAppId":{APP},"UserId":"{user}","UserSig":"{}"}}"#,
            user_sig(user)
        )
    };
    // Before anyone initialised, a page cannot read the state.
    assert_eq!(
        error_code(&post(&b, "GetState", "").json()["Response"]),
        Some(-10007)
    );
    let r = post(&a, "Init", &init("teacher"));
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("https://a.example")
    );
    assert_eq!(post(&a, "StartRecord", START).json()["Response"], json!({}));
    for (cmd, body) in [
        ("GetState", String::new()),
        ("StopRecord", String::new()),
        ("PauseRecord", String::new()),
        ("Exit", String::new()),
        ("Init", init("mallory")),
    ] {
        let r = post(&b, cmd, &body).json();
        assert_eq!(
            error_code(&r["Response"]),
            Some(-10010),
            "{cmd} from b: {r}"
        );
    }
    assert_eq!(
        post(&a, "GetState", "").json()["Response"]["Record"]["State"],
        "Recording"
    );
    assert_eq!(
        svc.state()["Auth"]["UserId"],
        "teacher",
        "native apps may read; the owner is unchanged"
    );
    assert_eq!(post(&a, "StopRecord", "").json()["Response"], json!({}));
}

#[test]
fn dst_path_must_stay_inside_the_root_and_be_flv() {
    let svc = Svc::start();
    svc.init("teacher");
    let outside = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), svc.root.join("escape")).unwrap();
    let cases = [
        "../up.flv".to_owned(),
        "a/../../up.flv".to_owned(),
        outside.path().join("abs.flv").display().to_string(),
        "escape/link.flv".into(),
        "escape/new/dir.flv".into(),
        "movie.mp4".into(),
        "noext".into(),
    ];
    for dst in &cases {
        let body = format!(
            r#"{{"Wnd":1,"ClassId":1,"DstPath":{}}}"#,
            serde_json::to_string(dst).unwrap()
        );
        let r = svc.cmd("StartRecord", &body);
        assert_eq!(error_code(&r), Some(-10002), "{dst}: {r}");
        assert_eq!(svc.state()["Record"]["State"], "Idle");
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside the root"
    );
    assert!(!svc.dir.path().join("up_0001.flv").exists());
    // An existing recording is never overwritten.
    std::fs::write(svc.root.join("kept_0001.flv"), b"earlier class").unwrap();
    assert_eq!(
        error_code(&svc.cmd(
            "StartRecord",
            r#"{"Wnd":1,"ClassId":1,"DstPath":"kept.flv"}"#
        )),
        Some(-10002)
    );
    assert_eq!(
        std::fs::read(svc.root.join("kept_0001.flv")).unwrap(),
        b"earlier class"
    );
}

#[test]
fn a_second_launch_leaves_the_first_running_and_exits_0() {
    let svc = Svc::start();
    for extra in [None, Some("tc-record://start?class=1")] {
        let mut c = bin();
        c.args(["--port", &svc.port.to_string(), "--capture", "test-pattern"])
            .arg("--data-dir")
            .arg(svc.dir.path().join("d2"));
        c.arg("--record-root").arg(&svc.root);
        if let Some(url) = extra {
            c.arg(url);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        svc.state()["Record"]["State"],
        "Idle",
        "the first instance still serves"
    );
}

#[test]
fn a_port_held_by_another_program_is_an_error() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        // Answer like some other web server would.
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = other.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["--port", &port.to_string(), "--capture", "test-pattern"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--record-root")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("used by another program"));
    t.join().unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn register_protocol_writes_the_xdg_handler() {
    let home = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("register-protocol")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let desktop = std::fs::read_to_string(
        home.path()
            .join("data/applications/txcloudrecord-tc-record.desktop"),
    )
    .unwrap();
    assert!(desktop.contains("MimeType=x-scheme-handler/tc-record;"));
    assert!(desktop.contains(env!("CARGO_BIN_EXE_txcloudrecord")));
    assert!(desktop.contains("%u"));
    let list = std::fs::read_to_string(home.path().join("config/mimeapps.list")).unwrap();
    assert!(
        list.contains("x-scheme-handler/tc-record=txcloudrecord-tc-record.desktop"),
        "{list}"
    );
}

#[test]
fn config_file_is_read_and_flags_win_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("from-file");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("port = 1\nrecord_root = {:?}\nallow_origins = [\"https://cfg.example\"]\ncapture = \"test-pattern\"\n[[apps]]\nsdkappid = {APP}\nsecret_key = \"{KEY}\"\n", root.display().to_string()),
    )
    .unwrap();
    let mut child = bin()
        .args(["--config", cfg.to_str().unwrap(), "--port", "0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("TXCR_SDKAPPID")
        .env_remove("TXCR_SECRET_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = read_port(&mut child);
    let host = format!("127.0.0.1:{port}");
    let body = format!(
        r#"{{"SdkAppId":{APP},"UserId":"t","UserSig":"{}"}}"#,
        user_sig("t")
    );
    let r = raw(
        port,
        "POST",
        "/localrecord/v1/Init",
        &[("Host", &host), ("Origin", "https://cfg.example")],
        body.as_bytes(),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        r.status, 200,
        "port from the flag, origin and app from the file"
    );
    assert_eq!(r.json()["Response"], json!({}));
    assert!(root.is_dir(), "record_root from the file was created");
}

#[test]
fn the_contracts_example_body_records_and_a_windows_path_is_refused_here() {
    let svc = Svc::start();
    svc.init("teacher");
    // Verbatim: no ClassId (accepted, as class 0), Wnd 0 beside AppProc.
    let example = r#"{"AppProc":"QQMusic.exe", "Wnd": 0, "DstPath":"E:\\test.flv", "x":0, "y":10, "Width":100,"Height": 100}"#;
    let r = svc.cmd("StartRecord", example);
    assert_eq!(error_code(&r), Some(-10002), "{r}");
    let msg = r["Error"]["Message"].as_str().unwrap();
    assert!(
        msg.contains("Windows path") && msg.contains("lesson.flv"),
        "{msg}"
    );
    assert!(
        !msg.contains(&*svc.root.to_string_lossy()),
        "no local path: {msg}"
    );
    assert_eq!(
        std::fs::read_dir(&svc.root).unwrap().count(),
        0,
        "nothing written"
    );
    assert_eq!(svc.state()["Record"]["State"], "Idle");
    // The same body with a DstPath that is valid here starts a recording.
    let here = example.replace(r#""E:\\test.flv""#, r#""test.flv""#);
    assert_eq!(svc.cmd("StartRecord", &here), json!({}));
    sleep(Duration::from_millis(1500));
    assert_eq!(svc.cmd("StopRecord", ""), json!({}));
    let files = slices(&svc.state());
    assert_eq!(files, [svc.root.join("test_0001.flv")]);
    assert_eq!(decode_errors(&files[0]), "");
    assert_eq!(probe_stream(&files[0]), ("h264".into(), 100, 100));
}

#[test]
fn commands_the_cpp_client_sends_with_an_empty_body_and_no_content_type() {
    // sendCmd("StopRecord", std::string()): a POST with Content-Length 0 and
    // no Content-Type.
    let svc = Svc::start();
    let empty = |cmd: &str| {
        let host = format!("127.0.0.1:{}", svc.port);
        let r = raw(
            svc.port,
            "POST",
            &format!("/localrecord/v1/{cmd}"),
            &[("Host", &host)],
            b"",
        );
        assert_eq!(r.status, 200, "{cmd}: {}", r.body);
        r.json()["Response"].clone()
    };
    let init = empty("Init");
    assert_eq!(
        error_code(&init),
        Some(-10000),
        "Init needs its fields: {init}"
    );
    assert_eq!(empty("GetState")["Auth"]["State"], "Not Authentication");
    svc.init("teacher");
    // Every field of TEduRecordParam at its C++ default: 10 fps, 1000 kbit/s.
    let dst = serde_json::to_string(&svc.root.join("cpp.flv")).unwrap();
    let body = format!(
        "{{\"AppProc\":\"TICDemo.exe\",\"ClassId\":7,\"DstPath\":{dst},\"EnableAudio\":true,\"Height\":0,\"VideoBps\":1000,\"VideoFps\":10,\"VideoResolution\":105,\"Wnd\":0,\"Width\":0,\"x\":0,\"y\":0}}\n"
    );
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    sleep(Duration::from_millis(2000));
    assert_eq!(empty("GetState")["Record"]["State"], "Recording");
    assert_eq!(empty("StopRecord"), json!({}));
    let files = slices(&svc.state());
    assert_eq!(decode_errors(&files[0]), "");
    let frames = probe_packets(&files[0]).len();
    assert!(
        (17..=22).contains(&frames),
        "10 fps: {frames} frames in 2 s"
    );
}
