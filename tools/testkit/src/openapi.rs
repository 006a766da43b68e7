//! The OpenAPI documents in `docs/openapi`, as validators for the tests:
//! every backend answer the tests see, and every webhook delivery, is checked
//! against `backend.json`, so the whole backend suite keeps the document true.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// A document of `docs/openapi`.
pub fn doc(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/openapi")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A validator for `schema`, its `$ref`s resolved in `doc`.
pub fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap()
}

fn backend_doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| doc("backend.json"))
}

/// The documented path template `path` falls under.
fn template(paths: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
    if paths.contains_key(path) {
        return Some(path.to_owned());
    }
    let parts: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .find(|t| {
            let tp: Vec<&str> = t.split('/').collect();
            tp.len() == parts.len()
                && tp
                    .iter()
                    .zip(&parts)
                    .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
        })
        .cloned()
}

/// Panic unless the backend's answer to `method path` is what the document
/// says: a documented status, and a JSON body that validates.
pub fn check_backend(
    method: &str,
    path_and_query: &str,
    status: u16,
    content_type: &str,
    body: &str,
) {
    let doc = backend_doc();
    let path = path_and_query.split('?').next().unwrap_or_default();
    let paths = doc["paths"].as_object().unwrap();
    let api_error = json!({"$ref": "#/components/schemas/ApiError"});
    let schema = match template(paths, path) {
        None => {
            assert_eq!(
                status, 404,
                "{method} {path} is not documented but answered {status}"
            );
            Some(api_error)
        }
        Some(t) => {
            let op = &paths[&t][method.to_ascii_lowercase()];
            if op.is_null() {
                assert!(
                    matches!(status, 404 | 405),
                    "{method} {t} is not documented but answered {status}"
                );
                Some(api_error)
            } else {
                let resp = &op["responses"][status.to_string()];
                assert!(
                    !resp.is_null(),
                    "{method} {t}: HTTP {status} is not documented: {body:.300}"
                );
                let json = &resp["content"]["application/json"]["schema"];
                if !json.is_null() {
                    assert!(
                        content_type.starts_with("application/json"),
                        "{method} {t}: {content_type}"
                    );
                }
                (!json.is_null()).then(|| json.clone())
            }
        }
    };
    if let Some(schema) = schema {
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| {
            panic!("{method} {path} HTTP {status}: not JSON ({e}): {body:.300}")
        });
        if let Err(e) = validator(doc, &schema).validate(&v) {
            panic!("{method} {path} HTTP {status} does not match backend.json: {e}\n{v:#}");
        }
    }
}

/// Panic unless a webhook delivery's body is the documented callback.
pub fn check_callback(body: &str) {
    let doc = backend_doc();
    let v: Value = serde_json::from_str(body).unwrap();
    let schema = &doc["webhooks"]["recordingReady"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    if let Err(e) = validator(doc, schema).validate(&v) {
        panic!("callback does not match backend.json: {e}\n{v:#}");
    }
}
