//! The recording threads' priority.

/// Nice value of the capture and encode threads (and x264's): when the CPU is
/// short, the lesson's own programs and this service's API go first. A frame
/// that cannot be grabbed in time is counted as dropped, never queued up.
#[cfg(target_os = "linux")]
const RECORDING_NICE: i32 = 5;

/// Lower the calling thread's priority to [`RECORDING_NICE`] (Linux nice
/// values are per thread). Best effort: a refusal leaves it as it was.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) with a plain value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, RECORDING_NICE);
    }
}
