//! What the display offers for recording, for `txcloudrecord doctor`.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::composite;
use x11rb::protocol::shm;

use super::unavailable;
use crate::CaptureError;

/// The display's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayReport {
    /// The display name used (`$DISPLAY` unless given).
    pub name: String,
    /// Size of the first screen.
    pub size: (u16, u16),
    /// Composite's version (covered windows still record their own content);
    /// `None` without the extension.
    pub composite: Option<(u32, u32)>,
    /// MIT-SHM (one copy per frame instead of the picture through the socket).
    pub shm: bool,
}

/// Connect to `display` (`None`: `$DISPLAY`) and ask what recording needs.
pub fn probe(display: Option<&str>) -> Result<DisplayReport, CaptureError> {
    let name = display
        .map(str::to_owned)
        .or_else(|| std::env::var("DISPLAY").ok())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(CaptureError::Unavailable(
            "X11: no display (DISPLAY is not set)".into(),
        ));
    }
    let (conn, screen) = x11rb::connect(Some(&name)).map_err(unavailable)?;
    let size = conn
        .setup()
        .roots
        .get(screen)
        .map(|s| (s.width_in_pixels, s.height_in_pixels))
        .ok_or_else(|| unavailable("no screen"))?;
    let composite = match conn
        .extension_information(composite::X11_EXTENSION_NAME)
        .map_err(unavailable)?
    {
        Some(_) => {
            let v = composite::query_version(&conn, 0, 4)
                .map_err(unavailable)?
                .reply()
                .map_err(unavailable)?;
            Some((v.major_version, v.minor_version))
        }
        None => None,
    };
    let shm = conn
        .extension_information(shm::X11_EXTENSION_NAME)
        .map_err(unavailable)?
        .is_some();
    Ok(DisplayReport {
        name,
        size,
        composite,
        shm,
    })
}
