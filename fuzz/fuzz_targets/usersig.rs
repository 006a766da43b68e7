//! UserSig decoding and verification with any string as the signature and
//! the identifier: refused with a reason, never a panic, and never accepted
//! unless it is a signature of the key.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (user, sig) = text.split_once('\n').unwrap_or(("teacher", &text));
    let keys = txcr_auth::AppKeys::single(1400000000, KEY);
    if let Ok(v) = txcr_auth::verify_user_sig(&keys, 1400000000, user, sig, 1_764_650_000) {
        // Accepted: it must be what signing that identity gives.
        assert_eq!(v.identifier, user);
    }
});
