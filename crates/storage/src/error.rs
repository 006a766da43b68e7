//! Why a storage operation failed, and whether trying again can help.

#[cfg(feature = "client")]
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// Why a store operation failed, and whether trying again can help.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// Network trouble, time-out, throttling, a 5xx: retry with backoff.
    #[error("storage unreachable or busy: {0}")]
    Transient(String),
    /// Credentials refused, bucket missing, request rejected: needs a fix.
    #[error("storage refused the upload: {0}")]
    Permanent(String),
    /// The multipart upload no longer exists (aborted or expired): start over.
    #[error("the multipart upload is gone: {0}")]
    NoSuchUpload(String),
}

impl StoreError {
    /// Whether retrying as-is may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

#[cfg(feature = "client")]
/// Sort an SDK error into transient (retry), permanent (needs a fix) or a lost upload.
pub fn classify<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("unknown").to_owned();
            let msg = se.err().message().unwrap_or("").to_owned();
            let text = format!("{code} {msg}").trim().to_owned();
            match code.as_str() {
                "NoSuchUpload" => StoreError::NoSuchUpload(text),
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "NoSuchBucket"
                | "NoSuchKey"
                | "InvalidBucketName"
                | "AllAccessDisabled"
                | "AccountProblem" => StoreError::Permanent(text),
                _ => StoreError::Transient(text),
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::Permanent(format!("{e:?}")),
        _ => StoreError::Transient(causes(&e)),
    }
}

#[cfg(feature = "client")]
/// An error with its causes, each once ("dispatch failure: io error: …:
/// Connection reset by peer (os error 104)"): the SDK's own words stop at
/// "dispatch failure", and this is what GetState shows the teacher.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}
