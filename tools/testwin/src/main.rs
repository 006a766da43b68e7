//! `txcr-testwin`: a real X11 window with known content, for capture tests and
//! the headless demo.
//!
//! It paints the test pattern (colour bars over the whole window, a bar that
//! sweeps once per second, and the milliseconds since start as a row of
//! black/white 16 px cells along the top, readable with
//! `txcr_capture::decode_stamp`) about 30 times per second, following resizes.
//! With `--solid RRGGBB` it paints one colour instead (a window to cover
//! another with); with `--scene document|slides|clock|whiteboard` the grey
//! scenes of `txcr_capture::Scene` (for benchmarks). Only the rectangle in
//! which a frame differs from what the window shows is painted (into a pixmap,
//! then onto the window in one request), as a real application repaints only
//! what changed; all of it after an Expose or a resize. It prints its window id (decimal) on stdout, sets
//! `_NET_WM_PID`, and exits when its window is destroyed or on SIGTERM.
//!
//! `txcr-testwin [--size WxH] [--pos X,Y] [--solid RRGGBB] [--title T] [--fps N] [--scene S]`

#[cfg(target_os = "linux")]
mod app;
#[cfg(target_os = "linux")]
mod compare;

#[cfg(target_os = "linux")]
fn main() {
    if let Err(e) = app::run(std::env::args().skip(1).collect()) {
        eprintln!("txcr-testwin: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("txcr-testwin needs X11 (Linux)");
    std::process::exit(1);
}
