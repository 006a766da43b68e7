//! An S3-compatible endpoint: its settings (flags and environment variables
//! over a config file's fields) and the one client set-up both apps use.

#[cfg(feature = "client")]
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

#[cfg(feature = "client")]
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

/// The bucket's settings, as flags and environment variables (clap reads
/// both; the one place their names are defined) or as the fields of a config
/// file (`[upload]` locally, `[storage]` in the backend).
#[derive(Debug, Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Storage (an S3-compatible bucket)")]
pub struct S3Fields {
    /// Endpoint of an S3-compatible server (MinIO, Ceph, COS, …) [default: AWS]
    #[arg(
        id = "s3_endpoint",
        value_name = "URL",
        long = "s3-endpoint",
        env = "AWS_ENDPOINT_URL",
        global = true
    )]
    pub endpoint: Option<String>,
    /// Region [default: us-east-1]
    #[arg(
        id = "s3_region",
        value_name = "REGION",
        long = "s3-region",
        env = "AWS_REGION",
        global = true
    )]
    pub region: Option<String>,
    /// Bucket; none: no bucket
    #[arg(
        id = "s3_bucket",
        value_name = "BUCKET",
        long = "s3-bucket",
        env = "TXCR_S3_BUCKET",
        global = true
    )]
    pub bucket: Option<String>,
    /// Key prefix inside the bucket
    #[arg(
        id = "s3_prefix",
        value_name = "PREFIX",
        long = "s3-prefix",
        env = "TXCR_S3_PREFIX",
        global = true
    )]
    pub prefix: Option<String>,
    /// Path-style addressing (true/false) [default: true with an endpoint]
    #[arg(
        id = "s3_path_style", value_name = "BOOL",
        long = "s3-path-style",
        env = "TXCR_S3_PATH_STYLE",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub path_style: Option<bool>,
    /// Access key id
    #[arg(
        id = "s3_access_key",
        value_name = "KEY",
        long = "s3-access-key",
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true,
        global = true
    )]
    pub access_key: Option<String>,
    /// Secret access key (prefer the variable: flags show in `ps`)
    #[arg(
        id = "s3_secret_key",
        value_name = "KEY",
        long = "s3-secret-key",
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
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
    /// These fields (from flags or the environment) where set, else the
    /// config file's; a blank value counts as unset.
    pub fn over(self, file: Self) -> Self {
        fn set(v: Option<String>) -> Option<String> {
            v.filter(|v| !v.trim().is_empty())
        }
        Self {
            endpoint: set(self.endpoint).or(file.endpoint),
            region: set(self.region).or(file.region),
            bucket: set(self.bucket).or(file.bucket),
            prefix: set(self.prefix).or(file.prefix),
            path_style: self.path_style.or(file.path_style),
            access_key: set(self.access_key).or(file.access_key),
            secret_key: set(self.secret_key).or(file.secret_key),
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

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        s3: S3Fields,
    }

    fn flags(args: &[&str]) -> S3Fields {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("flags parse")
            .s3
    }

    #[test]
    fn flags_win_over_the_file_and_path_style_follows_the_endpoint() {
        let file = S3Fields {
            bucket: Some("file".into()),
            access_key: Some("a".into()),
            secret_key: Some("s".into()),
            prefix: Some("/p/".into()),
            ..S3Fields::default()
        };
        let f = flags(&[
            "--s3-bucket",
            "env",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-region",
            " ",
        ])
        .over(file);
        let s = f.settings().expect("complete").expect("a bucket");
        assert_eq!((s.bucket.as_str(), s.region.as_str()), ("env", "us-east-1"));
        assert!(s.path_style);
        assert_eq!(f.prefix(), "p");
        let off = flags(&["--s3-path-style", "No"]).over(S3Fields {
            path_style: Some(true),
            ..f.clone()
        });
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
