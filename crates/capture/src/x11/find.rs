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

/// The process that owns window `w`: first the PID the X server itself
/// knows for the client's connection (X-Resource `QueryClientIds`; local
/// clients, which is what a recorder on this machine records, whatever the
/// client sets), then the window's `_NET_WM_PID` (which xterm, xeyes, Xt and
/// Motif programs and many Java and Wine ones never set).
fn owner_pid(conn: &impl Connection, w: Window, pid_atom: u32) -> Option<u32> {
    let spec = ClientIdSpec {
        client: w,
        mask: ClientIdMask::LOCAL_CLIENT_PID,
    };
    let known = conn
        .res_query_client_ids(&[spec])
        .ok()
        .and_then(|c| c.reply().ok())
        .and_then(|reply| {
            reply
                .ids
                .iter()
                .find(|id| id.spec.mask & ClientIdMask::LOCAL_CLIENT_PID != 0u32.into())
                .and_then(|id| id.value.first().copied())
        });
    known.or_else(|| {
        cardinals(conn, w, pid_atom, AtomEnum::CARDINAL)
            .first()
            .copied()
    })
}

/// The process that owns window `w`, if known (see [`owner_pid`]).
pub fn window_pid(conn: &impl Connection, w: Window) -> Option<u32> {
    owner_pid(conn, w, atom(conn, b"_NET_WM_PID")?)
}

/// The strings of a `STRING` property (NUL-separated, as `WM_CLASS` and
/// `WM_COMMAND` are).
fn strings(conn: &impl Connection, w: Window, prop: impl Into<u32>) -> Vec<String> {
    conn.get_property(false, w, prop, AtomEnum::STRING, 0, 4096)
        .ok()
        .and_then(|c| c.reply().ok())
        .map(|r| {
            r.value
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The last resort, for a window whose process is unknown (a remote client):
/// whether its `WM_CLASS` (instance or class) or the program of its
/// `WM_COMMAND` is called `want`.
fn names_program(wm_class: &[String], wm_command: &[String], want: &str) -> bool {
    let want = normalise(want);
    let program = wm_command.first().map(|p| {
        let base = p.rsplit(['/', '\\']).next().unwrap_or(p);
        normalise(base)
    });
    wm_class.iter().any(|c| normalise(c) == want) || program.as_deref() == Some(want.as_str())
}

/// The window to record for `AppProc`: among the viewable top-level windows
/// (`_NET_CLIENT_LIST` when a window manager provides it, else the root's
/// children) whose owning process ([`owner_pid`]) runs an executable named `name`
/// (case-insensitive, a `.exe` suffix ignored), or, when the process is not
/// known, whose `WM_CLASS` or `WM_COMMAND` names it, by [`largest`]: offered in
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
        let viewable = conn
            .get_window_attributes(w)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE);
        if !viewable {
            continue;
        }
        let ours = match owner_pid(conn, w, pid_atom) {
            Some(pid) => process_is(pid, name),
            None => names_program(
                &strings(conn, w, AtomEnum::WM_CLASS),
                &strings(conn, w, AtomEnum::WM_COMMAND),
                name,
            ),
        };
        if !ours {
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
    fn the_last_resort_reads_wm_class_and_wm_command() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(names_program(&v(&["xterm", "XTerm"]), &[], "XTerm"));
        assert!(names_program(
            &[],
            &v(&["/usr/bin/xeyes", "-fg", "red"]),
            "xeyes.exe"
        ));
        assert!(names_program(
            &[],
            &v(&["C:\\Apps\\TICDemo.exe"]),
            "ticdemo"
        ));
        assert!(!names_program(
            &v(&["xterm"]),
            &v(&["/usr/bin/xterm"]),
            "xeyes"
        ));
        assert!(!names_program(&[], &[], "xeyes"));
    }

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
