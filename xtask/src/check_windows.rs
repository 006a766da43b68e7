//! `cargo xtask check-windows`: type-check the whole workspace for
//! `x86_64-pc-windows-msvc` on this Debian machine, with no Windows SDK, no
//! MSVC and no linker: `cargo check`, then `cargo clippy --workspace
//! --all-targets -- -D warnings`, so a change that breaks the users' platform
//! fails here, in every `cargo xtask test`.
//!
//! How, and why each piece:
//! - **A compiler whose standard library can be built for Windows.** rustup
//!   cannot fetch a target's std here, but Debian ships `rustc-web` and
//!   `cargo-web` with `rust-web-src`, the std source of exactly that compiler,
//!   so `-Zbuild-std=std,panic_abort` (allowed on a stable compiler by
//!   `RUSTC_BOOTSTRAP=1`) builds std's metadata for the target. `PATH` starts
//!   with `/usr/bin` so that cargo finds Debian's `cargo-clippy`.
//! - **Nothing is linked**, so C libraries built by build scripts need not be
//!   real: a stand-in C compiler and archiver write empty objects and
//!   archives (bundled SQLite), and aws-lc-sys's build script is replaced by a
//!   `links` override that emits what its dependants read (`cfg(universal)`,
//!   an include path).
//! - **x264-sys's bindgen** runs against the Windows ABI with mingw-w64's
//!   headers for `<inttypes.h>`, and takes libx264's version and headers from
//!   the Linux `libx264-dev` through pkg-config.
//!
//! Everything goes to its own target directory (`target/windows-check`), so
//! it never invalidates the Linux build.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::{setup, workspace_root};

const TARGET: &str = "x86_64-pc-windows-msvc";

/// Debian packages → why.
const PACKAGES: &[(&str, &str)] = &[
    ("rustc-web", "a rustc whose std source is packaged"),
    ("cargo-web", "its cargo"),
    ("rust-web-src", "that std's source, for -Zbuild-std"),
    ("rust-web-clippy", "its clippy"),
    (
        "mingw-w64-x86-64-dev",
        "Windows C headers for x264-sys's bindgen",
    ),
];

/// Stand-in C compiler: writes an empty object wherever `-o`/`-Fo` points.
const FAKE_CC: &str = r#"#!/bin/sh
# Stand-in C compiler for a type-check: nothing is linked, so an empty object will do.
out=""; prev=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  case "$a" in -Fo*|/Fo*) out="${a#???}";; esac
  prev="$a"
done
[ -n "$out" ] && : > "$out"
exit 0
"#;

/// Stand-in archiver: writes an empty archive (`-out:` or the `.a`/`.lib` named).
const FAKE_AR: &str = r#"#!/bin/sh
# Stand-in archiver for a type-check: an empty archive will do.
for a in "$@"; do
  case "$a" in
    [/-][Oo][Uu][Tt]:*) : > "${a#?????}"; exit 0;;
    *.a|*.lib) [ -e "$a" ] || : > "$a"; exit 0;;
  esac
done
exit 0
"#;

pub fn run(_args: &[String]) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    setup::ensure_packages(PACKAGES)?;
    let std_src = Path::new("/usr/lib/rustlib/src/rust/library/Cargo.lock");
    if !std_src.exists() {
        bail!("rust-web-src did not install the std source of /usr/bin/rustc");
    }
    let root = workspace_root();
    let target_dir = root.join("target").join("windows-check");
    let tools = target_dir.join("tools");
    std::fs::create_dir_all(tools.join("include"))?;
    let cc = write_script(&tools, "fake-cc", FAKE_CC)?;
    let ar = write_script(&tools, "fake-ar", FAKE_AR)?;
    let config = aws_lc_override(&root, &tools)?;

    let cargo = |args: &[&str]| -> anyhow::Result<()> {
        println!("==> (windows) cargo {}", args.join(" "));
        let mut cmd = Command::new("/usr/bin/cargo");
        if let Some(config) = &config {
            cmd.arg("--config").arg(config);
        }
        // rustup's variables would point the Debian cargo at rustup's tools.
        for var in [
            "RUSTUP_TOOLCHAIN",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTDOC",
            "CARGO",
        ] {
            cmd.env_remove(var);
        }
        let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
        // The subcommand, then cargo's own options, then the caller's (which
        // may end in `-- <compiler flags>`).
        let status = cmd
            .arg(args[0])
            .args(["-Zbuild-std=std,panic_abort", "--target", TARGET])
            .args(&args[1..])
            .current_dir(&root)
            .env("PATH", path)
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CC_x86_64_pc_windows_msvc", &cc)
            .env("AR_x86_64_pc_windows_msvc", &ar)
            .env("PKG_CONFIG_ALLOW_CROSS", "1")
            .env(
                "BINDGEN_EXTRA_CLANG_ARGS_x86_64_pc_windows_msvc",
                "-isystem /usr/x86_64-w64-mingw32/include -idirafter /usr/include \
                 -idirafter /usr/include/x86_64-linux-gnu",
            )
            .status()
            .context("running Debian's cargo (/usr/bin/cargo)")?;
        if !status.success() {
            bail!("the Windows type-check failed: cargo {}", args.join(" "));
        }
        Ok(())
    };
    cargo(&["check", "--workspace", "--all-targets"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    println!(
        "==> the Windows build type-checks and is clippy-clean ({} s)",
        started.elapsed().as_secs()
    );
    Ok(())
}

fn write_script(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// A cargo config replacing aws-lc-sys's build script for the target (its
/// `links` key carries its version, read from Cargo.lock); `None` when the
/// workspace does not use it.
fn aws_lc_override(root: &Path, tools: &Path) -> anyhow::Result<Option<PathBuf>> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aws-lc-sys\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').replace('.', "_"));
    let Some(version) = version else {
        return Ok(None);
    };
    let include = tools.join("include");
    let path = tools.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[target.{TARGET}.aws_lc_{version}]\nrustc-cfg = [\"universal\"]\ninclude = {inc:?}\nroot = {inc:?}\n",
            inc = include.display().to_string()
        ),
    )?;
    Ok(Some(path))
}
