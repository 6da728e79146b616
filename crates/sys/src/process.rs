//! Processes: fork/exec from a plan prepared before the fork, signals and
//! reaping. Between fork and exec the child only makes async-signal-safe
//! calls (sigaction, dup2, chdir, execve, write, _exit) and touches no heap.

use crate::errno::{cvt, Errno};
use std::ffi::{c_char, CStr, CString};
use std::os::fd::RawFd;

/// Everything a child needs, built before `fork`.
pub struct SpawnPlan<'a> {
    /// The program path passed to `execve`.
    pub path: &'a CStr,
    /// If not empty: candidate paths from [`path_candidates`], tried in
    /// order with runit's PATH rules instead of `path` (SPEC §2.6).
    pub search: &'a [CString],
    /// Start a new session first (runsvdir -P, runit's stages 2 and 3).
    pub setsid: bool,
    /// Open this terminal read-write as the controlling terminal on stdin
    /// (runit's stage 1); a failure is a warning (`console_warning`).
    pub console_stdin: Option<&'a CStr>,
    pub console_warning: &'a [&'a [u8]],
    /// A line written to stderr just before exec (runit's `enter stage`).
    pub announce: &'a [&'a [u8]],
    /// Files opened onto descriptors in the child, in order: (target fd,
    /// path, open flags, creation mode, failure message).
    pub open_files: &'a [(i32, &'a CStr, i32, u32, &'a [u8])],
    /// NUL-pointer-terminated argv.
    pub argv: &'a [*const c_char],
    /// Directory to change into first, by path or by descriptor.
    pub chdir: Option<&'a CStr>,
    pub fchdir: Option<RawFd>,
    /// Descriptor to put on stdin / stdout.
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    /// Signals to set back to their default action and then unblock.
    pub reset_signals: &'a [i32],
    /// Child-side messages (without `: ERR`), written after `msg_prefix`
    /// on failure before `_exit(111)`.
    pub msg_prefix: &'a [&'a [u8]],
    /// Pieces written after each child-side message (svlogd: the log
    /// directory's name).
    pub msg_suffix: &'a [&'a [u8]],
    pub on_chdir_fail: &'a [u8],
    pub on_dup_fail: &'a [u8],
    pub on_exec_fail: &'a [u8],
    /// If a dup fails, warn and go on instead of exiting (control scripts).
    pub dup_fail_is_warning: bool,
    /// Close stdout before exec (sv's `./check`).
    pub close_stdout: bool,
    /// The child's exit code when a step fails (runit: 111; sv's check: 0).
    pub fail_code: i32,
}

impl<'a> SpawnPlan<'a> {
    /// Exec `path` with `argv`, changing nothing else; failures exit 111
    /// silently. Callers set what differs with struct update syntax.
    pub fn new(path: &'a CStr, argv: &'a [*const c_char]) -> SpawnPlan<'a> {
        SpawnPlan {
            path,
            search: &[],
            setsid: false,
            console_stdin: None,
            console_warning: &[],
            announce: &[],
            open_files: &[],
            argv,
            chdir: None,
            fchdir: None,
            stdin: None,
            stdout: None,
            reset_signals: &[],
            msg_prefix: &[],
            msg_suffix: &[],
            on_chdir_fail: b"",
            on_dup_fail: b"",
            on_exec_fail: b"",
            dup_fail_is_warning: false,
            close_stdout: false,
            fail_code: 111,
        }
    }
}

extern "C" {
    static environ: *const *const c_char;
}

fn child_fail(plan: &SpawnPlan<'_>, msg: &[u8], e: Errno) -> ! {
    crate::msg::lines_of(&[plan.msg_prefix, &[msg], plan.msg_suffix], Some(e));
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(plan.fail_code) }
}

/// Forks and execs `plan`; returns the child's pid.
pub fn spawn(plan: &SpawnPlan<'_>) -> Result<u32, Errno> {
    // SAFETY: the child below only makes async-signal-safe calls on memory
    // prepared before the fork, so other threads (svlogd's worker) do not
    // matter.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(Errno::last());
    }
    if pid == 0 {
        // SAFETY (whole block): async-signal-safe calls on prepared data.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &sig in plan.reset_signals {
                libc::signal(sig, libc::SIG_DFL);
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, core::ptr::null_mut());
            if let Some(fd) = plan.stdin {
                if libc::dup2(fd, 0) == -1 {
                    child_fail(plan, plan.on_dup_fail, Errno::last());
                }
            }
            if let Some(fd) = plan.stdout {
                if libc::dup2(fd, 1) == -1 {
                    let e = Errno::last();
                    if plan.dup_fail_is_warning {
                        crate::msg::lines_of(
                            &[plan.msg_prefix, &[plan.on_dup_fail], plan.msg_suffix],
                            Some(e),
                        );
                    } else {
                        child_fail(plan, plan.on_dup_fail, e);
                    }
                }
            }
            if plan.close_stdout {
                libc::close(1);
            }
            if let Some(dir) = plan.chdir {
                if libc::chdir(dir.as_ptr()) == -1 {
                    child_fail(plan, plan.on_chdir_fail, Errno::last());
                }
            }
            if let Some(fd) = plan.fchdir {
                if libc::fchdir(fd) == -1 {
                    child_fail(plan, plan.on_chdir_fail, Errno::last());
                }
            }
            if plan.setsid {
                libc::setsid();
            }
            if let Some(tty) = plan.console_stdin {
                let fd = libc::open(tty.as_ptr(), libc::O_RDWR);
                if fd == -1 {
                    crate::msg::line(plan.console_warning, Some(Errno::last()));
                } else {
                    libc::ioctl(fd, libc::TIOCSCTTY, 0);
                    libc::dup2(fd, 0);
                    if fd != 0 {
                        libc::close(fd);
                    }
                }
            }
            for &(target, path, flags, mode, fail) in plan.open_files {
                let fd = libc::open(path.as_ptr(), flags, mode);
                if fd == -1 {
                    child_fail(plan, fail, Errno::last());
                }
                if fd != target {
                    if libc::dup2(fd, target) == -1 {
                        child_fail(plan, plan.on_dup_fail, Errno::last());
                    }
                    libc::close(fd);
                }
            }
            if !plan.announce.is_empty() {
                crate::msg::line(plan.announce, None);
            }
            if plan.search.is_empty() {
                libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), environ);
                child_fail(plan, plan.on_exec_fail, Errno::last());
            }
            let e = exec_candidates(plan.search, plan.argv.as_ptr(), environ);
            child_fail(plan, plan.on_exec_fail, e);
        }
    }
    Ok(u32::try_from(pid).unwrap_or(0))
}

/// The paths to try for `name` (SPEC §2.6): the name itself if it holds a
/// `/`, else each element of this process's `$PATH` (default
/// `/bin:/usr/bin`; an empty element is the current directory) joined
/// with it. Built before a fork, tried in the child.
pub fn path_candidates(name: &[u8]) -> Vec<CString> {
    if name.contains(&b'/') {
        return CString::new(name).into_iter().collect();
    }
    let path = std::env::var_os("PATH");
    let path = path.as_ref().map_or(&b"/bin:/usr/bin"[..], |p| {
        use std::os::unix::ffi::OsStrExt;
        p.as_bytes()
    });
    path.split(|&b| b == b':')
        .filter_map(|dir| {
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(name);
            CString::new(full).ok()
        })
        .collect()
}

/// Replaces this process (no fork), trying `candidates` with runit's PATH
/// rules; returns the error to report if every one failed. `argv` and
/// `envp` are NUL-pointer-terminated.
pub fn exec(candidates: &[CString], argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    exec_candidates(candidates, argv.as_ptr(), envp.as_ptr())
}

/// runit's PATH rules over prepared candidates (SPEC §2.6): ENOENT moves
/// on; EACCES, EPERM and EISDIR are remembered and move on; anything else
/// stops. Returns the remembered error if any, else the last. Allocates
/// nothing, so a forked child may use it.
fn exec_candidates(
    candidates: &[CString],
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> Errno {
    let mut remembered: Option<Errno> = None;
    let mut last = Errno(libc::ENOENT);
    for candidate in candidates {
        // SAFETY: the caller's argv and envp are NUL-terminated arrays that
        // outlive the call; candidate is NUL-terminated.
        unsafe { libc::execve(candidate.as_ptr(), argv, envp) };
        last = Errno::last();
        match last.0 {
            libc::ENOENT => {}
            libc::EACCES | libc::EPERM | libc::EISDIR => remembered = Some(last),
            _ => break,
        }
    }
    remembered.unwrap_or(last)
}

/// Reaps one exited child without blocking: `Some((pid, raw_status))`.
pub fn reap_one() -> Option<(u32, i32)> {
    let mut status = 0;
    // SAFETY: status is valid writable memory.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    Some((u32::try_from(pid).unwrap_or(0), status))
}

/// Waits for one child to exit (retrying on EINTR); its raw wait status.
pub fn wait_pid(pid: u32) -> Result<i32, Errno> {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Err(Errno(libc::ECHILD));
    };
    let mut status = 0;
    // SAFETY: status is valid writable memory.
    crate::errno::cvt_retry(|| unsafe { libc::waitpid(p, &mut status, 0) })?;
    Ok(status)
}

/// Sends `sig` to the single process `pid` (never to a group: 0 is refused).
pub fn kill(pid: u32, sig: i32) -> Result<(), Errno> {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Err(Errno(libc::ESRCH));
    };
    if p <= 0 {
        return Err(Errno(libc::ESRCH));
    }
    // SAFETY: plain syscall.
    cvt(unsafe { libc::kill(p, sig) }).map(|_| ())
}

/// The arguments of a program started through a C `main`.
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
}

impl Args {
    /// Wraps the `argc`/`argv` the C runtime passed to `main`.
    ///
    /// # Safety
    /// `argv` must point to `argc` valid NUL-terminated strings that live
    /// for the whole program (as the C runtime guarantees for `main`).
    pub unsafe fn from_main(argc: i32, argv: *const *const c_char) -> Args {
        Args {
            argc: usize::try_from(argc).unwrap_or(0),
            argv,
        }
    }

    pub fn len(&self) -> usize {
        self.argc
    }

    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` as a C string, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.argc || self.argv.is_null() {
            return None;
        }
        // SAFETY: i < argc and argv holds argc valid strings for the
        // program's lifetime (contract of from_main).
        unsafe {
            let p = *self.argv.add(i);
            if p.is_null() {
                None
            } else {
                Some(CStr::from_ptr(p))
            }
        }
    }
}

/// Waits for any child (blocking); its pid and raw status.
pub fn wait_pid_any() -> Result<(u32, i32), Errno> {
    let mut status = 0;
    // SAFETY: status is valid writable memory.
    let pid = crate::errno::cvt_retry(|| unsafe { libc::waitpid(-1, &mut status, 0) })?;
    Ok((u32::try_from(pid).unwrap_or(0), status))
}

/// `fork(2)` for a child that runs Rust code and ends with [`exit_now`]:
/// `Some(0)` in the child, `Some(pid)` in the parent, `None` on failure.
pub fn fork_child() -> Option<u32> {
    // SAFETY: callers are single-threaded; the child only makes plain
    // syscalls before exit_now.
    let pid = unsafe { libc::fork() };
    u32::try_from(pid).ok()
}

/// `_exit(2)`: no atexit handlers, no flushing.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns.
    unsafe { libc::_exit(code) }
}
