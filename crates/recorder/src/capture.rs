//! The capture thread: frames grabbed on the steady schedule, stamped from
//! the timeline, converted to I420 and handed to the encoder without ever
//! waiting for it; only what changed is read and converted, and an unchanged
//! picture is sent only when [`Hold`] says so; previews made from the next
//! frame (or, while paused, one grabbed for them).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use txcr_capture::FrameSource;
use txcr_core::VideoFrame;
use txcr_encode::{convert_into, convert_rows_into, thumbnail, I420Frame};

use crate::changes::{Hold, Picture, Versions};
use crate::priority::lower_priority;
use crate::shared::Shared;
use crate::slides::Slides;
use crate::sync::lock;

/// Frames in flight between capture and encode. Two: one being encoded, one
/// waiting; a third would only add latency and memory. They travel as I420
/// (converted on the capture thread, so conversion and encoding run side by
/// side, and a 1080p frame in flight is 3 MB, not the 8 MB of BGRA).
pub(crate) const QUEUE: usize = 2;

/// Grab and convert frames on a steady clock until stopped; hand them over
/// without ever waiting for the encoder. Only what changed is read and
/// converted; a tick whose picture did not change sends nothing, unless the
/// [`Hold`] says a frame is due (then the freshest pooled picture goes as it
/// is).
pub(crate) fn capture_loop(
    sh: &Shared,
    mut source: Box<dyn FrameSource>,
    slice: Duration,
    tx: SyncSender<Picture>,
    recycled: Receiver<Picture>,
) {
    lower_priority();
    let (w, h) = source.size();
    // For sources that cannot lend their picture: one BGRA frame, grabbed
    // into again and again (its pages are only touched if it is used).
    let mut grabbed = VideoFrame::new(w, h);
    // QUEUE in the channel, one in the encoder, one being converted.
    let mut spare: Vec<Picture> = (0..QUEUE + 2)
        .map(|_| Picture {
            frame: I420Frame::new(w, h),
            version: 0,
        })
        .collect();
    let mut versions = Versions::new(h & !1);
    let mut hold = Hold::new(slice);
    let mut last_tick = None;
    // Slide changes are looked for only when someone is told of them.
    let mut slides = sh.on_slide.as_ref().map(|hook| (Slides::new(h), hook));
    let mut rows_changed = Vec::new();
    loop {
        let Some((pts, preview)) = next_tick(sh, source.as_mut(), &mut grabbed, &mut spare) else {
            // The last picture stays up to the end: a frame at the last tick.
            if let Some(pts) = last_tick.filter(|t| hold.last() < Some(*t)) {
                spare.extend(recycled.try_iter());
                if let Some(mut pic) = take_freshest(&mut spare) {
                    if bring_up_to_date(source.as_mut(), &mut grabbed, &mut pic, &versions).is_ok()
                    {
                        pic.frame.pts = pts;
                        let _ = tx.try_send(pic);
                    }
                }
            }
            return;
        };
        last_tick = Some(pts);
        spare.extend(recycled.try_iter());
        let Some(mut pic) = take_freshest(&mut spare) else {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            // The preview waits for the next frame taken.
            if preview.is_some() {
                lock(&sh.ctl).preview = preview;
            }
            continue;
        };
        grabbed.pts = pts;
        let changed = match grab_changes_into(
            source.as_mut(),
            &mut grabbed,
            &mut pic,
            &mut versions,
            &mut rows_changed,
        ) {
            Ok(c) => c,
            Err(e) => {
                sh.fail(format!("capture: {e}"));
                return;
            }
        };
        if let Some((slides, hook)) = &mut slides {
            let rows: &[std::ops::Range<u32>] = if changed { &rows_changed } else { &[] };
            if let Some((at, title)) = slides.tick(pts, rows) {
                tracing::info!(ms = at.as_millis() as u64, %title, "slide change");
                (hook.0)(at, &title);
            }
        }
        let send = changed || hold.due(pts);
        if send || preview.is_some() {
            // A pooled picture that missed changes while it was away.
            if let Err(e) = bring_up_to_date(source.as_mut(), &mut grabbed, &mut pic, &versions) {
                sh.fail(format!("capture: {e}"));
                return;
            }
        }
        if send {
            pic.frame.pts = pts;
        }
        if let Some(max_width) = preview {
            sh.preview
                .publish(thumbnail(&pic.frame, max_width).map_err(|e| e.to_string()));
        }
        if !send {
            sh.unchanged.fetch_add(1, Ordering::Relaxed);
            spare.push(pic);
            continue;
        }
        match tx.try_send(pic) {
            Ok(()) => hold.sent(pts, changed),
            Err(TrySendError::Full(p)) => {
                sh.dropped.fetch_add(1, Ordering::Relaxed);
                spare.push(p);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Wait for the next tick, or for pause/stop: its recorded time and the
/// preview asked for, `None` once stopped. The tick is stamped and the
/// schedule moved on under the lock, so a pause asked from now on takes
/// effect at the tick after this one.
fn next_tick(
    sh: &Shared,
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    spare: &mut Vec<Picture>,
) -> Option<(Duration, Option<u32>)> {
    let mut ctl = lock(&sh.ctl);
    loop {
        if sh.is_stopped() {
            return None;
        }
        let tick = ctl.pacer.next();
        if ctl.timeline.is_paused() {
            if let Some(max_width) = ctl.preview.take() {
                let pts = ctl.timeline.media_time(Instant::now());
                drop(ctl);
                paused_preview(sh, source, grabbed, spare, pts, max_width);
                ctl = lock(&sh.ctl);
                continue;
            }
            ctl = sh.wake.wait(ctl).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let now = Instant::now();
        if now >= tick && ctl.timeline.has_ended_at(tick) {
            // The limit is reached (the last frame has had its time):
            // end as a stop would.
            sh.mark_stopped(&ctl);
            drop(ctl);
            sh.wake.notify_all();
            return None;
        }
        if now >= tick {
            let missed = ctl.pacer.take(now);
            sh.dropped.fetch_add(missed, Ordering::Relaxed);
            return Some((ctl.timeline.media_time(tick), ctl.preview.take()));
        }
        ctl = sh
            .wake
            .wait_timeout(ctl, tick - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// The pooled picture closest to the source's (the fewest rows to convert;
/// often none, for a repeat).
fn take_freshest(spare: &mut Vec<Picture>) -> Option<Picture> {
    let i = (0..spare.len()).max_by_key(|&i| spare[i].version)?;
    Some(spare.swap_remove(i))
}

/// Read what changed in the source and bring `pic` up to its new version;
/// whether anything changed, and in which rows (`rows_changed`).
fn grab_changes_into(
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    pic: &mut Picture,
    versions: &mut Versions,
    rows_changed: &mut Vec<std::ops::Range<u32>>,
) -> Result<bool, String> {
    let mut converted = Ok(());
    let had = pic.version;
    rows_changed.clear();
    let changed = source
        .grab_changes(grabbed, &mut |view, rows| {
            rows_changed.extend_from_slice(rows);
            pic.version = versions.changed(rows);
            for r in versions.missing(had) {
                if converted.is_ok() {
                    converted = convert_rows_into(view, &mut pic.frame, r);
                }
            }
        })
        .map_err(|e| e.to_string())?;
    converted.map_err(|e| e.to_string())?;
    Ok(changed)
}

/// Make `pic` the source's current picture when it is older (a pooled
/// picture that missed changes while it was away): its missing rows from a
/// full read.
fn bring_up_to_date(
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    pic: &mut Picture,
    versions: &Versions,
) -> Result<(), String> {
    let missing = versions.missing(pic.version);
    if missing.is_empty() {
        return Ok(());
    }
    let mut converted = Ok(());
    source
        .grab_view(grabbed, &mut |view| {
            for r in &missing {
                if converted.is_ok() {
                    converted = convert_rows_into(view, &mut pic.frame, r.clone());
                }
            }
        })
        .map_err(|e| e.to_string())?;
    converted.map_err(|e| e.to_string())?;
    pic.version = versions.current();
    Ok(())
}

/// While paused: grab one picture just for a preview, recording nothing.
fn paused_preview(
    sh: &Shared,
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    spare: &mut Vec<Picture>,
    pts: Duration,
    max_width: u32,
) {
    let (w, h) = source.size();
    let mut frame = spare
        .pop()
        .map_or_else(|| I420Frame::new(w, h), |p| p.frame);
    frame.pts = pts;
    let made = grab_into(source, grabbed, &mut frame)
        .and_then(|()| thumbnail(&frame, max_width).map_err(|e| e.to_string()));
    sh.preview.publish(made);
    // Its version is unknown now: redone whole when next used.
    spare.push(Picture { frame, version: 0 });
}

/// Grab the source's picture and convert it into `frame`: straight from what
/// the source lends (X11: its shared memory), else from `grabbed`. With no
/// new picture, `frame` keeps what it showed (a minimised window keeps its
/// last look).
fn grab_into(
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    frame: &mut I420Frame,
) -> Result<(), String> {
    let mut converted = Ok(());
    source
        .grab_view(grabbed, &mut |view| {
            converted = convert_into(view, frame);
        })
        .map_err(|e| e.to_string())?;
    converted.map_err(|e| e.to_string())
}
