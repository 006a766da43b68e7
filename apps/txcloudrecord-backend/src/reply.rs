//! HTTP plumbing the handlers share: bodies, JSON answers, the
//! Tencent-Cloud error envelope, request ids, reading queries and bodies.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// A response body.
pub type Body = BoxBody<Bytes, std::io::Error>;
/// A response.
pub type Resp = Response<Body>;

const MAX_BODY: usize = 64 * 1024;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

pub fn json_resp(status: StatusCode, v: &Value) -> Resp {
    respond(status, "application/json", v.to_string())
}

/// A JSON answer from a typed value.
pub fn typed_resp(status: StatusCode, v: &impl serde::Serialize) -> Resp {
    match serde_json::to_string(v) {
        Ok(body) => respond(status, "application/json", body),
        Err(e) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &e.to_string(),
        ),
    }
}

/// A Tencent-Cloud-style error envelope.
pub fn api_error(status: StatusCode, code: &str, msg: &str) -> Resp {
    json_resp(
        status,
        &json!({"Response": {"Error": {"Code": code, "Message": msg}, "RequestId": request_id()}}),
    )
}

pub fn request_id() -> String {
    use rand::Rng;
    format!("{:032x}", rand::rng().random::<u128>())
}

/// The query string as a map (last value wins).
pub fn query_map(req: &Request<Incoming>) -> HashMap<String, String> {
    let query = req.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Check a signed link's `expire_time` and `sign` (media, live): `want`
/// makes the signature its expiry should carry (`None`: no such app). The
/// expiry, or why the link is refused (answered 403).
pub fn check_link(
    req: &Request<Incoming>,
    want: impl FnOnce(i64) -> Option<String>,
) -> Result<i64, &'static str> {
    let q = query_map(req);
    let expire = q
        .get("expire_time")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let given = q.get("sign").map(String::as_str).unwrap_or_default();
    if !want(expire).is_some_and(|w| txcr_auth::signatures_equal(given, &w)) {
        return Err("this link is not valid");
    }
    if expire < crate::db::now_ms() / 1000 {
        return Err("this link has expired");
    }
    Ok(expire)
}

/// Read a JSON body of at most 64 KiB.
pub async fn json_body(req: Request<Incoming>) -> Result<Value, String> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| "the body is too large or was cut off".to_owned())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))
}

/// Stream an S3 body as an HTTP body.
pub fn stream_body(body: aws_sdk_s3::primitives::ByteStream) -> Body {
    let stream = futures_util::stream::unfold(body, |mut b| async move {
        match b.try_next().await {
            Ok(Some(chunk)) => Some((Ok(Frame::data(chunk)), b)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), b)),
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}
