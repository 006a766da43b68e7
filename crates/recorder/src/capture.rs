//! The capture thread: frames grabbed on the steady schedule, stamped from
//! the timeline, converted to I420 and handed to the encoder without ever
//! waiting for it; previews made from the next frame (or, while paused, one
//! grabbed for them).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use txcr_capture::FrameSource;
use txcr_core::VideoFrame;
use txcr_encode::{convert_into, thumbnail, I420Frame};

use crate::priority::lower_priority;
use crate::shared::Shared;
use crate::sync::lock;

/// Frames in flight between capture and encode. Two: one being encoded, one
/// waiting; a third would only add latency and memory. They travel as I420
/// (converted on the capture thread, so conversion and encoding run side by
/// side, and a 1080p frame in flight is 3 MB, not the 8 MB of BGRA).
pub(crate) const QUEUE: usize = 2;

/// Grab and convert frames on a steady clock until stopped; hand them over
/// without ever waiting for the encoder.
pub(crate) fn capture_loop(
    sh: &Shared,
    mut source: Box<dyn FrameSource>,
    tx: SyncSender<I420Frame>,
    recycled: Receiver<I420Frame>,
) {
    lower_priority();
    let (w, h) = source.size();
    // For sources that cannot lend their picture: one BGRA frame, grabbed
    // into again and again (its pages are only touched if it is used).
    let mut grabbed = VideoFrame::new(w, h);
    // QUEUE in the channel, one in the encoder, one being converted.
    let mut spare: Vec<I420Frame> = (0..QUEUE + 2).map(|_| I420Frame::new(w, h)).collect();
    loop {
        // Wait for the next tick, or for pause/stop. The tick is stamped and
        // the schedule moved on under the lock, so a pause asked from now on
        // takes effect at the tick after this one.
        let mut ctl = lock(&sh.ctl);
        let (pts, preview) = loop {
            if ctl.stop {
                return;
            }
            let tick = ctl.pacer.next();
            if ctl.timeline.is_paused() {
                if let Some(max_width) = ctl.preview.take() {
                    let pts = ctl.timeline.media_time(Instant::now());
                    drop(ctl);
                    paused_preview(
                        sh,
                        source.as_mut(),
                        &mut grabbed,
                        &mut spare,
                        pts,
                        max_width,
                    );
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
                ctl.stop = true;
                drop(ctl);
                sh.wake.notify_all();
                return;
            }
            if now >= tick {
                let missed = ctl.pacer.take(now);
                sh.dropped.fetch_add(missed, Ordering::Relaxed);
                break (ctl.timeline.media_time(tick), ctl.preview.take());
            }
            ctl = sh
                .wake
                .wait_timeout(ctl, tick - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(ctl);

        spare.extend(recycled.try_iter());
        let Some(mut frame) = spare.pop() else {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            // The preview waits for the next frame taken.
            if preview.is_some() {
                lock(&sh.ctl).preview = preview;
            }
            continue;
        };
        grabbed.pts = pts;
        if let Err(e) = grab_into(source.as_mut(), &mut grabbed, &mut frame) {
            sh.fail(format!("capture: {e}"));
            return;
        }
        frame.pts = pts;
        if let Some(max_width) = preview {
            sh.preview
                .publish(thumbnail(&frame, max_width).map_err(|e| e.to_string()));
        }
        match tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(f)) => {
                sh.dropped.fetch_add(1, Ordering::Relaxed);
                spare.push(f);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// While paused: grab one picture just for a preview, recording nothing.
fn paused_preview(
    sh: &Shared,
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    spare: &mut Vec<I420Frame>,
    pts: Duration,
    max_width: u32,
) {
    let (w, h) = source.size();
    let mut frame = spare.pop().unwrap_or_else(|| I420Frame::new(w, h));
    frame.pts = pts;
    let made = grab_into(source, grabbed, &mut frame)
        .and_then(|()| thumbnail(&frame, max_width).map_err(|e| e.to_string()));
    sh.preview.publish(made);
    spare.push(frame);
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
