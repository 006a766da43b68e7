//! The local API's request parsing and the guard's checks with any command
//! name, body, Host and Origin: a request or an error in the envelope,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use txcr_protocol::guard::{host_allowed, OriginPolicy};

fuzz_target!(|data: &[u8]| {
    // command \0 host \0 origin \0 body
    let mut parts = data.splitn(4, |&b| b == 0);
    let cmd = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let host = parts.next().map(String::from_utf8_lossy);
    let origin = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    if let Err(e) = txcr_protocol::parse_request(&cmd, body) {
        let _ = txcr_protocol::failure(&e);
    }
    let _ = host_allowed(host.as_deref(), 37604);
    let policy = OriginPolicy::new(&["https://*.school.example", "http://localhost:8000"]);
    if let Some(o) = origin {
        let _ = policy.allows(&o);
    }
});
