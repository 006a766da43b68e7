//! The disk running out: recording stops cleanly with -10005 before it is
//! full, and what was recorded stays playable.

use crate::util;

use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::json;
use util::*;

fn free_mb(dir: &std::path::Path) -> u64 {
    fs4::available_space(dir).unwrap() >> 20
}

fn svc_with_min_free(min_mb: u64) -> Svc {
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), format!("min_free_mb = {min_mb}\n")).unwrap();
    let svc = Svc::start_env(&["--config", cfg.path().to_str().unwrap()], &[]);
    svc.init("teacher");
    svc
}

#[test]
fn start_is_refused_when_the_disk_is_already_too_full() {
    let probe = tempfile::tempdir().unwrap();
    let svc = svc_with_min_free(free_mb(probe.path()) + 100_000);
    let r = svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"ClassId":1,"DstPath":"full.flv"}"#,
    );
    assert_eq!(error_code(&r), Some(-10005), "{r}");
    assert_eq!(svc.state()["Record"]["State"], "Idle");
}

#[test]
fn recording_stops_cleanly_with_10005_as_the_disk_fills() {
    let probe = tempfile::tempdir().unwrap();
    // Leave 300 MB of head room, then eat 500 MB of it mid-class.
    let svc = svc_with_min_free(free_mb(probe.path()).saturating_sub(300));
    assert_eq!(
        svc.cmd(
            "StartRecord",
            r#"{"Wnd":1,"Width":320,"Height":240,"ClassId":1,"DstPath":"fill.flv","SliceTime":60}"#
        ),
        json!({})
    );
    sleep(Duration::from_millis(1500));
    let filler = svc.root.join("filler.bin");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0x5au8; 1 << 20];
        for _ in 0..500 {
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    // The next response after the guard trips is the -10005.
    let t0 = Instant::now();
    let told = loop {
        let r = svc.cmd("GetState", "");
        if r.get("Error").is_some() || t0.elapsed() > Duration::from_secs(10) {
            break r;
        }
        sleep(Duration::from_millis(200));
    };
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(error_code(&told), Some(-10005), "{told}");
    let st = svc.state();
    assert_eq!(st["Record"]["State"], "Idle", "{st}");
    assert_eq!(st["Record"]["LastErrorCode"], -10005);
    assert!(
        st["Record"]["LastError"]
            .as_str()
            .unwrap()
            .contains("MB free"),
        "{st}"
    );
    let f = slices(&st).pop().unwrap();
    assert_eq!(decode_errors(&f), "", "what was recorded plays");
    assert!(probe_packets(&f).len() >= 15);
}
