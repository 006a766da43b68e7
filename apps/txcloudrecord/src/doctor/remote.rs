//! Checks against the storage: reachable, keys accepted, and our clock
//! against its (S3 signatures and UserSigs fail when the clock is off).

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
                vec![storage, clock(&url).await]
            }
        }
    })
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
