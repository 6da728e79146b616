//! The event loop's two mechanisms: a self-pipe that signal handlers write
//! to (the handler does one `write(2)` and nothing else), and `ppoll(2)`
//! with a timeout derived from a monotonic deadline. One thread, one loop.
//!
//! As in runit, the handled signals stay blocked except while the loop
//! waits: `ppoll` atomically unblocks them, so a handler only ever runs
//! there, and a child forked outside the wait cannot run the parent's
//! handler before it resets its dispositions (see `process::SpawnPlan`).

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
    /// The mask to wait with: the inherited one minus the handled signals.
    wait_mask: libc::sigset_t,
    /// The handled signals.
    handled: libc::sigset_t,
}

impl SelfPipe {
    /// Creates the pipe (non-blocking, close-on-exec) and routes `signals`
    /// to it (SA_RESTART; SA_NOCLDSTOP so stopped children do not wake us).
    /// The signals are blocked from here on, except inside [`SelfPipe::wait`].
    pub fn new(signals: &[i32]) -> Result<SelfPipe, Errno> {
        let (read, write) = pipe(true)?;
        SELFPIPE_WRITE.store(write.raw(), Ordering::Relaxed);
        // SAFETY: sigset_t values are plain data initialised by sigemptyset
        // and filled by sigprocmask before use.
        let (mut set, mut old): (libc::sigset_t, libc::sigset_t) = unsafe { core::mem::zeroed() };
        // SAFETY: set and old are valid sigset_t memory.
        unsafe {
            libc::sigemptyset(&mut set);
            for &sig in signals {
                libc::sigaddset(&mut set, sig);
            }
            cvt(libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old))?;
        }
        let mut wait_mask = old;
        for &sig in signals {
            // SAFETY: wait_mask is a valid, initialised sigset_t.
            unsafe { libc::sigdelset(&mut wait_mask, sig) };
            catch(sig)?;
        }
        Ok(SelfPipe {
            read,
            _write: write,
            wait_mask,
            handled: set,
        })
    }

    /// Takes the handled signals that are pending right now (without
    /// waiting), calling `f` with each. A `ppoll` that finds a descriptor
    /// ready at once returns without delivering pending signals, so a loop
    /// whose input never runs dry must look for them this way.
    pub fn take_pending(&self, mut f: impl FnMut(i32)) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: handled is an initialised sigset_t; a null siginfo
            // pointer is allowed.
            let sig = unsafe { libc::sigtimedwait(&self.handled, core::ptr::null_mut(), &zero) };
            if sig <= 0 {
                return;
            }
            f(sig);
        }
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

impl SelfPipe {
    /// Waits, with the handled signals unblocked, until one of `watches`
    /// (or the self-pipe) is readable or `timeout_ms` passes (`None`: no
    /// timeout). EINTR counts as a wake-up with nothing ready.
    pub fn wait(&self, watches: &mut [Watch], timeout_ms: Option<u64>) -> Result<(), Errno> {
        wait_masked(watches, timeout_ms, Some(&self.wait_mask))
    }
}

/// Waits until one of `watches` is readable or `timeout_ms` passes, with
/// the signal mask unchanged.
pub fn wait(watches: &mut [Watch], timeout_ms: Option<u64>) -> Result<(), Errno> {
    wait_masked(watches, timeout_ms, None)
}

fn wait_masked(
    watches: &mut [Watch],
    timeout_ms: Option<u64>,
    mask: Option<&libc::sigset_t>,
) -> Result<(), Errno> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 8];
    for (p, w) in pfds.iter_mut().zip(watches.iter()) {
        p.fd = w.fd;
        p.events = libc::POLLIN;
    }
    let n = watches.len().min(pfds.len());
    let ts = timeout_ms.map(|ms| libc::timespec {
        tv_sec: (ms / 1000).min(i32::MAX as u64) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    let mask_ptr = mask.map_or(core::ptr::null(), |m| m as *const libc::sigset_t);
    // SAFETY: pfds holds n valid pollfd entries; ts and mask outlive the call.
    let r = unsafe { libc::ppoll(pfds.as_mut_ptr(), n as libc::nfds_t, ts_ptr, mask_ptr) };
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

/// Blocks `signals` for good (runit leaves some pending forever).
pub fn block(signals: &[i32]) {
    // SAFETY: set is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, core::ptr::null_mut());
    }
}
