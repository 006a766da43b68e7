//! The recording threads' priority, and its other side: the threads that must
//! answer while a recording runs.

/// Nice value of the capture and encode threads (and x264's): when the CPU is
/// short, the lesson's own programs and this service's API go first. A frame
/// that cannot be grabbed in time is counted as dropped, never queued up.
#[cfg(target_os = "linux")]
const RECORDING_NICE: i32 = 5;

/// The time slice asked for by threads that answer requests: the shortest
/// the kernel allows (0.1 ms).
#[cfg(target_os = "linux")]
const PROMPT_SLICE_NS: u64 = 100_000;

/// Lower the calling thread's priority to [`RECORDING_NICE`] (Linux nice
/// values are per thread), with the kernel's default time slice: a thread
/// inherits its creator's slice, and recording threads are started from API
/// threads that asked for short ones ([`answer_promptly`]). Best effort: a
/// refusal leaves it as it was.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    set_attr(RECORDING_NICE, 0);
}

/// Ask the scheduler to run the calling thread as soon as it wakes, for a
/// thread that answers requests (an API worker) while a recording keeps both
/// cores busy. A lower nice value alone does not do it: Linux's EEVDF
/// scheduler (6.6 and later) lets a waking thread wait out the running one's
/// slice, about 3 ms, so one `GetState` in a hundred took that long while
/// x264 ran. Since Linux 6.12 a normal thread may ask for a shorter slice
/// (`sched_setattr` with `sched_runtime`, the "slice" of `SCHED_OTHER`), and
/// a thread with a shorter slice has the earlier deadline and preempts at
/// wake-up. Its share of the CPU is unchanged (that is the nice value's), so
/// this takes nothing from the lesson's programs. Best effort: older kernels
/// ignore the value or refuse it, and the thread stays as it was; other
/// systems are left alone.
pub fn answer_promptly() {
    #[cfg(target_os = "linux")]
    set_attr(0, PROMPT_SLICE_NS);
}

/// `sched_setattr` for the calling thread: `SCHED_OTHER` at `nice`, with a
/// time slice of `slice_ns` (0: the kernel's default).
#[cfg(target_os = "linux")]
fn set_attr(nice: i32, slice_ns: u64) {
    // SAFETY: the kernel reads `size` bytes from the pointer, which points at
    // a live `sched_attr` of that size, and applies it to the calling thread
    // (pid 0); every field not set is zero, a valid SCHED_OTHER request.
    unsafe {
        let mut attr: libc::sched_attr = std::mem::zeroed();
        attr.size = std::mem::size_of::<libc::sched_attr>() as u32;
        attr.sched_policy = libc::SCHED_OTHER as u32;
        attr.sched_nice = nice;
        attr.sched_runtime = slice_ns;
        if libc::syscall(
            libc::SYS_sched_setattr,
            0,
            &attr as *const libc::sched_attr,
            0,
        ) != 0
        {
            // A kernel without sched_setattr: the nice value alone.
            libc::setpriority(libc::PRIO_PROCESS, 0, nice);
        }
    }
}
