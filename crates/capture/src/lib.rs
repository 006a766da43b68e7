//! Where pictures come from: the [`FrameSource`] trait and its backends.
//!
//! Owns: finding what to record and grabbing its current pixels into a
//! [`VideoFrame`], cropped to the requested [`Region`], or lending them without
//! a copy ([`FrameSource::grab_view`]: the X11 backend lends its shared-memory
//! image), reading only what changed ([`FrameSource::grab_changes`]: the X11
//! backend follows the DAMAGE extension; [`changed_rows`] is the shared rule).
//! Backends: [`TestPattern`]
//! (a synthetic moving, time-stamped picture, for demos, tests and benches) and
//! [`x11::X11Source`] (a window by XID or process name, through Composite and
//! MIT-SHM; Linux). The Windows backend (`windows-capture`) sits behind
//! `cfg(windows)`.
//!
//! Why `x11rb` and hand-written capture rather than `xcap`/`scap`: `xcap` needs
//! a window manager and Wayland/PipeWire development packages and uses no
//! shared memory; `scap` does not build on Linux; `scrap` is unmaintained. With
//! `x11rb` (pure Rust) a 720p grab through MIT-SHM costs ~0.14 ms, against
//! ~7 ms with plain `GetImage` (measured when the crate was chosen). Our own
//! criterion bench (`benches/benches/capture.rs`,
//! a 1080p window on Xvfb): SHM grab copied into a frame 6.9 ms, lent and
//! converted to I420 3.2 ms, server side included.
//!
//! Sound: [`audio::AudioSource`] with [`audio::PulseSource`] (Linux: the
//! sound server through libpulse, a device or only what one application's
//! processes play), [`audio::CpalSource`] (ALSA without a sound server; WASAPI
//! input and loopback on Windows) and [`audio::ToneSource`] (a synthetic tone).
//!
//! [`open_window`] chooses the platform's backend (X11 on Linux, Graphics
//! Capture on Windows) and [`audio::open`] the way to record each sound of
//! the class ([`audio::SoundOf`]: microphone, the class app, the system) with
//! its fallbacks, as cpal chooses its host: applications pass configuration
//! only.
//!
//! Does not own: pacing (the recorder calls [`FrameSource::grab`] on its steady
//! clock and stamps the frame), conversion or encoding.
//!
//! ```
//! use txcr_capture::{FrameSource, Region, TestPattern};
//! use txcr_core::VideoFrame;
//! use std::time::Duration;
//!
//! let mut src = TestPattern::new(640, 360, Region::default())?;
//! let (w, h) = src.size();
//! let mut frame = VideoFrame::new(w, h);
//! frame.pts = Duration::from_millis(1500);
//! src.grab(&mut frame)?;
//! # Ok::<(), txcr_capture::CaptureError>(())
//! ```

pub mod audio;
mod damage;
mod look;
mod pattern;
mod pick;
mod platform;
mod pushed;
mod region;
#[cfg(windows)]
pub mod windows;
#[cfg(target_os = "linux")]
pub mod x11;

pub use damage::{changed_rows, every_row, Rect};
pub use look::{settle, Changeable, Look, OS_DEFAULT};
pub use pattern::{decode_stamp, Scene, TestPattern, STAMP_BITS, STAMP_CELL};
pub use platform::{open_window, WindowOptions, WindowTarget};
pub use pushed::Pushed;
pub use region::Region;

use txcr_core::{FrameRef, VideoFrame};

/// The capture stage: something whose current picture can be grabbed.
pub trait FrameSource: Send {
    /// The size of the frames this source delivers (fixed for the recording).
    fn size(&self) -> (u32, u32);

    /// Fill `frame` (already `size()`d) with the current picture. `frame.pts` is
    /// set by the caller before the call, so synthetic sources can draw it.
    fn grab(&mut self, frame: &mut VideoFrame) -> Result<(), CaptureError>;

    /// Grab the current picture and lend it to `use_it`, without copying it
    /// first where the source can (X11 lends its shared-memory image). Returns
    /// `false`, without calling `use_it`, when there is no new picture (a
    /// minimised window): the caller keeps showing what it has. The default
    /// grabs into `scratch` (`size()`d, `pts` set) and lends that.
    fn grab_view(
        &mut self,
        scratch: &mut VideoFrame,
        use_it: &mut dyn FnMut(FrameRef<'_>),
    ) -> Result<bool, CaptureError> {
        self.grab(scratch)?;
        use_it(scratch.view());
        Ok(true)
    }

    /// Like [`FrameSource::grab_view`], reading only what changed: lends the
    /// whole current picture with the rows (from 0, merged, in order) in
    /// which it differs from the picture lent by the previous call (the first
    /// call: every row). Returns `false`, without calling `use_it`, when
    /// nothing changed: the caller keeps showing what it has. The default
    /// reads everything every time.
    fn grab_changes(
        &mut self,
        scratch: &mut VideoFrame,
        use_it: &mut dyn FnMut(FrameRef<'_>, &[std::ops::Range<u32>]),
    ) -> Result<bool, CaptureError> {
        let rows = [every_row(self.size().1)];
        self.grab_view(scratch, &mut |view| use_it(view, &rows))
    }

    /// The cursor and capture border the recording gets, where the backend
    /// decides them (Windows Graphics Capture); `None` elsewhere.
    fn look(&self) -> Option<Look> {
        None
    }

    /// The process that shows the recorded window, when known: its sound is
    /// the class app's sound.
    fn pid(&self) -> Option<u32> {
        None
    }
}

/// Why capture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No window matched the request.
    #[error("window not found: {0}")]
    WindowNotFound(String),
    /// The window went away while recording.
    #[error("the recorded window was closed")]
    WindowClosed,
    /// The requested region is empty or lies outside the window.
    #[error("region {0} does not fit inside the {1}x{2} window")]
    BadRegion(Region, u32, u32),
    /// The compositor is off, so an occluded window would record what covers it.
    #[error("the desktop compositor is off")]
    CompositorOff,
    /// This backend is not available here.
    #[error("capture backend unavailable: {0}")]
    Unavailable(String),
}
