//! Checks against the storage: reachable, keys accepted, and our clock
//! against its (S3 signatures and UserSigs fail when the clock is off); with
//! a backend, also whether the upload URLs it hands out reach anything from
//! here (a backend started for its own machine names its loopback in them).

use std::time::{Duration, SystemTime};

use txcr_slice_upload::S3Store;

use super::{Finding, Level};
use crate::config::{Config, UploadTarget};

/// Clock difference that breaks S3 request signatures (AWS allows 15 min;
/// some S3-compatible servers 5).
const CLOCK_FAIL_SECS: u64 = 300;
/// Worth fixing before it grows.
const CLOCK_WARN_SECS: u64 = 30;
/// Each remote check gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(10);

pub fn storage_and_clock(cfg: &Config) -> Vec<Finding> {
    let Some(upload) = &cfg.upload else {
        return vec![
            Finding::new(
                "storage",
                Level::Ok,
                "no storage configured: slices stay on disk",
            )
            .fix("to upload, set TXCR_S3_BUCKET (+ AWS_ENDPOINT_URL and keys) or TXCR_BACKEND_URL"),
            Finding::new(
                "clock",
                Level::Skip,
                "not checked: no server to compare with",
            ),
        ];
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return vec![Finding::new(
                "storage",
                Level::Skip,
                format!("cannot check: {e}"),
            )]
        }
    };
    rt.block_on(async {
        match &upload.target {
            UploadTarget::Direct(s3) => {
                let url = s3.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com/", s3.region));
                let store = S3Store::new(s3.clone());
                let checked = tokio::time::timeout(TIMEOUT, store.check()).await;
                let storage = match checked {
                    Ok(Ok(())) => Finding::new("storage", Level::Ok, format!("bucket {:?} at {url}: reachable, keys accepted", s3.bucket)),
                    Ok(Err(e)) if e.is_transient() => Finding::new("storage", Level::Fail, format!("{url}: {e}"))
                        .fix("check AWS_ENDPOINT_URL and the network; slices wait on disk and go up once it is reachable"),
                    Ok(Err(e)) => Finding::new("storage", Level::Fail, format!("bucket {:?} at {url}: {e}", s3.bucket))
                        .fix("check TXCR_S3_BUCKET, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the clock"),
                    Err(_) => Finding::new("storage", Level::Fail, format!("{url}: no answer in {} s", TIMEOUT.as_secs()))
                        .fix("check AWS_ENDPOINT_URL and the network"),
                };
                vec![storage, clock(&url).await]
            }
            UploadTarget::Brokered(base) => {
                let url = format!("{}/healthz", base.trim_end_matches('/'));
                let storage = match get(&url).await {
                    Ok((status, _)) if status.is_success() => Finding::new("storage", Level::Ok, format!("backend {base}: healthy")),
                    Ok((status, _)) => Finding::new("storage", Level::Fail, format!("backend {base} answers {status} on /healthz"))
                        .fix("the backend is up but not healthy: see its logs (database, storage)"),
                    Err(e) => Finding::new("storage", Level::Fail, format!("backend {base}: {e}"))
                        .fix("check TXCR_BACKEND_URL and the network"),
                };
                vec![storage, upload_url(cfg, base).await, clock(&url).await]
            }
        }
    })
}

/// Ask the backend for an upload URL as a teacher's machine would (a UserSig
/// made with this service's own application key, for a task of class 0
/// named `doctor-<unix time>`; nothing is uploaded) and see whether its host
/// answers from here.
async fn upload_url(cfg: &Config, base: &str) -> Finding {
    use txcr_storage::broker::{Caller, Envelope, PresignAnswer, PresignRequest, PRESIGN_PATH};
    const CHECK: &str = "upload-url";
    let Some((app, key)) = cfg.apps.iter().next() else {
        return Finding::new(
            CHECK,
            Level::Skip,
            "not checked: no application configured (TXCR_SDKAPPID and TXCR_SECRET_KEY) to ask the backend with",
        );
    };
    let now = crate::task::unix_now();
    let user = "txcr-doctor";
    let req = PresignRequest {
        caller: Caller {
            sdk_app_id: app,
            class_id: 0,
            task_id: format!("doctor-{now}"),
            user_id: user.into(),
            user_sig: txcr_auth::gen_user_sig(app, key, user, 600, now),
        },
        objects: vec![txcr_storage::Leaf::Manifest.name()],
    };
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return Finding::new(CHECK, Level::Skip, format!("cannot check: {e}")),
    };
    let asked = client
        .post(format!("{}{PRESIGN_PATH}", base.trim_end_matches('/')))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&req).unwrap_or_default())
        .send()
        .await;
    let body = match asked {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => return Finding::new(CHECK, Level::Skip, format!("not checked: {e}")),
    };
    let Some(url) = serde_json::from_str::<Envelope<PresignAnswer>>(&body)
        .ok()
        .and_then(|a| a.response.urls.into_values().next())
    else {
        let why: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let why = why["Response"]["Error"]["Message"]
            .as_str()
            .unwrap_or("no upload URL in its answer")
            .to_owned();
        return Finding::new(CHECK, Level::Fail, format!("backend {base} gives this machine no upload URL: {why}"))
            .fix("the backend must know this application (the same TXCR_SDKAPPID and TXCR_SECRET_KEY on both)");
    };
    let shown = reqwest::Url::parse(&url).map_or_else(
        |_| "an unreadable URL".to_owned(),
        |u| {
            format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or_default()
            )
        },
    );
    // Any answer (an S3 server refuses a HEAD on a PUT URL) proves the
    // address is reachable; only a connection that fails does not.
    match client.head(&url).send().await {
        Ok(_) => Finding::new(
            CHECK,
            Level::Ok,
            format!("the backend's upload URLs name {shown}: reachable from here"),
        ),
        Err(e) => Finding::new(
            CHECK,
            Level::Fail,
            format!("the backend's upload URLs name {shown}, which this machine cannot reach ({e}): slices would wait on disk"),
        )
        .fix("start the backend with --public-url naming an address teachers' machines reach (its embedded store listens on that host, port 37606: open it), or give it a bucket they can reach"),
    }
}

async fn get(url: &str) -> Result<(reqwest::StatusCode, Option<String>), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url).send().await.map_err(|e| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    })?;
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((resp.status(), date))
}

/// Our clock against the `Date` the server at `url` answers with.
async fn clock(url: &str) -> Finding {
    let before = SystemTime::now();
    let date = match get(url).await {
        Ok((_, Some(d))) => d,
        Ok((_, None)) => {
            return Finding::new(
                "clock",
                Level::Skip,
                format!("{url} sends no Date to compare with"),
            )
        }
        Err(e) => return Finding::new("clock", Level::Skip, format!("not checked: {e}")),
    };
    let Ok(theirs) = httpdate::parse_http_date(&date) else {
        return Finding::new(
            "clock",
            Level::Skip,
            format!("{url} sent an unreadable Date {date:?}"),
        );
    };
    // Their second is somewhere in our request's round trip.
    let ours = before + before.elapsed().unwrap_or_default() / 2;
    let (ahead, secs) = match ours.duration_since(theirs) {
        Ok(d) => (true, d.as_secs()),
        Err(e) => (false, e.duration().as_secs()),
    };
    let shown = format!(
        "this machine's clock is {secs} s {} the storage's",
        if ahead { "ahead of" } else { "behind" }
    );
    let fix = "turn on time synchronisation (`timedatectl set-ntp true`, or Windows' \"Set time automatically\")";
    if secs >= CLOCK_FAIL_SECS {
        Finding::new("clock", Level::Fail, format!("{shown}: uploads are refused (signatures expire) and UserSigs may look expired or not yet valid")).fix(fix)
    } else if secs >= CLOCK_WARN_SECS {
        Finding::new("clock", Level::Warn, shown).fix(fix)
    } else {
        Finding::new(
            "clock",
            Level::Ok,
            format!("within {} s of the storage's", secs.max(1)),
        )
    }
}
