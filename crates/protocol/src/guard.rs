//! Who may talk to the service from a browser: `Host` (DNS rebinding), `Origin`
//! allow-list, and the CORS / Private Network Access response headers.
//!
//! Native apps send no `Origin` and are not affected by the origin rules. Browser
//! pages are allowed when their origin is on the allow-list. By default the list
//! holds only pages served from this machine (`http://localhost[:port]`,
//! `http://127.0.0.1[:port]`, `http://[::1][:port]`); operators add their school's
//! origins (`https://class.school.edu`, wildcard `https://*.school.edu`) or `*`.

/// Whether a `Host` header names this service: `127.0.0.1`, `localhost` or `[::1]`,
/// with our port or none. A missing header (HTTP/1.0 native clients) is allowed:
/// browsers always send one, and DNS rebinding needs a browser.
pub fn host_allowed(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else { return true };
    let host = host.trim().to_ascii_lowercase();
    let (name, host_port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && !p.contains(']') => (n.to_owned(), Some(p.to_owned())),
        _ => (host.clone(), None),
    };
    let port_ok = host_port.is_none_or(|p| p == port.to_string());
    port_ok && matches!(name.as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

/// The browser origins allowed to call the API.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    any: bool,
    patterns: Vec<String>,
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn is_loopback_page(origin: &str) -> bool {
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|base| {
            origin.strip_prefix(base).is_some_and(|rest| {
                rest.is_empty()
                    || (rest.starts_with(':') && rest[1..].bytes().all(|b| b.is_ascii_digit()))
            })
        })
}

impl OriginPolicy {
    /// A policy from configured entries: exact origins, `scheme://*.domain`
    /// wildcards, or `*` for any origin. Loopback pages are always allowed.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        let mut p = Self::default();
        for e in entries {
            let e = normalise(e.as_ref());
            if e == "*" {
                p.any = true;
            } else if !e.is_empty() {
                p.patterns.push(e);
            }
        }
        p
    }

    /// Whether pages of `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        let o = normalise(origin);
        if self.any || is_loopback_page(&o) {
            return true;
        }
        self.patterns.iter().any(|p| match p.split_once("://*.") {
            Some((scheme, domain)) => o
                .strip_prefix(scheme)
                .and_then(|r| r.strip_prefix("://"))
                .is_some_and(|host| host.ends_with(&format!(".{domain}"))),
            None => *p == o,
        })
    }
}

/// Headers for a preflight (`OPTIONS`) from an allowed origin. Answers Chrome's
/// Private Network Access request when `private_network` is set.
pub fn preflight_headers(
    origin: &str,
    request_headers: Option<&str>,
    private_network: bool,
) -> Vec<(&'static str, String)> {
    let mut h = cors_headers(origin);
    h.push(("Access-Control-Allow-Methods", "POST, OPTIONS".into()));
    // Echo the requested headers only when they are plain header names.
    let allowed = request_headers
        .filter(|r| {
            r.len() < 512
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b))
        })
        .unwrap_or("Content-Type");
    h.push(("Access-Control-Allow-Headers", allowed.into()));
    h.push(("Access-Control-Max-Age", "600".into()));
    if private_network {
        h.push(("Access-Control-Allow-Private-Network", "true".into()));
    }
    h
}

/// Headers for an actual request from an allowed origin.
pub fn cors_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Access-Control-Allow-Origin", origin.trim().to_owned()),
        ("Vary", "Origin".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1:37604",
            "localhost:37604",
            "LOCALHOST:37604",
            "[::1]:37604",
            "127.0.0.1",
            "localhost",
        ] {
            assert!(host_allowed(Some(ok), 37604), "{ok}");
        }
        assert!(host_allowed(None, 37604));
        for bad in [
            "evil.example:37604",
            "127.0.0.1:80",
            "localhost.evil.example:37604",
            "127.0.0.2:37604",
            "",
            "[::1]:1",
        ] {
            assert!(!host_allowed(Some(bad), 37604), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let p = OriginPolicy::new(&["https://class.school.edu/", "https://*.tic.example"]);
        assert!(p.allows("https://class.school.edu"));
        assert!(p.allows("https://a.b.tic.example"));
        assert!(p.allows("http://localhost:8080"));
        assert!(p.allows("http://127.0.0.1"));
        assert!(!p.allows("https://tic.example"));
        assert!(!p.allows("http://class.school.edu"), "scheme matters");
        assert!(!p.allows("https://evil.example"));
        assert!(!p.allows("http://localhost.evil.example"));
        assert!(!p.allows("null"));
        assert!(OriginPolicy::new(&["*"]).allows("https://anything.example"));
        assert!(!OriginPolicy::default().allows("https://class.school.edu"));
    }

    #[test]
    fn preflight_answers_private_network_access() {
        let h = preflight_headers("https://a.example", Some("content-type"), true);
        assert!(h.contains(&("Access-Control-Allow-Private-Network", "true".into())));
        assert!(h.contains(&("Access-Control-Allow-Origin", "https://a.example".into())));
        assert!(h.contains(&("Access-Control-Allow-Headers", "content-type".into())));
        let h = preflight_headers("https://a.example", Some("x\r\nSet-Cookie: a"), false);
        assert!(h.contains(&("Access-Control-Allow-Headers", "Content-Type".into())));
        assert!(!h
            .iter()
            .any(|(k, _)| *k == "Access-Control-Allow-Private-Network"));
    }
}
