//! Who may use the service: Tencent-compatible UserSig (TLS sig v2) checks, offline.
//!
//! Owns: decoding, verifying and generating UserSigs against an application's secret
//! key ([`verify_user_sig`], [`gen_user_sig`]), the set of configured applications
//! ([`AppKeys`]), the query API signature `md5(TicKey + expire_time)`
//! ([`query_sign`]), and the backend's link and webhook signatures
//! ([`play_sign`], [`media_sign`], [`webhook_sign`], and the Standard Webhooks
//! headers' [`standard_webhook_sign`]).
//!
//! Does not own: where keys come from (the apps read config/env), nor what an
//! authenticated user may do (`txcr-state`).
//!
//! A UserSig is `base64url'(zlib(JSON))`, where `base64url'` is standard base64 with
//! `+`→`*`, `/`→`-`, `=`→`_`, and the JSON carries `TLS.ver` "2.0",
//! `TLS.identifier`, `TLS.sdkappid`, `TLS.time`, `TLS.expire` and `TLS.sig` =
//! base64(HMAC-SHA256(key, content)) over the lines
//! `TLS.identifier:…\nTLS.sdkappid:…\nTLS.time:…\nTLS.expire:…\n` (plus
//! `TLS.userbuf:…\n` when a userbuf is present). Verification accepts any zlib level,
//! any JSON field order and whitespace, numbers given as strings, and surrounding
//! whitespace, so signatures from every official generator pass.
//!
//! ```
//! use txcr_auth::{gen_user_sig, verify_user_sig, AppKeys};
//!
//! let keys = AppKeys::single(1400000000, "secret");
//! let sig = gen_user_sig(1400000000, "secret", "teacher", 86400, 1_700_000_000);
//! let ok = verify_user_sig(&keys, 1400000000, "teacher", &sig, 1_700_000_100).unwrap();
//! assert_eq!(ok.identifier, "teacher");
//! ```

mod links;
mod query;
mod usersig;

pub use links::{
    live_sign, media_sign, play_sign, signatures_equal, standard_webhook_secret,
    standard_webhook_sign, webhook_sign,
};
pub use query::query_sign;
pub use usersig::{gen_user_sig, verify_user_sig, AppKeys, VerifiedSig};

/// Why a UserSig was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// Not base64, not zlib, not JSON, or a field missing or of the wrong type.
    #[error("UserSig is malformed: {0}")]
    Malformed(String),
    /// No secret key is configured for this SdkAppId.
    #[error("no application {0} is configured on this service")]
    UnknownApp(u64),
    /// The signature was made for another application.
    #[error("UserSig belongs to SdkAppId {found}, not {expected}")]
    WrongApp {
        /// The app id the client asked for.
        expected: u64,
        /// The app id inside the signature.
        found: u64,
    },
    /// The signature was made for another user.
    #[error("UserSig was issued for another UserId")]
    WrongUser,
    /// `TLS.time + TLS.expire` is in the past.
    #[error("UserSig expired")]
    Expired,
    /// The HMAC does not match: tampered, or signed with another key.
    #[error("UserSig signature does not match")]
    BadSignature,
}
