//! runsv: supervises one service (and its log service) and exposes it
//! through `supervise/` (SPEC §6).
//!
//! Reads top to bottom: usage, start-up in runit's order (self-pipe, chdir,
//! log check and pipe, `supervise/` and its locks, FIFOs, first status),
//! then the poll loop. The decisions live in `runit_core::supervise`; this
//! file turns them into processes and files and words every message the
//! way runit does. Nothing here sleeps: the restart throttle and the fork
//! back-off are deadlines, control scripts are children of the loop.

use runit_core::layout::{self, Which};
use runit_core::status::{StatLine, Status};
use runit_core::supervise::{Effects, Event, Outcome, Program, Signal, Supervisor};
use runit_core::tai64n::Tai64n;
use runit_sys::atomic::{self, write_atomic, AtomicError, Placed, WriteErrors};
use runit_sys::event::{self, SelfPipe, Watch};
use runit_sys::fs::{self, Kind};
use runit_sys::msg::{fmt_i64, line, line2, lines_of};
use runit_sys::process::{self, Args, SpawnPlan};
use runit_sys::{c, clock, lock, Errno, Fd};
use std::ffi::{c_char, CStr};

const EXIT_USAGE: i32 = 1;
const EXIT_FATAL: i32 = 111;

/// `runsv dir`.
pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"runsv"[..], CStr::to_bytes);
    let (Some(dir), 2) = (args.get(1), args.len()) else {
        line(&[b"usage: ", argv0, b" dir\n"], None);
        return EXIT_USAGE;
    };
    let prefix = Prefix {
        dir: dir.to_bytes(),
        cdir: dir,
    };
    match Runsv::start(prefix) {
        Ok(mut r) => {
            let code = r.run();
            r.io.cleanup();
            code
        }
        Err(code) => code,
    }
}

/// `runsv DIR: ` and the message shapes built on it. runsv allocates
/// nothing: messages are joined from pieces in one stack buffer, and the
/// directory is the argv string itself.
#[derive(Clone, Copy)]
struct Prefix {
    dir: &'static [u8],
    cdir: &'static CStr,
}

impl Prefix {
    fn pieces(&self) -> [&'static [u8]; 3] {
        [b"runsv ", self.dir, b": "]
    }

    fn fatal(&self, what: &str, e: Option<Errno>) -> i32 {
        line2(&self.pieces(), &[b"fatal: ", what.as_bytes()], e);
        EXIT_FATAL
    }

    fn warn(&self, pieces: &[&[u8]], e: Option<Errno>) {
        lines_of(&[&self.pieces(), &[b"warning: "], pieces], e);
    }
}

/// Prebuilt spawn data for one program (path, cwd and failure messages).
struct Prepared {
    path: &'static CStr,
    chdir: Option<&'static CStr>,
    on_chdir_fail: &'static [u8],
    on_dup_fail: &'static [u8],
    on_exec_fail: &'static [u8],
}

struct Runsv {
    selfpipe: SelfPipe,
    control: Fd,
    _control_w: Fd,
    log_control: Option<(Fd, Fd)>,
    _lock: Fd,
    _log_lock: Option<Fd>,
    _ok: Fd,
    _log_ok: Option<Fd>,
    io: Io,
    sup: Supervisor,
    /// SIGTERM arrived while the main service was busy with a script.
    term_pending: bool,
}

/// The effects half: spawns, signals, status files.
struct Io {
    p: Prefix,
    has_log: bool,
    logpipe: Option<(Fd, Fd)>,
    /// Bits of the `.new` files to remove (see `cleanup`).
    cleanup_due: u8,
    run: Prepared,
    finish: Prepared,
    log_run: Prepared,
    control: Prepared,
}

const SIG_HANDLED: [i32; 2] = [c::SIGCHLD, c::SIGTERM];

impl Runsv {
    fn start(p: Prefix) -> Result<Runsv, i32> {
        let selfpipe = SelfPipe::new(&SIG_HANDLED)
            .map_err(|e| p.fatal("unable to create selfpipe", Some(e)))?;
        fs::chdir(p.cdir).map_err(|e| p.fatal("unable to change to directory", Some(e)))?;
        let (stamp, mono) = now();
        let main_down = fs::stat(c"down").is_ok();

        let has_log = match fs::stat(c"log") {
            Ok(m) if m.kind == Kind::Dir => true,
            Ok(_) => {
                p.warn(&[b"./log: not a directory."], None);
                false
            }
            Err(Errno(c::ENOENT)) => false,
            Err(e) => {
                p.warn(&[b"unable to stat() ./log: "], Some(e));
                false
            }
        };
        let log_down = has_log.then(|| fs::stat(c"log/down").is_ok());
        let mut sup = Supervisor::new(main_down, log_down, stamp, mono);
        let logpipe = if has_log {
            Some(
                runit_sys::fd::pipe(false)
                    .map_err(|e| p.fatal("unable to create log pipe", Some(e)))?,
            )
        } else {
            None
        };

        make_supervise(&p, Which::Main)?;
        let lock = lock::open_lockfile(c"supervise/lock")
            .map_err(|e| p.fatal("unable to open supervise/lock", Some(e)))?;
        lock::lock_exclusive_nb(&lock)
            .map_err(|e| p.fatal("unable to lock supervise/lock", Some(e)))?;

        let log_lock = if has_log {
            make_supervise(&p, Which::Log)?;
            let l = lock::open_lockfile(c"log/supervise/lock")
                .map_err(|e| p.fatal("unable to open log/supervise/lock", Some(e)))?;
            lock::lock_exclusive(&l)
                .map_err(|e| p.fatal("unable to lock log/supervise/lock", Some(e)))?;
            Some(l)
        } else {
            None
        };

        let io = Io {
            p,
            has_log,
            logpipe,
            cleanup_due: 0,
            run: Prepared {
                path: c"./run",
                chdir: None,
                on_chdir_fail: b"",
                on_dup_fail: b"fatal: unable to setup filedescriptor for ./run",
                on_exec_fail: b"fatal: unable to start ./run",
            },
            finish: Prepared {
                path: c"./finish",
                chdir: None,
                on_chdir_fail: b"",
                on_dup_fail: b"fatal: unable to setup filedescriptor for ./run",
                on_exec_fail: b"fatal: unable to start ./finish",
            },
            log_run: Prepared {
                path: c"./run",
                chdir: Some(c"./log"),
                on_chdir_fail: b"fatal: unable to change directory to ./log",
                on_dup_fail: b"fatal: unable to setup filedescriptor for ./log/run",
                on_exec_fail: b"fatal: unable to start log/./run",
            },
            control: Prepared {
                path: c"control/?",
                chdir: None,
                on_chdir_fail: b"",
                on_dup_fail: b"",
                on_exec_fail: b"fatal: unable to run control/?",
            },
        };
        let mut io = io;

        let (control, control_w) = open_control(&p, Which::Main)?;
        sup.publish_status(Which::Main, &mut io);
        let log_control = if has_log {
            let c = open_control(&p, Which::Log)?;
            sup.publish_status(Which::Log, &mut io);
            Some(c)
        } else {
            None
        };
        let ok = open_ok(&p, c"supervise/ok", "unable to read supervise/ok")?;
        let log_ok = if has_log {
            Some(open_ok(
                &p,
                c"log/supervise/ok",
                "unable to read log/supervise/ok",
            )?)
        } else {
            None
        };

        Ok(Runsv {
            selfpipe,
            control,
            _control_w: control_w,
            log_control,
            _lock: lock,
            _log_lock: log_lock,
            _ok: ok,
            _log_ok: log_ok,
            io,
            sup,
            term_pending: false,
        })
    }

    /// The poll loop. Returns runsv's exit code.
    fn run(&mut self) -> i32 {
        if self.sup.handle(Event::Tick, &mut self.io) == Outcome::Exit {
            return 0;
        }
        loop {
            let main_ctl = self.sup.accepts_control(Which::Main);
            let log_ctl = self.log_control.is_some() && self.sup.accepts_control(Which::Log);
            let mut watches = [
                Watch {
                    fd: self.selfpipe.fd(),
                    ready: false,
                },
                Watch {
                    fd: if main_ctl { self.control.raw() } else { -1 },
                    ready: false,
                },
                Watch {
                    fd: match (&self.log_control, log_ctl) {
                        (Some((r, _)), true) => r.raw(),
                        _ => -1,
                    },
                    ready: false,
                },
            ];
            let timeout = if self.term_pending && main_ctl {
                Some(0) // a deferred SIGTERM can be taken now
            } else {
                self.sup
                    .next_deadline()
                    .map(|d| d.saturating_sub(clock::mono_ms()))
            };
            // ppoll errors (EINVAL/ENOMEM) are transient at worst; the next
            // round retries, with a short pause so it cannot spin.
            // Leftover `.new` files go only when nothing is waiting, so
            // their removal never delays a status update.
            if self.io.cleanup_due != 0 {
                let mut probe = watches;
                let _ = self.selfpipe.wait(&mut probe, Some(0));
                if !probe.iter().any(|w| w.ready) {
                    self.io.cleanup();
                }
            }
            if self.selfpipe.wait(&mut watches, timeout).is_err() {
                let _ = event::wait(&mut [], Some(100));
            }

            // One round, in runit's order: reap, one control byte per FIFO,
            // SIGTERM; then start what is due.
            let mut term = self.term_pending;
            self.selfpipe.drain(|sig| term |= sig == c::SIGTERM);
            while let Some((pid, ws)) = process::reap_one() {
                self.sup.feed(Event::Reaped(pid, ws), &mut self.io);
            }
            if self.sup.accepts_control(Which::Main) {
                if let Some(b) = read_byte(&self.control) {
                    self.sup.feed(Event::Control(Which::Main, b), &mut self.io);
                }
            }
            if let Some((r, _)) = &self.log_control {
                if self.sup.accepts_control(Which::Log) {
                    if let Some(b) = read_byte(r) {
                        self.sup.feed(Event::Control(Which::Log, b), &mut self.io);
                    }
                }
            }
            // SIGTERM is an `x`: like a control byte, it waits while a
            // control script holds the main service.
            self.term_pending = term && !self.sup.accepts_control(Which::Main);
            if term && !self.term_pending {
                self.sup.feed(Event::Terminate, &mut self.io);
            }
            if self.sup.pump(&mut self.io) == Outcome::Exit {
                return 0;
            }
        }
    }
}

fn now() -> (Tai64n, u64) {
    (clock::now_tai64n(), clock::mono_ms())
}

fn read_byte(fd: &Fd) -> Option<u8> {
    let mut b = [0u8; 1];
    match fd.read(&mut b) {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}

/// Step 5/7: `mkdir supervise`, or create the target of a dangling
/// symlink. The log's target is relative to `log/`, so runsv changes into
/// it for the mkdir and back, as runit does (only in that case).
fn make_supervise(p: &Prefix, which: Which) -> Result<(), i32> {
    let (path, readlink_msg) = match which {
        Which::Main => (c"supervise", "unable to readlink ./supervise"),
        Which::Log => (c"log/supervise", "unable to readlink ./log/supervise"),
    };
    if fs::mkdir(path, 0o700).is_ok() {
        return Ok(());
    }
    // One byte more than runit's 256-byte buffer, for the NUL.
    let mut buf = [0u8; 257];
    match fs::readlink(path, buf.get_mut(..256).unwrap_or(&mut [])) {
        Ok(n) if n >= 256 => {
            line2(
                &p.pieces(),
                &[b"fatal: ", readlink_msg.as_bytes(), b": name too long"],
                None,
            );
            return Err(EXIT_FATAL);
        }
        Ok(_) => {}
        Err(Errno(c::ENOENT)) | Err(Errno(c::EINVAL)) => return Ok(()),
        Err(e) => return Err(p.fatal(readlink_msg, Some(e))),
    }
    let Ok(target) = CStr::from_bytes_until_nul(&buf) else {
        return Ok(());
    };
    match which {
        Which::Main => {
            let _ = fs::mkdir(target, 0o700);
        }
        Which::Log => {
            let cwd =
                fs::open_cwd().map_err(|e| p.fatal("unable to open current directory", Some(e)))?;
            fs::chdir(c"./log")
                .map_err(|e| p.fatal("unable to change directory to ./log", Some(e)))?;
            let _ = fs::mkdir(target, 0o700);
            fs::fchdir(&cwd)
                .map_err(|e| p.fatal("unable to change back to service directory", Some(e)))?;
        }
    }
    Ok(())
}

/// Step 8/10: the control FIFO, opened for reading and writing.
fn open_control(p: &Prefix, which: Which) -> Result<(Fd, Fd), i32> {
    let (path, stat_msg, notfifo_msg, open_msg) = match which {
        Which::Main => (
            c"supervise/control",
            "unable to stat supervise/control",
            "supervise/control exists but is not a fifo",
            "unable to open supervise/control",
        ),
        Which::Log => (
            c"log/supervise/control",
            "unable to stat log/supervise/control",
            "log/supervise/control exists but is not a fifo",
            "unable to open log/supervise/control",
        ),
    };
    let _ = fs::mkfifo(path, 0o600);
    let m = fs::stat(path).map_err(|e| p.fatal(stat_msg, Some(e)))?;
    if m.kind != Kind::Fifo {
        return Err(p.fatal(notfifo_msg, None));
    }
    let r =
        Fd::open(path, c::O_RDONLY | c::O_NONBLOCK, 0).map_err(|e| p.fatal(open_msg, Some(e)))?;
    let w =
        Fd::open(path, c::O_WRONLY | c::O_NONBLOCK, 0).map_err(|e| p.fatal(open_msg, Some(e)))?;
    Ok((r, w))
}

/// Step 11: the ok FIFO, kept open for reading (sv's liveness test).
fn open_ok(p: &Prefix, path: &CStr, msg: &str) -> Result<Fd, i32> {
    let _ = fs::mkfifo(path, 0o600);
    Fd::open(path, c::O_RDONLY | c::O_NONBLOCK, 0).map_err(|e| p.fatal(msg, Some(e)))
}

fn signo(sig: Signal) -> i32 {
    match sig {
        Signal::Term => c::SIGTERM,
        Signal::Kill => c::SIGKILL,
        Signal::Stop => c::SIGSTOP,
        Signal::Cont => c::SIGCONT,
        Signal::Hup => c::SIGHUP,
        Signal::Alrm => c::SIGALRM,
        Signal::Int => c::SIGINT,
        Signal::Quit => c::SIGQUIT,
        Signal::Usr1 => c::SIGUSR1,
        Signal::Usr2 => c::SIGUSR2,
    }
}

/// Status file names for one service.
struct Names {
    pid_new: &'static CStr,
    pid: &'static CStr,
    stat_new: &'static CStr,
    stat: &'static CStr,
    status_new: &'static CStr,
    status: &'static CStr,
}

fn names(which: Which) -> Names {
    match which {
        Which::Main => Names {
            pid_new: c"supervise/pid.new",
            pid: c"supervise/pid",
            stat_new: c"supervise/stat.new",
            stat: c"supervise/stat",
            status_new: c"supervise/status.new",
            status: c"supervise/status",
        },
        Which::Log => Names {
            pid_new: c"log/supervise/pid.new",
            pid: c"log/supervise/pid",
            stat_new: c"log/supervise/stat.new",
            stat: c"log/supervise/stat",
            status_new: c"log/supervise/status.new",
            status: c"log/supervise/status",
        },
    }
}

impl Io {
    /// Remembers a `.new` file left holding an old version by an exchange.
    fn placed(&mut self, placed: Placed, bit: u8) {
        if placed == Placed::Exchanged {
            self.cleanup_due |= 1 << bit;
        }
    }

    /// Removes the `.new` files exchanges left behind (when runsv is idle,
    /// and before it exits), so `supervise/` looks as runit leaves it.
    fn cleanup(&mut self) {
        for which in [Which::Main, Which::Log] {
            let n = names(which);
            let base = if which == Which::Main { 0 } else { 3 };
            for (k, tmp) in [n.pid_new, n.stat_new, n.status_new]
                .into_iter()
                .enumerate()
            {
                if self.cleanup_due & (1 << (base + k)) != 0 {
                    atomic::cleanup(tmp);
                }
            }
        }
        self.cleanup_due = 0;
    }

    fn warn(&self, pieces: &[&[u8]], e: Option<Errno>) {
        self.p.warn(pieces, e);
    }

    /// Reports a failed atomic write of `supervise/NAME` the way runit words it.
    fn report(&self, which: Which, name: &str, e: AtomicError) {
        let (pre, name) = (which.prefix().as_bytes(), name.as_bytes());
        let t = &self.p.pieces();
        match e {
            AtomicError::Open(e) => line2(
                t,
                &[
                    b"warning: unable to open ",
                    pre,
                    b"supervise/",
                    name,
                    b".new",
                ],
                Some(e),
            ),
            AtomicError::Write(e) => line2(
                t,
                &[
                    b"warning: unable to write ",
                    pre,
                    b"supervise/",
                    name,
                    b".new",
                ],
                Some(e),
            ),
            AtomicError::PartialWrite => line2(
                t,
                &[
                    b"warning: unable to write ",
                    pre,
                    b"supervise/",
                    name,
                    b".new: partial write.",
                ],
                None,
            ),
            AtomicError::Rename(e) => line2(
                t,
                &[
                    b"warning: unable to rename ",
                    name,
                    b".new to ",
                    pre,
                    b"supervise/",
                    name,
                ],
                Some(e),
            ),
        }
    }

    /// The log pipe's write end for stdout. Once the exit logic has closed
    /// the pipe, -1: the dup then fails with runit's "file descriptor not
    /// open" rather than handing the child runsv's own stdout.
    fn stdout_pipe(&self) -> Option<i32> {
        self.has_log
            .then(|| self.logpipe.as_ref().map_or(-1, |(_, w)| w.raw()))
    }

    fn stdin_pipe(&self) -> Option<i32> {
        self.has_log
            .then(|| self.logpipe.as_ref().map_or(-1, |(r, _)| r.raw()))
    }
}

impl Effects for Io {
    fn now(&mut self) -> (Tai64n, u64) {
        now()
    }

    fn spawn(&mut self, which: Which, program: Program) -> Option<u32> {
        let mut a1 = [0u8; 25];
        let mut a2 = [0u8; 25];
        let (prep, stdin, stdout, args): (&Prepared, _, _, [*const c_char; 4]) =
            match (which, program) {
                (Which::Log, _) => (
                    &self.log_run,
                    self.stdin_pipe(),
                    None,
                    [
                        c"./run".as_ptr(),
                        core::ptr::null(),
                        core::ptr::null(),
                        core::ptr::null(),
                    ],
                ),
                (Which::Main, Program::Run) => (
                    &self.run,
                    None,
                    self.stdout_pipe(),
                    [
                        c"./run".as_ptr(),
                        core::ptr::null(),
                        core::ptr::null(),
                        core::ptr::null(),
                    ],
                ),
                (Which::Main, Program::Finish { code, low }) => {
                    cstr_num(i64::from(code), &mut a1);
                    cstr_num(i64::from(low), &mut a2);
                    (
                        &self.finish,
                        None,
                        self.stdout_pipe(),
                        [
                            c"./finish".as_ptr(),
                            a1.as_ptr().cast(),
                            a2.as_ptr().cast(),
                            core::ptr::null(),
                        ],
                    )
                }
            };
        let prefix = self.p.pieces();
        let plan = SpawnPlan {
            chdir: prep.chdir,
            stdin,
            stdout,
            reset_signals: &SIG_HANDLED,
            msg_prefix: &prefix,
            on_chdir_fail: prep.on_chdir_fail,
            on_dup_fail: prep.on_dup_fail,
            on_exec_fail: prep.on_exec_fail,
            ..SpawnPlan::new(prep.path, &args)
        };
        match process::spawn(&plan) {
            Ok(pid) => Some(pid),
            Err(e) => {
                self.warn(&[b"unable to fork, sleeping"], Some(e));
                None
            }
        }
    }

    fn signal(&mut self, pid: u32, sig: Signal) {
        let _ = process::kill(pid, signo(sig));
    }

    fn has_script(&mut self, letter: u8) -> bool {
        let path = layout::control_script(letter);
        let mut buf = [0u8; 10];
        if let Some(dst) = buf.get_mut(..9) {
            dst.copy_from_slice(&path);
        }
        let Ok(path) = CStr::from_bytes_until_nul(&buf) else {
            return false;
        };
        match fs::stat(path) {
            Ok(m) => m.mode & c::S_IXUSR != 0,
            Err(Errno(c::ENOENT)) => false,
            Err(e) => {
                self.warn(&[b"unable to stat control/", &[letter]], Some(e));
                false
            }
        }
    }

    fn run_script(&mut self, letter: u8) -> Option<u32> {
        let path_bytes = layout::control_script(letter);
        let mut buf = [0u8; 10];
        if let Some(dst) = buf.get_mut(..9) {
            dst.copy_from_slice(&path_bytes);
        }
        let Ok(path) = CStr::from_bytes_until_nul(&buf) else {
            return None;
        };
        let name = [letter];
        let mut dup_fail = *b"warning: unable to setup stdout for control/?";
        if let Some(last) = dup_fail.last_mut() {
            *last = letter;
        }
        let prefix = self.p.pieces();
        let args = [path.as_ptr(), core::ptr::null()];
        let plan = SpawnPlan {
            stdout: self.stdout_pipe(),
            reset_signals: &SIG_HANDLED,
            msg_prefix: &prefix,
            on_dup_fail: &dup_fail,
            on_exec_fail: self.control.on_exec_fail,
            dup_fail_is_warning: true,
            ..SpawnPlan::new(path, &args)
        };
        match process::spawn(&plan) {
            Ok(pid) => Some(pid),
            Err(e) => {
                self.warn(&[b"unable to fork for control/", &name], Some(e));
                None
            }
        }
    }

    fn finish_readable(&mut self) -> bool {
        fs::readable(c"finish")
    }

    /// runit's `update_status`: a failed open (or pid rename) abandons the
    /// rest; write errors count only for `status`.
    fn publish(
        &mut self,
        which: Which,
        status: &Status,
        stat: &StatLine,
        pid_file: Option<u32>,
    ) -> bool {
        let n = names(which);
        let bit = match which {
            Which::Main => 0,
            Which::Log => 3,
        };
        let mut pid_written = false;
        if let Some(pid) = pid_file {
            let mut text = [0u8; 25];
            let len = if pid == 0 { 0 } else { fmt_pid(pid, &mut text) };
            let data = text.get(..len).unwrap_or(&[]);
            match write_atomic(n.pid_new, n.pid, data, WriteErrors::Ignore) {
                Err(e) => {
                    self.report(which, "pid", e);
                    return false;
                }
                Ok(placed) => self.placed(placed, bit),
            }
            pid_written = true;
        }
        match write_atomic(n.stat_new, n.stat, stat.as_bytes(), WriteErrors::Ignore) {
            Err(e @ AtomicError::Open(_)) => {
                self.report(which, "stat", e);
                return pid_written;
            }
            Err(e) => self.report(which, "stat", e),
            Ok(placed) => self.placed(placed, bit + 1),
        }
        match write_atomic(n.status_new, n.status, &status.encode(), WriteErrors::Abort) {
            Err(e) => self.report(which, "status", e),
            Ok(placed) => self.placed(placed, bit + 2),
        }
        pid_written
    }

    fn close_log_pipe(&mut self) {
        if let Some((r, w)) = self.logpipe.take() {
            if let Err(e) = w.close() {
                self.warn(&[b"unable to close logpipe[1]"], Some(e));
            }
            if let Err(e) = r.close() {
                self.warn(&[b"unable to close logpipe[0]"], Some(e));
            }
        }
    }
}

/// Writes `n` as a NUL-terminated decimal string into `out`.
fn cstr_num(n: i64, out: &mut [u8; 25]) {
    let mut digits = [0u8; 24];
    let len = fmt_i64(n, &mut digits);
    for (o, d) in out.iter_mut().zip(digits.iter().take(len)) {
        *o = *d;
    }
    if let Some(nul) = out.get_mut(len) {
        *nul = 0;
    }
}

/// `PID\n` into `out`; returns the length.
fn fmt_pid(pid: u32, out: &mut [u8; 25]) -> usize {
    let mut digits = [0u8; 24];
    let len = fmt_i64(i64::from(pid), &mut digits);
    for (o, d) in out.iter_mut().zip(digits.iter().take(len)) {
        *o = *d;
    }
    if let Some(nl) = out.get_mut(len) {
        *nl = b'\n';
    }
    len + 1
}
