//! The HTTP surface: the contract's register-callback and query APIs, the
//! broker for presigned uploads and task completion, the playback page and
//! media, health and metrics. Routing and plumbing here; page markup in `page`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ctx::Ctx;
use crate::db::{now_ms, RecordFilter};
use crate::{broker, page};

pub type Body = BoxBody<Bytes, std::io::Error>;
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

/// Read a JSON body of at most 64 KiB.
pub async fn json_body(req: Request<Incoming>) -> Result<Value, String> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| "the body is too large or was cut off".to_owned())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))
}

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>) -> Result<Resp, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let resp = match (method.clone(), path.as_str()) {
        (Method::POST, "/v4/ilvb_edu/local_record") => register_callback(req, &ctx).await,
        (Method::POST, "/paas/v1/localrecord/query") => query(req, &ctx).await,
        (Method::POST, "/paas/v1/localrecord/tasks") => tasks(req, &ctx).await,
        (Method::POST, "/v1/upload/presign") => broker::presign(req, &ctx).await,
        (Method::POST, "/v1/tasks/complete") => broker::complete(req, &ctx).await,
        (Method::GET, "/play") => page::play(req, &ctx).await,
        (Method::GET | Method::HEAD, p) if p.starts_with("/media/") => page::media(req, &ctx).await,
        (Method::GET, "/healthz") => {
            if ctx.db.ping().await {
                json_resp(StatusCode::OK, &json!({"status": "ok", "instance": ctx.me}))
            } else {
                json_resp(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"status": "database unreachable"}),
                )
            }
        }
        (Method::GET, "/metrics") => respond(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ctx.metrics.render(&ctx.db).await,
        ),
        (_, "/v4/ilvb_edu/local_record" | "/paas/v1/localrecord/query") => api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidParameter",
            "use POST",
        ),
        _ => api_error(StatusCode::NOT_FOUND, "ResourceNotFound", "no such path"),
    };
    tracing::debug!(%method, path, status = resp.status().as_u16(), "request");
    Ok(resp)
}

/// `RegisteredCallback`: the admin identifier's UserSig stores the app's callback URL.
async fn register_callback(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let q = query_map(&req);
    let bad = |m: &str| api_error(StatusCode::BAD_REQUEST, "InvalidParameter", m);
    let Some(app_id) = q.get("sdkappid").and_then(|v| v.parse::<u64>().ok()) else {
        return bad("sdkappid is missing or not a number");
    };
    let Some(app) = ctx.cfg.apps.get(&app_id) else {
        return api_error(
            StatusCode::FORBIDDEN,
            "AuthFailure",
            "this SdkAppId is not configured on this backend",
        );
    };
    let identifier = q.get("identifier").cloned().unwrap_or_default();
    let usersig = q.get("usersig").cloned().unwrap_or_default();
    if identifier != app.admin {
        return api_error(
            StatusCode::FORBIDDEN,
            "AuthFailure",
            "only the app's admin identifier may register the callback",
        );
    }
    if let Err(e) = txcr_auth::verify_user_sig(
        &ctx.cfg.keys,
        app_id,
        &identifier,
        &usersig,
        (now_ms() / 1000) as u64,
    ) {
        return api_error(StatusCode::FORBIDDEN, "AuthFailure", &e.to_string());
    }
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(e) => return bad(&e),
    };
    if body["Action"] != "RegisteredCallback" {
        return bad("Action must be RegisteredCallback");
    }
    let url = body["CallbackUrl"].as_str().unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
        return bad("CallbackUrl must be an http:// or https:// URL");
    }
    match ctx.db.set_callback_url(app_id as i64, url).await {
        Ok(()) => {
            tracing::info!(sdkappid = app_id, url, "callback registered");
            json_resp(
                StatusCode::OK,
                &json!({"Response": {"RequestId": request_id()}}),
            )
        }
        Err(e) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "InternalError",
            &e.to_string(),
        ),
    }
}

/// Query API error codes (README): 0 ok.
fn query_error(code: i64, msg: &str) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"error_code": code, "error_msg": msg, "finish": true, "total": 0, "record_info_list": []}),
    )
}

/// Check the query signature; the app id and the JSON body, or the error answer.
async fn signed(req: Request<Incoming>, ctx: &Ctx) -> Result<(u64, Value), Resp> {
    let q = query_map(&req);
    let app = q
        .get("sdkappid")
        .and_then(|v| v.parse::<u64>().ok())
        .and_then(|id| ctx.cfg.apps.get(&id).map(|a| (id, a)));
    let Some((app_id, app)) = app else {
        return Err(query_error(10002, "sdkappid is missing or not configured"));
    };
    let Some(expire) = q.get("expire_time").and_then(|v| v.parse::<u64>().ok()) else {
        return Err(query_error(10001, "expire_time is missing or not a number"));
    };
    let given = q
        .get("sign")
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if !txcr_auth::signatures_equal(&given, &txcr_auth::query_sign(&app.tickey, expire)) {
        return Err(query_error(
            10003,
            "sign does not match md5(TicKey + expire_time)",
        ));
    }
    if expire < (now_ms() / 1000) as u64 {
        return Err(query_error(
            10004,
            "the signature has expired (expire_time is in the past)",
        ));
    }
    let body = json_body(req).await.map_err(|e| query_error(10001, &e))?;
    Ok((app_id, body))
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The signed query API.
async fn query(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (app_id, body) = match signed(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(class_id) = int(&body["class_id"]) else {
        return query_error(10001, "class_id (int) is required");
    };
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let offset = int(&body["Index"]).unwrap_or(0).max(0);
    let limit = int(&body["size"]).unwrap_or(20).clamp(1, 100);
    let filter = RecordFilter {
        sdkappid: app_id as i64,
        class_id,
        user_id: text(&body["user_id"]),
        task_id: text(&body["task_id"]),
        offset,
        limit,
    };
    match ctx.db.records(&filter).await {
        Ok((recs, total)) => {
            let list: Vec<Value> = recs.iter().map(|r| ctx.record_json(r)).collect();
            let finish = offset + list.len() as i64 >= total;
            json_resp(
                StatusCode::OK,
                &json!({"error_code": 0, "error_msg": "", "finish": finish, "total": total,
                        "record_info_list": list}),
            )
        }
        Err(e) => query_error(10005, &format!("the index is unavailable: {e}")),
    }
}

/// Extension, signed like the query API: every task of a class with its
/// splice state, so a recording that cannot be spliced is visible with the reason.
async fn tasks(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (app_id, body) = match signed(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(class_id) = int(&body["class_id"]) else {
        return query_error(10001, "class_id (int) is required");
    };
    match ctx.db.class_tasks(app_id as i64, class_id).await {
        Ok(list) => {
            let list: Vec<Value> = list
                .into_iter()
                .map(|(task, user, state, error)| {
                    json!({"TaskId": task, "UserId": user, "State": state, "Error": error})
                })
                .collect();
            json_resp(
                StatusCode::OK,
                &json!({"error_code": 0, "error_msg": "", "task_list": list}),
            )
        }
        Err(e) => query_error(10005, &format!("the index is unavailable: {e}")),
    }
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

/// Serve until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => { tracing::warn!("accept failed: {e}"); continue; }
                };
                let ctx = ctx.clone();
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| handle(req, ctx.clone())));
                let conn = graceful.watch(conn);
                tokio::spawn(async move { let _ = conn.await; });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(3)) => {}
    }
    Ok(())
}
