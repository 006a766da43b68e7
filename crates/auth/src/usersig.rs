use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::AuthError;

/// Largest decompressed UserSig accepted; real ones are ~200 bytes.
const MAX_SIG_JSON: u64 = 16 * 1024;

/// The applications whose UserSigs this service accepts: SdkAppId → secret key.
#[derive(Clone, Default)]
pub struct AppKeys {
    keys: Vec<(u64, String)>,
}

impl std::fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys themselves.
        let ids: Vec<u64> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("AppKeys").field("sdkappids", &ids).finish()
    }
}

impl AppKeys {
    /// No applications.
    pub fn new() -> Self {
        Self::default()
    }

    /// One application.
    pub fn single(sdkappid: u64, key: &str) -> Self {
        let mut k = Self::new();
        k.insert(sdkappid, key);
        k
    }

    /// Add or replace an application's key.
    pub fn insert(&mut self, sdkappid: u64, key: &str) {
        self.keys.retain(|(id, _)| *id != sdkappid);
        self.keys.push((sdkappid, key.to_owned()));
    }

    /// The key of `sdkappid`, if configured.
    pub fn get(&self, sdkappid: u64) -> Option<&str> {
        self.keys
            .iter()
            .find(|(id, _)| *id == sdkappid)
            .map(|(_, k)| k.as_str())
    }

    /// Each application and its key, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str)> {
        self.keys.iter().map(|(id, k)| (*id, k.as_str()))
    }

    /// Whether no application is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What a valid UserSig says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSig {
    /// The user it was issued to.
    pub identifier: String,
    /// The application.
    pub sdkappid: u64,
    /// Unix seconds when it was issued.
    pub time: u64,
    /// Unix seconds when it stops being valid.
    pub expires_at: u64,
}

fn base64url_encode(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

fn base64url_decode(s: &str) -> Result<Vec<u8>, AuthError> {
    let std: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    STANDARD
        .decode(std.as_bytes())
        .map_err(|e| AuthError::Malformed(format!("not base64: {e}")))
}

fn hmac_content(
    identifier: &str,
    sdkappid: u64,
    time: u64,
    expire: u64,
    userbuf: Option<&str>,
) -> String {
    let mut s = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(buf) = userbuf {
        s.push_str(&format!("TLS.userbuf:{buf}\n"));
    }
    s
}

pub(crate) fn hmac_sha256(key: &str, content: &str) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(content.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The inner `TLS.sig` value: base64(HMAC-SHA256(key, content)).
fn inner_sig(
    key: &str,
    identifier: &str,
    sdkappid: u64,
    time: u64,
    expire: u64,
    userbuf: Option<&str>,
) -> String {
    STANDARD.encode(hmac_sha256(
        key,
        &hmac_content(identifier, sdkappid, time, expire, userbuf),
    ))
}

/// Make a UserSig valid from `now` (unix seconds) for `expire` seconds, as the
/// official server-side generators do.
pub fn gen_user_sig(sdkappid: u64, key: &str, identifier: &str, expire: u64, now: u64) -> String {
    let doc = json!({
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": now,
        "TLS.sig": inner_sig(key, identifier, sdkappid, now, expire, None),
    });
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(doc.to_string().as_bytes());
    base64url_encode(&z.finish().unwrap_or_default())
}

fn field_u64(doc: &Map<String, Value>, name: &str) -> Result<u64, AuthError> {
    match doc.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| AuthError::Malformed(format!("{name} is missing or not a whole number")))
}

fn field_str<'a>(doc: &'a Map<String, Value>, name: &str) -> Result<&'a str, AuthError> {
    doc.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::Malformed(format!("{name} is missing or not a string")))
}

/// Check `sig` for `identifier` in application `sdkappid` at unix time `now`.
///
/// The order of checks gives the most useful error: malformed, unknown app, wrong
/// app, wrong user, bad signature, expired.
pub fn verify_user_sig(
    keys: &AppKeys,
    sdkappid: u64,
    identifier: &str,
    sig: &str,
    now: u64,
) -> Result<VerifiedSig, AuthError> {
    let compressed = base64url_decode(sig)?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_SIG_JSON)
        .read_to_end(&mut json)
        .map_err(|e| AuthError::Malformed(format!("not zlib: {e}")))?;
    let doc: Map<String, Value> = serde_json::from_slice(&json)
        .map_err(|e| AuthError::Malformed(format!("not a JSON object: {e}")))?;

    let sig_identifier = field_str(&doc, "TLS.identifier")?;
    let sig_app = field_u64(&doc, "TLS.sdkappid")?;
    let time = field_u64(&doc, "TLS.time")?;
    let expire = field_u64(&doc, "TLS.expire")?;
    let inner = field_str(&doc, "TLS.sig")?;
    let userbuf = doc.get("TLS.userbuf").and_then(Value::as_str);

    let key = keys.get(sdkappid).ok_or(AuthError::UnknownApp(sdkappid))?;
    if sig_app != sdkappid {
        return Err(AuthError::WrongApp {
            expected: sdkappid,
            found: sig_app,
        });
    }
    if sig_identifier != identifier {
        return Err(AuthError::WrongUser);
    }
    let expected = hmac_sha256(
        key,
        &hmac_content(sig_identifier, sig_app, time, expire, userbuf),
    );
    let given = STANDARD
        .decode(inner.trim())
        .map_err(|_| AuthError::BadSignature)?;
    if !constant_time_eq(&expected, &given) {
        return Err(AuthError::BadSignature);
    }
    let expires_at = time.saturating_add(expire);
    if now > expires_at {
        return Err(AuthError::Expired);
    }
    Ok(VerifiedSig {
        identifier: sig_identifier.to_owned(),
        sdkappid: sig_app,
        time,
        expires_at,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const APP: u64 = 1400000000;

    fn compress(json: &str, level: u32) -> String {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::new(level));
        z.write_all(json.as_bytes()).unwrap();
        base64url_encode(&z.finish().unwrap())
    }

    #[test]
    fn official_vector() {
        assert_eq!(
            inner_sig(KEY, "xiaojun", APP, 1700000000, 15552000, None),
            "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
        );
    }

    #[test]
    fn round_trip() {
        let keys = AppKeys::single(APP, KEY);
        let sig = gen_user_sig(APP, KEY, "xiaojun", 15552000, 1700000000);
        let v = verify_user_sig(&keys, APP, "xiaojun", &sig, 1700000001).unwrap();
        assert_eq!(v.expires_at, 1700000000 + 15552000);
    }

    #[test]
    fn any_level_order_whitespace_strings_and_trailing_newline() {
        let keys = AppKeys::single(APP, KEY);
        let inner = inner_sig(KEY, "xiaojun", APP, 1700000000, 15552000, None);
        let json = format!(
            "{{ \"TLS.sig\" : \"{inner}\",\n \"TLS.time\": \"1700000000\", \"TLS.expire\":15552000,\
             \"TLS.identifier\":\"xiaojun\", \"TLS.sdkappid\": {APP}, \"TLS.ver\":\"2.0\" }}\n"
        );
        for level in [0, 1, 6, 9] {
            let sig = format!("{}\n", compress(&json, level));
            verify_user_sig(&keys, APP, "xiaojun", &sig, 1700000001).unwrap();
        }
    }

    #[test]
    fn userbuf_is_part_of_the_signature() {
        let keys = AppKeys::single(APP, KEY);
        let inner = inner_sig(KEY, "u", APP, 100, 1000, Some("YWJj"));
        let json = format!(
            r#"{{"TLS.ver":"2.0","TLS.identifier":"u","TLS.sdkappid":{APP},"TLS.time":100,"TLS.expire":1000,"TLS.userbuf":"YWJj","TLS.sig":"{inner}"}}"#
        );
        verify_user_sig(&keys, APP, "u", &compress(&json, 6), 200).unwrap();
        let tampered = json.replace("YWJj", "YWJk");
        assert_eq!(
            verify_user_sig(&keys, APP, "u", &compress(&tampered, 6), 200),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn each_failure_kind() {
        let keys = AppKeys::single(APP, KEY);
        let sig = gen_user_sig(APP, KEY, "xiaojun", 100, 1700000000);
        assert_eq!(
            verify_user_sig(&keys, APP, "xiaojun", &sig, 1700000101),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify_user_sig(&keys, APP, "other", &sig, 1700000001),
            Err(AuthError::WrongUser)
        );
        let other_app = gen_user_sig(APP + 1, KEY, "xiaojun", 100, 1700000000);
        assert!(matches!(
            verify_user_sig(&keys, APP, "xiaojun", &other_app, 1700000001),
            Err(AuthError::WrongApp { .. })
        ));
        assert_eq!(
            verify_user_sig(&keys, APP + 1, "xiaojun", &other_app, 1700000001),
            Err(AuthError::UnknownApp(APP + 1))
        );
        let wrong_key = gen_user_sig(APP, "not-the-key", "xiaojun", 100, 1700000000);
        assert_eq!(
            verify_user_sig(&keys, APP, "xiaojun", &wrong_key, 1700000001),
            Err(AuthError::BadSignature)
        );
        for junk in ["", "!!!", "eJwrSS0uUchMBQAL-gKf", &sig[..sig.len() / 2]] {
            assert!(
                matches!(
                    verify_user_sig(&keys, APP, "xiaojun", junk, 1700000001),
                    Err(AuthError::Malformed(_))
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn tampered_expiry_is_caught_by_the_hmac() {
        let keys = AppKeys::single(APP, KEY);
        let inner = inner_sig(KEY, "xiaojun", APP, 1700000000, 100, None);
        let json = format!(
            r#"{{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":{APP},"TLS.time":1700000000,"TLS.expire":999999999,"TLS.sig":"{inner}"}}"#
        );
        assert_eq!(
            verify_user_sig(&keys, APP, "xiaojun", &compress(&json, 6), 1700000200),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn debug_never_prints_keys() {
        let keys = AppKeys::single(APP, KEY);
        assert!(!format!("{keys:?}").contains(KEY));
    }
}
