//! Live replay: a class watched while it is still recorded. Every task
//! whose slices are arriving has an HLS playlist,
//! `GET /live/<SdkAppId>/<ClassId>/<TaskId>.m3u8?expire_time=&sign=`
//! (`txcr_auth::live_sign`), of fragmented-MP4 segments, one per uploaded
//! slice, remuxed without re-encoding (`txcr_splice::media_segment`).
//!
//! Each segment is made once, the first time a playlist asks for its slice,
//! and kept in storage beside the slice (`init.mp4`, `<seq>.m4s`); viewers
//! read it from there. What this instance knows of a task (which segments
//! exist, how long each plays, whether the last is in) is a few bytes in
//! memory, forgotten a while after nobody asked; after a restart (or on
//! another instance) the stored segments' lengths are read back from their
//! `moof`s, and only segments not stored are made. A task's storage listing is
//! read at most once a second however many viewers poll, and not at all once
//! it is complete. The playlist is `EVENT` (it only grows) and ends with
//! `#EXT-X-ENDLIST` once the manifest is stored and every slice is in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use txcr_storage::{Leaf, TaskPath};

use crate::ctx::Ctx;
use crate::db::now_ms;
use crate::error::Error;
use crate::reply::{api_error, check_link, respond, stream_body, Resp};

/// A task's listing is read again at most this often.
const RELIST: Duration = Duration::from_secs(1);
/// What nobody asked about for this long is forgotten.
const FORGET: Duration = Duration::from_secs(15 * 60);
/// A task without a manifest whose last slice is older than this is not
/// shown as in progress (the recorder stopped for good without finishing).
pub const STALE_MS: i64 = 60 * 60 * 1000;

/// What this instance knows of the tasks being watched.
#[derive(Debug, Default)]
pub struct Live {
    tasks: Mutex<HashMap<TaskPath, Arc<tokio::sync::Mutex<Known>>>>,
}

/// One task's segments, as far as made.
#[derive(Debug, Default)]
struct Known {
    /// `init.mp4` is stored.
    init: bool,
    /// How long each segment plays (ms), from slice 1 on.
    durations: Vec<u64>,
    /// The manifest is stored and every slice has its segment.
    complete: bool,
    /// When the listing was last read.
    listed: Option<Instant>,
    /// When someone last asked.
    asked: Option<Instant>,
}

impl Live {
    fn task(&self, t: &TaskPath) -> Arc<tokio::sync::Mutex<Known>> {
        let mut map = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, k| {
            k.try_lock()
                .map_or(true, |k| k.asked.is_some_and(|a| a.elapsed() < FORGET))
        });
        map.entry(t.clone()).or_default().clone()
    }

    /// Forget what is known of a task (its segments were deleted).
    pub fn forget(&self, t: &TaskPath) {
        let mut map = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(t);
    }
}

/// A task still being recorded or uploaded: slices stored, no manifest yet.
#[derive(Debug, Clone)]
pub struct InProgress {
    /// The task id.
    pub task_id: String,
    /// When it began, about (unix ms): its first slice was stored a slice's
    /// length (the gap to the second) after it.
    pub started_ms: i64,
}

/// The class's tasks in progress (not stale), in the order they began.
pub async fn in_progress(ctx: &Ctx, app: u64, class: u64) -> Result<Vec<InProgress>, Error> {
    let objects = ctx
        .storage
        .objects_under(&ctx.storage.class_prefix(app, class))
        .await?;
    /// Per task: when slices 1 and 2 were stored, the newest slice, a manifest.
    #[derive(Default)]
    struct Seen {
        first: Option<i64>,
        second: Option<i64>,
        newest: i64,
        manifest: bool,
    }
    let mut tasks: HashMap<String, Seen> = HashMap::new();
    for (key, at) in objects {
        let e = tasks.entry(key.task().task_id.clone()).or_default();
        match key.leaf() {
            Leaf::Slice(seq) => {
                e.newest = e.newest.max(at);
                match seq {
                    1 => e.first = Some(at),
                    2 => e.second = Some(at),
                    _ => {}
                }
            }
            Leaf::Manifest => e.manifest = true,
            _ => {}
        }
    }
    let now = now_ms();
    let mut out: Vec<InProgress> = tasks
        .into_iter()
        .filter(|(_, s)| !s.manifest && now - s.newest < STALE_MS)
        .filter_map(|(task_id, s)| {
            let first = s.first?;
            let slice_ms = s.second.map_or(0, |second| (second - first).max(0));
            Some(InProgress {
                task_id,
                started_ms: first - slice_ms,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.started_ms, &a.task_id).cmp(&(b.started_ms, &b.task_id)));
    Ok(out)
}

/// The signature of a task's live links valid until `expire` (`None`: no
/// such app).
fn sign(ctx: &Ctx, t: &TaskPath, expire: i64) -> Option<String> {
    let key = &ctx.cfg.apps.get(&t.sdkappid)?.tickey;
    let (app, class) = (t.sdkappid as i64, t.class_id as i64);
    Some(txcr_auth::live_sign(key, app, class, &t.task_id, expire))
}

/// The query string of a task's live links, valid until `expire`.
fn signed_query(ctx: &Ctx, t: &TaskPath, expire: i64) -> String {
    let sign = sign(ctx, t, expire).unwrap_or_default();
    format!("expire_time={expire}&sign={sign}")
}

/// A task's playlist link, valid until `expire` (unix seconds).
pub fn playlist_url(ctx: &Ctx, t: &TaskPath, expire: i64) -> String {
    format!(
        "{}/live/{}/{}/{}.m3u8?{}",
        ctx.public_url,
        t.sdkappid,
        t.class_id,
        t.task_id,
        signed_query(ctx, t, expire)
    )
}

fn text(status: StatusCode, msg: &str) -> Resp {
    respond(status, "text/plain; charset=utf-8", msg.to_owned())
}

/// What a `/live/...` path names: the playlist, or one of its parts.
enum Asked {
    Playlist,
    Part(Leaf),
}

/// Parse `/live/<app>/<class>/<task>.m3u8` or `/live/<app>/<class>/<task>/<leaf>`.
fn parse_path(path: &str) -> Option<(TaskPath, Asked)> {
    let rest = path.strip_prefix("/live/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let (app, class, task, asked) = match parts.as_slice() {
        [a, c, t] => (a, c, t.strip_suffix(".m3u8")?, Asked::Playlist),
        [a, c, t, leaf] => match Leaf::parse(leaf)? {
            l @ (Leaf::LiveInit | Leaf::LiveSegment(_)) => (a, c, *t, Asked::Part(l)),
            _ => return None,
        },
        _ => return None,
    };
    Some((
        TaskPath::new(app.parse().ok()?, class.parse().ok()?, task)?,
        asked,
    ))
}

/// `GET /live/...`: the playlist or a segment, behind the signed link.
pub async fn serve(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let Some((task, asked)) = parse_path(req.uri().path()) else {
        return api_error(StatusCode::NOT_FOUND, "ResourceNotFound", "no such path");
    };
    let expire = match check_link(&req, |expire| sign(ctx, &task, expire)) {
        Ok(expire) => expire,
        Err(why) => return text(StatusCode::FORBIDDEN, why),
    };
    match asked {
        Asked::Playlist => match playlist(ctx, &task, expire).await {
            Ok(Some(body)) => {
                let mut r = respond(StatusCode::OK, "application/vnd.apple.mpegurl", body);
                r.headers_mut().insert(
                    "cache-control",
                    hyper::header::HeaderValue::from_static("no-cache"),
                );
                r
            }
            Ok(None) => text(
                StatusCode::NOT_FOUND,
                "no live replay of this class is stored: not yet, or the class is over (watch its recording)",
            ),
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "live playlist failed");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the live class is unavailable right now; try again shortly",
                )
            }
        },
        Asked::Part(leaf) => part(ctx, &task, leaf).await,
    }
}

/// A stored segment, streamed.
async fn part(ctx: &Ctx, task: &TaskPath, leaf: Leaf) -> Resp {
    let key = ctx.storage.key(task, leaf);
    match ctx.storage.open(key.as_str()).await {
        Ok(Some((body, len))) => {
            let mut r = hyper::Response::new(stream_body(body));
            let h = r.headers_mut();
            let ctype = if leaf == Leaf::LiveInit {
                "video/mp4"
            } else {
                "video/iso.segment"
            };
            let mut set = |k: &'static str, v: String| {
                if let Ok(v) = v.parse() {
                    h.insert(k, v);
                }
            };
            set("content-type", ctype.into());
            set("cache-control", "private, max-age=86400, immutable".into());
            if let Some(n) = len {
                set("content-length", n.to_string());
            }
            r
        }
        Ok(None) => text(StatusCode::NOT_FOUND, "no such segment"),
        Err(e) => {
            tracing::warn!(%key, error = %e, "cannot read a live segment");
            text(StatusCode::BAD_GATEWAY, "storage unavailable")
        }
    }
}

/// The playlist text, making the segments of newly stored slices first;
/// `None` while no slice is stored (or, slices deleted after the splice,
/// none can be made).
async fn playlist(ctx: &Ctx, task: &TaskPath, expire: i64) -> Result<Option<String>, Error> {
    let known = ctx.live.task(task);
    let mut k = known.lock().await;
    k.asked = Some(Instant::now());
    if !k.complete && k.listed.is_none_or(|at| at.elapsed() >= RELIST) {
        k.listed = Some(Instant::now());
        catch_up(ctx, task, &mut k).await?;
    }
    if k.durations.is_empty() || !k.init {
        return Ok(None);
    }
    Ok(Some(render(task, &k, &signed_query(ctx, task, expire))))
}

/// List the task's objects and make the segments not made yet, in order.
async fn catch_up(ctx: &Ctx, task: &TaskPath, k: &mut Known) -> Result<(), Error> {
    ctx.metrics.live_listing();
    let objects = ctx
        .storage
        .objects_under(&ctx.storage.task_prefix(task))
        .await?;
    let has = |leaf: Leaf| objects.iter().any(|(key, _)| key.leaf() == leaf);
    let manifest = has(Leaf::Manifest);
    k.init = k.init || has(Leaf::LiveInit);
    if manifest && !k.init && ctx.db.live_gone(task).await? {
        // Its live segments were deleted a while after the splice: the
        // recording is what remains; they are not made again.
        k.complete = true;
        return Ok(());
    }
    let mut seq = k.durations.len() as u32 + 1;
    while has(Leaf::Slice(seq)) {
        let stored = k.init && has(Leaf::LiveSegment(seq));
        match segment_length(ctx, task, seq, stored, !k.init).await {
            Ok(ms) => {
                k.init = true;
                k.durations.push(ms);
            }
            Err(e) => {
                // Served up to here; a later request tries again.
                tracing::warn!(task = %task, seq, error = %e, "cannot make a live segment");
                return Ok(());
            }
        }
        seq += 1;
    }
    // The manifest is stored after every slice: with it listed, the slice
    // after the last one made does not exist.
    k.complete = manifest && !k.durations.is_empty();
    Ok(())
}

/// How long segment `seq` plays: read back when it is `stored` (made by
/// this instance before a restart, or by another one), else made (with the
/// init segment when `with_init`).
async fn segment_length(
    ctx: &Ctx,
    task: &TaskPath,
    seq: u32,
    stored: bool,
    with_init: bool,
) -> Result<u64, Error> {
    if stored {
        match stored_duration(ctx, task, seq).await {
            Ok(ms) => return Ok(ms),
            Err(e) => {
                tracing::warn!(task = %task, seq, error = %e, "a stored live segment is unreadable; making it again")
            }
        }
    }
    let ms = make_segment(ctx, task, seq, with_init).await?;
    ctx.metrics.live_segment();
    Ok(ms)
}

/// The largest `moof` read back from a stored segment (an hour's slice at
/// 60 fps with sound needs about 6 MiB).
const MAX_MOOF: u32 = 16 << 20;

/// How long stored segment `seq` plays, from its `moof`.
async fn stored_duration(ctx: &Ctx, task: &TaskPath, seq: u32) -> Result<u64, Error> {
    let key = ctx.storage.key(task, Leaf::LiveSegment(seq));
    let gone = || Error::Broken(format!("live segment {seq} is gone from storage"));
    let head = ctx
        .storage
        .read_head(key.as_str(), 8)
        .await?
        .ok_or_else(gone)?;
    let len = txcr_splice::moof_len(&head)?;
    if len > MAX_MOOF {
        return Err(Error::Broken(format!(
            "live segment {seq}'s moof claims {len} bytes"
        )));
    }
    let moof = ctx
        .storage
        .read_head(key.as_str(), u64::from(len))
        .await?
        .ok_or_else(gone)?;
    Ok(txcr_splice::segment_duration_ms(&moof)?)
}

/// Download slice `seq`, remux it, store its segment (and the init segment
/// when `with_init`); how long it plays, ms.
async fn make_segment(ctx: &Ctx, task: &TaskPath, seq: u32, with_init: bool) -> Result<u64, Error> {
    let dir = ctx.cfg.data_dir.join("live");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(Error::io("creating the live work folder"))?;
    let path = dir.join(format!("{}-{seq}.flv", task.to_string().replace('/', "_")));
    let key = ctx.storage.key(task, Leaf::Slice(seq));
    let got = ctx
        .storage
        .download(key.as_str(), &path, u64::MAX - 1)
        .await;
    let made = match got {
        Ok(Some(_)) => {
            let p = path.clone();
            tokio::task::spawn_blocking(move || {
                let init = with_init
                    .then(|| txcr_splice::init_segment(&p))
                    .transpose()?;
                Ok::<_, txcr_splice::SpliceError>((init, txcr_splice::media_segment(&p, seq)?))
            })
            .await
            .map_err(|e| Error::Broken(format!("the remux stopped: {e}")))
        }
        Ok(None) => Err(Error::Broken(format!("slice {seq} is gone from storage"))),
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&path).await;
    let (init, segment) = made??;
    if let Some(init) = init {
        let key = ctx.storage.key(task, Leaf::LiveInit);
        ctx.storage.put(key.as_str(), init, "video/mp4").await?;
    }
    let key = ctx.storage.key(task, Leaf::LiveSegment(seq));
    ctx.storage
        .put(key.as_str(), segment.bytes, "video/iso.segment")
        .await?;
    Ok(segment.duration_ms)
}

/// The playlist of what is known; links relative to the playlist's own.
fn render(task: &TaskPath, k: &Known, query: &str) -> String {
    let longest = k.durations.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MAP:URI=\"{t}/{init}?{query}\"\n",
        longest.div_ceil(1000).max(1),
        t = task.task_id,
        init = Leaf::LiveInit.name(),
    );
    for (i, ms) in k.durations.iter().enumerate() {
        out.push_str(&format!(
            "#EXTINF:{}.{:03},\n{}/{}?{query}\n",
            ms / 1000,
            ms % 1000,
            task.task_id,
            Leaf::LiveSegment(i as u32 + 1).name()
        ));
    }
    if k.complete {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskPath {
        TaskPath::new(1400000000, 42, "42-17").expect("a safe id")
    }

    #[test]
    fn paths() {
        assert!(matches!(
            parse_path("/live/1400000000/42/42-17.m3u8"),
            Some((t, Asked::Playlist)) if t == task()
        ));
        assert!(matches!(
            parse_path("/live/1400000000/42/42-17/0003.m4s"),
            Some((_, Asked::Part(Leaf::LiveSegment(3))))
        ));
        assert!(matches!(
            parse_path("/live/1400000000/42/42-17/init.mp4"),
            Some((_, Asked::Part(Leaf::LiveInit)))
        ));
        for bad in [
            "/live/1400000000/42/42-17/0003.flv",
            "/live/1400000000/42/42-17/manifest.json",
            "/live/1400000000/42/42-17/record.mp4",
            "/live/1400000000/42/..%2f.m3u8",
            "/live/x/42/42-17.m3u8",
            "/live/1400000000/42/42-17",
        ] {
            assert!(parse_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_event_playlist_that_ends_when_complete() {
        let mut k = Known {
            init: true,
            durations: vec![3000, 2967],
            ..Default::default()
        };
        let p = render(&task(), &k, "expire_time=1&sign=ab");
        assert!(p.starts_with("#EXTM3U\n"));
        assert!(p.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
        assert!(p.contains("#EXT-X-TARGETDURATION:3\n"));
        assert!(p.contains("#EXT-X-MAP:URI=\"42-17/init.mp4?expire_time=1&sign=ab\"\n"));
        assert!(p.contains("#EXTINF:2.967,\n42-17/0002.m4s?expire_time=1&sign=ab\n"));
        assert!(!p.contains("ENDLIST"));
        k.complete = true;
        assert!(render(&task(), &k, "q").ends_with("#EXT-X-ENDLIST\n"));
    }
}
