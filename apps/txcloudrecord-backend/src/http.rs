//! The HTTP surface: routes to the contract's register-callback and query
//! APIs (`query`), the broker for presigned uploads and task completion
//! (`broker`), the playback page and media (`page`), live replay (`live`),
//! health and metrics;
//! and the server loop. Shared plumbing is in `reply`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use txcr_storage::broker::{COMPLETE_PATH, PRESIGN_PATH};

use crate::ctx::Ctx;
use crate::reply::{api_error, json_resp, respond, Resp};
use crate::{broker, live, page, query};

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>) -> Result<Resp, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let resp = match (method.clone(), path.as_str()) {
        (Method::POST, "/v4/ilvb_edu/local_record") => query::register_callback(req, &ctx).await,
        (Method::POST, "/paas/v1/localrecord/query") => query::query(req, &ctx).await,
        (Method::POST, "/paas/v1/localrecord/tasks") => query::tasks(req, &ctx).await,
        (Method::POST, "/paas/v1/localrecord/delete") => query::delete(req, &ctx).await,
        (Method::POST, PRESIGN_PATH) => broker::presign(req, &ctx).await,
        (Method::POST, COMPLETE_PATH) => broker::complete(req, &ctx).await,
        (Method::GET, "/play") => page::play(req, &ctx).await,
        (Method::GET | Method::HEAD, p) if p.starts_with("/media/") => page::media(req, &ctx).await,
        (Method::GET, p) if p.starts_with("/live/") => live::serve(req, &ctx).await,
        (Method::GET, page::HLS_JS_PATH) => page::hls_js(),
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
