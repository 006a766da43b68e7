//! `txcloudrecord record`: the one-shot command records on its own, shows
//! progress, stops cleanly on Ctrl-C and uploads what it recorded; the
//! service writes its log files into the data directory.

use crate::util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use util::s3::S3;
use util::{bin, decode_errors, probe_packets};

fn record(dir: &Path) -> Command {
    let mut c = bin();
    c.args(["record", "--capture", "test-pattern", "--no-audio"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--record-root")
        .arg(dir.join("rec"))
        .env_remove("TXCR_CONFIG")
        .env_remove("TXCR_S3_BUCKET")
        .env_remove("TXCR_BACKEND_URL")
        .env_remove("TXCR_LOG");
    c
}

fn listed(stdout: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

#[test]
fn record_for_a_duration_prints_progress_and_the_slices() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("class/a.flv");
    let run = record(dir.path())
        .arg("-o")
        .arg(&out)
        .args(["--slice", "1", "--duration", "2.5", "--fps", "20"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let slices = listed(&run.stdout);
    assert_eq!(slices.len(), 3, "{slices:?}");
    assert_eq!(slices[0], dir.path().join("class/a_0001.flv"));
    let mut frames = 0;
    for s in &slices {
        assert_eq!(decode_errors(s), "", "{}", s.display());
        frames += probe_packets(s).len();
    }
    assert!(
        (45..=55).contains(&frames),
        "{frames} frames for 2.5 s at 20 fps"
    );
    // The progress line: elapsed, rate, drops, slices; then the summary.
    assert!(err.contains("recording 00:00:01"), "{err}");
    assert!(err.contains("fps") && err.contains("dropped"), "{err}");
    assert!(err.contains("stopped (duration reached): 2.5 s"), "{err}");
    assert!(!err.contains("INFO"), "logs stay quiet: {err}");
}

#[test]
#[cfg(unix)] // sends SIGINT
fn ctrl_c_stops_cleanly_and_keeps_every_second() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.flv");
    let mut running = util::Running(
        record(dir.path())
            .arg("-o")
            .arg(&out)
            .args(["--slice", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut running.0;
    let started = Instant::now();
    // Wait for the progress line to show the third second.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
        let secs = line
            .strip_prefix("recording 00:00:")
            .and_then(|l| l.get(..2))
            .and_then(|n| n.parse::<u32>().ok());
        if secs.is_some_and(|s| s >= 3) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{seen}");
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = util::wait_child(child, Duration::from_secs(15)).expect("exits after Ctrl-C");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("stopped (interrupted)"), "{rest}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let slices = listed(stdout.as_bytes());
    assert!(slices.len() >= 2, "{slices:?}");
    let mut last_pts = 0.0;
    for s in &slices {
        assert_eq!(decode_errors(s), "", "{}", s.display());
        last_pts = probe_packets(s).last().unwrap().0;
    }
    // The last slice ends where the recording was stopped: seconds 3+ are in.
    assert!(last_pts >= 1.0, "last slice ends at {last_pts} s");
}

#[test]
fn record_uploads_its_slices_before_returning() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().unwrap();
    let run = record(dir.path())
        .envs(s3.env("cli"))
        .args([
            "--slice",
            "1",
            "--duration",
            "2",
            "--class-id",
            "77",
            "--user",
            "ann",
        ])
        .env("TXCR_SDKAPPID", "1400000000")
        .env("TXCR_SECRET_KEY", util::KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("uploaded 2/2 slices"), "{err}");
    let keys = s3.list("cli/1400000000/77/");
    let flv: Vec<_> = keys.iter().filter(|k| k.ends_with(".flv")).collect();
    assert_eq!(flv.len(), 2, "{keys:?}");
    assert!(
        keys.iter().any(|k| k.ends_with("/manifest.json")),
        "{keys:?}"
    );
    let slices = listed(&run.stdout);
    assert_eq!(s3.get(flv[0]), std::fs::read(&slices[0]).unwrap());
}

#[test]
fn bad_arguments_are_refused_before_anything_records() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["--fps", "0"][..], "VideoFps must be between 1 and 60"),
        (&["--region", "1,2,3"][..], "four numbers"),
        (&["--window", "zz"][..], "not a window id"),
        (&["-o", "x.mp4"][..], "flv"),
    ] {
        let run = record(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn the_service_logs_to_a_dated_file_in_its_data_directory() {
    let svc = util::Svc::start_env(&[], &[("TXCR_LOG", "info")]);
    svc.init("teacher");
    let logs = svc.dir.path().join("data/logs");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text: String = std::fs::read_dir(&logs)
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with("txcloudrecord.")
                    })
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        if text.contains("serving") {
            assert!(!text.contains('\u{1b}'), "no colour codes in files");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log file in {}",
            logs.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[cfg(unix)] // sends SIGINT
fn an_interrupted_upload_goes_up_with_the_next_run() {
    use std::process::Stdio;
    let mut s3 = S3::start();
    let env: Vec<(String, String)> = s3.env("again");
    s3.stop(); // unreachable while the first class is recorded
    let dir = tempfile::tempdir().unwrap();
    let run = |class: &str| {
        let mut c = record(dir.path());
        c.envs(env.clone())
            .env("TXCR_SDKAPPID", "1400000000")
            .env("TXCR_SECRET_KEY", util::KEY)
            .args(["--slice", "1", "--duration", "1.5", "--class-id", class]);
        c
    };
    let mut first = util::Running(
        run("1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Recorded, now waiting for storage that does not answer.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "it waits for the upload"
    );
    let pid = first.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = util::wait_child(&mut first.0, Duration::from_secs(10)).expect("exits");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut first.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("upload interrupted"), "{err}");

    // The next run uploads its own class and the one left behind.
    s3.restart();
    let out = run("2").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("and 1 earlier task"), "{err}");
    let keys = s3.list("again/");
    for class in ["1", "2"] {
        let prefix = format!("again/1400000000/{class}/");
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&prefix) && k.ends_with("manifest.json")),
            "{keys:?}"
        );
        assert_eq!(
            keys.iter()
                .filter(|k| k.starts_with(&prefix) && k.ends_with(".flv"))
                .count(),
            2,
            "{keys:?}"
        );
    }
}
