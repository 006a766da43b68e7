//! The backend against its OpenAPI document, fuzzed: no 5xx, no hang, no
//! undocumented answer.

use crate::util;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use util::fuzz::any_json;
use util::APP;

/// A backend request: method, path (documented or not), query, body.
fn backend_request() -> impl Strategy<Value = (String, String, String, Vec<u8>)> {
    let path = prop_oneof![
        6 => prop::sample::select(vec![
            "/v4/ilvb_edu/local_record",
            "/paas/v1/localrecord/query",
            "/paas/v1/localrecord/tasks",
            "/paas/v1/localrecord/delete",
            "/v1/upload/presign",
            "/v1/tasks/complete",
            "/play",
            "/media/1400000000/7/7-1.mp4",
            "/live/1400000000/7/7-1.m3u8",
            "/live/1400000000/7/7-1/0001.m4s",
            "/assets/hls.light.min.js",
            "/healthz",
        ])
        .prop_map(str::to_owned),
        1 => "/[a-z0-9/._-]{0,24}",
    ];
    let key = prop::sample::select(vec![
        "sdkappid",
        "sign",
        "expire_time",
        "random",
        "identifier",
        "usersig",
        "class_id",
        "autoplay",
    ]);
    let value = prop_oneof![
        Just(APP.to_string()),
        Just("-1".to_owned()),
        Just(u64::MAX.to_string()),
        "[a-zA-Z0-9*%_-]{0,12}",
    ];
    let query = prop::collection::vec((key, value), 0..5).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let body = prop_oneof![
        6 => any_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    let method = prop_oneof![
        6 => Just("POST".to_owned()),
        3 => Just("GET".to_owned()),
        1 => prop::sample::select(vec!["PUT", "DELETE", "HEAD"]).prop_map(str::to_owned),
    ];
    (method, path, query, body)
}

#[test]
fn fuzzing_the_documented_backend_finds_no_5xx_hang_or_undocumented_answer() {
    let backend = util::backend::Backend::start_embedded(&[]);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&backend_request(), |(method, path, query, body)| {
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        // `request` validates every answer against backend.json (and panics
        // on an undocumented one, which fails the case).
        let r = if method == "HEAD" {
            // No body comes back to validate.
            let host = format!("127.0.0.1:{}", backend.port);
            let (status, _, _) =
                util::raw_bytes(backend.port, "HEAD", &target, &[("Host", &host)], b"");
            util::Reply {
                status,
                head: String::new(),
                body: String::new(),
            }
        } else {
            backend.request(
                &method,
                &target,
                &[("Content-Type", "application/json")],
                &body,
            )
        };
        prop_assert!(
            r.status != 0,
            "no answer (hang or crash) to {method} {target}"
        );
        prop_assert!(
            r.status < 500,
            "HTTP {} for {method} {target}: {}",
            r.status,
            r.body
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let health = backend.request("GET", "/healthz", &[], "");
    assert_eq!(health.status, 200, "{}", health.body);
}
