//! The event loop's two mechanisms: a self-pipe that signal handlers write
//! to (the handler does one `write(2)` and nothing else), and `poll(2)`
//! with a timeout derived from a monotonic deadline. One thread, one loop.

use crate::errno::{cvt, Errno};
use crate::fd::{pipe, Fd};
use core::sync::atomic::{AtomicI32, Ordering};
use std::os::fd::RawFd;

static SELFPIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic load and one write; errno is restored
    // so the interrupted code never sees it change.
    // SAFETY: __errno_location returns the calling thread's errno slot.
    let saved = unsafe { *libc::__errno_location() };
    let fd = SELFPIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = [u8::try_from(sig).unwrap_or(0)];
        // SAFETY: b is one valid byte; a full pipe just drops the wake-up,
        // which is fine because one pending byte already wakes the loop.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// The self-pipe. Only one exists per process.
pub struct SelfPipe {
    read: Fd,
    _write: Fd,
}

impl SelfPipe {
    /// Creates the pipe (non-blocking, close-on-exec) and routes `signals`
    /// to it (SA_RESTART; SA_NOCLDSTOP so stopped children do not wake us).
    pub fn new(signals: &[i32]) -> Result<SelfPipe, Errno> {
        let (read, write) = pipe(true)?;
        SELFPIPE_WRITE.store(write.raw(), Ordering::Relaxed);
        for &sig in signals {
            catch(sig)?;
        }
        Ok(SelfPipe { read, _write: write })
    }

    pub fn fd(&self) -> RawFd {
        self.read.raw()
    }

    /// Reads every pending wake-up, calling `f` with each signal number.
    pub fn drain(&self, mut f: impl FnMut(i32)) {
        let mut buf = [0u8; 64];
        while let Ok(n) = self.read.read(&mut buf) {
            if n == 0 {
                break;
            }
            for &b in buf.iter().take(n) {
                f(i32::from(b));
            }
        }
    }
}

/// Installs the self-pipe handler for `sig`.
pub fn catch(sig: i32) -> Result<(), Errno> {
    // SAFETY: a zeroed sigaction is valid; we fill handler, mask and flags.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
    sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
    // SAFETY: sa_mask is valid memory; the handler is async-signal-safe.
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        cvt(libc::sigaction(sig, &sa, core::ptr::null_mut()))?;
    }
    Ok(())
}

/// Sets `sig` back to its default action.
pub fn uncatch(sig: i32) {
    // SAFETY: resetting a disposition to SIG_DFL is always valid.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// One descriptor to watch for input.
#[derive(Clone, Copy, Debug)]
pub struct Watch {
    pub fd: RawFd,
    pub ready: bool,
}

/// Waits until one of `watches` is readable or `timeout_ms` passes
/// (`None`: no timeout). EINTR counts as a wake-up with nothing ready.
pub fn wait(watches: &mut [Watch], timeout_ms: Option<u64>) -> Result<(), Errno> {
    let mut pfds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; 8];
    for (p, w) in pfds.iter_mut().zip(watches.iter()) {
        p.fd = w.fd;
        p.events = libc::POLLIN;
    }
    let n = watches.len().min(pfds.len());
    let timeout = match timeout_ms {
        None => -1,
        Some(ms) => i32::try_from(ms).unwrap_or(i32::MAX),
    };
    // SAFETY: pfds holds n valid pollfd entries.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, timeout) };
    if r == -1 {
        let e = Errno::last();
        if e.0 == libc::EINTR {
            return Ok(());
        }
        return Err(e);
    }
    for (p, w) in pfds.iter().zip(watches.iter_mut()) {
        w.ready = p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    }
    Ok(())
}
