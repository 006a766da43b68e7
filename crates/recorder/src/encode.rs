//! The encode thread: each slice's cut planned, frames encoded, audio and
//! video interleaved, packets written to the slice files; the disk watched.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use txcr_core::Packet;
use txcr_encode::VideoEncoder;
use txcr_mux::{CutPlanner, Interleaver, SliceWriter};

use crate::changes::Picture;
use crate::disk::DiskGuard;
use crate::priority::lower_priority;
use crate::shared::Shared;
use crate::RecordError;

/// How long one stream may run ahead of the other before it is written anyway.
const INTERLEAVE_WAIT_MS: u64 = 1000;

/// What the encode thread works with.
pub(crate) struct EncodeStage {
    pub(crate) enc: Box<dyn VideoEncoder>,
    pub(crate) writer: SliceWriter,
    pub(crate) slice_ms: u64,
    /// Captured frames in.
    pub(crate) frames: Receiver<Picture>,
    /// Frame buffers back to the capture thread.
    pub(crate) recycle: mpsc::Sender<Picture>,
    /// AAC packets from the audio thread, when there is sound.
    pub(crate) audio: Option<Receiver<Packet>>,
    pub(crate) disk: DiskGuard,
}

pub(crate) fn encode_loop(sh: &Shared, stage: EncodeStage) {
    lower_priority();
    let EncodeStage {
        mut enc,
        mut writer,
        slice_ms,
        frames: rx,
        recycle: back,
        audio,
        disk,
    } = stage;
    let mut planner = CutPlanner::new(slice_ms);
    let mut packets = Vec::new();
    let mut il = Interleaver::new(audio.is_some(), INTERLEAVE_WAIT_MS);
    let mut corrected = 0;
    let mut write = |p: Packet, writer: &mut SliceWriter| -> Result<(), RecordError> {
        if p.kind == txcr_core::MediaKind::Video {
            sh.frames.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(done) = writer.write(&p)? {
            sh.slice_done(done);
        }
        if writer.corrected() > corrected {
            corrected = writer.corrected();
            tracing::warn!(
                corrected,
                ?p.kind,
                ms = p.dts_ms,
                "a timestamp did not increase and was moved 1 ms after the previous one"
            );
        }
        Ok(())
    };
    // Take whatever audio is ready; note when the audio thread has gone.
    let take_audio = |il: &mut Interleaver, block: bool| {
        let Some(a) = &audio else { return };
        loop {
            let next = if block {
                a.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                a.try_recv()
            };
            match next {
                Ok(p) => il.push(p),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    il.close_audio();
                    return;
                }
            }
        }
    };
    let mut next_disk_check = Duration::ZERO;
    let mut run = || -> Result<(), RecordError> {
        for pic in rx.iter() {
            let frame = &pic.frame;
            if frame.pts >= next_disk_check {
                disk.check()?;
                next_disk_check = frame.pts + Duration::from_secs(1);
            }
            let force = planner.force_keyframe(frame.pts.as_millis() as u64);
            let r = enc.encode_i420(frame, force, &mut packets);
            let _ = back.send(pic);
            r?;
            packets.drain(..).for_each(|p| il.push(p));
            take_audio(&mut il, false);
            while let Some(p) = il.pop() {
                write(p, &mut writer)?;
            }
        }
        enc.flush(&mut packets)?;
        packets.drain(..).for_each(|p| il.push(p));
        take_audio(&mut il, true); // until the audio thread has drained its encoder
        for p in il.drain() {
            write(p, &mut writer)?;
        }
        Ok(())
    };
    let result = run();
    // Finish the last slice whatever happened, so what was written stays playable.
    drop(rx);
    let finished = writer.finish();
    match (result, finished) {
        (Ok(()), Ok(last)) => last.into_iter().for_each(|d| sh.slice_done(d)),
        (Err(e), last) => {
            if let Ok(Some(last)) = last {
                sh.slice_done(last);
            }
            sh.disk_full.store(e.is_disk_full(), Ordering::Relaxed);
            sh.fail(e.to_string());
        }
        (Ok(()), Err(e)) => {
            let e = RecordError::from(e);
            sh.disk_full.store(e.is_disk_full(), Ordering::Relaxed);
            sh.fail(e.to_string());
        }
    }
}
