//! sv: the control and status client for runsv (SPEC §7).
//!
//! Reads top to bottom: options and mode (normal, or LSB init-script mode
//! when called by any other name), then per service: resolve the
//! directory, test that runsv runs (`supervise/ok`), read `status`, send
//! the command bytes or print the status; then the waiting phase. The
//! rules (command table, conditions, status text) live in
//! `runit_core::sv`. Unlike runit's sv, which polls every 420 ms, the
//! waiting phase also wakes on inotify events from each `supervise/`
//! directory, so `sv -w` answers as soon as runsv has written the change;
//! the 420 ms poll remains for `./check` scripts and as a fallback.

use runit_core::getopt::{scan_ulong, Getopt, Opt};
use runit_core::status::{Status, STATUS_LEN};
use runit_core::sv::{condition, parse_command, status_part, suppress_send, Action, Seen, Wait};
use runit_sys::event::{self, Watch};
use runit_sys::fs;
use runit_sys::inotify::{self, Inotify};
use runit_sys::msg::line;
use runit_sys::process::{self, Args, SpawnPlan};
use runit_sys::{c, clock, Errno, Fd};
use std::ffi::{CStr, CString};

const VERSION: &str = "$Id: b55dfab6dd0e89e123220186c95410f869e8b626 $";
/// The services directory for bare names: upstream's `/service/`, or the
/// value of `RUNIT_SVDIR` at build time (`/etc/service/` for Debian,
/// `/var/service/` for Void). `$SVDIR` overrides either at run time.
const DEFAULT_SVDIR: &str = match option_env!("RUNIT_SVDIR") {
    Some(d) => d,
    None => "/service/",
};
const DEFAULT_WAIT: u64 = 7;
/// runit's polling interval, kept as the fallback between events.
const POLL_MS: u64 = 420;

/// `sv [-v] [-w sec] command service ...`, or `NAME [-w sec] command`.
pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"sv"[..], CStr::to_bytes);
    let prog = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let lsb = prog != b"sv";
    let codes = if lsb {
        Codes {
            usage: 2,
            fatal: 151,
        }
    } else {
        Codes {
            usage: 100,
            fatal: 100,
        }
    };
    let usage = || {
        if lsb {
            line(&[b"usage: ", prog, b" [-w sec] command\n"], None);
        } else {
            line(
                &[b"usage: ", prog, b" [-v] [-w sec] command service ...\n"],
                None,
            );
        }
        codes.usage
    };

    let svdir = std::env::var_os("SVDIR").map_or_else(
        || DEFAULT_SVDIR.as_bytes().to_vec(),
        |v| {
            use std::os::unix::ffi::OsStringExt;
            v.into_vec()
        },
    );
    let mut timeout = std::env::var_os("SVWAIT").map_or(DEFAULT_WAIT, |v| {
        use std::os::unix::ffi::OsStrExt;
        scan_ulong(v.as_bytes())
    });
    let argv: Vec<&[u8]> = (1..args.len())
        .filter_map(|i| args.get(i))
        .map(CStr::to_bytes)
        .collect();
    let mut verbose = false;
    let mut opts = Getopt::new(&argv, b"w:vV");
    for opt in opts.by_ref() {
        match opt {
            Ok(Opt::Arg(b'w', v)) => {
                timeout = scan_ulong(v);
                verbose = true;
            }
            Ok(Opt::Flag(b'v')) => verbose = true,
            Ok(Opt::Flag(b'V')) => {
                line(&[VERSION.as_bytes()], None);
                return usage();
            }
            Ok(_) => return usage(),
            Err(e) => {
                runit_sys::msg::option_error(prog, e);
                return usage();
            }
        }
    }
    let operands = opts.operands();
    let Some((&cmd, rest)) = operands.split_first() else {
        return usage();
    };
    let names: Vec<&[u8]> = if lsb { vec![prog] } else { rest.to_vec() };
    if names.is_empty() {
        return usage();
    }
    let Some(action) = parse_command(cmd, lsb) else {
        return usage();
    };

    let curdir = match fs::open_cwd() {
        Ok(fd) => fd,
        Err(e) => {
            line(&[b"fatal: unable to open current directory"], Some(e));
            return codes.fatal;
        }
    };
    let mut sv = Sv {
        action,
        svdir: CString::new(svdir).unwrap_or_default(),
        timeout_ms: timeout.saturating_mul(1000),
        t0_tai: clock::now_tai64n().secs,
        t0_mono: clock::mono_ms(),
        curdir,
        codes,
        failures: 0,
        lsb_status: None,
        out: Vec::new(),
    };
    let waits = match action.wait {
        Wait::Always => true,
        Wait::WithV => verbose,
        Wait::Never => false,
    };
    let mut pending = Vec::new();
    for name in &names {
        match sv.send(name) {
            Ok(true) if waits => pending.push(*name),
            Ok(_) => {}
            Err(code) => return code,
        }
    }
    if let Err(code) = sv.wait_all(&pending) {
        return code;
    }
    if lsb && action.status {
        return sv.lsb_status.unwrap_or(1);
    }
    i32::try_from(sv.failures.min(99)).unwrap_or(99)
}

#[derive(Clone, Copy)]
struct Codes {
    usage: i32,
    fatal: i32,
}

/// What the liveness and status reads found.
enum Probe {
    NotRunning,
    /// A warning was printed.
    Warned,
    Status(Status),
}

struct Sv {
    action: Action,
    svdir: CString,
    timeout_ms: u64,
    t0_tai: u64,
    t0_mono: u64,
    curdir: Fd,
    codes: Codes,
    failures: u32,
    /// LSB `status` exit code (0 running, 3 down, 4 unreadable, 1 otherwise).
    lsb_status: Option<i32>,
    /// stdout, flushed after each service.
    out: Vec<u8>,
}

impl Sv {
    fn flush(&mut self) {
        let mut rest = &self.out[..];
        while !rest.is_empty() {
            match runit_sys::fd::write_raw(1, rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
            }
        }
        self.out.clear();
    }

    /// `PREFIX NAME[/log]: TEXT[: ERR]\n` on stdout.
    fn msg(&mut self, prefix: &str, name: &[u8], log: bool, text: &str, e: Option<Errno>) {
        self.out.extend_from_slice(prefix.as_bytes());
        self.out.extend_from_slice(name);
        if log {
            self.out.extend_from_slice(b"/log");
        }
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(text.as_bytes());
        if let Some(e) = e {
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(e.text().as_bytes());
        }
        self.out.push(b'\n');
    }

    fn fail(&mut self, prefix: &str, name: &[u8], log: bool, text: &str, e: Option<Errno>) {
        self.msg(prefix, name, log, text, e);
        self.failures += 1;
    }

    /// Changes into the service directory (SPEC §7.2). The waiting phase
    /// skips the trailing-slash rule, as runit does.
    fn enter(&self, name: &[u8], waiting: bool) -> Result<(), Errno> {
        let bare = !name.is_empty()
            && !name.starts_with(b"/")
            && !name.starts_with(b".")
            && (waiting || !name.ends_with(b"/"));
        if bare {
            fs::chdir(&self.svdir)?;
        }
        let dir = CString::new(name).map_err(|_| Errno(c::ENOENT))?;
        if name.is_empty() {
            return Err(Errno(c::ENOENT));
        }
        fs::chdir(&dir)
    }

    fn leave(&mut self) -> Result<(), i32> {
        fs::fchdir(&self.curdir).map_err(|e| {
            self.flush();
            line(&[b"fatal: unable to change to original directory"], Some(e));
            self.codes.fatal
        })
    }

    /// The liveness test and the status read, in the current directory.
    fn probe(&mut self, name: &[u8], log: bool) -> Probe {
        match Fd::open(c"supervise/ok", c::O_WRONLY | c::O_NONBLOCK, 0) {
            Ok(_) => {}
            Err(Errno(c::ENXIO)) => return Probe::NotRunning,
            Err(e) => {
                self.fail(
                    "warning: ",
                    name,
                    log,
                    "unable to open supervise/ok",
                    Some(e),
                );
                return Probe::Warned;
            }
        }
        let fd = match Fd::open(c"supervise/status", c::O_RDONLY | c::O_NONBLOCK, 0) {
            Ok(fd) => fd,
            Err(e) => {
                self.fail(
                    "warning: ",
                    name,
                    log,
                    "unable to open supervise/status",
                    Some(e),
                );
                return Probe::Warned;
            }
        };
        let mut buf = [0u8; STATUS_LEN];
        match fd.read(&mut buf) {
            Err(e) => {
                self.fail(
                    "warning: ",
                    name,
                    log,
                    "unable to read supervise/status",
                    Some(e),
                );
                Probe::Warned
            }
            Ok(n) => match Status::decode(buf.get(..n).unwrap_or(&[])) {
                Some(st) => Probe::Status(st),
                None => {
                    self.fail(
                        "warning: ",
                        name,
                        log,
                        "unable to read supervise/status: bad format",
                        None,
                    );
                    Probe::Warned
                }
            },
        }
    }

    /// `runsv not running`: success for exit-type commands.
    fn not_running(&mut self, name: &[u8]) {
        if self.action.is_exit() {
            self.msg("ok: ", name, false, "runsv not running", None);
        } else {
            self.fail("fail: ", name, false, "runsv not running", None);
        }
    }

    /// Does `down` exist here? `None` after a warning (print nothing).
    fn down_file(&mut self, name: &[u8], log: bool) -> Option<bool> {
        match fs::stat(c"down") {
            Ok(_) => Some(true),
            Err(Errno(c::ENOENT)) => Some(false),
            Err(e) => {
                self.flush();
                let suffix: &[u8] = if log { b"/log" } else { b"" };
                line(
                    &[b"warning: unable to stat ", name, suffix, b"/down"],
                    Some(e),
                );
                None
            }
        }
    }

    /// Appends a status part for `st` (checking `down` here) if possible.
    fn push_status(&mut self, label: &[u8], name: &[u8], log: bool, st: &Status, now: u64) -> bool {
        let Some(down) = self.down_file(name, log) else {
            return false;
        };
        status_part(&mut self.out, label, st, now, down);
        true
    }

    /// Sends the command to one service (or prints its status). `Ok(true)`
    /// if the service takes part in the waiting phase.
    fn send(&mut self, name: &[u8]) -> Result<bool, i32> {
        if let Err(e) = self.enter(name, false) {
            self.fail(
                "fail: ",
                name,
                false,
                "unable to change to service directory",
                Some(e),
            );
            self.flush();
            return Ok(false);
        }
        let wait = self.send_here(name);
        self.flush();
        self.leave()?;
        Ok(wait)
    }

    fn send_here(&mut self, name: &[u8]) -> bool {
        let st = match self.probe(name, false) {
            Probe::NotRunning => {
                if self.action.status {
                    self.fail("fail: ", name, false, "runsv not running", None);
                    self.lsb_status = Some(1);
                } else {
                    self.not_running(name);
                }
                return false;
            }
            Probe::Warned => {
                self.lsb_status = Some(4);
                return false;
            }
            Probe::Status(st) => st,
        };
        if self.action.status {
            self.print_status(name, &st);
            return false;
        }
        let bytes = self.action.bytes;
        if bytes.is_empty() || suppress_send(bytes, &st) {
            return true;
        }
        let fd = match Fd::open(c"supervise/control", c::O_WRONLY | c::O_NONBLOCK, 0) {
            Ok(fd) => fd,
            Err(Errno(c::ENXIO)) => {
                self.not_running(name);
                return false;
            }
            Err(e) => {
                self.fail(
                    "warning: ",
                    name,
                    false,
                    "unable to open supervise/control",
                    Some(e),
                );
                return false;
            }
        };
        match fd.write(bytes) {
            Ok(n) if n == bytes.len() => true,
            Ok(_) => {
                self.fail(
                    "warning: ",
                    name,
                    false,
                    "unable to write to supervise/control",
                    Some(Errno::last()),
                );
                false
            }
            Err(e) => {
                self.fail(
                    "warning: ",
                    name,
                    false,
                    "unable to write to supervise/control",
                    Some(e),
                );
                false
            }
        }
    }

    /// The `status` command: the service's part, then the log's (SPEC §7.5).
    fn print_status(&mut self, name: &[u8], st: &Status) {
        let now = self.t0_tai;
        self.lsb_status = Some(if st.pid != 0 { 0 } else { 3 });
        if !self.push_status(name, name, false, st, now) {
            // The down file could not be checked: status unreadable.
            self.lsb_status = Some(4);
        }
        match fs::chdir(c"log") {
            Err(Errno(c::ENOENT)) => self.out.push(b'\n'),
            Err(e) => {
                self.out.extend_from_slice(b"; ");
                self.fail(
                    "warning: ",
                    name,
                    true,
                    "unable to change directory",
                    Some(e),
                );
            }
            Ok(()) => {
                self.out.extend_from_slice(b"; ");
                match self.probe(name, true) {
                    Probe::NotRunning => self.fail("fail: ", name, true, "runsv not running", None),
                    Probe::Warned => {
                        // runit prints the main status again, labelled log.
                        if self.push_status(b"log", name, true, st, now) {
                            self.out.push(b'\n');
                        }
                    }
                    Probe::Status(lst) => {
                        self.push_status(b"log", name, true, &lst, now);
                        self.out.push(b'\n');
                    }
                }
            }
        }
    }

    /// The waiting phase for every service that got its command.
    fn wait_all(&mut self, names: &[&[u8]]) -> Result<(), i32> {
        let ino = Inotify::new().ok();
        let mut watched = vec![false; names.len()];
        let mut done = vec![false; names.len()];
        let mut first = true;
        loop {
            let round = clock::mono_ms();
            // runit's first round is at "now = start": it never times out.
            let elapsed = if first {
                0
            } else {
                round.saturating_sub(self.t0_mono)
            };
            first = false;
            let now = clock::now_tai64n().secs;
            for (i, name) in names.iter().enumerate() {
                if done.get(i).copied().unwrap_or(true) {
                    continue;
                }
                let finished = match self.enter(name, true) {
                    Err(e) => {
                        self.fail(
                            "fail: ",
                            name,
                            false,
                            "unable to change to service directory",
                            Some(e),
                        );
                        true
                    }
                    Ok(()) => {
                        if let (Some(ino), Some(w)) = (&ino, watched.get_mut(i)) {
                            if !*w {
                                // Watch first, then look: no change is missed.
                                *w = ino
                                    .watch(c"supervise", inotify::MOVED_TO | inotify::CLOSE_WRITE)
                                    .is_ok();
                            }
                        }
                        let f = self.check_one(name, now, elapsed);
                        self.flush();
                        self.leave()?;
                        f
                    }
                };
                self.flush();
                if let Some(d) = done.get_mut(i) {
                    *d = finished;
                }
            }
            if done.iter().all(|&d| d) {
                if let Some(ino) = ino {
                    ino.close_detached();
                }
                return Ok(());
            }
            // Sleep until the next poll, just past the timeout, or until
            // runsv renames a new `status` into place or exits (its `lock`
            // is closed). Our own opens of `ok` make events too: skip them.
            let deadline = (round + POLL_MS).min(self.t0_mono + self.timeout_ms + 1);
            loop {
                let now_ms = clock::mono_ms();
                if now_ms >= deadline {
                    break;
                }
                let mut watches = [Watch {
                    fd: ino.as_ref().map_or(-1, Inotify::fd),
                    ready: false,
                }];
                let _ = event::wait(&mut watches, Some(deadline - now_ms));
                let relevant = ino.as_ref().is_some_and(|ino| {
                    ino.drain(|mask, name| {
                        (mask & inotify::MOVED_TO != 0 && name == b"status")
                            || (mask & inotify::CLOSE_WRITE != 0 && name == b"lock")
                    })
                });
                if relevant {
                    break;
                }
            }
        }
    }

    /// One round for one service, in its directory. `true` when finished.
    fn check_one(&mut self, name: &[u8], now: u64, elapsed_ms: u64) -> bool {
        let st = match self.probe(name, false) {
            Probe::NotRunning => {
                if self.action.conds.contains(&b'x') {
                    self.msg("ok: ", name, false, "runsv not running", None);
                } else {
                    self.fail("fail: ", name, false, "runsv not running", None);
                }
                return true;
            }
            Probe::Warned => return true,
            Probe::Status(st) => st,
        };
        let seen = Seen {
            st: &st,
            t0: self.t0_tai,
        };
        let mut check = || run_check(name);
        let met = self
            .action
            .conds
            .iter()
            .all(|&ch| condition(ch, &seen, &mut check));
        if met {
            self.out.extend_from_slice(b"ok: ");
            self.push_status(name, name, false, &st, now);
            self.out.push(b'\n');
            return true;
        }
        if elapsed_ms <= self.timeout_ms {
            return false;
        }
        self.out.extend_from_slice(if self.action.kill {
            b"kill: "
        } else {
            b"timeout: "
        });
        self.push_status(name, name, false, &st, now);
        self.out.push(b'\n');
        self.failures += 1;
        if self.action.kill {
            if let Ok(fd) = Fd::open(c"supervise/control", c::O_WRONLY | c::O_NONBLOCK, 0) {
                let _ = fd.write(b"k");
            }
        }
        true
    }
}

/// Runs `./check` (SPEC §7.7): missing passes; stdout closed; an exec
/// failure warns and counts as passed (runit's child exits 0).
fn run_check(name: &[u8]) -> bool {
    match fs::stat(c"check") {
        Ok(_) => {}
        Err(Errno(c::ENOENT)) => return true,
        Err(e) => {
            line(&[b"warning: unable to stat ", name, b"/check"], Some(e));
            return false;
        }
    }
    let argv = [c"./check".as_ptr(), core::ptr::null()];
    let prefix: [&[u8]; 2] = [b"warning: unable to run ", name];
    let plan = SpawnPlan {
        // runit execs the path `check` with argv[0] `./check`.
        msg_prefix: &prefix,
        on_exec_fail: b"/check",
        close_stdout: true,
        fail_code: 0,
        ..SpawnPlan::new(c"check", &argv)
    };
    let pid = match process::spawn(&plan) {
        Ok(pid) => pid,
        Err(e) => {
            line(&[b"warning: unable to fork for ", name, b"/check"], Some(e));
            return false;
        }
    };
    match process::wait_pid(pid) {
        // runit takes the exit-code byte: a check killed by a signal passes.
        Ok(ws) => (ws >> 8) & 0xff == 0,
        Err(e) => {
            line(
                &[b"warning: unable to wait for child ", name, b"/check"],
                Some(e),
            );
            false
        }
    }
}
