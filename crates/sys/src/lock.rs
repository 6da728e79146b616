//! `flock` locks, as runit takes them on `supervise/lock` and svlogd's
//! `lock`: the file opened write-only, append, non-blocking, created 0600.
//! flock (not fcntl) so a stock runit and ours exclude each other.

use crate::errno::{cvt, cvt_retry, Errno};
use crate::fd::Fd;
use std::ffi::CStr;

/// Opens (creating 0600) a lock file the way runit does.
pub fn open_lockfile(path: &CStr) -> Result<Fd, Errno> {
    Fd::open(
        path,
        libc::O_WRONLY | libc::O_APPEND | libc::O_NONBLOCK | libc::O_CREAT,
        0o600,
    )
}

/// Exclusive lock, failing at once with EAGAIN if held elsewhere.
pub fn lock_exclusive_nb(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: plain syscall on a descriptor we own.
    cvt(unsafe { libc::flock(fd.raw(), libc::LOCK_EX | libc::LOCK_NB) }).map(|_| ())
}

/// Exclusive lock, waiting for it.
pub fn lock_exclusive(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: plain syscall on a descriptor we own.
    cvt_retry(|| unsafe { libc::flock(fd.raw(), libc::LOCK_EX) }).map(|_| ())
}
