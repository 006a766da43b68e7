//! Signatures this backend makes and checks besides the contract's own
//! (UserSig, `md5(TicKey + expire_time)`): playback links and media links
//! (HMAC-SHA256 with the app's TicKey, so the school's server can make them
//! too), and webhook signatures (HMAC-SHA256 with the app's secret key, so the
//! receiver can check them). All hex, lower case. README "Backend" documents
//! the exact strings.

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_hex(key: &str, msg: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is unreachable.
        Err(_) => return String::new(),
    };
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compare in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `sign` of a playback page link: `HMAC(TicKey, "play\n<sdkappid>\n<class_id>\n<expire_time>")`.
pub fn play_sign(tickey: &str, sdkappid: i64, class_id: i64, expire: i64) -> String {
    hmac_hex(tickey, &format!("play\n{sdkappid}\n{class_id}\n{expire}"))
}

/// `sign` of a media link: `HMAC(TicKey, "media\n<sdkappid>\n<class_id>\n<task_id>\n<expire_time>")`.
pub fn media_sign(
    tickey: &str,
    sdkappid: i64,
    class_id: i64,
    task_id: &str,
    expire: i64,
) -> String {
    hmac_hex(
        tickey,
        &format!("media\n{sdkappid}\n{class_id}\n{task_id}\n{expire}"),
    )
}

/// `X-TXCR-Signature` of a webhook: `HMAC(secret key, "<X-TXCR-Timestamp>.<body>")`.
pub fn webhook_sign(secret_key: &str, timestamp: i64, body: &str) -> String {
    hmac_hex(secret_key, &format!("{timestamp}.{body}"))
}

/// Task ids go into URLs and keys: keep them to what the local service makes.
pub fn safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !s.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
        assert!(safe_id("1700000000-42") && !safe_id("../x") && !safe_id("a/b"));
    }
}
