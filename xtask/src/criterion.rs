//! `cargo xtask criterion [-- CRITERION ARGS]`: the per-stage criterion
//! benches (`benches/`: grab+convert, encode, mux, splice), with a private
//! Xvfb and a 1920x1080 test window so the X11 grab is measured too.

use std::process::Command;

use anyhow::{bail, Context};

use crate::local::{window, xvfb};
use crate::{cargo, setup, workspace_root};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    setup::ensure()?;
    cargo(&["build", "--release", "-p", "txcr-testwin"])?;
    let (_x, display) = xvfb(1920, 1080)?;
    let (_win, xid) = window(
        &display,
        1920,
        1080,
        &["--fps", "15", "--scene", "document"],
    )?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let extra = args.iter().skip_while(|a| *a == "--");
    println!("==> cargo bench -p txcr-benches (X11 window {xid} on {display})");
    let status = Command::new(cargo)
        .args(["bench", "-p", "txcr-benches", "--"])
        .args(extra)
        .current_dir(workspace_root())
        .env("DISPLAY", &display)
        .env("TXCR_BENCH_WINDOW", &xid)
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench failed");
    }
    Ok(())
}
