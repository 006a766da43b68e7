//! Choosing the platform's capture backends for a StartRecord.

use txcr_capture::{CaptureError, FrameSource, Region};
use txcr_protocol::Target;

use crate::config::Config;

/// Open the window `target` names, on this platform's backend.
#[cfg(target_os = "linux")]
pub fn open_window(
    target: &Target,
    region: Region,
    cfg: &Config,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    use txcr_capture::x11::{X11Options, X11Source, X11Target};
    if std::env::var_os("DISPLAY").is_none() {
        return Err(CaptureError::Unavailable(
            "no X display: DISPLAY is not set".into(),
        ));
    }
    let target =
        match target {
            Target::Window(id) => X11Target::Window(u32::try_from(*id).map_err(|_| {
                CaptureError::WindowNotFound(format!("{id} is not an X11 window id"))
            })?),
            Target::Process(name) => X11Target::Process(name.clone()),
        };
    let opts = X11Options {
        display: None,
        screen_fallback: cfg.screen_fallback,
    };
    let source = X11Source::open(&target, region, &opts)?;
    tracing::info!(window = source.window(), "recording X11 window");
    Ok(Box::new(source))
}

/// Open the window `target` names, on this platform's backend.
#[cfg(windows)]
pub fn open_window(
    target: &Target,
    region: Region,
    cfg: &Config,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    use txcr_capture::windows::{WindowsSource, WindowsTarget};
    let target = match target {
        Target::Window(hwnd) => WindowsTarget::Window(*hwnd),
        Target::Process(name) => WindowsTarget::Process(name.clone()),
    };
    let source = WindowsSource::open(&target, region, cfg.look)?;
    tracing::info!(look = %source.look(), "recording a window through Graphics Capture");
    Ok(Box::new(source))
}

/// No window capture on this platform.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn open_window(
    _: &Target,
    _: Region,
    _: &Config,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    Err(CaptureError::Unavailable(
        "no window capture backend for this platform".into(),
    ))
}

/// A sound source that could not be opened: starting it fails with the
/// reason, so the recorder records video only and reports why.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl txcr_capture::audio::AudioSource for Unavailable {
    fn format(&self) -> txcr_capture::audio::AudioFormat {
        txcr_capture::audio::AudioFormat {
            sample_rate: 48_000,
            channels: 2,
        }
    }

    fn start(&mut self, _: txcr_capture::audio::BlockSink) -> Result<(), CaptureError> {
        Err(CaptureError::Unavailable(self.0.clone()))
    }

    fn describe(&self) -> String {
        "no device".into()
    }
}
