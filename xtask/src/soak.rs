//! `cargo xtask soak HOURS`: a long class, to show that nothing grows. The
//! backend on embedded defaults and the local service recording its built-in
//! test pattern with its tone (no display needed), a slice every minute
//! (`--slice-secs`), uploading to that backend as a school's would. Every
//! 10 s (`--sample-secs`) both processes' RSS, open files, threads and CPU
//! time are read from `/proc` into `soak.csv`, drawn into `soak.svg`
//! (plotters). At the end:
//! - RSS of each process at most 10% above its value at the 10-minute mark
//!   (the first sample once a tenth of the run has passed, for runs under 20
//!   minutes);
//! - open files, and threads other than those of a bounded pool: their level
//!   in the last quarter (median) no higher than their peak in the first
//!   half (a leak climbs with every slice; one connection open for a sample
//!   is not a leak);
//! - the pools' threads (tokio's workers and blocking threads, sqlx's SQLite
//!   workers) within their bounds: they come and go with the work, and their
//!   peak creeps up over a long run as rarer overlaps of work occur, so a
//!   count comparison would call that a leak; what must hold is the bound;
//! - the spliced MP4 as long as the slices recorded, ±1 frame per slice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use serde_json::Value;

use crate::demo::{fetch_media, query, start_backend, start_service, DEMO_APP, DEMO_KEY};
use crate::{local, setup, workspace_root};

/// Frames per second of the soak's class.
const FPS: u32 = 15;

/// One reading of one process.
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    rss_kib: u64,
    fds: u64,
    threads: u64,
    /// Of `threads`, those of the bounded pools.
    pool: u64,
    cpu_s: f64,
}

/// Tokio's blocking-thread bound in both apps (`max_blocking_threads` in
/// their `main.rs`).
const MAX_BLOCKING: u64 = 16;
/// The backend's SQLite pool (`max_connections` in its `db/mod.rs`), a
/// thread per connection.
const SQLITE_POOL: u64 = 4;

/// Threads of a bounded pool, by name.
fn is_pool(name: &str) -> bool {
    name.starts_with("tokio-rt-worker") || name.starts_with("sqlx-sqlite-wor")
}

/// Names of a process's threads (`/proc/PID/task/*/comm`).
fn comms(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|c| c.trim().to_owned())
        .collect()
}

/// One reading of a process, and its threads by name (see [`thread_names`]).
fn read_proc(pid: u32) -> anyhow::Result<(Reading, String)> {
    let comms = comms(pid);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): utime, stime
    // are the 12th and 13th of them.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let reading = Reading {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
        pool: comms.iter().filter(|n| is_pool(n)).count() as u64,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64,
        cpu_s: (ticks(11) + ticks(12)) / hz,
    };
    Ok((reading, thread_names(&comms)))
}

/// Threads by name (from [`comms`], trailing digits
/// dropped so a pool's workers count under one name), as one line.
fn thread_names(comms: &[String]) -> String {
    let mut names = std::collections::BTreeMap::<String, u32>::new();
    for comm in comms {
        let name = comm.trim_end_matches(|c: char| c.is_ascii_digit());
        *names.entry(name.to_owned()).or_default() += 1;
    }
    let parts: Vec<String> = names.iter().map(|(n, k)| format!("{n}×{k}")).collect();
    parts.join(" ")
}

/// The options of `cargo xtask soak`.
struct Options {
    duration: Duration,
    slice_secs: u64,
    sample: Duration,
    out: PathBuf,
    release: bool,
    /// Whether RSS growth fails the run (not in the suite's short run, where
    /// warm-up is most of the time).
    check_rss: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let usage =
        "usage: cargo xtask soak HOURS [--slice-secs N] [--sample-secs N] [--out DIR] [--debug]";
    let hours: f64 = args
        .first()
        .and_then(|h| h.parse().ok())
        .filter(|h: &f64| *h > 0.0 && h.is_finite())
        .context(usage)?;
    let mut o = Options {
        duration: Duration::from_secs_f64(hours * 3600.0),
        slice_secs: 60,
        sample: Duration::from_secs(10),
        out: workspace_root().join("target/soak"),
        release: true,
        check_rss: true,
    };
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().context(usage);
        match a.as_str() {
            "--slice-secs" => o.slice_secs = value()?.parse().context(usage)?,
            "--sample-secs" => o.sample = Duration::from_secs(value()?.parse().context(usage)?),
            "--out" => o.out = PathBuf::from(value()?),
            "--debug" => o.release = false,
            _ => bail!("{usage}"),
        }
    }
    ensure!(o.slice_secs >= 1 && !o.sample.is_zero(), "{usage}");
    Ok(o)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    soak(&parse(args)?)
}

/// The suite's version: two minutes of the debug build, a slice every 10 s,
/// failing on open files or threads that climb (RSS is reported only).
pub fn short() -> anyhow::Result<()> {
    soak(&Options {
        duration: Duration::from_secs(120),
        slice_secs: 10,
        sample: Duration::from_secs(5),
        out: workspace_root().join("target/soak-test"),
        release: false,
        check_rss: false,
    })
}

fn soak(o: &Options) -> anyhow::Result<()> {
    setup::ensure_demo()?;
    let root = workspace_root();
    let bin = if o.release {
        crate::build_release(&["txcloudrecord", "txcloudrecord-backend"])?;
        root.join("target/release")
    } else {
        root.join("target/debug")
    };
    let _ = std::fs::remove_dir_all(&o.out);
    std::fs::create_dir_all(&o.out)?;
    let (backend, backend_port) = start_backend(&bin, &o.out.join("backend"))?;
    let (svc, port) = start_service(&bin, &o.out, backend_port, "test-pattern", None)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let sig = txcr_auth::gen_user_sig(DEMO_APP, DEMO_KEY, "teacher", 86_400 * 7, now);
    local::post(
        port,
        "Init",
        &format!(r#"{{"SdkAppId":{DEMO_APP},"UserId":"teacher","UserSig":"{sig}"}}"#),
    )?;
    local::post(
        port,
        "StartRecord",
        &format!(
            r#"{{"AppProc":"soak","DstPath":"soak.flv","VideoFps":{FPS},"SliceTime":{},"ClassId":9}}"#,
            o.slice_secs
        ),
    )?;
    let task = local::post(port, "GetState", "")?["Record"]["TaskId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "==> soak: recording {:.2} h (slice every {} s, sample every {} s) into {}",
        o.duration.as_secs_f64() / 3600.0,
        o.slice_secs,
        o.sample.as_secs(),
        o.out.display()
    );
    let csv_path = o.out.join("soak.csv");
    let mut csv = std::fs::File::create(&csv_path)?;
    writeln!(
        csv,
        "t_s,svc_rss_kib,svc_fds,svc_threads,svc_pool_threads,svc_cpu_s,backend_rss_kib,backend_fds,backend_threads,backend_pool_threads,backend_cpu_s"
    )?;
    // Which threads there are, written whenever the set changes: the first
    // thing to read when a count climbs.
    let mut names_log = std::fs::File::create(o.out.join("threads.log"))?;
    let mut last_names = (String::new(), String::new());
    let mut samples: Vec<(f64, Reading, Reading)> = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < o.duration {
        let t = t0.elapsed().as_secs_f64();
        let ((s, s_names), (b, b_names)) = (read_proc(svc.0.id())?, read_proc(backend.0.id())?);
        writeln!(
            csv,
            "{t:.1},{},{},{},{},{:.2},{},{},{},{},{:.2}",
            s.rss_kib,
            s.fds,
            s.threads,
            s.pool,
            s.cpu_s,
            b.rss_kib,
            b.fds,
            b.threads,
            b.pool,
            b.cpu_s
        )?;
        csv.flush()?;
        samples.push((t, s, b));
        let names = (s_names, b_names);
        if names != last_names {
            writeln!(names_log, "{t:.0} s service: {}", names.0)?;
            writeln!(names_log, "{t:.0} s backend: {}", names.1)?;
            last_names = names;
        }
        let state = local::post(port, "GetState", "")?;
        ensure!(
            state["Record"]["State"] == "Recording",
            "the recording stopped at {t:.0} s: {state}"
        );
        sleep(o.sample.min(o.duration.saturating_sub(t0.elapsed())));
    }
    local::post(port, "StopRecord", "")?;
    let recorded = t0.elapsed();
    let slices = wait_uploaded(port, &task)?;
    let (rec, mp4_ms) = wait_spliced(backend_port, &task, &o.out)?;
    drop(svc);
    drop(backend);
    plot(&o.out.join("soak.svg"), &samples)?;

    let slice_ms: f64 = slices
        .iter()
        .map(|p| probe_ms(p))
        .sum::<anyhow::Result<f64>>()?;
    let frame_ms = 1000.0 / f64::from(FPS);
    let tolerance = frame_ms * slices.len() as f64;
    println!(
        "==> recorded {:.1} s wall clock in {} slices ({:.1} s of slices); MP4 {:.1} s ({} bytes)",
        recorded.as_secs_f64(),
        slices.len(),
        slice_ms / 1000.0,
        mp4_ms / 1000.0,
        rec["VideoOutputSize"]
    );
    let rss = [
        grows("service RSS", &samples, |r| r.1.rss_kib as f64, o.duration),
        grows("backend RSS", &samples, |r| r.2.rss_kib as f64, o.duration),
    ];
    let counts = [
        climbs("service open files", &samples, |r| r.1.fds),
        climbs("service threads outside pools", &samples, |r| {
            r.1.threads - r.1.pool
        }),
        bounded(
            "service pool threads",
            &samples,
            |r| r.1.pool,
            2 + MAX_BLOCKING,
        ),
        climbs("backend open files", &samples, |r| r.2.fds),
        climbs("backend threads outside pools", &samples, |r| {
            r.2.threads - r.2.pool
        }),
        bounded(
            "backend pool threads",
            &samples,
            |r| r.2.pool,
            cores() + MAX_BLOCKING + SQLITE_POOL,
        ),
    ];
    for v in rss.iter().chain(&counts) {
        println!(
            "    {}",
            v.as_ref()
                .map_or_else(|e| format!("FAIL {e}"), |ok| ok.clone())
        );
    }
    println!(
        "    threads at the end: service {}; backend {}",
        last_names.0, last_names.1
    );
    println!(
        "    CSV {}; plot {}; thread names {}",
        csv_path.display(),
        o.out.join("soak.svg").display(),
        o.out.join("threads.log").display()
    );
    for v in counts {
        v?;
    }
    if o.check_rss {
        for v in rss {
            v?;
        }
    }
    ensure!(
        (mp4_ms - slice_ms).abs() <= tolerance,
        "the MP4 lasts {mp4_ms:.0} ms, its slices {slice_ms:.0} ms (±{tolerance:.0} ms allowed)"
    );
    println!("==> soak passed: nothing grew, the MP4 is as long as its slices ±{tolerance:.0} ms");
    Ok(())
}

/// RSS at the end against the 10-minute mark (or a tenth of a shorter run).
fn grows(
    what: &str,
    samples: &[(f64, Reading, Reading)],
    value: impl Fn(&(f64, Reading, Reading)) -> f64,
    duration: Duration,
) -> anyhow::Result<String> {
    // The 10-minute mark, once the run is long enough for warm-up to be over
    // by then (20 minutes); a tenth of a shorter run.
    let secs = duration.as_secs_f64();
    let mark = if secs >= 1200.0 { 600.0 } else { secs / 10.0 };
    let base = samples
        .iter()
        .find(|s| s.0 >= mark)
        .map(&value)
        .context("no sample after the mark")?;
    let end = samples.last().map(&value).unwrap_or(base);
    let ratio = end / base.max(1.0);
    let line = format!(
        "{what}: {:.1} MiB at {:.0} s, {:.1} MiB at the end ({:+.1}%)",
        base / 1024.0,
        mark,
        end / 1024.0,
        (ratio - 1.0) * 100.0
    );
    ensure!(ratio <= 1.10, "{line}: more than 10% up");
    Ok(line)
}

/// The level a count keeps in the last quarter (its median) against the
/// highest of the first half. A leak raises the level with every slice; a
/// connection open for one sample (an upload overlapping a GetState) is a
/// peak, not a level, so the peaks are reported but do not fail the run.
fn climbs(
    what: &str,
    samples: &[(f64, Reading, Reading)],
    value: impl Fn(&(f64, Reading, Reading)) -> u64,
) -> anyhow::Result<String> {
    let (half, quarter) = (samples.len() / 2, samples.len() * 3 / 4);
    let first = samples[..half].iter().map(&value).max().unwrap_or(0);
    let peak = samples[half..].iter().map(&value).max().unwrap_or(0);
    let mut tail: Vec<u64> = samples[quarter..].iter().map(&value).collect();
    tail.sort_unstable();
    let level = tail.get(tail.len() / 2).copied().unwrap_or(0);
    let line = format!(
        "{what}: at most {first} in the first half; in the last quarter {level} (median), at most {peak} in the second half"
    );
    ensure!(level <= first, "{line}: it climbs");
    Ok(line)
}

/// The highest count against a pool's bound.
fn bounded(
    what: &str,
    samples: &[(f64, Reading, Reading)],
    value: impl Fn(&(f64, Reading, Reading)) -> u64,
    bound: u64,
) -> anyhow::Result<String> {
    let peak = samples.iter().map(&value).max().unwrap_or(0);
    let line = format!("{what}: at most {peak} (bound {bound})");
    ensure!(peak <= bound, "{line}: over the bound");
    Ok(line)
}

/// Tokio's default worker count, the backend's: one per core.
fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// Wait until the task's slices are all uploaded; the local slice files.
fn wait_uploaded(port: u16, task: &str) -> anyhow::Result<Vec<PathBuf>> {
    let t0 = Instant::now();
    loop {
        let st = local::post(port, "GetState", "")?;
        let up = local::upload_of(&st, task);
        if up["State"] == "uploaded" {
            let slices = st["Record"]["Slices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(PathBuf::from)
                .collect::<Vec<_>>();
            ensure!(!slices.is_empty(), "GetState lists no slice: {st}");
            return Ok(slices);
        }
        ensure!(
            t0.elapsed() < Duration::from_secs(120),
            "slices not uploaded within 120 s: {up}"
        );
        sleep(Duration::from_millis(250));
    }
}

/// Wait for the task's record; it and the MP4's duration (ffprobe), ms.
fn wait_spliced(backend_port: u16, task: &str, out: &Path) -> anyhow::Result<(Value, f64)> {
    let t0 = Instant::now();
    let rec = loop {
        let q = query(backend_port, 9)?;
        if let Some(r) = q["record_info_list"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["TaskId"] == task)
        {
            break r.clone();
        }
        ensure!(
            t0.elapsed() < Duration::from_secs(300),
            "not spliced within 300 s: {q}"
        );
        sleep(Duration::from_millis(500));
    };
    let mp4 = fetch_media(backend_port, &rec)?;
    let file = out.join("soak.mp4");
    std::fs::write(&file, mp4)?;
    let ms = probe_ms(&file)?;
    Ok((rec, ms))
}

/// A file's duration by ffprobe, ms.
fn probe_ms(file: &Path) -> anyhow::Result<f64> {
    Ok(local::probe_secs(file)? * 1000.0)
}

/// Four panels over time: RSS (MiB), open files, threads, CPU share.
fn plot(path: &Path, samples: &[(f64, Reading, Reading)]) -> anyhow::Result<()> {
    use plotters::prelude::*;

    type Pick = fn(&(f64, Reading, Reading), bool) -> f64;
    let panels: [(&str, Pick); 4] = [
        (
            "RSS, MiB",
            |s, b| if b { s.2.rss_kib } else { s.1.rss_kib } as f64 / 1024.0,
        ),
        (
            "open files",
            |s, b| if b { s.2.fds } else { s.1.fds } as f64,
        ),
        (
            "threads",
            |s, b| if b { s.2.threads } else { s.1.threads } as f64,
        ),
        ("CPU seconds", |s, b| if b { s.2.cpu_s } else { s.1.cpu_s }),
    ];
    let minutes = |s: &(f64, Reading, Reading)| s.0 / 60.0;
    let t_max = samples.last().map_or(1.0, minutes).max(0.1);
    let root = SVGBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    for (area, (title, f)) in root.split_evenly((2, 2)).iter().zip(panels) {
        let y_max = samples
            .iter()
            .flat_map(|s| [f(s, false), f(s, true)])
            .fold(1.0_f64, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("minutes")
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (backend, color, name) in [(false, &BLUE, "service"), (true, &RED, "backend")] {
            chart
                .draw_series(LineSeries::new(
                    samples.iter().map(|s| (minutes(s), f(s, backend))),
                    color,
                ))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
