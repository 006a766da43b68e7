//! A private Xvfb display and test windows (`txcr-testwin`) for the capture tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn first_line(child: &mut Child) -> String {
    let out = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    line.trim().to_owned()
}

/// An Xvfb server on a display number it picks itself; killed when dropped.
pub struct Xvfb {
    pub display: String,
    child: Child,
}

impl Xvfb {
    pub fn start(composite: bool) -> Self {
        Self::with_screen(composite, "1280x720")
    }

    /// A display whose screen is `size` (`WxH`).
    pub fn with_screen(composite: bool, size: &str) -> Self {
        let mut cmd = Command::new("Xvfb");
        cmd.args(["-displayfd", "1", "-screen", "0", &format!("{size}x24")])
            .args(["-nolisten", "tcp", "-noreset"]);
        if !composite {
            cmd.args(["-extension", "Composite"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (cargo xtask setup)");
        let display = format!(":{}", first_line(&mut child));
        Xvfb { display, child }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn testwin_path() -> PathBuf {
    super::workspace_bin("txcr-testwin", "txcr-testwin")
}

/// A test window; killed (so its window is destroyed) when dropped.
pub struct TestWin {
    pub xid: u32,
    child: Child,
}

impl TestWin {
    pub fn start(display: &str, args: &[&str]) -> Self {
        let mut child = Command::new(testwin_path())
            .args(args)
            .env("DISPLAY", display)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let xid = first_line(&mut child)
            .parse()
            .expect("testwin printed its window id");
        TestWin { xid, child }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestWin {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A stock X client (`xeyes`, from Debian's x11-apps); killed when dropped.
pub struct XClient(Child);

impl XClient {
    pub fn start(display: &str, program: &str, args: &[&str]) -> Self {
        let child = Command::new(program)
            .args(args)
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is installed (cargo xtask setup): {e}"));
        XClient(child)
    }
}

impl Drop for XClient {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
