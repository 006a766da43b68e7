//! A System V shared memory segment attached to the X server (MIT-SHM).

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::shm;
use x11rb::protocol::xproto::{Drawable, ImageFormat};
use x11rb::rust_connection::RustConnection;

/// Memory both we and the X server map; `get_image` writes pixels into it.
#[derive(Debug)]
pub struct ShmSegment {
    seg: shm::Seg,
    addr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value; it is only read through &self
// after a completed (synchronous) GetImage, and unmapped once in release().
unsafe impl Send for ShmSegment {}

impl ShmSegment {
    /// A segment of `len` bytes attached to the server, or `None` when MIT-SHM
    /// is missing or refuses (e.g. a remote display).
    pub fn new(conn: &RustConnection, len: usize) -> Option<Self> {
        conn.extension_information(shm::X11_EXTENSION_NAME).ok()??;
        // SAFETY: plain System V calls; every result is checked before use.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len.max(1), libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return None;
        }
        // SAFETY: id is a fresh segment of ours.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        let mapped = addr as isize != -1;
        let attach = || {
            let seg = conn.generate_id().ok()?;
            shm::attach(conn, seg, id as u32, false)
                .ok()?
                .check()
                .ok()?;
            Some(seg)
        };
        let seg = if mapped { attach() } else { None };
        // Mark for removal now: it disappears once both sides detach, even if we crash.
        // SAFETY: id is ours; IPC_RMID takes no buffer.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        match seg {
            Some(seg) => Some(Self {
                seg,
                addr: addr.cast(),
                len,
            }),
            None => {
                if mapped {
                    // SAFETY: addr came from shmat above and is detached once.
                    unsafe { libc::shmdt(addr) };
                }
                None
            }
        }
    }

    /// The first `n` bytes (at most the segment).
    pub fn bytes(&self, n: usize) -> &[u8] {
        // SAFETY: addr maps len bytes for as long as self lives.
        unsafe { std::slice::from_raw_parts(self.addr, n.min(self.len)) }
    }

    /// Detach from the server and unmap.
    pub fn release(self, conn: &RustConnection) {
        let _ = shm::detach(conn, self.seg);
        let _ = conn.flush();
        // SAFETY: addr came from shmat and is detached exactly once, here.
        unsafe { libc::shmdt(self.addr.cast()) };
    }
}

/// Read a rectangle of `drawable` into the segment (ZPixmap, 32 bits per pixel:
/// BGRX on little-endian), waiting for the server to finish.
pub fn get_image(
    conn: &RustConnection,
    seg: &ShmSegment,
    drawable: Drawable,
    x: i16,
    y: i16,
    w: u16,
    h: u16,
) -> Result<(), String> {
    get_image_at(conn, seg, drawable, (x, y, w, h), 0)
}

/// [`get_image`] into the segment from byte `offset` on: rows of the full
/// width land in place in a picture kept in the segment.
pub fn get_image_at(
    conn: &RustConnection,
    seg: &ShmSegment,
    drawable: Drawable,
    (x, y, w, h): (i16, i16, u16, u16),
    offset: u32,
) -> Result<(), String> {
    shm::get_image(
        conn,
        drawable,
        x,
        y,
        w,
        h,
        !0,
        ImageFormat::Z_PIXMAP.into(),
        seg.seg,
        offset,
    )
    .map_err(|e| e.to_string())?
    .reply()
    .map(|_| ())
    .map_err(|e| e.to_string())
}
