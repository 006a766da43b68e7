//! System packages: what the build (libx264, bindgen's libclang) and the tests
//! (ffmpeg/ffprobe as the independent decoder) need on Debian/Ubuntu.

use std::process::Command;

use anyhow::{bail, Context};

/// Debian package → why: what building the service and the backend needs.
pub const BUILD_PACKAGES: &[(&str, &str)] = &[
    ("pkg-config", "finds libx264"),
    ("libx264-dev", "H.264 encoder (GPL)"),
    ("libclang-dev", "bindgen for x264-sys"),
    ("clang", "bindgen for x264-sys"),
    ("libasound2-dev", "cpal (ALSA) for sound capture"),
    (
        "libpulse-dev",
        "native PulseAudio/PipeWire sound capture (libpulse)",
    ),
];

/// What `cargo xtask demo` adds to the build's.
pub const DEMO_PACKAGES: &[(&str, &str)] = &[
    ("ffmpeg", "ffprobe checks the recorded slices"),
    (
        "xvfb",
        "a virtual display for the test window when there is no DISPLAY",
    ),
];

/// What the tests add to the demo's.
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    (
        "x11-apps",
        "stock X clients (xeyes) the tests record by process name",
    ),
    (
        "pulseaudio",
        "tests play known sounds through a private server",
    ),
    ("pulseaudio-utils", "pactl, to drive that server in tests"),
    ("libasound2-plugins", "ALSA to PulseAudio bridge"),
    (
        "chromium",
        "tests play the backend's playback page in a headless browser",
    ),
    (
        "postgresql",
        "tests run two backends against one PostgreSQL",
    ),
];

/// What `cargo xtask package` needs (and the tests, which build the packages).
pub const PACKAGE_PACKAGES: &[(&str, &str)] = &[
    (
        "dpkg-dev",
        "dpkg-shlibdeps: cargo-deb finds the libraries the binaries need",
    ),
    (
        "systemd",
        "systemd-analyze verify checks the units; systemd-sysusers makes the backend's user",
    ),
];

/// What `cargo xtask bench` adds: the recorders we are compared with.
#[cfg(unix)]
pub const BENCH_PACKAGES: &[(&str, &str)] = &[
    (
        "gstreamer1.0-tools",
        "gst-launch-1.0, a recorder the bench compares with",
    ),
    ("gstreamer1.0-plugins-base", "videoconvert, audioconvert"),
    ("gstreamer1.0-plugins-good", "ximagesrc, flvmux"),
    ("gstreamer1.0-plugins-ugly", "x264enc"),
    ("gstreamer1.0-plugins-bad", "voaacenc"),
    ("gstreamer1.0-pulseaudio", "pulsesrc"),
];

fn on_path(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn installed(pkg: &str) -> bool {
    // Any Chromium-based browser serves the page test (Ubuntu's `chromium`
    // package is only a snap stub; CI runners ship Google Chrome).
    if pkg == "chromium"
        && ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .any(on_path)
    {
        return true;
    }
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Make sure every package the build and the tests need is there: install
/// what is missing when we can (root, or sudo without a password), otherwise
/// say exactly what to run.
pub fn ensure() -> anyhow::Result<()> {
    ensure_packages(
        &[
            BUILD_PACKAGES,
            DEMO_PACKAGES,
            TEST_PACKAGES,
            PACKAGE_PACKAGES,
        ]
        .concat(),
    )
}

/// As [`ensure`], for what the demo needs only (no browser, database or
/// sound server).
pub fn ensure_demo() -> anyhow::Result<()> {
    ensure_packages(&[BUILD_PACKAGES, DEMO_PACKAGES].concat())
}

/// As [`ensure`], for `packages`.
pub fn ensure_packages(packages: &[(&str, &str)]) -> anyhow::Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("==> not a Debian/Ubuntu system: make sure pkg-config, libx264 (dev), libclang and ffmpeg are installed");
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        println!(
            "==> system packages present: {}",
            packages
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(" ")
        );
        return Ok(());
    }
    let mut prefix: Vec<&str> = Vec::new();
    if !is_root() {
        let sudo_ok = Command::new("sudo")
            .args(["-n", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if !sudo_ok {
            bail!(
                "missing packages; run: sudo apt-get install -y {}",
                missing.join(" ")
            );
        }
        prefix.push("sudo");
    }
    println!("==> installing {}", missing.join(" "));
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let all: Vec<&str> = prefix.iter().copied().chain(args.iter().copied()).collect();
        let status = Command::new(all[0])
            .args(&all[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running {}", all.join(" ")))?;
        if !status.success() {
            bail!("{} failed", all.join(" "));
        }
        Ok(())
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    run(&install)
}
