//! Keeping the process's resident memory small with glibc's allocator.
//!
//! glibc gives every thread that allocates its own arena (up to 8 per core), and freed memory in
//! them is rarely returned to the kernel. A mostly idle server with short bursts of start-up
//! work ends up holding several MiB it no longer uses. Two arenas are plenty for a runtime with
//! one worker thread per core, and trimming once start-up is over hands the rest back.

/// Limits malloc arenas; call first thing in `main`, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap memory to the kernel; call once start-up work is done.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory the allocator holds unused.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims now and once more when the first passes of controllers and caches have settled.
pub fn trim_after_startup() {
    trim();
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        trim();
    });
}
