//! `cargo xtask fuzz [SECONDS]`: every libFuzzer target in `fuzz/` for that
//! long (default 60 s each), on the nightly toolchain through `cargo fuzz`
//! (both installed when missing). Each run starts from the target's kept
//! corpus (`fuzz/corpus/<target>`: real slices and requests, and every input
//! that once found a bug) and writes what it discovers to a scratch copy
//! under `target/`, so the repository is left as it was. A crash, a leak or
//! an allocation over the memory bound fails with the input's path.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use crate::workspace_root;

/// What one input may make a target allocate at once, MB, and its whole
/// process's memory: the bound the splice and parsers must keep.
const MALLOC_LIMIT_MB: u32 = 512;
const RSS_LIMIT_MB: u32 = 1024;

fn nightly(args: &[&str]) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly", "cargo"]).args(args);
    // The outer cargo's toolchain choice must not reach the nightly one.
    c.env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .current_dir(workspace_root());
    c
}

fn ensure_tools() -> anyhow::Result<()> {
    let have_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_nightly {
        println!("==> installing the nightly toolchain (cargo fuzz needs it)");
        let ok = Command::new("rustup")
            .args(["toolchain", "install", "nightly", "--profile", "minimal"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!("cannot install the nightly toolchain: run `rustup toolchain install nightly`");
        }
    }
    let have_fuzz = nightly(&["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_fuzz {
        println!("==> installing cargo-fuzz");
        let ok = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .env_remove("RUSTUP_TOOLCHAIN")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!("cannot install cargo-fuzz: run `cargo install cargo-fuzz --locked`");
        }
    }
    Ok(())
}

/// The targets: `fuzz/fuzz_targets/<name>.rs`.
fn targets(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("fuzz/fuzz_targets"))
        .context("reading fuzz/fuzz_targets")?
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "rs").then_some(name)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Run every target for `secs` seconds.
pub fn run(secs: u64) -> anyhow::Result<()> {
    ensure_tools()?;
    let root = workspace_root();
    println!("==> cargo +nightly fuzz build");
    if !nightly(&["fuzz", "build"])
        .status()
        .is_ok_and(|s| s.success())
    {
        bail!("building the fuzz targets failed");
    }
    let mut report = Vec::new();
    for t in targets(&root)? {
        let scratch = root.join("target/fuzz-runs").join(&t);
        let _ = std::fs::remove_dir_all(&scratch);
        let (corpus, artifacts) = (scratch.join("corpus"), scratch.join("artifacts"));
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let kept = root.join("fuzz/corpus").join(&t);
        std::fs::create_dir_all(&kept)?;
        println!("==> fuzzing {t} for {secs} s");
        let out = nightly(&["fuzz", "run", &t])
            .arg(&corpus)
            .arg(&kept)
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .arg(format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .output()
            .with_context(|| format!("running the {t} target"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map_or_else(|| "?".to_owned(), |n| n.trim().to_owned());
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            bail!(
                "fuzz target {t} failed after {runs} runs; the input is in {}: fix it and keep the input in fuzz/corpus/{t}",
                artifacts.display()
            );
        }
        report.push(format!("{t}: {runs} runs in {secs} s, nothing found"));
    }
    for line in &report {
        println!("==> fuzz {line}");
    }
    Ok(())
}
