//! Headless Chromium for the page tests.
#![allow(dead_code)]

use std::process::{Command, Stdio};

use super::Running;

/// A headless browser; it and its helper processes are killed when dropped.
pub struct Browser(Running);

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser leads its own process group: end the helpers with it
        // (then `Running` reaps the browser itself).
        #[cfg(unix)]
        {
            let group = format!("-{}", self.0 .0.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
    }
}

/// Chromium (or Chrome): `TXCR_TEST_BROWSER`, else the first on PATH.
pub fn browser() -> String {
    if let Ok(b) = std::env::var("TXCR_TEST_BROWSER") {
        return b;
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is installed (cargo xtask setup)")
        .to_owned()
}

/// A headless browser showing `url` until dropped (its profile in `profile`).
pub fn open(url: &str, profile: &std::path::Path) -> Browser {
    let mut cmd = Command::new(browser());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    Browser(Running(
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts"),
    ))
}
