//! Finding the window of a process by its executable name.

use windows_capture::window::Window;

use crate::pick::{largest, normalise};
use crate::CaptureError;

/// Among the visible top-level windows whose process runs an executable named
/// `name` (case-insensitive, `.exe` optional), by [`largest`]: offered in the
/// order the system lists them, so a tie goes to the topmost.
pub fn find_by_process(name: &str) -> Result<Option<Window>, CaptureError> {
    let want = normalise(name);
    let windows = Window::enumerate()
        .map_err(|e| CaptureError::Unavailable(format!("listing windows: {e}")))?;
    let candidates = windows.into_iter().filter_map(|w| {
        let matches = w.process_name().is_ok_and(|p| normalise(&p) == want);
        if !matches || !w.is_valid() {
            return None;
        }
        let (Ok(a), Ok(b)) = (w.width(), w.height()) else {
            return None;
        };
        let area = u64::try_from(i64::from(a) * i64::from(b)).unwrap_or(0);
        Some((area, w))
    });
    Ok(largest(candidates))
}
