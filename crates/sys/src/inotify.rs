//! inotify, for clients that wait on a supervisor's files instead of
//! polling them (sv -w). A close-on-exec, non-blocking descriptor; events
//! are only wake-ups, their contents are drained and dropped.

use crate::errno::{cvt, Errno};
use crate::fd::Fd;
use std::ffi::CStr;
use std::os::fd::RawFd;

/// A file was renamed into a watched directory.
pub const MOVED_TO: u32 = libc::IN_MOVED_TO;
/// A file opened for writing was closed (also when its writer exits).
pub const CLOSE_WRITE: u32 = libc::IN_CLOSE_WRITE;
/// Entries of a watched directory appeared, vanished or were renamed, or
/// the directory itself went away. (Not attribute changes: like runit,
/// runsvdir does not react to a chmod alone.)
pub const ENTRIES: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

pub struct Inotify {
    fd: Fd,
}

impl Inotify {
    pub fn new() -> Result<Inotify, Errno> {
        // SAFETY: plain syscall.
        let fd = cvt(unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) })?;
        Ok(Inotify {
            fd: Fd::from_raw(fd),
        })
    }

    /// Watches `path` (following symlinks) for `mask`.
    pub fn watch(&self, path: &CStr, mask: u32) -> Result<i32, Errno> {
        // SAFETY: path is NUL-terminated.
        cvt(unsafe { libc::inotify_add_watch(self.fd.raw(), path.as_ptr(), mask) })
    }

    /// Stops watching `wd` (errors mean it is already gone).
    pub fn unwatch(&self, wd: i32) {
        // SAFETY: plain syscall.
        unsafe { libc::inotify_rm_watch(self.fd.raw(), wd) };
    }

    pub fn fd(&self) -> RawFd {
        self.fd.raw()
    }

    /// Reads every pending event; true if `wanted(mask, name)` held for one.
    pub fn drain(&self, mut wanted: impl FnMut(u32, &[u8]) -> bool) -> bool {
        // struct inotify_event: wd (4), mask (4), cookie (4), len (4), name[len].
        const HEAD: usize = 16;
        let mut buf = [0u8; 4096];
        let mut hit = false;
        while let Ok(n) = self.fd.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut off = 0;
            while let Some(head) = buf.get(off..off + HEAD) {
                if off >= n {
                    break;
                }
                let word = |i: usize| {
                    let b = head
                        .get(i..i + 4)
                        .and_then(|s| <[u8; 4]>::try_from(s).ok())
                        .unwrap_or([0; 4]);
                    u32::from_ne_bytes(b)
                };
                let (mask, len) = (word(4), word(12) as usize);
                let name = buf.get(off + HEAD..off + HEAD + len).unwrap_or(&[]);
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                hit |= wanted(mask, name);
                off += HEAD + len;
            }
        }
        hit
    }
}

impl Inotify {
    /// Closes the descriptor without making the caller wait. The last close
    /// of an inotify instance waits for an SRCU grace period (measured at
    /// about 4.5 ms here), which would double `sv -w`'s latency. So a
    /// forked child holds the last reference until we have exited (it
    /// reads EOF on a pipe then), and pays that wait with nobody watching.
    /// Falls back to a plain close if the pipe or the fork fails.
    pub fn close_detached(self) {
        let Ok((r, w)) = crate::fd::pipe(false) else {
            return;
        };
        let keep = [self.fd.raw(), r.raw()];
        // SAFETY: the process is single-threaded; the child only makes
        // async-signal-safe calls (close_range, read, _exit).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY (whole block): plain syscalls on integers, then _exit.
            unsafe {
                let (lo, hi) = (keep[0].min(keep[1]), keep[0].max(keep[1]));
                if lo > 0 {
                    libc::syscall(libc::SYS_close_range, 0u32, (lo - 1) as u32, 0u32);
                }
                if hi - lo > 1 {
                    libc::syscall(
                        libc::SYS_close_range,
                        (lo + 1) as u32,
                        (hi - 1) as u32,
                        0u32,
                    );
                }
                libc::syscall(libc::SYS_close_range, (hi + 1) as u32, u32::MAX, 0u32);
                let mut b = [0u8; 1];
                while libc::read(r.raw(), b.as_mut_ptr().cast(), 1) == -1
                    && *libc::__errno_location() == libc::EINTR
                {}
                libc::_exit(0);
            }
        }
        drop(r);
        drop(self);
        // The write end stays open until this process exits.
        core::mem::forget(w);
    }
}
