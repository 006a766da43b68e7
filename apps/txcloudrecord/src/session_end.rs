//! Windows: the end of the user's session (log-off, shut-down, restart).
//!
//! Console control events (`CTRL_LOGOFF_EVENT`, `CTRL_SHUTDOWN_EVENT`) reach
//! services and console programs only; an interactive GUI-subsystem program,
//! as the service is, learns of the session's end from the window messages
//! `WM_QUERYENDSESSION` and `WM_ENDSESSION` sent to its top-level windows, and
//! is ended soon after it has answered `WM_ENDSESSION`. So a hidden top-level
//! window, on a thread of its own, receives them: `WM_QUERYENDSESSION` is
//! answered "yes" (a recorder never holds up a shut-down), and on
//! `WM_ENDSESSION` the service is told to stop, and the answer waits a few
//! seconds (what Windows allows before it ends the process anyway) while the
//! current slice is finished; the process normally leaves before that.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, GetWindowLongPtrW,
    RegisterClassW, SetWindowLongPtrW, GWLP_USERDATA, MSG, WM_ENDSESSION, WM_QUERYENDSESSION,
    WNDCLASSW, WS_OVERLAPPED,
};

/// How long the answer to `WM_ENDSESSION` may wait for the slice.
const FINISH_WITHIN: Duration = Duration::from_secs(4);

/// Start watching for the end of the session; `notified()` on the result
/// fires when it comes. Best effort: without the window only console events
/// are seen.
pub fn watch() -> Arc<Notify> {
    let ending = Arc::new(Notify::new());
    let for_window = ending.clone();
    let started = std::thread::Builder::new()
        .name("txcr-session".into())
        .spawn(move || run_window(for_window));
    if let Err(e) = started {
        tracing::warn!("cannot watch for log-off and shut-down: {e}");
    }
    ending
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

fn run_window(ending: Arc<Notify>) {
    let class = wide("txcloudrecord-session");
    // SAFETY: plain Win32 calls with valid arguments: a class whose name
    // lives until the thread ends (the loop below never returns while the
    // window exists), a window of that class, and a message loop on the
    // thread that created it. The Notify pointer stored in the window stays
    // valid for the process's life (its Arc is leaked on purpose).
    unsafe {
        let instance = GetModuleHandleW(std::ptr::null());
        let wc = WNDCLASSW {
            style: 0,
            lpfnWndProc: Some(window_proc),
            cbClsExtra: 0,
            cbWndExtra: 0,
            hInstance: instance,
            hIcon: std::ptr::null_mut(),
            hCursor: std::ptr::null_mut(),
            hbrBackground: std::ptr::null_mut(),
            lpszMenuName: std::ptr::null(),
            lpszClassName: class.as_ptr(),
        };
        if RegisterClassW(&wc) == 0 {
            tracing::warn!("cannot watch for log-off and shut-down: RegisterClassW failed");
            return;
        }
        // A top-level window (not message-only: those get no session messages), never shown.
        let hwnd = CreateWindowExW(
            0,
            class.as_ptr(),
            class.as_ptr(),
            WS_OVERLAPPED,
            0,
            0,
            0,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        );
        if hwnd.is_null() {
            tracing::warn!("cannot watch for log-off and shut-down: CreateWindowExW failed");
            return;
        }
        SetWindowLongPtrW(hwnd, GWLP_USERDATA, Arc::into_raw(ending) as isize);
        let mut msg: MSG = std::mem::zeroed();
        while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
            DispatchMessageW(&msg);
        }
    }
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        WM_QUERYENDSESSION => 1,
        WM_ENDSESSION if wparam != 0 => {
            // SAFETY: the pointer was stored by run_window from a leaked Arc
            // (or is 0 before that, and then nothing is notified).
            let ending = unsafe { GetWindowLongPtrW(hwnd, GWLP_USERDATA) } as *const Notify;
            // SAFETY: non-null pointers point at the leaked, live Notify.
            if let Some(ending) = unsafe { ending.as_ref() } {
                ending.notify_one();
                std::thread::sleep(FINISH_WITHIN);
            }
            0
        }
        // SAFETY: the default handling of every other message.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}
