//! The real `txcloudrecord-backend` in its own process, and a webhook
//! receiver that records what it is sent.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::s3::S3;
use super::{read_port, Reply, APP, KEY};

pub const TICKEY: &str = "DzXpbluRsmo1JkoFxzKMNg5ifrA4GRlU";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A running backend; killed (if still running) when dropped.
pub struct Backend {
    /// The address it listens on (a loopback address).
    pub host: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Backend {
    /// Against `s3` with `prefix`, plus `env`.
    pub fn start(s3: &S3, prefix: &str, env: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), s3, prefix, env)
    }

    /// With its data in `dir` (a restart after [`Backend::kill9`]).
    pub fn start_in(dir: tempfile::TempDir, s3: &S3, prefix: &str, env: &[(&str, &str)]) -> Self {
        let mut all = s3.env(prefix);
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::launch(dir, all)
    }

    fn launch(dir: tempfile::TempDir, env: Vec<(String, String)>) -> Self {
        Self::launch_on("127.0.0.1", dir, env)
    }

    fn launch_on(host: &str, dir: tempfile::TempDir, env: Vec<(String, String)>) -> Self {
        let mut child = spawn(host, dir.path(), &env);
        let port = read_port(&mut child);
        Backend {
            host: host.to_owned(),
            port,
            dir,
            child,
        }
    }

    /// On embedded defaults: SQLite and the built-in object store.
    pub fn start_embedded(env: &[(&str, &str)]) -> Self {
        Self::start_embedded_on("127.0.0.1", env)
    }

    /// [`Backend::start_embedded`], listening on `host` (another loopback
    /// address stands for another machine).
    pub fn start_embedded_on(host: &str, env: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> = vec![("TXCR_EMBEDDED_S3_PORT".into(), "0".into())];
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::launch_on(host, tempfile::tempdir().unwrap(), all)
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// SIGKILL; hands the data directory back.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// SIGTERM, and wait for the exit (within `within`).
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < within {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let host = format!("{}:{}", self.host, self.port);
        let mut all = vec![("Host", host.as_str())];
        all.extend_from_slice(headers);
        let (status, head, bytes) =
            super::raw_bytes_at(&self.host, self.port, method, path, &all, body.as_bytes());
        let r = Reply {
            status,
            head,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        // Every answer a test sees keeps docs/openapi/backend.json true.
        let ctype = r.header("content-type").unwrap_or_default();
        super::openapi::check_backend(method, path, r.status, &ctype, &r.body);
        r
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, &[("Content-Type", "application/json")], body)
    }

    /// Register `url` as the app's callback with the admin's UserSig.
    pub fn register_callback(&self, url: &str) -> Reply {
        let sig = txcr_auth::gen_user_sig(APP, KEY, "administrator", 86400, now());
        self.post(
            &format!("/v4/ilvb_edu/local_record?sdkappid={APP}&identifier=administrator&usersig={sig}&random=7&contenttype=json"),
            &format!(r#"{{"Action":"RegisteredCallback","CallbackUrl":"{url}"}}"#),
        )
    }

    /// The query API with a valid signature.
    pub fn query(&self, body: &str) -> Value {
        self.signed("query", body)
    }

    /// A signed `/paas/v1/localrecord/<what>` call.
    pub fn signed(&self, what: &str, body: &str) -> Value {
        let expire = now() + 300;
        let sign = txcr_auth::query_sign(TICKEY, expire);
        self.post(
            &format!("/paas/v1/localrecord/{what}?sdkappid={APP}&sign={sign}&expire_time={expire}&random=3"),
            body,
        )
        .json()
    }

    /// The splice state of a task of `class` (None until it is known).
    pub fn task_state(&self, class: u64, task: &str) -> Option<String> {
        let r = self.signed("tasks", &format!(r#"{{"class_id":{class}}}"#));
        r["task_list"]
            .as_array()?
            .iter()
            .find(|t| t["TaskId"] == task)
            .and_then(|t| t["State"].as_str().map(str::to_owned))
    }

    /// Wait until the task is in `state`.
    pub fn wait_task(&self, class: u64, task: &str, state: &str, within: Duration) {
        let t0 = Instant::now();
        loop {
            let s = self.task_state(class, task);
            if s.as_deref() == Some(state) {
                return;
            }
            assert!(t0.elapsed() < within, "task {task} is {s:?}, not {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn spawn(host: &str, dir: &std::path::Path, env: &[(String, String)]) -> Child {
    Command::new(super::workspace_bin(
        "txcloudrecord-backend",
        "txcloudrecord-backend",
    ))
    .arg("--data-dir")
    .arg(dir)
    .args(["--listen", &format!("{host}:0")])
    .env("TXCR_SDKAPPID", APP.to_string())
    .env("TXCR_SECRET_KEY", KEY)
    .env("TXCR_TICKEY", TICKEY)
    .env("TXCR_WATCH_INTERVAL", "0.3")
    .env("TXCR_LOG", "warn")
    .env_remove("DATABASE_URL")
    .env_remove("TXCR_CONFIG")
    .env_remove("TXCR_S3_BUCKET")
    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap()
}

/// One webhook delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub head: String,
    pub body: String,
    pub answered: u16,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// A webhook receiver on 127.0.0.1 that fails its first `fail_first`
/// deliveries with 503, then answers 200. Stops with the test process.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Self {
        Self::start_on(0, fail_first)
    }

    /// On a given port (0: any).
    pub fn start_on(port: u16, fail_first: usize) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let got2 = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let status = if n < fail_first { 503 } else { 200 };
                got2.lock().unwrap().push(Delivery {
                    head,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered: status,
                });
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { port, got }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Deliveries so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until one delivery was answered 200; all deliveries so far.
    pub fn wait_success(&self, within: Duration) -> Vec<Delivery> {
        let t0 = Instant::now();
        loop {
            let d = self.deliveries();
            if d.iter().any(|d| d.answered == 200) || t0.elapsed() > within {
                for one in &d {
                    super::openapi::check_callback(&one.body);
                }
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
