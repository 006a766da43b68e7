//! Finding the window of a process by its executable name.

use x11rb::connection::Connection;
use x11rb::protocol::res::{ClientIdMask, ClientIdSpec, ConnectionExt as _};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState, Window};

use crate::pick::{largest, normalise};
use crate::CaptureError;

fn atom(conn: &impl Connection, name: &[u8]) -> Option<u32> {
    Some(conn.intern_atom(false, name).ok()?.reply().ok()?.atom)
}

fn cardinals(conn: &impl Connection, win: Window, prop: u32, ty: impl Into<u32>) -> Vec<u32> {
    conn.get_property(false, win, prop, ty, 0, 4096)
        .ok()
        .and_then(|c| c.reply().ok())
        .and_then(|r| r.value32().map(Iterator::collect))
        .unwrap_or_default()
}

/// Whether process `pid` runs an executable called `want` (by `/proc/PID/exe`'s
/// file name, or by `/proc/PID/comm`, which the kernel cuts to 15 bytes).
fn process_is(pid: u32, want: &str) -> bool {
    let want = normalise(want);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| normalise(&n.to_string_lossy())));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| normalise(&c));
    exe.as_deref() == Some(want.as_str())
        || comm.is_some_and(|c| c == want || (c.len() == 15 && want.starts_with(&c)))
}

/// The process that owns window `w`: its `_NET_WM_PID`, or, for clients that
/// do not set it (Xt and Xlib programs such as xeyes), the PID the X server
/// itself knows for the connection (X-Resource `QueryClientIds`; local
/// clients only, which is what a recorder on this machine records).
fn owner_pid(conn: &impl Connection, w: Window, pid_atom: u32) -> Option<u32> {
    if let Some(&pid) = cardinals(conn, w, pid_atom, AtomEnum::CARDINAL).first() {
        return Some(pid);
    }
    let spec = ClientIdSpec {
        client: w,
        mask: ClientIdMask::LOCAL_CLIENT_PID,
    };
    let reply = conn.res_query_client_ids(&[spec]).ok()?.reply().ok()?;
    reply
        .ids
        .iter()
        .find(|id| id.spec.mask & ClientIdMask::LOCAL_CLIENT_PID != 0u32.into())
        .and_then(|id| id.value.first().copied())
}

/// The process that owns window `w`, if known (see [`owner_pid`]).
pub fn window_pid(conn: &impl Connection, w: Window) -> Option<u32> {
    owner_pid(conn, w, atom(conn, b"_NET_WM_PID")?)
}

/// The window to record for `AppProc`: among the viewable top-level windows
/// (`_NET_CLIENT_LIST` when a window manager provides it, else the root's
/// children) whose owning process ([`owner_pid`]) runs an executable named `name`
/// (case-insensitive, a `.exe` suffix ignored), by [`largest`]: offered in
/// window-id order, so a tie goes to the lowest id (the oldest). Several
/// processes of that name are all candidates.
pub fn find_by_process(
    conn: &impl Connection,
    root: Window,
    name: &str,
) -> Result<Option<Window>, CaptureError> {
    let pid_atom = atom(conn, b"_NET_WM_PID")
        .ok_or_else(|| CaptureError::Unavailable("X11: cannot intern atoms".into()))?;
    let mut windows = atom(conn, b"_NET_CLIENT_LIST")
        .map(|a| cardinals(conn, root, a, AtomEnum::WINDOW))
        .unwrap_or_default();
    if windows.is_empty() {
        windows = conn
            .query_tree(root)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|t| t.children)
            .unwrap_or_default();
    }
    windows.sort_unstable();
    let mut candidates = Vec::new();
    for w in windows {
        let Some(pid) = owner_pid(conn, w, pid_atom) else {
            continue;
        };
        let viewable = conn
            .get_window_attributes(w)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE);
        if !viewable || !process_is(pid, name) {
            continue;
        }
        let Some(g) = conn.get_geometry(w).ok().and_then(|c| c.reply().ok()) else {
            continue;
        };
        candidates.push((u64::from(g.width) * u64::from(g.height), w));
    }
    Ok(largest(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_with_or_without_exe() {
        assert!(process_is(
            std::process::id(),
            &std::env::current_exe()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ));
        assert!(!process_is(
            std::process::id(),
            "definitely-not-this-program"
        ));
    }
}
