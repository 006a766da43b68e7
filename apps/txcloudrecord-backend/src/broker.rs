//! Brokered uploads: a teacher's machine holding a valid UserSig gets
//! presigned PUT URLs for its own task's objects only (the first user to
//! upload into a task owns it), and reports the task complete, so it never
//! holds bucket keys. The wire is `txcr_storage::broker`'s.

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use txcr_storage::broker::{
    Caller, CompleteAnswer, Envelope, PresignAnswer, PresignRequest, MAX_OBJECTS,
};
use txcr_storage::{Leaf, TaskPath};

use crate::ctx::Ctx;
use crate::db::now_ms;
use crate::jobs;
use crate::reply::{api_error, json_body, request_id, typed_resp, Resp};

/// How long a presigned URL stays valid.
const URL_TTL: Duration = Duration::from_secs(15 * 60);

fn bad(m: &str) -> Resp {
    api_error(StatusCode::BAD_REQUEST, "InvalidParameter", m)
}

/// Read the request, check the caller's UserSig; the task and the request.
async fn authenticate<T: DeserializeOwned>(
    req: Request<Incoming>,
    ctx: &Ctx,
    caller: impl Fn(&T) -> &Caller,
) -> Result<(TaskPath, T), Resp> {
    let body = json_body(req).await.map_err(|e| bad(&e))?;
    if !(body["SdkAppId"].is_number() || body["SdkAppId"].is_string())
        || !(body["ClassId"].is_number() || body["ClassId"].is_string())
    {
        return Err(bad("SdkAppId and ClassId (numbers) are required"));
    }
    let r: T = serde_json::from_value(body).map_err(|e| bad(&format!("the request: {e}")))?;
    let c = caller(&r);
    let Some(task) = c.task() else {
        return Err(bad(
            "TaskId is missing or has characters other than letters, digits, '-', '_', '.'",
        ));
    };
    txcr_auth::verify_user_sig(
        &ctx.cfg.keys,
        c.sdk_app_id,
        &c.user_id,
        &c.user_sig,
        (now_ms() / 1000) as u64,
    )
    .map_err(|e| api_error(StatusCode::FORBIDDEN, "AuthFailure", &e.to_string()))?;
    owned(ctx, &task, &c.user_id).await?;
    Ok((task, r))
}

/// The caller owns the task (or is the first to touch it).
async fn owned(ctx: &Ctx, task: &TaskPath, user: &str) -> Result<(), Resp> {
    match ctx.db.own_task(&task.to_string(), user).await {
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

fn answer(a: impl Serialize) -> Resp {
    typed_resp(StatusCode::OK, &Envelope { response: a })
}

/// Presigned PUT URLs for objects of the caller's own task.
pub async fn presign(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (task, r) = match authenticate(req, ctx, |r: &PresignRequest| &r.caller).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if r.objects.is_empty() || r.objects.len() > MAX_OBJECTS {
        return bad("Objects must name 1 to 100 objects");
    }
    let mut urls = BTreeMap::new();
    for name in r.objects {
        let Some(leaf) = Leaf::parse(&name).filter(|l| l.uploadable()) else {
            return bad("object names must be <seq>.flv (digits) or manifest.json");
        };
        let key = ctx.storage.key(&task, leaf);
        match ctx.storage.presign_put(key.as_str(), URL_TTL).await {
            Ok(u) => {
                urls.insert(name, u);
            }
            Err(e) => return unavailable(&e),
        }
    }
    answer(PresignAnswer {
        request_id: request_id(),
        expires_in: URL_TTL.as_secs(),
        urls,
    })
}

/// The local service says a task's manifest is stored: queue the splice now.
pub async fn complete(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let (task, _) = match authenticate(req, ctx, |c: &Caller| c).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = ctx.storage.key(&task, Leaf::Manifest);
    match jobs::add_manifest(ctx, &key).await {
        Ok(added) => answer(CompleteAnswer {
            request_id: request_id(),
            added,
        }),
        Err(e) if e.is_transient() => unavailable(&e),
        Err(e) => bad(&e.to_string()),
    }
}
