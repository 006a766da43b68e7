//! X11 window capture: Composite (so covered windows still show their own
//! content) + MIT-SHM (one copy from the server into shared memory per frame,
//! instead of the whole picture through the socket).
//!
//! The recorded rectangle keeps its place and size inside the window for the
//! whole recording. When the window is moved nothing changes (the window's own
//! pixmap is read); when it is resized, the part of the rectangle that falls
//! outside the window is black and the output size never changes (top-left
//! anchored letterbox). When the window is destroyed, `grab` fails with
//! [`CaptureError::WindowClosed`] and the recording ends cleanly.
//!
//! Only what changed is read ([`FrameSource::grab_changes`]): the DAMAGE
//! extension reports that the window was drawn into; the damaged region is
//! taken (DamageSubtract into an XFixes region) before the pixels are read, so
//! drawing during the read is reported again next time, and the rows it
//! touches are read into their place in the shared-memory picture, which
//! holds the whole current picture between grabs. Nothing damaged: nothing
//! is read. After a map or a resize, and where DAMAGE, XFixes, Composite or
//! MIT-SHM is missing, every grab reads the whole region; after a map, only
//! once the client has painted (its first damage, or half a second), so the
//! empty new pixmap is never recorded: the last picture stays until then.

mod find;
mod probe;
mod shm;

use txcr_core::{FrameRef, VideoFrame};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::composite::{self, Redirect};
use x11rb::protocol::xproto::{self, ConnectionExt as _, EventMask, ImageFormat, MapState, Window};
use x11rb::protocol::Event;
use x11rb::protocol::{damage, xfixes};
use x11rb::rust_connection::RustConnection;

pub use find::{find_by_process, window_pid};
pub use probe::{probe, DisplayReport};

use crate::damage::{changed_rows, every_row, Rect};
use crate::{CaptureError, FrameSource, Region};
use shm::ShmSegment;

/// What to record on X11.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X11Target {
    /// A window id (XID).
    Window(u32),
    /// The largest viewable top-level window of a process with this executable
    /// name (see [`find_by_process`]).
    Process(String),
}

/// Knobs of the X11 backend.
#[derive(Debug, Clone, Default)]
pub struct X11Options {
    /// Display name; `None` uses `$DISPLAY`.
    pub display: Option<String>,
    /// Without the Composite extension, record the screen area where the
    /// window is (what covers it is recorded too) instead of refusing.
    pub screen_fallback: bool,
}

fn unavailable(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Unavailable(format!("X11: {e}"))
}

/// A rectangle of a drawable to read.
#[derive(Debug, Clone, Copy)]
struct SourceRect {
    drawable: xproto::Drawable,
    x: i16,
    y: i16,
    w: u16,
    h: u16,
}

/// A window being recorded.
pub struct X11Source {
    conn: RustConnection,
    root: Window,
    window: Window,
    /// Composite's pixmap of the window, renamed after every resize; `None`
    /// when recording the screen area instead.
    pixmap: Option<xproto::Pixmap>,
    composite: bool,
    shm: Option<ShmSegment>,
    /// The rectangle inside the window, fixed at start.
    region: Region,
    win_size: (u32, u32),
    mapped: bool,
    /// The process that owns the window, if the X server knows it.
    pid: Option<u32>,
    /// DAMAGE on the window and the region its damage is taken into; `None`
    /// without the extensions.
    damage: Option<(damage::Damage, xfixes::Region)>,
    /// A damage report arrived since the damage was last taken.
    damaged: bool,
    /// The shared-memory picture is not the window's (first grab, map,
    /// resize): read it whole.
    stale: bool,
    /// Mapped again: its new pixmap holds nothing until the client paints,
    /// so the last picture stays until the first damage, or this instant.
    await_paint: Option<std::time::Instant>,
}

impl std::fmt::Debug for X11Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Source")
            .field("window", &self.window)
            .field("region", &self.region)
            .field("composite", &self.composite)
            .field("shm", &self.shm.is_some())
            .finish_non_exhaustive()
    }
}

impl X11Source {
    /// Find the window, check the display can record it, set up Composite and SHM.
    pub fn open(
        target: &X11Target,
        region: Region,
        opts: &X11Options,
    ) -> Result<Self, CaptureError> {
        let (conn, screen) = x11rb::connect(opts.display.as_deref()).map_err(unavailable)?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .map(|s| s.root)
            .ok_or_else(|| unavailable("no screen"))?;
        let window = match target {
            X11Target::Window(id) => *id,
            X11Target::Process(name) => find_by_process(&conn, root, name)?.ok_or_else(|| {
                CaptureError::WindowNotFound(format!("no visible window of process {name:?}"))
            })?,
        };
        let not_found = || CaptureError::WindowNotFound(format!("no window 0x{window:x}"));
        let geom = conn
            .get_geometry(window)
            .map_err(unavailable)?
            .reply()
            .map_err(|_| not_found())?;
        let attrs = conn
            .get_window_attributes(window)
            .map_err(unavailable)?
            .reply()
            .map_err(|_| not_found())?;
        if !matches!(geom.depth, 24 | 32) {
            return Err(unavailable(format!(
                "window depth {} is not 24/32-bit colour",
                geom.depth
            )));
        }
        let win_size = (u32::from(geom.width), u32::from(geom.height));
        let region = region.resolve(win_size.0, win_size.1)?;
        let composite = conn
            .extension_information(composite::X11_EXTENSION_NAME)
            .map_err(unavailable)?
            .is_some();
        if !composite && !opts.screen_fallback {
            return Err(CaptureError::CompositorOff);
        }
        // Learn about resizes and destruction without polling the geometry.
        conn.change_window_attributes(
            window,
            &xproto::ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
        )
        .map_err(unavailable)?
        .check()
        .map_err(|_| not_found())?;
        if composite {
            composite::query_version(&conn, 0, 4)
                .map_err(unavailable)?
                .reply()
                .map_err(unavailable)?;
            composite::redirect_window(&conn, window, Redirect::AUTOMATIC)
                .map_err(unavailable)?
                .check()
                .map_err(unavailable)?;
        }
        let shm = ShmSegment::new(&conn, region.width as usize * region.height as usize * 4);
        if shm.is_none() {
            tracing_free_warning("MIT-SHM unavailable: falling back to GetImage (slower)");
        }
        let pid = window_pid(&conn, window);
        let damage = track_damage(&conn, window);
        let mut me = Self {
            conn,
            root,
            window,
            pixmap: None,
            composite,
            shm,
            region,
            win_size,
            mapped: attrs.map_state == MapState::VIEWABLE,
            pid,
            damage,
            damaged: false,
            stale: true,
            await_paint: None,
        };
        me.rename_pixmap()?;
        Ok(me)
    }

    /// The window being recorded.
    pub fn window(&self) -> u32 {
        self.window
    }

    fn rename_pixmap(&mut self) -> Result<(), CaptureError> {
        if !self.composite {
            return Ok(());
        }
        if let Some(old) = self.pixmap.take() {
            let _ = self.conn.free_pixmap(old);
        }
        if !self.mapped {
            return Ok(()); // an unmapped window has no pixmap
        }
        let pixmap = self.conn.generate_id().map_err(unavailable)?;
        let named = composite::name_window_pixmap(&self.conn, self.window, pixmap)
            .map_err(unavailable)?
            .check();
        if named.is_ok() {
            self.pixmap = Some(pixmap);
        }
        Ok(())
    }

    /// Apply queued events: resize → new pixmap; destroy → closed.
    fn drain_events(&mut self) -> Result<(), CaptureError> {
        let mut renamed = false;
        while let Some(ev) = self
            .conn
            .poll_for_event()
            .map_err(|_| CaptureError::WindowClosed)?
        {
            match ev {
                Event::DestroyNotify(e) if e.window == self.window => {
                    return Err(CaptureError::WindowClosed)
                }
                Event::ConfigureNotify(e) if e.window == self.window => {
                    let size = (u32::from(e.width), u32::from(e.height));
                    if size != self.win_size {
                        self.win_size = size;
                        renamed = true;
                    }
                }
                Event::UnmapNotify(e) if e.window == self.window => {
                    self.mapped = false;
                    renamed = true;
                }
                Event::MapNotify(e) if e.window == self.window => {
                    self.mapped = true;
                    renamed = true;
                    self.await_paint = Some(std::time::Instant::now() + PAINT_WAIT);
                }
                Event::DamageNotify(e) if self.damage.is_some_and(|(d, _)| d == e.damage) => {
                    self.damaged = true;
                }
                _ => {}
            }
        }
        if renamed {
            self.stale = true;
            self.rename_pixmap()?;
        }
        Ok(())
    }

    /// The drawable and the rectangle of it to read, clipped to what exists.
    fn source_rect(&self) -> Result<Option<SourceRect>, CaptureError> {
        let r = self.region;
        let w = self.win_size.0.saturating_sub(r.x).min(r.width);
        let h = self.win_size.1.saturating_sub(r.y).min(r.height);
        if w == 0 || h == 0 {
            return Ok(None);
        }
        if self.composite {
            return Ok(self.pixmap.map(|drawable| SourceRect {
                drawable,
                x: r.x as i16,
                y: r.y as i16,
                w: w as u16,
                h: h as u16,
            }));
        }
        // Screen fallback: where is the rectangle on the root window now?
        let t = self
            .conn
            .translate_coordinates(self.window, self.root, r.x as i16, r.y as i16)
            .map_err(unavailable)?
            .reply()
            .map_err(|_| CaptureError::WindowClosed)?;
        let screen = &self.conn.setup().roots[0];
        let (x, y) = (i32::from(t.dst_x).max(0), i32::from(t.dst_y).max(0));
        let w = (w as i32).min(i32::from(screen.width_in_pixels) - x);
        let h = (h as i32).min(i32::from(screen.height_in_pixels) - y);
        if w <= 0 || h <= 0 {
            return Ok(None);
        }
        Ok(Some(SourceRect {
            drawable: self.root,
            x: x as i16,
            y: y as i16,
            w: w as u16,
            h: h as u16,
        }))
    }
}

/// How long a window mapped again may take to paint before it is read anyway.
const PAINT_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// DAMAGE on `window`, reporting when its damage becomes non-empty, and an
/// XFixes region to take the damage into; `None` where either is missing.
fn track_damage(conn: &RustConnection, window: Window) -> Option<(damage::Damage, xfixes::Region)> {
    conn.extension_information(damage::X11_EXTENSION_NAME)
        .ok()??;
    conn.extension_information(xfixes::X11_EXTENSION_NAME)
        .ok()??;
    xfixes::query_version(conn, 5, 0).ok()?.reply().ok()?;
    damage::query_version(conn, 1, 1).ok()?.reply().ok()?;
    let d = conn.generate_id().ok()?;
    damage::create(conn, d, window, damage::ReportLevel::NON_EMPTY)
        .ok()?
        .check()
        .ok()?;
    let region = conn.generate_id().ok()?;
    xfixes::create_region(conn, region, &[])
        .ok()?
        .check()
        .ok()?;
    Some((d, region))
}

impl X11Source {
    /// Take the window's damage (clearing it) and return its rectangles.
    fn take_damage(&self) -> Result<Vec<Rect>, CaptureError> {
        let Some((d, region)) = self.damage else {
            return Ok(Vec::new());
        };
        damage::subtract(&self.conn, d, x11rb::NONE, region).map_err(unavailable)?;
        let fetched = xfixes::fetch_region(&self.conn, region)
            .map_err(unavailable)?
            .reply()
            .map_err(|_| CaptureError::WindowClosed)?;
        Ok(fetched
            .rectangles
            .iter()
            .map(|r| Rect {
                x: i32::from(r.x),
                y: i32::from(r.y),
                width: u32::from(r.width),
                height: u32::from(r.height),
            })
            .collect())
    }
}

/// No logging dependency in this crate: the one warning goes to stderr.
fn tracing_free_warning(msg: &str) {
    eprintln!("txcr-capture: {msg}");
}

impl FrameSource for X11Source {
    fn size(&self) -> (u32, u32) {
        (self.region.width, self.region.height)
    }

    fn pid(&self) -> Option<u32> {
        self.pid
    }

    fn grab_view(
        &mut self,
        scratch: &mut VideoFrame,
        use_it: &mut dyn FnMut(FrameRef<'_>),
    ) -> Result<bool, CaptureError> {
        self.drain_events()?;
        if !self.mapped {
            return Ok(false);
        }
        let whole = self.source_rect()?.filter(|r| {
            (u32::from(r.w), u32::from(r.h)) == (self.region.width, self.region.height)
        });
        match (&self.shm, whole) {
            // The usual case: lend the shared-memory image, no copy.
            (Some(shm), Some(r)) => {
                shm::get_image(&self.conn, shm, r.drawable, r.x, r.y, r.w, r.h)
                    .map_err(|_| CaptureError::WindowClosed)?;
                let stride = usize::from(r.w) * 4;
                use_it(FrameRef {
                    width: u32::from(r.w),
                    height: u32::from(r.h),
                    stride,
                    data: shm.bytes(stride * usize::from(r.h)),
                });
            }
            // Window smaller than the region, no SHM: copy, padding with black.
            _ => {
                self.grab(scratch)?;
                use_it(scratch.view());
            }
        }
        Ok(true)
    }

    fn grab_changes(
        &mut self,
        scratch: &mut VideoFrame,
        use_it: &mut dyn FnMut(FrameRef<'_>, &[std::ops::Range<u32>]),
    ) -> Result<bool, CaptureError> {
        self.drain_events()?;
        if !self.mapped {
            return Ok(false);
        }
        let region = self.region;
        let whole = self
            .source_rect()?
            .filter(|r| (u32::from(r.w), u32::from(r.h)) == (region.width, region.height));
        if let Some(until) = self.await_paint {
            if !self.damaged && std::time::Instant::now() < until {
                return Ok(false);
            }
            self.await_paint = None;
        }
        let (Some(shm), Some(r), true, true) =
            (&self.shm, whole, self.composite, self.damage.is_some())
        else {
            // Nothing to follow changes with: everything, every time.
            let all = [every_row(region.height)];
            return self.grab_view(scratch, &mut |view| use_it(view, &all));
        };
        let rows = if self.stale {
            self.take_damage()?;
            vec![every_row(region.height)]
        } else if self.damaged {
            let rects = self.take_damage()?;
            let area = Rect {
                x: region.x as i32,
                y: region.y as i32,
                width: region.width,
                height: region.height,
            };
            changed_rows(&rects, area)
        } else {
            Vec::new()
        };
        self.damaged = false;
        self.stale = false;
        if rows.is_empty() {
            return Ok(false);
        }
        let stride = usize::from(r.w) * 4;
        for band in &rows {
            let at = (r.x, r.y + band.start as i16, r.w, band.len() as u16);
            shm::get_image_at(&self.conn, shm, r.drawable, at, band.start * stride as u32)
                .map_err(|_| CaptureError::WindowClosed)?;
        }
        use_it(
            FrameRef {
                width: u32::from(r.w),
                height: u32::from(r.h),
                stride,
                data: shm.bytes(stride * usize::from(r.h)),
            },
            &rows,
        );
        Ok(true)
    }

    fn grab(&mut self, frame: &mut VideoFrame) -> Result<(), CaptureError> {
        self.drain_events()?;
        if !self.mapped {
            return Ok(()); // minimised: keep showing what the buffer holds
        }
        let Some(SourceRect {
            drawable,
            x,
            y,
            w,
            h,
        }) = self.source_rect()?
        else {
            frame.data.fill(0);
            return Ok(());
        };
        let (w, h) = (usize::from(w), usize::from(h));
        let src_stride = w * 4;
        let pixels: &[u8];
        let owned;
        if let Some(shm) = &self.shm {
            shm::get_image(&self.conn, shm, drawable, x, y, w as u16, h as u16)
                .map_err(|_| CaptureError::WindowClosed)?;
            pixels = shm.bytes(src_stride * h);
        } else {
            owned = self
                .conn
                .get_image(
                    ImageFormat::Z_PIXMAP,
                    drawable,
                    x,
                    y,
                    w as u16,
                    h as u16,
                    !0,
                )
                .map_err(unavailable)?
                .reply()
                .map_err(|_| CaptureError::WindowClosed)?
                .data;
            pixels = &owned;
        }
        let out_w = self.region.width as usize * 4;
        for row in 0..self.region.height as usize {
            let dst = &mut frame.data[row * frame.stride..row * frame.stride + out_w];
            match pixels
                .get(row * src_stride..(row + 1) * src_stride)
                .filter(|_| row < h)
            {
                Some(src) => {
                    dst[..src_stride].copy_from_slice(src);
                    dst[src_stride..].fill(0);
                }
                None => dst.fill(0),
            }
        }
        Ok(())
    }
}

impl Drop for X11Source {
    fn drop(&mut self) {
        if let Some((d, region)) = self.damage.take() {
            let _ = damage::destroy(&self.conn, d);
            let _ = xfixes::destroy_region(&self.conn, region);
        }
        if let Some(p) = self.pixmap.take() {
            let _ = self.conn.free_pixmap(p);
        }
        if let Some(shm) = self.shm.take() {
            shm.release(&self.conn);
        }
        let _ = self.conn.flush();
    }
}
