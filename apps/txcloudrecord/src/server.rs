//! HTTP: the guards (Host, Origin, method, size) and the envelope; everything
//! else is the service's.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, CONTENT_TYPE, HOST, ORIGIN};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use txcr_protocol::{failure, guard, parse_request, success, ApiError, ErrorCode, MAX_BODY_BYTES};
use txcr_state::Caller;

use crate::app::App;

const PREFIX: &str = "/localrecord/v1/";

type Resp = Response<BoxBody<Bytes, Infallible>>;

fn respond(status: StatusCode, body: Vec<u8>, extra: &[(&'static str, String)]) -> Resp {
    with_body(
        status,
        Full::new(Bytes::from(body)).boxed(),
        "application/json; charset=utf-8",
        extra,
    )
}

fn with_body(
    status: StatusCode,
    body: BoxBody<Bytes, Infallible>,
    content_type: &'static str,
    extra: &[(&'static str, String)],
) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    for (k, v) in extra {
        if let Ok(v) = v.parse() {
            h.insert(*k, v);
        }
    }
    r
}

fn refuse(status: StatusCode, code: ErrorCode, msg: &str) -> Resp {
    respond(status, failure(&ApiError::new(code, msg)), &[])
}

fn header(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(req: Request<Incoming>, app: Arc<App>) -> Result<Resp, Infallible> {
    let h = req.headers();
    if !guard::host_allowed(header(h, HOST), app.port) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Host must be 127.0.0.1 or localhost",
        ));
    }
    let origin = header(h, ORIGIN).map(str::to_owned);
    if let Some(o) = &origin {
        if !app.origins.allows(o) {
            tracing::warn!(origin = %o, "refused a browser origin that is not on the allow-list");
            return Ok(refuse(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "this web page's origin is not allowed to use the recorder; add it with --allow-origin"));
        }
    }
    let cors = origin
        .as_deref()
        .map(guard::cors_headers)
        .unwrap_or_default();
    if req.method() == Method::OPTIONS {
        let extra = match &origin {
            Some(o) => guard::preflight_headers(
                o,
                header(h, "access-control-request-headers"),
                header(h, "access-control-request-private-network") == Some("true"),
            ),
            None => Vec::new(),
        };
        return Ok(respond(StatusCode::NO_CONTENT, Vec::new(), &extra));
    }
    let Some(cmd) = req.uri().path().strip_prefix(PREFIX).map(str::to_owned) else {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            failure(&ApiError::new(
                ErrorCode::UnknownCommand,
                "paths are /localrecord/v1/<Cmd>",
            )),
            &cors,
        ));
    };
    let caller = origin.map_or(Caller::Native, Caller::Origin);
    if cmd == txcr_protocol::EVENTS_PATH {
        if req.method() != Method::GET {
            return Ok(respond(
                StatusCode::METHOD_NOT_ALLOWED,
                failure(&ApiError::invalid("Events is read with GET")),
                &cors,
            ));
        }
        return Ok(match crate::events::open(&app, caller) {
            Ok(body) => {
                let mut extra = cors;
                extra.push(("cache-control", "no-cache".into()));
                with_body(StatusCode::OK, body.boxed(), "text/event-stream", &extra)
            }
            Err(e) => respond(StatusCode::OK, failure(&e), &cors),
        });
    }
    if req.method() != Method::POST {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            failure(&ApiError::invalid("commands are sent with POST")),
            &cors,
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = ApiError::invalid(format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes or was cut off"
            ));
            return Ok(respond(StatusCode::PAYLOAD_TOO_LARGE, failure(&e), &cors));
        }
    };
    let result = match parse_request(&cmd, &body) {
        Err(e) => Err(e),
        // GetState only reads counters: answered on this task, since a
        // thread hop per poll is most of its latency when the CPU is busy.
        // It never waits for a command (the service answers from the state
        // the last command left while one runs).
        Ok(request @ txcr_protocol::Request::GetState) => app.service.handle(request, &caller),
        Ok(request) => {
            let app2 = app.clone();
            tokio::task::spawn_blocking(move || app2.service.handle(request, &caller))
                .await
                .unwrap_or_else(|e| {
                    Err(ApiError::new(
                        ErrorCode::RecorderFailed,
                        format!("internal error: {e}"),
                    ))
                })
        }
    };
    Ok(match result {
        Ok(outcome) => {
            if outcome.exit {
                app.exit.notify_one();
            }
            if !matches!(cmd.as_str(), "GetState" | "GetPreview") {
                app.changed.notify_waiters();
            }
            respond(StatusCode::OK, success(outcome.fields), &cors)
        }
        Err(e) => {
            tracing::info!(cmd = %cmd.chars().take(40).collect::<String>(), code = e.code.code(), "{}", e.message);
            respond(StatusCode::OK, failure(&e), &cors)
        }
    })
}

/// Ctrl-C or SIGTERM; on Windows also Ctrl-Break, a closed console, log-off
/// and shut-down (as console events, and as the session's end that
/// [`crate::session_end`] watches for). Create it once and keep it (pinned):
/// each call sets up its own handlers.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    #[cfg(windows)]
    {
        // Log-off, shut-down and a closed console end the process a few
        // seconds later: finish the current slice first, as SIGTERM does.
        use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_logoff, ctrl_shutdown};
        let session = crate::session_end::watch();
        if let (Ok(mut close), Ok(mut logoff), Ok(mut shutdown), Ok(mut brk)) =
            (ctrl_close(), ctrl_logoff(), ctrl_shutdown(), ctrl_break())
        {
            tokio::select! {
                _ = session.notified() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = close.recv() => {}
                _ = logoff.recv() => {}
                _ = shutdown.recv() => {}
                _ = brk.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Serve until Exit or a termination signal; a running recording is finished
/// cleanly before returning.
pub async fn serve(listener: TcpListener, app: Arc<App>) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => { tracing::warn!("accept failed: {e}"); continue; }
                };
                let app = app.clone();
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| handle(req, app.clone())));
                let conn = graceful.watch(conn);
                tokio::spawn(async move { let _ = conn.await; });
            }
            _ = app.exit.notified() => { tracing::info!("Exit requested"); break; }
            _ = &mut signal => { tracing::info!("signal received, stopping"); break; }
        }
    }
    drop(listener);
    app.closing.send_replace(true);
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || app2.service.shutdown()).await?;
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(3)) => {}
    }
    Ok(())
}
