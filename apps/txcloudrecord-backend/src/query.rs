//! The contract's APIs for the school's server: `RegisteredCallback` (the
//! admin's UserSig stores the app's callback URL), the signed query API and
//! its `tasks` and `delete` extensions.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::db::{now_ms, RecordFilter};
use crate::reply::{api_error, json_body, json_resp, query_map, request_id, typed_resp, Resp};
use crate::wire::{DeleteAnswer, QueryAnswer, RecordInfo, TaskInfo, TasksAnswer};
use crate::{jobs, live};
use txcr_storage::TaskPath;

/// `RegisteredCallback`: the admin identifier's UserSig stores the app's callback URL.
pub async fn register_callback(req: Request<Incoming>, ctx: &Ctx) -> Resp {
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
    typed_resp(
        StatusCode::OK,
        &QueryAnswer {
            error_code: code,
            error_msg: msg.to_owned(),
            finish: true,
            total: 0,
            record_info_list: Vec::new(),
        },
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
pub async fn query(req: Request<Incoming>, ctx: &Ctx) -> Resp {
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
            let list: Vec<RecordInfo> = recs.iter().map(|r| ctx.record_info(r)).collect();
            let finish = offset + list.len() as i64 >= total;
            typed_resp(
                StatusCode::OK,
                &QueryAnswer {
                    error_code: 0,
                    error_msg: String::new(),
                    finish,
                    total,
                    record_info_list: list,
                },
            )
        }
        Err(e) => query_error(10005, &format!("the index is unavailable: {e}")),
    }
}

/// Extension, signed like the query API: every task of a class with its
/// splice state, so a recording that cannot be spliced is visible with the
/// reason; first the tasks still recorded (slices stored, no manifest), and
/// for those and the ones not spliced yet the live replay playlist.
pub async fn tasks(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (app_id, body) = match signed(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(class_id) = int(&body["class_id"]) else {
        return query_error(10001, "class_id (int) is required");
    };
    let list = match ctx.db.class_tasks(app_id as i64, class_id).await {
        Ok(list) => list,
        Err(e) => return query_error(10005, &format!("the index is unavailable: {e}")),
    };
    let live = match u64::try_from(class_id) {
        Ok(class) => live::in_progress(ctx, app_id, class).await,
        Err(_) => Ok(Vec::new()),
    };
    let live = match live {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the class's tasks in progress");
            return query_error(10005, "the storage is unavailable; try again shortly");
        }
    };
    let expire = now_ms() / 1000 + ctx.cfg.media_link_ttl.as_secs() as i64;
    let playlist = |task_id: &str| {
        let place = TaskPath::new(app_id, class_id as u64, task_id)?;
        Some(live::playlist_url(ctx, &place, expire))
    };
    let mut task_list: Vec<TaskInfo> = live
        .into_iter()
        .map(|t| TaskInfo {
            playlist_url: playlist(&t.task_id),
            task_id: t.task_id,
            user_id: String::new(),
            state: "recording".into(),
            error: None,
            start_time: Some(t.started_ms / 1000),
        })
        .collect();
    task_list.extend(list.into_iter().map(|(task_id, user_id, state, error)| {
        let unfinished = state == "pending" || state == "running";
        TaskInfo {
            playlist_url: unfinished.then(|| playlist(&task_id)).flatten(),
            task_id,
            user_id,
            state,
            error,
            start_time: None,
        }
    }));
    typed_resp(
        StatusCode::OK,
        &TasksAnswer {
            error_code: 0,
            error_msg: String::new(),
            task_list,
        },
    )
}

/// Extension, signed like the query API (so only the school's server, which
/// holds the TicKey, may call it): delete a class's recordings, or one task's
/// with `task_id`: objects, index rows, pending callbacks; links stop working.
pub async fn delete(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (app_id, body) = match signed(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(class_id) = int(&body["class_id"]).and_then(|c| u64::try_from(c).ok()) else {
        return query_error(10001, "class_id (int) is required");
    };
    let task_id = match &body["task_id"] {
        Value::Null => None,
        Value::String(t) if !t.is_empty() => Some(t.as_str()),
        _ => return query_error(10001, "task_id, if given, is a non-empty string"),
    };
    let answer = |error_code, error_msg: String, d: jobs::Deleted| {
        typed_resp(
            StatusCode::OK,
            &DeleteAnswer {
                error_code,
                error_msg,
                deleted_task_list: d.tasks,
                deleted_objects: d.objects,
            },
        )
    };
    match jobs::delete_class(ctx, app_id, class_id, task_id).await {
        Ok(d) => answer(0, String::new(), d),
        Err(e) => answer(
            10005,
            format!("not everything could be deleted, call again: {e}"),
            jobs::Deleted::default(),
        ),
    }
}
