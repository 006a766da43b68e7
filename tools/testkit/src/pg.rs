//! A throwaway PostgreSQL server on 127.0.0.1 (Debian's postgresql package),
//! started and stopped by the test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    pub url: String,
    data: PathBuf,
    opts: String,
    running: bool,
    _dir: tempfile::TempDir,
}

fn pg_bin(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("postgresql is installed (cargo xtask setup)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .collect();
    dirs.sort();
    dirs.pop().expect("a PostgreSQL version").join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Run a PostgreSQL tool (as the postgres user when we are root: the server refuses root).
fn run(name: &str, args: &[&str]) {
    let bin = pg_bin(name);
    let status = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&bin)
            .args(args)
            .status()
    } else {
        Command::new(&bin).args(args).status()
    }
    .unwrap();
    assert!(status.success(), "{name} {args:?}");
}

impl Postgres {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let sock = dir.path().to_owned();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = data.to_str().unwrap();
        run(
            "initdb",
            &["-D", d, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            sock.display()
        );
        let mut pg = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            data,
            opts,
            running: false,
            _dir: dir,
        };
        pg.start_again();
        pg
    }

    /// Start the stopped server again, same port, same data.
    pub fn start_again(&mut self) {
        let d = self.data.to_str().unwrap();
        run(
            "pg_ctl",
            &[
                "-D",
                d,
                "-o",
                &self.opts,
                "-w",
                "-s",
                "-l",
                &format!("{d}.log"),
                "start",
            ],
        );
        self.running = true;
    }

    /// Stop the server at once, as a crash would (`-m immediate`).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-s",
                "stop",
            ],
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
