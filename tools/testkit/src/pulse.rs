//! A private PulseAudio server with a null sink whose monitor is the default
//! source, for recording known sounds; killed when dropped.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pulse {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Pulse {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["run", "home"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("run"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "-n",
            "--load=module-native-protocol-unix",
            "--load=module-null-sink sink_name=rec_sink",
            "--load=module-always-sink",
        ]);
        let mut p = Pulse {
            child: Self::env(&mut cmd, &dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("pulseaudio is installed (cargo xtask setup)"),
            dir,
        };
        let socket = p.dir.path().join("run/pulse/native");
        let t0 = Instant::now();
        while !socket.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "pulseaudio did not start"
            );
            assert!(p.child.try_wait().unwrap().is_none(), "pulseaudio exited");
            std::thread::sleep(Duration::from_millis(50));
        }
        p.pactl(&["set-default-source", "rec_sink.monitor"]);
        p
    }

    fn env<'a>(cmd: &'a mut Command, dir: &tempfile::TempDir) -> &'a mut Command {
        cmd.env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env("HOME", dir.path().join("home"))
            .env_remove("PULSE_SERVER")
    }

    /// Environment for a client of this server.
    pub fn client_env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("XDG_RUNTIME_DIR", self.dir.path().join("run")),
            ("HOME", self.dir.path().join("home")),
        ]
    }

    /// A classroom: a second null sink `mic_sink` stands for the microphone
    /// (its monitor is the default source; play into it to speak), while
    /// `rec_sink` stays the default output (what the class app plays).
    pub fn classroom(&self) {
        self.pactl(&["load-module", "module-null-sink", "sink_name=mic_sink"]);
        self.pactl(&["set-default-source", "mic_sink.monitor"]);
        self.pactl(&["set-default-sink", "rec_sink"]);
    }

    /// Play a sine of `hz` into `sink` until the returned module is unloaded.
    pub fn sine(&self, sink: &str, hz: u32) -> String {
        self.pactl(&[
            "load-module",
            "module-sine",
            &format!("sink={sink}"),
            &format!("frequency={hz}"),
        ])
        .trim()
        .to_owned()
    }

    pub fn unload(&self, module: &str) {
        self.pactl(&["unload-module", module]);
    }

    pub fn pactl(&self, args: &[&str]) -> String {
        let out = Self::env(&mut Command::new("pactl"), &self.dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pactl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
