//! Process state that chpst changes before exec: credentials (in the safe
//! order setgroups, setgid, setuid — each a separate call so the caller
//! stops at the first failure), session, nice level, root directory and
//! resource limits.

use crate::errno::{cvt, Errno};
use std::ffi::CStr;

/// `setgroups(2)` with exactly these groups.
pub fn setgroups(gids: &[u32]) -> Result<(), Errno> {
    let list: Vec<libc::gid_t> = gids.to_vec();
    // SAFETY: list is valid for list.len() entries.
    cvt(unsafe { libc::setgroups(list.len(), list.as_ptr()) }).map(|_| ())
}

pub fn setgid(gid: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall (process-wide through libc).
    cvt(unsafe { libc::setgid(gid) }).map(|_| ())
}

pub fn setuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall (process-wide through libc).
    cvt(unsafe { libc::setuid(uid) }).map(|_| ())
}

/// `setsid(2)`; the result is ignored by its callers, as in runit.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::setsid() }).map(|_| ())
}

/// `nice(2)`: -1 is an error only if errno was set.
pub fn nice(inc: i32) -> Result<(), Errno> {
    // SAFETY: errno is cleared so a legitimate -1 can be told apart.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: plain call.
    let r = unsafe { libc::nice(inc) };
    let e = Errno::last();
    if r == -1 && e.0 != 0 {
        return Err(e);
    }
    Ok(())
}

/// `chroot(2)`.
pub fn chroot(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::chroot(path.as_ptr()) }).map(|_| ())
}

/// Closes a standard descriptor (chpst -0/-1/-2).
pub fn close_fd(fd: i32) -> Result<(), Errno> {
    // SAFETY: closing a descriptor number the caller names.
    cvt(unsafe { libc::close(fd) }).map(|_| ())
}

/// The resources chpst and softlimit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Data,
    Stack,
    Memlock,
    As,
    Nofile,
    Nproc,
    Fsize,
    Core,
    Rss,
    Cpu,
}

#[cfg(target_env = "gnu")]
type RawResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type RawResource = libc::c_int;

impl Resource {
    fn raw(self) -> RawResource {
        match self {
            Resource::Data => libc::RLIMIT_DATA,
            Resource::Stack => libc::RLIMIT_STACK,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::As => libc::RLIMIT_AS,
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::Cpu => libc::RLIMIT_CPU,
        }
    }
}

/// Which call failed while setting a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    Get(Errno),
    Set(Errno),
}

/// Sets the soft limit to `value` (`None`: to the hard limit), never above
/// the hard limit, which is left unchanged.
pub fn soft_limit(res: Resource, value: Option<u64>) -> Result<(), LimitError> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: rl is valid writable memory.
    cvt(unsafe { libc::getrlimit(res.raw(), &mut rl) }).map_err(LimitError::Get)?;
    let want = value.map_or(rl.rlim_max, |v| v as libc::rlim_t);
    rl.rlim_cur = if rl.rlim_max != libc::RLIM_INFINITY && want > rl.rlim_max {
        rl.rlim_max
    } else {
        want
    };
    // SAFETY: rl is a valid rlimit.
    cvt(unsafe { libc::setrlimit(res.raw(), &rl) }).map_err(LimitError::Set)?;
    Ok(())
}

/// How the machine ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reboot {
    Restart,
    PowerOff,
    Halt,
    /// Ctrl-Alt-Del sends SIGINT to PID 1 instead of rebooting at once.
    DisableCad,
}

/// `reboot(2)`.
pub fn reboot(how: Reboot) -> Result<(), Errno> {
    let cmd = match how {
        Reboot::Restart => libc::RB_AUTOBOOT,
        Reboot::PowerOff => libc::RB_POWER_OFF,
        Reboot::Halt => libc::RB_HALT_SYSTEM,
        Reboot::DisableCad => libc::RB_DISABLE_CAD,
    };
    // SAFETY: plain syscall.
    cvt(unsafe { libc::reboot(cmd) }).map(|_| ())
}

/// `sync(2)`.
pub fn sync() {
    // SAFETY: plain syscall.
    unsafe { libc::sync() };
}

/// `getpid(2)`.
pub fn getpid() -> u32 {
    // SAFETY: plain syscall.
    u32::try_from(unsafe { libc::getpid() }).unwrap_or(0)
}

/// `chmod(2)`.
pub fn chmod(path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode) }).map(|_| ())
}

/// `kill(-1, sig)`: every process but ourselves (runit after stage 3).
pub fn kill_all(sig: i32) {
    // SAFETY: plain syscall.
    unsafe { libc::kill(-1, sig) };
}

/// `kill(-pgid, sig)`: a whole process group.
pub fn kill_group(pgid: u32, sig: i32) {
    if let Ok(p) = libc::pid_t::try_from(pgid) {
        if p > 1 {
            // SAFETY: plain syscall.
            unsafe { libc::kill(-p, sig) };
        }
    }
}
