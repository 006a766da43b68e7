//! Signatures of the backend's extensions (README "Backend"): playback and
//! media links, signed with the app's TicKey so the school's server can make
//! them too, and webhook deliveries, signed with the app's secret key so the
//! receiver can check them. HMAC-SHA256, lower-case hex.

use crate::usersig::hmac_sha256;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sign` of a playback page link: `HMAC(TicKey, "play\n<sdkappid>\n<class_id>\n<expire_time>")`.
pub fn play_sign(tickey: &str, sdkappid: i64, class_id: i64, expire: i64) -> String {
    hex(&hmac_sha256(
        tickey,
        &format!("play\n{sdkappid}\n{class_id}\n{expire}"),
    ))
}

/// `sign` of a media link: `HMAC(TicKey, "media\n<sdkappid>\n<class_id>\n<task_id>\n<expire_time>")`.
pub fn media_sign(
    tickey: &str,
    sdkappid: i64,
    class_id: i64,
    task_id: &str,
    expire: i64,
) -> String {
    hex(&hmac_sha256(
        tickey,
        &format!("media\n{sdkappid}\n{class_id}\n{task_id}\n{expire}"),
    ))
}

/// `sign` of a live replay link (a playlist and its segments):
/// `HMAC(TicKey, "live\n<sdkappid>\n<class_id>\n<task_id>\n<expire_time>")`.
pub fn live_sign(tickey: &str, sdkappid: i64, class_id: i64, task_id: &str, expire: i64) -> String {
    hex(&hmac_sha256(
        tickey,
        &format!("live\n{sdkappid}\n{class_id}\n{task_id}\n{expire}"),
    ))
}

/// `X-TXCR-Signature` of a webhook: `HMAC(secret key, "<X-TXCR-Timestamp>.<body>")`.
pub fn webhook_sign(secret_key: &str, timestamp: i64, body: &str) -> String {
    hex(&hmac_sha256(secret_key, &format!("{timestamp}.{body}")))
}

/// `webhook-signature` of a webhook, the Standard Webhooks scheme (so a
/// receiver can check it with that project's libraries): `v1,` then
/// `base64(HMAC(secret key, "<webhook-id>.<webhook-timestamp>.<body>"))`.
/// The key is the secret key's UTF-8 bytes; those libraries take it as
/// [`standard_webhook_secret`].
pub fn standard_webhook_sign(secret_key: &str, id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine;
    let mac = hmac_sha256(secret_key, &format!("{id}.{timestamp}.{body}"));
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// The secret key as the Standard Webhooks libraries take it:
/// `whsec_<base64 of its UTF-8 bytes>`.
pub fn standard_webhook_secret(secret_key: &str) -> String {
    use base64::Engine;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret_key)
    )
}

/// Compare two signatures in time independent of where they differ.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_comparison() {
        // RFC 4231 test case 2, through the same HMAC.
        assert_eq!(
            hex(&hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signatures_equal("abc", "abc"));
        assert!(!signatures_equal("abc", "abd") && !signatures_equal("ab", "abc"));
    }

    #[test]
    fn standard_webhook_signature_is_base64_of_the_hmac_over_id_timestamp_body() {
        // The HMAC of "Jefe"'s RFC 4231 case with the message spelt as
        // id.timestamp.body.
        let sig = standard_webhook_sign("Jefe", "what do ya", 0, "want for nothing?");
        assert_ne!(
            sig,
            standard_webhook_sign("Jefe", "what do ya", 1, "want for nothing?")
        );
        let want = hmac_sha256("Jefe", "what do ya.0.want for nothing?");
        use base64::Engine;
        assert_eq!(
            sig,
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(want)
            )
        );
        assert_eq!(standard_webhook_secret("Jefe"), "whsec_SmVmZQ==");
    }
}
