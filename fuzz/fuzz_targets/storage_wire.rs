//! What the backend parses from teachers' machines and the bucket: the task
//! manifest and the broker's request bodies. Any bytes: parsed or refused,
//! never a panic; a manifest that parses names only usable keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use txcr_storage::broker::{Caller, PresignRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = txcr_storage::Manifest::parse(data) {
        assert!(txcr_storage::safe_id(&m.task_id), "{}", m.task_id);
    }
    if let Ok(r) = serde_json::from_slice::<PresignRequest>(data) {
        let _ = r.caller.task();
    }
    if let Ok(c) = serde_json::from_slice::<Caller>(data) {
        let _ = c.task();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = txcr_storage::Layout::new("school").parse(text);
    }
});
