//! A process-wide memory setting a recording process wants.

/// Decline transparent huge pages for this process (Linux; elsewhere
/// nothing). Call it once, first thing in `main`, in a process that records:
/// it applies to the whole process and to the programs it starts.
///
/// Why: libx264 asks for huge pages for each of its large buffers
/// (`madvise(MADV_HUGEPAGE)` in its allocator, to save TLB misses), and
/// where the kernel grants them (`transparent_hugepage` set to `madvise`,
/// Debian's default, or `always`) a buffer touched anywhere costs a whole
/// 2 MiB page, often one of four in a buffer of which x264 uses a sliver.
/// Measured with `cargo xtask bench 20 --only "1920x1080@15 document+audio"`,
/// two runs each, side by side: peak RSS 64.4/64.3 MiB with them, 58.0/57.6
/// without; CPU 0.163/0.179 with, 0.168/0.172 without (no difference beyond
/// the runs' spread). Best effort: a refusal changes nothing.
pub fn decline_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and affects only this
    // process's future page faults.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
