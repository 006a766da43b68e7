//! A running recording: the threads started, pause, resume, preview,
//! statistics and a clean stop.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use txcr_capture::FrameSource;
use txcr_core::Timeline;
use txcr_encode::{auto_bitrate, EncoderSettings, Thumbnail};
use txcr_mux::SliceWriter;

use crate::audio::{audio_loop, start_audio};
use crate::capture::{capture_loop, QUEUE};
use crate::changes::Picture;
use crate::disk::DiskGuard;
use crate::encode::{encode_loop, EncodeStage};
use crate::pacing::Pacer;
use crate::preview::PreviewSlot;
use crate::priority::lower_priority;
use crate::shared::{Control, Shared};
use crate::spec::{RecordingSpec, SoundInput};
use crate::stats::{Sound, Stats, Summary};
use crate::sync::lock;
use crate::watch::Watch;
use crate::RecordError;

/// A running recording. Dropping it without [`stop`](Self::stop) also stops it
/// cleanly (threads joined, last slice finished).
#[derive(Debug)]
pub struct Recording {
    shared: Arc<Shared>,
    /// Capture first: when it ends, the encoder drains; the audio thread last.
    threads: Vec<JoinHandle<()>>,
}

impl Recording {
    /// Open the encoders (video errors surface here, before anything runs) and
    /// start the capture, audio and encode threads. Sound is best effort: when
    /// `audio` cannot start, the recording is video only and [`Stats::audio`]
    /// says why.
    pub fn start(
        source: Box<dyn FrameSource>,
        audio: Vec<SoundInput>,
        spec: RecordingSpec,
    ) -> Result<Self, RecordError> {
        let (w, h) = source.size();
        let fps = spec.fps.max(1);
        let bitrate = spec.bitrate.unwrap_or_else(|| auto_bitrate(w, h, fps));
        let mut settings = EncoderSettings::new(w, h, fps, bitrate);
        settings.x264 = spec.x264.clone();
        // Opened on a thread of lowered priority named `txcr-x264`: x264's
        // worker threads, started here, inherit both.
        let encoder = thread::scope(|s| {
            thread::Builder::new()
                .name("txcr-x264".into())
                .spawn_scoped(s, || {
                    lower_priority();
                    spec.codecs.video(&settings)
                })
                .map_err(|e| RecordError::Thread(e.to_string()))?
                .join()
                .map_err(|_| RecordError::Thread("the encoder panicked while opening".into()))
        })??;
        let disk = DiskGuard::new(&spec.dst, spec.min_free_bytes);
        disk.check()?;
        let now = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps));
        let mut timeline = Timeline::new(now);
        if let Some(limit) = spec.limit {
            timeline.set_end(limit);
        }
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Control {
                timeline,
                pacer: Pacer::new(now, interval),
                preview: None,
            }),
            wake: Condvar::new(),
            stopped: AtomicBool::new(false),
            clock: Mutex::new(timeline),
            started: now,
            frames: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            slices: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            audio: Mutex::new(Sound::Off),
            sources: Mutex::new(Vec::new()),
            on_slice: spec.on_slice.clone(),
            on_slide: spec.on_slide.clone(),
            disk_full: std::sync::atomic::AtomicBool::new(false),
            preview: PreviewSlot::default(),
            look: source.look(),
        });
        let wanted = !audio.is_empty();
        let (audio_job, audio_rx) = match wanted.then(|| start_audio(audio, spec.codecs.as_ref())) {
            Some(Ok((job, rx, what))) => {
                *lock(&shared.audio) = Sound::On(what);
                (Some(job), Some(rx))
            }
            Some(Err((why, sources))) => {
                tracing::warn!("no sound: {why}; recording video only");
                *lock(&shared.audio) = Sound::Unavailable(why);
                *lock(&shared.sources) = sources;
                (None, None)
            }
            None => (None, None),
        };
        let writer = SliceWriter::new(
            &spec.dst,
            u64::from(spec.slice_secs) * 1000,
            encoder.config().clone(),
            audio_job.as_ref().map(|j| j.encoder.config().clone()),
        );
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| RecordError::Thread(e.to_string()))
        };
        let audio_thread = match audio_job {
            Some(job) => {
                let s = shared.clone();
                Some(spawn("txcr-audio", Box::new(move || audio_loop(&s, job)))?)
            }
            None => None,
        };
        let (tx, rx) = mpsc::sync_channel::<Picture>(QUEUE);
        let (back_tx, back_rx) = mpsc::channel::<Picture>();
        let slice_ms = u64::from(spec.slice_secs) * 1000;
        let slice = Duration::from_millis(slice_ms);
        let s = shared.clone();
        let encode = spawn(
            "txcr-encode",
            Box::new(move || {
                encode_loop(
                    &s,
                    EncodeStage {
                        enc: encoder,
                        writer,
                        slice_ms,
                        frames: rx,
                        recycle: back_tx,
                        audio: audio_rx,
                        disk,
                    },
                )
            }),
        )?;
        let s = shared.clone();
        let capture = spawn(
            "txcr-capture",
            Box::new(move || capture_loop(&s, source, slice, tx, back_rx)),
        )?;
        Ok(Self {
            shared,
            threads: vec![capture, encode]
                .into_iter()
                .chain(audio_thread)
                .collect(),
        })
    }

    /// Stop the clock at the next frame not yet taken; no frames are taken
    /// until [`resume`](Self::resume).
    pub fn pause(&self) {
        let mut ctl = lock(&self.shared.ctl);
        let at = ctl.pacer.next();
        ctl.timeline.pause(at);
        self.shared.show_clock(&ctl);
        drop(ctl);
        self.shared.wake.notify_all();
    }

    /// Restart the clock where it stopped: the next frame is stamped one
    /// interval after the last one.
    pub fn resume(&self) {
        let mut ctl = lock(&self.shared.ctl);
        if ctl.timeline.is_paused() {
            let now = Instant::now();
            ctl.timeline.resume(now);
            ctl.pacer.resume(now);
            self.shared.show_clock(&ctl);
        }
        drop(ctl);
        self.shared.wake.notify_all();
    }

    /// The recording time now (paused time excluded; while paused, where it
    /// stopped): where a chapter marked now begins.
    pub fn now(&self) -> Duration {
        lock(&self.shared.clock).media_time(Instant::now())
    }

    /// A reading handle: statistics, whether it ended, a preview, without
    /// holding on to this value.
    pub fn watch(&self) -> Watch {
        Watch {
            shared: self.shared.clone(),
        }
    }

    /// See [`Watch::preview`].
    pub fn preview(&self, max_width: u32, timeout: Duration) -> Result<Thumbnail, RecordError> {
        self.watch().preview(max_width, timeout)
    }

    /// See [`Watch::has_ended`].
    pub fn has_ended(&self) -> bool {
        self.watch().has_ended()
    }

    /// See [`Watch::stats`].
    pub fn stats(&self) -> Stats {
        self.watch().stats()
    }

    /// Stop: no more frames are captured, the encoder is drained and the last
    /// slice finished. Blocks until done (well under a second).
    pub fn stop(mut self) -> Result<Summary, RecordError> {
        let recorded = lock(&self.shared.clock).media_time(Instant::now());
        self.join()?;
        let mut stats = self.stats();
        stats.recorded = recorded;
        Ok(Summary { stats })
    }

    fn join(&mut self) -> Result<(), RecordError> {
        {
            let mut ctl = lock(&self.shared.ctl);
            ctl.timeline.pause(Instant::now());
            self.shared.show_clock(&ctl);
            self.shared.mark_stopped(&ctl);
        }
        self.shared.wake.notify_all();
        let mut panicked = false;
        for h in self.threads.drain(..) {
            panicked |= h.join().is_err();
        }
        if panicked {
            return Err(RecordError::Thread("a recorder thread panicked".into()));
        }
        Ok(())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.join();
    }
}
