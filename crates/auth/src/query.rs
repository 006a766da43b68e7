use md5::{Digest, Md5};

/// The query API signature: lower-case hex `md5(tic_key + expire_time)`.
///
/// ```
/// assert_eq!(
///     txcr_auth::query_sign("DzXpbluRsmo1JkoFxzKMNg5ifrA4GRlU", 1548247837),
///     "28374bd8cff400ac4906414780fbe387"
/// );
/// ```
pub fn query_sign(tic_key: &str, expire_time: u64) -> String {
    let mut h = Md5::new();
    h.update(tic_key.as_bytes());
    h.update(expire_time.to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
