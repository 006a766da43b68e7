//! A real S3-compatible server (`txcr-s3dev`: s3s-fs, SigV4 checked) in its own
//! process, and a second, independent SDK client to read back what arrived.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const AK: &str = "school-access";
pub const SK: &str = "school-secret";
pub const BUCKET: &str = "classes";

pub struct S3 {
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

fn spawn(root: &std::path::Path, port: u16) -> (Child, String) {
    let mut child = Command::new(super::workspace_bin("txcr-s3dev", "txcr-s3dev"))
        .arg("--root")
        .arg(root)
        .args([
            "--port",
            &port.to_string(),
            "--access-key",
            AK,
            "--secret-key",
            SK,
            "--bucket",
            BUCKET,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        line.trim().trim_start_matches("listening on ").to_owned(),
    )
}

impl S3 {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, endpoint) = spawn(dir.path(), 0);
        S3 {
            endpoint,
            dir,
            child,
        }
    }

    /// Take the server down (an outage); its objects stay.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Bring it back on the same address.
    pub fn restart(&mut self) {
        self.stop();
        let port: u16 = self.endpoint.rsplit(':').next().unwrap().parse().unwrap();
        let (child, endpoint) = spawn(self.dir.path(), port);
        assert_eq!(endpoint, self.endpoint);
        self.child = child;
    }

    /// Environment for a service that uploads here.
    pub fn env(&self, prefix: &str) -> Vec<(String, String)> {
        self.env_via(&self.endpoint, prefix)
    }

    /// Environment for a service that reaches this server through `endpoint`
    /// (a proxy in front of it).
    pub fn env_via(&self, endpoint: &str, prefix: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", AK),
            ("AWS_SECRET_ACCESS_KEY", SK),
            ("AWS_REGION", "us-east-1"),
            ("TXCR_S3_BUCKET", BUCKET),
            ("TXCR_S3_PREFIX", prefix),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(AK, SK, None, None, "test"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Every key under `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let out = self
                .client()
                .list_objects_v2()
                .bucket(BUCKET)
                .prefix(prefix)
                .send()
                .await
                .unwrap();
            let mut keys: Vec<String> = out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect();
            keys.sort();
            keys
        })
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let o = self
                .client()
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .unwrap();
            o.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            self.client()
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(bytes.into())
                .send()
                .await
                .unwrap();
        });
    }
}
