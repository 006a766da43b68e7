//! `cargo xtask <setup|test|demo|bench>`: the project's workflows, never in the
//! build path of the libraries or apps.

#[cfg(unix)]
mod bench;
#[cfg(unix)]
mod bench_splice;
mod check_windows;
#[cfg(unix)]
mod criterion;
mod demo;
#[cfg(unix)]
mod fuzz;
mod layers;
mod local;
mod msrv;
#[cfg(unix)]
mod package;
mod refs;
mod setup;
#[cfg(unix)]
mod soak;

use std::process::Command;

use anyhow::{bail, Context};

const USAGE: &str = "usage: cargo xtask <command>

  setup   check (and, as root, install) the Debian/Ubuntu packages the build and tests need
  test    setup, then the rust-version, crate-layer and outside-reference checks, cargo fmt --check,
          clippy -D warnings, the Windows type-check, the packages' check, and every test
  msrv    check the workspace's rust-version covers every locked dependency's
  layers  check every workspace crate imports only from lower layers (ARCHITECTURE.md)
  refs    check no tracked file points at material outside the repository
  check-windows
          cargo check and clippy -D warnings of the whole workspace for
          x86_64-pc-windows-msvc, on this Linux machine (installs Debian's
          rustc-web, its std source and mingw-w64 headers)
  demo [PROCESS]
          setup, build, run the backend and the service on embedded defaults, record a
          short class (a window of PROCESS, or a moving test window; Xvfb if no DISPLAY),
          splice it, wait for the callback, print the MP4 and a playback link
  bench [SECONDS] [--rounds N] [--only TEXT|load]
          record the same moving window (720p15, 1080p15, 1080p30, with and without
          sound; a slide deck) with us, ffmpeg -f x11grab and GStreamer ximagesrc, and
          compare CPU, frames, memory, bitrate and PSNR (default 20 s a run); then
          GetState latency under load while recording 1080p30
  criterion [-- ARGS]
          the criterion benchmarks of each stage (grab+convert, encode, mux, splice),
          with Xvfb and a test window for the X11 grab
  fuzz [SECONDS]
          every fuzz target in fuzz/ for that long (default 60 s each), from its kept corpus,
          on the nightly toolchain through cargo fuzz (installed when missing)
  package [--out DIR | --check]
          release builds of the local service and the backend as Debian packages
          (cargo-deb, installed when missing; default into target/debian); --check
          packages the debug build, installs it into a throwaway root and starts it
  soak HOURS [--slice-secs N] [--sample-secs N] [--out DIR] [--debug]
          a long class on embedded defaults (test pattern and tone, a slice a minute):
          RSS, open files, threads and CPU of both processes every 10 s into
          target/soak/soak.csv and soak.svg; fails if any grew or the MP4 is short
  bench-splice [MINUTES] [SLICES]
          splice a class of FLV slices (default 60 min in 12) with ours and with
          ffmpeg -f concat -c copy -movflags +faststart: time, CPU, memory";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup::ensure(),
        Some("test") => test(),
        Some("msrv") => msrv::check(),
        Some("layers") => layers::check(),
        Some("refs") => refs::check(),
        Some("check-windows") => check_windows::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        #[cfg(unix)]
        Some("package") => package::run(&args[1..]),
        #[cfg(unix)]
        Some("soak") => soak::run(&args[1..]),
        #[cfg(unix)]
        Some("bench") => bench::run(&args[1..]),
        #[cfg(unix)]
        Some("bench-splice") => bench_splice::run(&args[1..]),
        #[cfg(unix)]
        Some("criterion") => criterion::run(&args[1..]),
        #[cfg(unix)]
        Some("fuzz") => match args.get(1).map(|s| s.parse::<u64>()) {
            None => fuzz::run(60),
            Some(Ok(secs)) if secs > 0 => fuzz::run(secs),
            Some(_) => bail!("usage: cargo xtask fuzz [SECONDS]"),
        },
        _ => {
            println!("{USAGE}");
            if args.is_empty() {
                Ok(())
            } else {
                bail!("unknown command {:?}", args[0])
            }
        }
    }
}

/// Run cargo from the workspace root, failing on a non-zero exit.
pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("==> cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// `cargo build --release` of these packages.
pub fn build_release(packages: &[&str]) -> anyhow::Result<()> {
    let mut args = vec!["build", "--release"];
    for p in packages {
        args.extend(["-p", p]);
    }
    cargo(&args)
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Seconds each fuzz target runs in `cargo xtask test`.
#[cfg(unix)]
const FUZZ_SECS_IN_TEST: u64 = 15;

fn test() -> anyhow::Result<()> {
    setup::ensure()?;
    msrv::check()?;
    layers::check()?;
    refs::check()?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    check_windows::run(&[])?;
    // The end-to-end tests run sibling binaries (backend, s3dev, testwin);
    // build them first so no test waits on a build.
    cargo(&["build", "--workspace", "--bins"])?;
    // The .deb packages of that build: contents, install, units, a start.
    #[cfg(target_os = "linux")]
    package::check()?;
    cargo(&["test", "--workspace"])?;
    // Each parser of untrusted bytes, briefly: regressions in CI, not a hunt.
    #[cfg(unix)]
    fuzz::run(FUZZ_SECS_IN_TEST)?;
    // Two minutes of a class: no open file or thread may climb.
    #[cfg(unix)]
    soak::short()?;
    println!("==> all checks passed");
    Ok(())
}
