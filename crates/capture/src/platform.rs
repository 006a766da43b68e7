//! Choosing this platform's window capture backend, as cpal chooses its
//! audio host: the caller names a window and passes options; X11 on Linux,
//! Windows Graphics Capture on Windows, an error elsewhere.

use crate::{CaptureError, FrameSource, Look, Region};

/// The window to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowTarget {
    /// A native window id (XID on X11, HWND on Windows).
    Id(u64),
    /// The largest visible window of the process with this executable name.
    Process(String),
}

/// Options of the platform backends; each uses its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowOptions {
    /// X11 without Composite: record the screen area where the window is
    /// (what covers it included) instead of refusing with `CompositorOff`.
    pub screen_fallback: bool,
    /// Windows: the cursor and capture border wanted.
    pub look: Look,
}

/// Open `target` on this platform's backend, cropped to `region`.
#[cfg(target_os = "linux")]
pub fn open_window(
    target: &WindowTarget,
    region: Region,
    opts: &WindowOptions,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    use crate::x11::{X11Options, X11Source, X11Target};
    if std::env::var_os("DISPLAY").is_none() {
        return Err(CaptureError::Unavailable(
            "no X display: DISPLAY is not set".into(),
        ));
    }
    let target =
        match target {
            WindowTarget::Id(id) => X11Target::Window(u32::try_from(*id).map_err(|_| {
                CaptureError::WindowNotFound(format!("{id} is not an X11 window id"))
            })?),
            WindowTarget::Process(name) => X11Target::Process(name.clone()),
        };
    let x11 = X11Options {
        display: None,
        screen_fallback: opts.screen_fallback,
    };
    Ok(Box::new(X11Source::open(&target, region, &x11)?))
}

/// Open `target` on this platform's backend, cropped to `region`.
#[cfg(windows)]
pub fn open_window(
    target: &WindowTarget,
    region: Region,
    opts: &WindowOptions,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    use crate::windows::{WindowsSource, WindowsTarget};
    let target = match target {
        WindowTarget::Id(hwnd) => WindowsTarget::Window(*hwnd),
        WindowTarget::Process(name) => WindowsTarget::Process(name.clone()),
    };
    Ok(Box::new(WindowsSource::open(&target, region, opts.look)?))
}

/// No window capture on this platform.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn open_window(
    _: &WindowTarget,
    _: Region,
    _: &WindowOptions,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    Err(CaptureError::Unavailable(
        "no window capture backend for this platform".into(),
    ))
}
