//! Finding the window of a process by its executable name.

use windows_capture::window::Window;

use crate::CaptureError;

fn normalise(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    lower.strip_suffix(".exe").unwrap_or(&lower).to_owned()
}

/// Among the visible top-level windows whose process runs an executable named
/// `name` (case-insensitive, `.exe` optional), the largest by area; on a tie
/// the first one the system lists (the topmost). Same rule as on X11.
pub fn find_by_process(name: &str) -> Result<Option<Window>, CaptureError> {
    let want = normalise(name);
    let windows = Window::enumerate()
        .map_err(|e| CaptureError::Unavailable(format!("listing windows: {e}")))?;
    let mut best: Option<(i64, Window)> = None;
    for w in windows {
        let matches = w
            .process_name()
            .map(|p| normalise(&p) == want)
            .unwrap_or(false);
        if !matches || !w.is_valid() {
            continue;
        }
        let area = match (w.width(), w.height()) {
            (Ok(a), Ok(b)) => i64::from(a) * i64::from(b),
            _ => continue,
        };
        if best.as_ref().is_none_or(|(a, _)| area > *a) {
            best = Some((area, w));
        }
    }
    Ok(best.map(|(_, w)| w))
}
