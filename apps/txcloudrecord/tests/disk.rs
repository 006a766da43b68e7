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

/// A small tmpfs, mounted for the test (as root, or with password-less sudo)
/// and unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, mb: u64) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let mut cmd = std::process::Command::new(if root { "mount" } else { "sudo" });
        if !root {
            cmd.args(["-n", "mount"]);
        }
        let ok = cmd
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "this test mounts a tmpfs: run it as root or with password-less sudo"
        );
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let mut cmd = std::process::Command::new("umount");
        if std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() != "0")
        {
            cmd = std::process::Command::new("sudo");
            cmd.args(["-n", "umount"]);
        }
        let _ = cmd.arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_disk_that_really_fills_leaves_every_slice_whole_and_playable() {
    // No free-space guard: the recording runs until a write fails with
    // ENOSPC, as on a disk that fills faster than the guard looks.
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("rec"), 4);
    let svc = Svc::start_in(dir, &[], &[("TXCR_MIN_FREE_MB", "0")]);
    svc.init("teacher");
    // Leave about 300 KB: a few seconds of the test picture.
    let free = fs4::available_space(&svc.root).unwrap();
    std::fs::write(
        svc.root.join("filler.bin"),
        vec![0x5au8; (free - 300_000) as usize],
    )
    .unwrap();
    assert_eq!(
        svc.cmd(
            "StartRecord",
            r#"{"Wnd":1,"Width":1280,"Height":720,"VideoFps":30,"ClassId":1,"DstPath":"full.flv","SliceTime":1}"#
        ),
        json!({})
    );
    let t0 = Instant::now();
    let st = loop {
        let st = svc.cmd("GetState", "");
        if st.get("Error").is_some() || st["Record"]["State"] == "Idle" {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the disk never filled: {st}"
        );
        sleep(Duration::from_millis(200));
    };
    let code = error_code(&st).or_else(|| st["Record"]["LastErrorCode"].as_i64());
    assert_eq!(code, Some(-10005), "{st}");
    let files = flv_files(&svc.root);
    assert!(
        files.len() >= 2,
        "several slices before the disk filled: {files:?}"
    );
    for f in &files {
        assert_eq!(
            strict_decode_errors(f),
            "",
            "{} decodes cleanly",
            f.display()
        );
    }
    assert_clean_and_increasing(&files);
    let dir = svc.kill9();
    drop(disk);
    drop(dir);
}
