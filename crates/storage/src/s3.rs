//! An S3-compatible endpoint: its settings (from a config file's fields with
//! the environment over them) and the one client set-up both apps use.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use serde::Deserialize;

/// Settings of an S3-compatible endpoint (AWS S3, MinIO, Ceph, Tencent COS,
/// SeaweedFS, …).
#[derive(Clone)]
pub struct S3Settings {
    /// `AWS_ENDPOINT_URL`; `None` = AWS.
    pub endpoint: Option<String>,
    /// `AWS_REGION`.
    pub region: String,
    /// `TXCR_S3_BUCKET`.
    pub bucket: String,
    /// Path-style addressing (`TXCR_S3_PATH_STYLE`; default true with an endpoint).
    pub path_style: bool,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// A client for these settings. Checksums are sent only where required,
/// since some S3-compatible servers reject the SDK's default CRC32.
pub fn s3_client(s: &S3Settings) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .credentials_provider(Credentials::new(
            &s.access_key,
            &s.secret_key,
            None,
            None,
            "txcloudrecord",
        ))
        .force_path_style(s.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(e) = &s.endpoint {
        b = b.endpoint_url(e);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The bucket fields of a config file (`[upload]` locally, `[storage]` in the
/// backend), each overridden by its environment variable.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct S3Fields {
    /// `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: Option<String>,
    /// `TXCR_S3_BUCKET`; none: no bucket.
    pub bucket: Option<String>,
    /// `TXCR_S3_PREFIX`.
    pub prefix: Option<String>,
    /// `TXCR_S3_PATH_STYLE` (anything but false/0/no is true).
    pub path_style: Option<bool>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: Option<String>,
}

/// A bucket is named but cannot be opened as configured.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A key is missing.
    #[error("a bucket is configured (TXCR_S3_BUCKET) but {0} is not")]
    Missing(&'static str),
}

impl S3Fields {
    /// These fields with the environment over them (`env` reads a variable;
    /// an empty value counts as unset).
    pub fn with_env(self, env: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        Self {
            endpoint: var("AWS_ENDPOINT_URL").or(self.endpoint),
            region: var("AWS_REGION").or(self.region),
            bucket: var("TXCR_S3_BUCKET").or(self.bucket),
            prefix: var("TXCR_S3_PREFIX").or(self.prefix),
            path_style: var("TXCR_S3_PATH_STYLE")
                .map(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0" | "no"))
                .or(self.path_style),
            access_key: var("AWS_ACCESS_KEY_ID").or(self.access_key),
            secret_key: var("AWS_SECRET_ACCESS_KEY").or(self.secret_key),
        }
    }

    /// The key prefix, without slashes at the ends.
    pub fn prefix(&self) -> String {
        self.prefix
            .as_deref()
            .unwrap_or_default()
            .trim_matches('/')
            .to_owned()
    }

    /// The endpoint's settings; `None` when no bucket is named.
    pub fn settings(&self) -> Result<Option<S3Settings>, SettingsError> {
        let Some(bucket) = self.bucket.clone() else {
            return Ok(None);
        };
        Ok(Some(S3Settings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone().unwrap_or_else(|| "us-east-1".into()),
            bucket,
            path_style: self.path_style.unwrap_or(self.endpoint.is_some()),
            access_key: self
                .access_key
                .clone()
                .ok_or(SettingsError::Missing("AWS_ACCESS_KEY_ID"))?,
            secret_key: self
                .secret_key
                .clone()
                .ok_or(SettingsError::Missing("AWS_SECRET_ACCESS_KEY"))?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_and_path_style_follows_the_endpoint() {
        let file = S3Fields {
            bucket: Some("file".into()),
            access_key: Some("a".into()),
            secret_key: Some("s".into()),
            prefix: Some("/p/".into()),
            ..S3Fields::default()
        };
        let env = |n: &str| match n {
            "TXCR_S3_BUCKET" => Some("env".into()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000".into()),
            "AWS_REGION" => Some(" ".into()),
            _ => None,
        };
        let f = file.with_env(env);
        let s = f.settings().expect("complete").expect("a bucket");
        assert_eq!((s.bucket.as_str(), s.region.as_str()), ("env", "us-east-1"));
        assert!(s.path_style);
        assert_eq!(f.prefix(), "p");
        let off = S3Fields {
            path_style: Some(true),
            ..f.clone()
        }
        .with_env(|n| (n == "TXCR_S3_PATH_STYLE").then(|| "No".into()));
        assert_eq!(off.path_style, Some(false));
    }

    #[test]
    fn a_bucket_without_keys_says_which_is_missing() {
        let f = S3Fields {
            bucket: Some("b".into()),
            access_key: Some("a".into()),
            ..S3Fields::default()
        };
        let e = f.settings().expect_err("no secret");
        assert_eq!(
            e.to_string(),
            "a bucket is configured (TXCR_S3_BUCKET) but AWS_SECRET_ACCESS_KEY is not"
        );
        assert!(S3Fields::default().settings().expect("no bucket").is_none());
    }
}
