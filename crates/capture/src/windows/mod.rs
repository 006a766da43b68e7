//! Windows window capture through Windows Graphics Capture (`windows-capture`).
//!
//! Mirrors the X11 backend: find the window (HWND, or process name → largest
//! visible window), then grab its own content (occlusion does not matter to
//! Graphics Capture), cropped to the region fixed at start, with black where
//! a resized window no longer covers it. Graphics Capture pushes frames when
//! the window changes (none while it is minimised or unchanged); the latest
//! one is kept and handed out at each tick of the recorder's clock
//! ([`Pushed`]), so the recording keeps its pace; a tick with nothing new
//! reads nothing ([`FrameSource::grab_changes`]), and where this Windows
//! reports dirty regions (Windows 11 24H2 on, detected at run time) only the
//! rows they touch are copied and converted. Cursor and yellow capture
//! border follow the configured [`Look`] where this Windows build lets them be
//! changed (detected at run time, [`settle`]); [`WindowsSource::look`] says
//! what the recording got.
//!
//! Type-checked (and clippy-clean) on the project's Linux machines by
//! `cargo xtask check-windows`; the decisions that need no Windows API
//! (`pick`, `pushed`, `look`) are unit-tested there; linking and running it
//! is the GitHub Actions Windows job's.

mod find;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use txcr_core::{FrameRef, VideoFrame};
use windows_capture::capture::{CaptureControl, Context, GraphicsCaptureApiHandler};
use windows_capture::frame::Frame;
use windows_capture::graphics_capture_api::{GraphicsCaptureApi, InternalCaptureControl};
use windows_capture::settings::{
    ColorFormat, CursorCaptureSettings, DirtyRegionSettings, DrawBorderSettings,
    MinimumUpdateIntervalSettings, SecondaryWindowSettings, Settings,
};
use windows_capture::window::Window;

pub use find::find_by_process;

use crate::{settle, CaptureError, Changeable, FrameSource, Look, Pushed, Rect, Region};

/// What to record on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowsTarget {
    /// A window handle (HWND).
    Window(u64),
    /// The largest visible window of a process with this executable name.
    Process(String),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Default)]
struct Shared {
    latest: Mutex<Pushed>,
    closed: AtomicBool,
}

struct Handler {
    shared: Arc<Shared>,
    scratch: Vec<u8>,
    /// This Windows reports dirty regions (Windows 11 24H2 and later).
    dirty: bool,
}

/// Whether this Windows build reports which parts of a frame changed.
fn dirty_regions_supported() -> bool {
    GraphicsCaptureApi::is_dirty_region_supported().unwrap_or(false)
}

impl GraphicsCaptureApiHandler for Handler {
    type Flags = Arc<Shared>;
    type Error = BoxError;

    fn new(ctx: Context<Self::Flags>) -> Result<Self, Self::Error> {
        Ok(Self {
            shared: ctx.flags,
            scratch: Vec::new(),
            dirty: dirty_regions_supported(),
        })
    }

    fn on_frame_arrived(
        &mut self,
        frame: &mut Frame,
        _control: InternalCaptureControl,
    ) -> Result<(), Self::Error> {
        // What changed, where this Windows says (else all of it).
        let dirty: Option<Vec<Rect>> = self
            .dirty
            .then(|| frame.dirty_regions().ok())
            .flatten()
            .map(|regions| {
                regions
                    .iter()
                    .map(|r| Rect {
                        x: r.x,
                        y: r.y,
                        width: r.width.max(0) as u32,
                        height: r.height.max(0) as u32,
                    })
                    .collect()
            });
        let buffer = frame.buffer()?;
        let (width, height) = (buffer.width(), buffer.height());
        let pixels = buffer.as_nopadding_buffer(&mut self.scratch);
        let mut latest = self.shared.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.store(width, height, pixels, dirty.as_deref());
        Ok(())
    }

    fn on_closed(&mut self) -> Result<(), Self::Error> {
        self.shared.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// A window being recorded.
pub struct WindowsSource {
    shared: Arc<Shared>,
    control: Option<CaptureControl<Handler, BoxError>>,
    region: Region,
    look: Look,
    /// The process that owns the window.
    pid: Option<u32>,
}

impl std::fmt::Debug for WindowsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowsSource")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl WindowsSource {
    /// Find the window and start Graphics Capture on it, with the cursor and
    /// border `want`ed where this Windows build lets them be changed.
    pub fn open(target: &WindowsTarget, region: Region, want: Look) -> Result<Self, CaptureError> {
        let window = match target {
            WindowsTarget::Window(hwnd) => {
                Window::from_raw_hwnd(*hwnd as usize as *mut std::ffi::c_void)
            }
            WindowsTarget::Process(name) => find_by_process(name)?.ok_or_else(|| {
                CaptureError::WindowNotFound(format!("no visible window of process {name:?}"))
            })?,
        };
        if !window.is_valid() {
            return Err(CaptureError::WindowNotFound("no such window".into()));
        }
        let (w, h) = (window.width(), window.height());
        let (w, h) = match (w, h) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => (w as u32, h as u32),
            _ => {
                return Err(CaptureError::WindowNotFound(
                    "the window has no size".into(),
                ))
            }
        };
        let region = region.resolve(w, h)?;
        let pid = window.process_id().ok();
        let shared = Arc::new(Shared::default());
        // Asking for a setting this build cannot change fails the capture.
        let can = Changeable {
            cursor: GraphicsCaptureApi::is_cursor_settings_supported().unwrap_or(false),
            border: GraphicsCaptureApi::is_border_settings_supported().unwrap_or(false),
        };
        let (cursor, border, look) = settle(want, can);
        let cursor = match cursor {
            Some(true) => CursorCaptureSettings::WithCursor,
            Some(false) => CursorCaptureSettings::WithoutCursor,
            None => CursorCaptureSettings::Default,
        };
        let border = match border {
            Some(true) => DrawBorderSettings::WithBorder,
            Some(false) => DrawBorderSettings::WithoutBorder,
            None => DrawBorderSettings::Default,
        };
        let settings = Settings::new(
            window,
            cursor,
            border,
            SecondaryWindowSettings::Default,
            MinimumUpdateIntervalSettings::Default,
            if dirty_regions_supported() {
                DirtyRegionSettings::ReportOnly
            } else {
                DirtyRegionSettings::Default
            },
            ColorFormat::Bgra8,
            shared.clone(),
        );
        let control = Handler::start_free_threaded(settings)
            .map_err(|e| CaptureError::Unavailable(format!("Windows Graphics Capture: {e}")))?;
        Ok(Self {
            shared,
            control: Some(control),
            region,
            look,
            pid,
        })
    }

    /// The cursor and border the recording really gets.
    pub fn look(&self) -> Look {
        self.look
    }
}

impl FrameSource for WindowsSource {
    fn size(&self) -> (u32, u32) {
        (self.region.width, self.region.height)
    }

    fn look(&self) -> Option<Look> {
        Some(self.look)
    }

    fn pid(&self) -> Option<u32> {
        self.pid
    }

    fn grab_changes(
        &mut self,
        scratch: &mut VideoFrame,
        use_it: &mut dyn FnMut(FrameRef<'_>, &[std::ops::Range<u32>]),
    ) -> Result<bool, CaptureError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(CaptureError::WindowClosed);
        }
        let mut latest = self.shared.latest.lock().unwrap_or_else(|e| e.into_inner());
        // Nothing pushed since the last take (unchanged or minimised): keep it.
        let Some(rows) = latest.take_changes(self.region) else {
            return Ok(false);
        };
        latest.copy_rows(self.region, scratch, &rows);
        drop(latest);
        use_it(scratch.view(), &rows);
        Ok(true)
    }

    fn grab(&mut self, frame: &mut VideoFrame) -> Result<(), CaptureError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(CaptureError::WindowClosed);
        }
        let latest = self.shared.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.copy_region(self.region, frame);
        Ok(())
    }
}

impl Drop for WindowsSource {
    fn drop(&mut self) {
        if let Some(c) = self.control.take() {
            let _ = c.stop();
        }
    }
}
