//! Brokered uploads: a teacher's machine holding a valid UserSig gets
//! presigned PUT URLs for its own task's objects only (the first user to
//! upload into a task owns it), and reports the task complete, so it never
//! holds bucket keys.
//!
//! `POST /v1/upload/presign` `{"SdkAppId","UserId","UserSig","ClassId","TaskId","Objects":["0001.flv","manifest.json"]}`
//! → `{"Response":{"RequestId","ExpiresIn","Urls":{"0001.flv":"https://…"}}}`.
//! `POST /v1/tasks/complete` (same identity fields) → `{"Response":{"RequestId","Added"}}`.

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::db::now_ms;
use crate::http::{api_error, json_body, json_resp, request_id, Resp};
use crate::jobs;

/// How long a presigned URL stays valid.
const URL_TTL: Duration = Duration::from_secs(15 * 60);
/// Objects per request.
const MAX_OBJECTS: usize = 100;

struct Caller {
    app: i64,
    class: i64,
    task: String,
    user: String,
}

async fn authenticate(req: Request<Incoming>, ctx: &Ctx) -> Result<(Caller, Value), Resp> {
    let bad = |m: &str| api_error(StatusCode::BAD_REQUEST, "InvalidParameter", m);
    let body = json_body(req).await.map_err(|e| bad(&e))?;
    let num = |k: &str| {
        body[k]
            .as_u64()
            .or_else(|| body[k].as_str().and_then(|s| s.parse().ok()))
    };
    let (Some(app), Some(class)) = (num("SdkAppId"), num("ClassId")) else {
        return Err(bad("SdkAppId and ClassId (numbers) are required"));
    };
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (user, sig, task) = (text("UserId"), text("UserSig"), text("TaskId"));
    if !crate::ctx::safe_id(&task) {
        return Err(bad(
            "TaskId is missing or has characters other than letters, digits, '-', '_', '.'",
        ));
    }
    txcr_auth::verify_user_sig(&ctx.cfg.keys, app, &user, &sig, (now_ms() / 1000) as u64)
        .map_err(|e| api_error(StatusCode::FORBIDDEN, "AuthFailure", &e.to_string()))?;
    let caller = Caller {
        app: app as i64,
        class: class as i64,
        task,
        user,
    };
    Ok((caller, body))
}

/// The caller owns the task (or is the first to touch it).
async fn owned(ctx: &Ctx, c: &Caller) -> Result<(), Resp> {
    let id = format!("{}/{}/{}", c.app, c.class, c.task);
    match ctx.db.own_task(&id, &c.user).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(api_error(
            StatusCode::FORBIDDEN,
            "AuthFailure",
            "this task belongs to another user",
        )),
        Err(e) => Err(unavailable(&e)),
    }
}

fn unavailable(e: &dyn std::fmt::Display) -> Resp {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "InternalError",
        &e.to_string(),
    )
}

fn allowed_leaf(leaf: &str) -> bool {
    let seq = leaf.strip_suffix(".flv").unwrap_or_default();
    leaf == "manifest.json"
        || ((4..=10).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit()))
}

/// Presigned PUT URLs for objects of the caller's own task.
pub async fn presign(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (c, body) = match authenticate(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(objects) = body["Objects"].as_array() else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "Objects (array of names) is required",
        );
    };
    if objects.is_empty() || objects.len() > MAX_OBJECTS {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "Objects must name 1 to 100 objects",
        );
    }
    if let Err(r) = owned(ctx, &c).await {
        return r;
    }
    let mut urls = BTreeMap::new();
    for o in objects {
        let Some(leaf) = o.as_str().filter(|l| allowed_leaf(l)) else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "object names must be <seq>.flv (digits) or manifest.json",
            );
        };
        let key = ctx.storage.task_key(c.app, c.class, &c.task, leaf);
        match ctx.storage.presign_put(&key, URL_TTL).await {
            Ok(u) => {
                urls.insert(leaf.to_owned(), u);
            }
            Err(e) => return unavailable(&e),
        }
    }
    json_resp(
        StatusCode::OK,
        &json!({"Response": {"RequestId": request_id(), "ExpiresIn": URL_TTL.as_secs(), "Urls": urls}}),
    )
}

/// The local service says a task's manifest is stored: queue the splice now.
pub async fn complete(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (c, _) = match authenticate(req, ctx).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = owned(ctx, &c).await {
        return r;
    }
    let key = ctx
        .storage
        .task_key(c.app, c.class, &c.task, "manifest.json");
    match jobs::add_manifest(ctx, &key).await {
        Ok(added) => json_resp(
            StatusCode::OK,
            &json!({"Response": {"RequestId": request_id(), "Added": added}}),
        ),
        Err(e) if e.is_transient() => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "InternalError",
            &e.to_string(),
        ),
        Err(e) => api_error(StatusCode::BAD_REQUEST, "InvalidParameter", &e.to_string()),
    }
}
