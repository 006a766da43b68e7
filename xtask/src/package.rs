//! `cargo xtask package`: Debian packages of the local service and of the
//! backend, built by cargo-deb (installed at a pinned version when missing)
//! from each app's `[package.metadata.deb]`; the units, desktop entry,
//! sysusers entry, packaged config and maintainer scripts live in
//! `apps/<app>/debian/`.
//!
//! [`check`], run by `cargo xtask test`, packages the build the tests use and
//! proves the packages work: their files and metadata (`dpkg-deb`), both
//! installed with dpkg into a throwaway root (maintainer scripts run against
//! that root through `DPKG_ROOT`, so the backend's user is made there), the
//! units verified by `systemd-analyze`, and the installed backend started
//! from that root as systemd would start it: `READY=1` on `NOTIFY_SOCKET`,
//! `/healthz` answering, `STOPPING=1` and a clean exit on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context};

use crate::local::{first_line, http, port_of, Killed};
use crate::{setup, workspace_root};

/// cargo-deb's version: its options and its handling of profiles change
/// between releases.
const CARGO_DEB: &str = "3.8.0";

/// The packaged apps.
const APPS: [&str; 2] = ["txcloudrecord", "txcloudrecord-backend"];

/// Files each package must hold.
const LOCAL_FILES: &[&str] = &[
    "./usr/bin/txcloudrecord",
    "./usr/share/applications/txcloudrecord-tc-record.desktop",
    "./usr/lib/systemd/user/txcloudrecord.service",
    "./usr/share/doc/txcloudrecord/local-api.md",
    "./usr/share/doc/txcloudrecord/examples/txcloudrecord.toml",
];
const BACKEND_FILES: &[&str] = &[
    "./usr/bin/txcloudrecord-backend",
    "./etc/txcloudrecord/backend.toml",
    "./usr/lib/systemd/system/txcloudrecord-backend.service",
    "./usr/lib/sysusers.d/txcloudrecord-backend.conf",
    "./usr/share/doc/txcloudrecord-backend/backend-api.md",
    "./usr/share/doc/txcloudrecord-backend/examples/backend.toml",
];

fn ensure_cargo_deb() -> anyhow::Result<()> {
    let have = Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CARGO_DEB)
        });
    if have {
        return Ok(());
    }
    println!("==> installing cargo-deb {CARGO_DEB}");
    let ok = Command::new("cargo")
        .args(["install", "cargo-deb", "--locked", "--version", CARGO_DEB])
        .status()
        .is_ok_and(|s| s.success());
    ensure!(
        ok,
        "cannot install cargo-deb: run `cargo install cargo-deb --locked --version {CARGO_DEB}`"
    );
    Ok(())
}

/// Run a command, failing with its name; its stdout.
fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `.deb` cargo-deb wrote for `app` into `out`.
fn deb_of(out: &Path, app: &str) -> anyhow::Result<PathBuf> {
    let prefix = format!("{app}_");
    std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .with_context(|| format!("cargo-deb wrote no package of {app} into {}", out.display()))
}

/// `cargo xtask package [--out DIR]`: release builds of both apps, packaged;
/// `--check`: [`check`] (after `cargo build --workspace --bins`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let out = match args {
        [] => workspace_root().join("target/debian"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        [flag] if flag == "--check" => return check(),
        _ => bail!("usage: cargo xtask package [--out DIR | --check]"),
    };
    setup::ensure_packages(&[setup::BUILD_PACKAGES, setup::PACKAGE_PACKAGES].concat())?;
    ensure_cargo_deb()?;
    std::fs::create_dir_all(&out)?;
    let out_s = out.to_str().context("the output directory is not UTF-8")?;
    for app in APPS {
        // The release profile keeps line tables for backtraces: they go
        // into a -dbgsym package, the binary itself is stripped.
        crate::cargo(&["deb", "-p", app, "--dbgsym", "-o", out_s])?;
    }
    for app in APPS {
        println!("{}", deb_of(&out, app)?.display());
    }
    Ok(())
}

/// Build the packages from the debug build and prove they install and run.
pub fn check() -> anyhow::Result<()> {
    ensure_cargo_deb()?;
    let dir = workspace_root().join("target/package-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir_s = dir.to_str().context("the target directory is not UTF-8")?;
    for app in APPS {
        // The tests' own (dev) build, stripped and lightly compressed: the
        // packaging is what is checked here, not the release optimisation.
        crate::cargo(&[
            "deb",
            "-p",
            app,
            "--no-build",
            "--profile",
            "dev",
            "--strip",
            "--fast",
            "-q",
            "-o",
            dir_s,
        ])?;
    }
    let local = deb_of(&dir, "txcloudrecord")?;
    let backend = deb_of(&dir, "txcloudrecord-backend")?;
    check_contents(&local, LOCAL_FILES)?;
    check_contents(&backend, BACKEND_FILES)?;
    let depends = output(
        Command::new("dpkg-deb")
            .arg("-f")
            .arg(&local)
            .arg("Depends"),
    )?;
    ensure!(
        depends.contains("libx264"),
        "the local service's package does not declare libx264: Depends: {depends}"
    );
    let conffiles = output(
        Command::new("dpkg-deb")
            .arg("-I")
            .arg(&backend)
            .arg("conffiles"),
    )?;
    ensure!(
        conffiles
            .lines()
            .any(|l| l.trim() == "/etc/txcloudrecord/backend.toml"),
        "the backend's config is not a conffile: {conffiles}"
    );

    let root = dir.join("root");
    install_into(&root, &[&local, &backend])?;
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    ensure!(
        passwd.lines().any(|l| l.starts_with("txcloudrecord:")),
        "the backend's postinst made no txcloudrecord user in the root"
    );
    verify_units(&dir, &root)?;
    start_installed_backend(&dir, &root)?;
    println!("==> packages: contents, install, units and a start of the installed backend checked");
    Ok(())
}

fn check_contents(deb: &Path, files: &[&str]) -> anyhow::Result<()> {
    let listing = output(Command::new("dpkg-deb").arg("-c").arg(deb))?;
    for f in files {
        ensure!(
            listing.lines().any(|l| l.ends_with(f)),
            "{} lacks {f}:\n{listing}",
            deb.display()
        );
    }
    Ok(())
}

/// dpkg into an empty root: its own database, maintainer scripts run outside
/// a chroot with `DPKG_ROOT` (ours honour it), dependencies not installed there.
fn install_into(root: &Path, debs: &[&Path]) -> anyhow::Result<()> {
    let db = root.join("var/lib/dpkg");
    std::fs::create_dir_all(db.join("info"))?;
    std::fs::create_dir_all(db.join("updates"))?;
    std::fs::write(db.join("status"), "")?;
    std::fs::write(db.join("available"), "")?;
    let mut dpkg = Command::new("dpkg");
    dpkg.arg(format!("--root={}", root.display()))
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "--force-not-root",
            "--log=/dev/null",
            "-i",
        ])
        .args(debs);
    output(&mut dpkg)?;
    let status = std::fs::read_to_string(db.join("status"))?;
    for app in APPS {
        ensure!(
            status.contains(&format!("Package: {app}\nStatus: install ok installed")),
            "{app} is not installed in the root:\n{status}"
        );
    }
    Ok(())
}

fn verify_units(dir: &Path, root: &Path) -> anyhow::Result<()> {
    output(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .args([
                "--recursive-errors=no",
                "/usr/lib/systemd/system/txcloudrecord-backend.service",
            ]),
    )
    .context("systemd-analyze verify of the backend's unit")?;
    // A user unit cannot be verified under --root: verify a copy whose
    // ExecStart names the binary as installed in the root.
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/user/txcloudrecord.service"))?;
    let exe = root.join("usr/bin/txcloudrecord");
    let user = dir.join("user");
    std::fs::create_dir_all(&user)?;
    let copy = user.join("txcloudrecord.service");
    std::fs::write(
        &copy,
        unit.replace(
            "ExecStart=/usr/bin/txcloudrecord",
            &format!("ExecStart={}", exe.display()),
        ),
    )?;
    let runtime = dir.join("xdg-runtime");
    std::fs::create_dir_all(&runtime)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))?;
    }
    output(
        Command::new("systemd-analyze")
            .args(["verify", "--user", "--recursive-errors=no"])
            .arg(&copy)
            .env("XDG_RUNTIME_DIR", &runtime),
    )
    .context("systemd-analyze verify of the local service's user unit")?;
    Ok(())
}

/// Start the backend installed in `root` with its packaged config, the way
/// the unit does (Type=notify), on a free port.
fn start_installed_backend(dir: &Path, root: &Path) -> anyhow::Result<()> {
    use std::os::unix::net::UnixDatagram;

    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path)?;
    sock.set_read_timeout(Some(Duration::from_secs(60)))?;
    let wait_for = |what: &str| -> anyhow::Result<()> {
        let mut buf = [0u8; 512];
        loop {
            let n = sock
                .recv(&mut buf)
                .with_context(|| format!("the installed backend sent no {what} within 60 s"))?;
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == what)
            {
                return Ok(());
            }
        }
    };
    let child = Command::new(root.join("usr/bin/txcloudrecord-backend"))
        .arg("--config")
        .arg(root.join("etc/txcloudrecord/backend.toml"))
        .arg("--data-dir")
        .arg(root.join("var/lib/txcloudrecord"))
        .args(["--listen", "127.0.0.1:0", "--embedded-s3-port", "0"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env_remove("TXCR_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the installed backend")?;
    let mut backend = Killed(child);
    let port = port_of(&first_line(&mut backend.0)?)?;
    wait_for("READY=1")?;
    let (status, body) = http(port, "GET", "/healthz", "")?;
    ensure!(
        status == 200,
        "the installed backend's /healthz: {status} {}",
        String::from_utf8_lossy(&body)
    );
    // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
    unsafe { libc::kill(backend.0.id() as libc::pid_t, libc::SIGTERM) };
    wait_for("STOPPING=1")?;
    let exit = backend.0.wait()?;
    ensure!(
        exit.success(),
        "the installed backend exited with {exit} on SIGTERM"
    );
    Ok(())
}
