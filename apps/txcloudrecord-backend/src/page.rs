//! The playback page (a class's recordings, playable on a phone, and its
//! recordings still in progress, played live from their start) and the
//! media it plays: MP4s streamed from storage with HTTP range requests, both
//! behind links signed with the app's TicKey (`txcr_auth::play_sign`,
//! `txcr_auth::media_sign`); live playlists are `live`'s. Browsers without
//! native HLS play those with hls.js, vendored and served from here.

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::ctx::Ctx;
use crate::db::{now_ms, RecordFilter};
use crate::live;
use crate::reply::{check_link, full, query_map, respond, stream_body, Resp};

/// Where the page loads hls.js from.
pub const HLS_JS_PATH: &str = "/assets/hls.light.min.js";

/// hls.js (see `assets/README.md`), in the binary: nothing is fetched from elsewhere.
const HLS_JS: &[u8] = include_bytes!("../assets/hls.light.min.js");

/// `GET /assets/hls.light.min.js`.
pub fn hls_js() -> Resp {
    let mut r = respond(StatusCode::OK, "text/javascript; charset=utf-8", HLS_JS);
    r.headers_mut().insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

fn forbidden(msg: &str) -> Resp {
    respond(
        StatusCode::FORBIDDEN,
        "text/plain; charset=utf-8",
        msg.to_owned(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A length as `m:ss`, or `h:mm:ss` from an hour on.
fn clock(ms: i64) -> String {
    let s = (ms.max(0) + 500) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A recording's chapters as buttons that seek its video (empty without).
fn chapter_list(chapters: &[txcr_storage::Chapter]) -> String {
    if chapters.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ol class=\"chapters\">");
    for c in chapters {
        out.push_str(&format!(
            r#"<li><button type="button" data-at="{at:.3}">{clock} {title}</button></li>"#,
            at = c.start_ms as f64 / 1000.0,
            clock = clock(c.start_ms as i64),
            title = escape(&c.title),
        ));
    }
    out.push_str("</ol>\n");
    out
}

/// `GET /play?sdkappid=&class_id=&expire_time=&sign=[&autoplay=1]`.
pub async fn play(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let q = query_map(&req);
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(app), Some(class), Some(expire)) =
        (num("sdkappid"), num("class_id"), num("expire_time"))
    else {
        return forbidden(
            "this link is incomplete: sdkappid, class_id, expire_time and sign are needed",
        );
    };
    let Some(cfg) = ctx.cfg.apps.get(&(app as u64)) else {
        return forbidden("this link is not valid");
    };
    let given = q.get("sign").map(String::as_str).unwrap_or_default();
    if !txcr_auth::signatures_equal(
        given,
        &txcr_auth::play_sign(&cfg.tickey, app, class, expire),
    ) {
        return forbidden("this link is not valid");
    }
    if expire < now_ms() / 1000 {
        return forbidden("this link has expired; ask your school for a new one");
    }
    let filter = RecordFilter {
        sdkappid: app,
        class_id: class,
        limit: 500,
        ..Default::default()
    };
    let recs = match ctx.db.records(&filter).await {
        Ok((r, _)) => r,
        Err(_) => {
            return respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "the recordings are unavailable right now; try again shortly",
            )
        }
    };
    let autoplay = q.get("autoplay").is_some_and(|v| v == "1");
    let mut items = String::new();
    for (i, r) in recs.iter().enumerate() {
        let src = escape(&ctx.media_url_until(r, expire));
        let auto = if autoplay && i == 0 {
            " autoplay muted"
        } else {
            ""
        };
        items.push_str(&format!(
            r#"<li><h2 data-start="{start}">Recording {n}</h2>
<p class="meta">{length} · {user}</p>
<video controls playsinline preload="metadata"{auto} src="{src}" data-state="idle" data-time="0"></video>
{chapters}<p><a href="{src}" download>Download MP4</a></p></li>
"#,
            start = r.start_time,
            n = i + 1,
            length = clock(r.duration_ms),
            user = escape(&r.user_id),
            chapters = chapter_list(&r.chapters),
        ));
    }
    // Tasks not spliced (yet): say so, instead of an empty class.
    let unfinished = ctx
        .db
        .class_tasks(app, class)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, _, state, _)| state != "done");
    let mut shown = recs.len();
    // Still recorded: played live, from the start.
    let in_progress = live::in_progress(ctx, app as u64, class as u64)
        .await
        .unwrap_or_default();
    for t in &in_progress {
        let Some(place) = txcr_storage::TaskPath::new(app as u64, class as u64, &t.task_id) else {
            continue;
        };
        shown += 1;
        let auto = if autoplay && shown == 1 {
            " autoplay muted"
        } else {
            ""
        };
        items.push_str(&format!(
            r#"<li class="live"><h2>Recording {n}</h2>
<p class="meta" data-live-since="{since}">live</p>
<video controls playsinline preload="metadata"{auto} data-live="{src}" data-state="idle" data-time="0"></video></li>
"#,
            n = shown,
            since = t.started_ms / 1000,
            src = escape(&live::playlist_url(ctx, &place, expire)),
        ));
    }
    for (_, user, state, why) in unfinished {
        shown += 1;
        let what = if state == "failed" {
            format!(
                "could not be put together: {}",
                why.unwrap_or_else(|| "no reason was recorded".into())
            )
        } else {
            "is being put together; reload the page in a moment".into()
        };
        items.push_str(&format!(
            r#"<li class="task" data-state="{state}"><h2>Recording {n}</h2>
<p class="meta">{user} · this recording {what}</p></li>
"#,
            state = escape(&state),
            n = shown,
            user = escape(&user),
            what = escape(&what),
        ));
    }
    if shown == 0 {
        items.push_str("<li><p>No recordings for this class yet.</p></li>");
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Class {class} recordings</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem;background:#fafafa;color:#222}}
ul{{list-style:none;padding:0}} li{{margin:0 0 2rem}} h2{{font-size:1.1rem;margin:.2rem 0}}
video{{width:100%;max-height:70vh;background:#000;border-radius:6px}} .meta{{color:#666;margin:.2rem 0 .5rem}}
.chapters{{list-style:none;padding:0;margin:.5rem 0;display:flex;flex-wrap:wrap;gap:.4rem}} .chapters li{{margin:0}}
.chapters button{{font:inherit;padding:.3rem .6rem;border:1px solid #ccc;border-radius:4px;background:#fff;cursor:pointer}}
</style></head>
<body><h1>Class {class}</h1><ul>
{items}</ul>
{hls}<script>
for (const h of document.querySelectorAll('h2[data-start]')) {{
  const d = new Date(Number(h.dataset.start) * 1000);
  h.textContent += ' — ' + d.toLocaleString();
}}
for (const p of document.querySelectorAll('p[data-live-since]')) {{
  const d = new Date(Number(p.dataset.liveSince) * 1000);
  p.textContent = 'live, started ' + d.toLocaleTimeString([], {{hour: '2-digit', minute: '2-digit'}});
}}
// A class in progress plays from its start; the playlist grows as it goes.
// hls.js wherever Media Source Extensions exist (as its authors advise: a
// browser's own HLS may stall on a growing playlist), the browser's own HLS
// where they do not (iPhone Safari).
for (const v of document.querySelectorAll('video[data-live]')) {{
  if (window.Hls && Hls.isSupported()) {{
    const h = new Hls({{startPosition: 0}});
    h.on(Hls.Events.ERROR, (_, d) => {{ if (d.fatal) v.dataset.hlsError = d.details; }});
    h.loadSource(v.dataset.live);
    h.attachMedia(v);
  }} else if (v.canPlayType('application/vnd.apple.mpegurl')) v.src = v.dataset.live;
}}
for (const v of document.querySelectorAll('video')) {{
  for (const ev of ['playing', 'pause', 'ended', 'error', 'waiting'])
    v.addEventListener(ev, () => {{ v.dataset.state = ev; }});
  v.addEventListener('timeupdate', () => {{ v.dataset.time = v.currentTime.toFixed(2); }});
  v.addEventListener('progress', () => {{
    const b = v.buffered;
    v.dataset.buffered = b.length ? `${{b.start(0).toFixed(2)}}-${{b.end(b.length - 1).toFixed(2)}}` : '';
  }});
  v.addEventListener('seeked', () => {{ v.dataset.seeked = v.currentTime.toFixed(2); }});
}}
// A moment of a recording: #v=<recording from 1>&t=<seconds>, set by a
// chapter's button (so the link can be shared) and followed on load.
const videos = [...document.querySelectorAll('video')];
function seek() {{
  const h = new URLSearchParams(location.hash.slice(1));
  const v = videos[(Number(h.get('v')) || 1) - 1], t = Number(h.get('t'));
  if (!v || !(t >= 0)) return;
  const go = () => {{ v.currentTime = t; v.play().catch(() => {{}}); }};
  if (v.readyState >= 1) go(); else v.addEventListener('loadedmetadata', go, {{once: true}});
}}
for (const b of document.querySelectorAll('.chapters button')) {{
  const n = videos.indexOf(b.closest('ol').parentElement.querySelector('video')) + 1;
  b.addEventListener('click', () => {{
    const moment = `v=${{n}}&t=${{b.dataset.at}}`;
    if (location.hash.slice(1) === moment) seek(); else location.hash = moment;
  }});
}}
addEventListener('hashchange', seek);
seek();
</script></body></html>"#,
        hls = if in_progress.is_empty() {
            String::new()
        } else {
            format!("<script src=\"{HLS_JS_PATH}\"></script>\n")
        },
    );
    let mut r = respond(StatusCode::OK, "text/html; charset=utf-8", html);
    r.headers_mut().insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("private, no-store"),
    );
    r
}

/// Parse a single `bytes=` range against `total`: (first, last) inclusive,
/// `Err` if unsatisfiable, `Ok(None)` for no range.
fn parse_range(h: Option<&str>, total: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: send the whole file
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (first, last) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            (total.saturating_sub(n), total.saturating_sub(1))
        }
        (a, "") => (a.parse().map_err(|_| ())?, total.saturating_sub(1)),
        (a, b) => (
            a.parse().map_err(|_| ())?,
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(total.saturating_sub(1)),
        ),
    };
    if total == 0 || first > last || first >= total {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// `GET|HEAD /media/<sdkappid>/<class_id>/<task_id>.mp4?expire_time=&sign=`.
pub async fn media(req: Request<Incoming>, ctx: &Ctx) -> Resp {
    let path = req.uri().path().trim_start_matches("/media/").to_owned();
    let parts: Vec<&str> = path.split('/').collect();
    let parsed = match parts.as_slice() {
        [a, c, t] => match (a.parse::<i64>(), c.parse::<i64>(), t.strip_suffix(".mp4")) {
            (Ok(a), Ok(c), Some(t)) if txcr_storage::safe_id(t) => Some((a, c, t.to_owned())),
            _ => None,
        },
        _ => None,
    };
    let Some((app, class, task)) = parsed else {
        return respond(StatusCode::NOT_FOUND, "text/plain", "no such recording");
    };
    let checked = check_link(&req, |expire| {
        let key = &ctx.cfg.apps.get(&(app as u64))?.tickey;
        Some(txcr_auth::media_sign(key, app, class, &task, expire))
    });
    if let Err(why) = checked {
        return forbidden(why);
    }
    let rec = match ctx.db.record(&format!("{app}/{class}/{task}")).await {
        Ok(Some(r)) => r,
        Ok(None) => return respond(StatusCode::NOT_FOUND, "text/plain", "no such recording"),
        Err(_) => return respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "try again"),
    };
    let total = rec.video_size as u64;
    let range = req.headers().get("range").and_then(|v| v.to_str().ok());
    let (first, last, partial) = match parse_range(range, total) {
        Ok(Some((a, b))) => (a, b, true),
        Ok(None) => (0, total.saturating_sub(1), false),
        Err(()) => {
            let mut r = respond(StatusCode::RANGE_NOT_SATISFIABLE, "text/plain", "");
            if let Ok(v) = format!("bytes */{total}").parse() {
                r.headers_mut().insert("content-range", v);
            }
            return r;
        }
    };
    let body = if req.method() == Method::HEAD {
        full(Vec::new())
    } else {
        match ctx.storage.read_range(&rec.video_key, first, last).await {
            Ok(Some(body)) => stream_body(body),
            Ok(None) => return respond(StatusCode::NOT_FOUND, "text/plain", "the file is gone"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read media");
                return respond(StatusCode::BAD_GATEWAY, "text/plain", "storage unavailable");
            }
        }
    };
    let mut r = hyper::Response::new(body);
    *r.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = r.headers_mut();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set("content-type", "video/mp4".into());
    set("accept-ranges", "bytes".into());
    set("content-length", (last + 1 - first).to_string());
    set("cache-control", "private, max-age=3600".into());
    if partial {
        set("content-range", format!("bytes {first}-{last}/{total}"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn lengths() {
        assert_eq!(super::clock(11_134), "0:11");
        assert_eq!(super::clock(3_600_021), "1:00:00");
        assert_eq!(super::clock(754_000), "12:34");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(parse_range(Some("bytes=10-19"), 100), Ok(Some((10, 19))));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
    }
}
