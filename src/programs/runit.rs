//! runit: process 1 (SPEC §3). Runs `/etc/runit/1`, `2` and `3`, reaps
//! every orphan, and on a shutdown request stops stage 2, runs stage 3 and
//! reboots, powers off or halts from a child.
//!
//! Beyond runit 2.3.0, as the issue asks and DESIGN.md explains:
//! * SIGPWR shuts down and powers off, as the Debian and Void patches do
//!   (container managers send it);
//! * children (stages and ctrlaltdel) start with default dispositions and
//!   an empty signal mask;
//! * after SIGTERM to stage 2 we go on the moment it has exited (runit
//!   polls once a second);
//! * a panic writes to the console and leaves runit reaping forever
//!   instead of aborting (which would panic the kernel).
//!
//! The stopit and reboot paths are upstream's unless the build sets
//! `RUNIT_STOPIT`/`RUNIT_REBOOT` (Debian: `/run/runit.stopit`,
//! `/run/runit.reboot`); runit-init uses the same constants.

use runit_sys::creds::{self, Reboot};
use runit_sys::event::{self, SelfPipe};
use runit_sys::fs;
use runit_sys::msg::line2;
use runit_sys::process::{self, Args, SpawnPlan};
use runit_sys::{c, clock, Errno, Fd};
use std::ffi::CStr;

const VERSION: &str = "$Id: c66c1e3b98d1b630bd51b1d56aaed5c2994e8c9d $";
const CONSOLE: &CStr = c"/dev/console";
const CTRLALTDEL: &CStr = c"/etc/runit/ctrlaltdel";
const NOSYNC: &CStr = c"/etc/runit/nosync";
const STAGES: [&CStr; 3] = [c"/etc/runit/1", c"/etc/runit/2", c"/etc/runit/3"];

/// The stopit file (upstream `/etc/runit/stopit`; build with
/// `RUNIT_STOPIT=/run/runit.stopit` for Debian's path).
pub const STOPIT: &str = match option_env!("RUNIT_STOPIT") {
    Some(p) => p,
    None => "/etc/runit/stopit",
};
/// The reboot file (upstream `/etc/runit/reboot`; Debian `/run/runit.reboot`).
pub const REBOOT: &str = match option_env!("RUNIT_REBOOT") {
    Some(p) => p,
    None => "/etc/runit/reboot",
};

/// Signals runit blocks; the first four stay pending for good.
const BLOCKED: [i32; 4] = [c::SIGALRM, c::SIGHUP, c::SIGPIPE, c::SIGTERM];
const HANDLED: [i32; 4] = [c::SIGCHLD, c::SIGCONT, c::SIGINT, c::SIGPWR];
/// What every child gets back: default action, unblocked.
const RESET: [i32; 8] = [
    c::SIGALRM,
    c::SIGCHLD,
    c::SIGCONT,
    c::SIGHUP,
    c::SIGINT,
    c::SIGPIPE,
    c::SIGTERM,
    c::SIGPWR,
];

// Messages allocate nothing: PID 1 must still speak when memory is gone.
fn say(pieces: &[&[u8]]) {
    line2(&[b"- runit: "], pieces, None);
}

fn say_err(pieces: &[&[u8]], e: Errno) {
    line2(&[b"- runit: "], pieces, Some(e));
}

fn sleep_ms(ms: u64) {
    let _ = event::wait(&mut [], Some(ms));
}

/// stat() succeeds and the owner-execute bit is set.
fn executable(path: &CStr) -> bool {
    fs::stat(path).is_ok_and(|m| m.mode & 0o100 != 0)
}

fn cpath(s: &'static str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap_or_default()
}

/// Reopens the console onto fd 2 (and 0 and 1 when `all`).
fn console(all: bool) {
    if let Ok(fd) = Fd::open(CONSOLE, c::O_WRONLY | c::O_NONBLOCK, 0) {
        let targets: &[i32] = if all { &[0, 1, 2] } else { &[2] };
        for &t in targets {
            let _ = runit_sys::fd::dup_onto(&fd, t);
        }
    }
}

pub fn main(_args: Args) -> i32 {
    if creds::getpid() != 1 {
        say(&[b"fatal: must be run as process no 1."]);
        return 111;
    }
    std::panic::set_hook(Box::new(|info| {
        // No allocation here either: the payload's text and the location.
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or("panic");
        let file = info.location().map_or("?", |l| l.file());
        let mut num = [0u8; 24];
        let len =
            runit_sys::msg::fmt_i64(i64::from(info.location().map_or(0, |l| l.line())), &mut num);
        say(&[
            b"fatal: panic: ",
            what.as_bytes(),
            b" at ",
            file.as_bytes(),
            b":",
            num.get(..len).unwrap_or(&[]),
            b" (reaping only from now on)",
        ]);
        reap_forever();
    }));
    let _ = creds::setsid();
    event::block(&BLOCKED);
    console(true);
    let selfpipe = loop {
        match SelfPipe::new(&HANDLED) {
            Ok(p) => break p,
            Err(e) => {
                say_err(&[b"fatal: unable to create selfpipe, pausing"], e);
                sleep_ms(5000);
            }
        }
    };
    let _ = creds::reboot(Reboot::DisableCad);
    say(&[VERSION.as_bytes(), b": booting."]);

    // Built once at boot, so shutdown allocates nothing.
    let mut init = Init {
        selfpipe,
        power_off: false,
        stopit: cpath(STOPIT),
        reboot: cpath(REBOOT),
    };
    let mut stage = 0;
    while stage < 3 {
        stage = init.run_stage(stage);
    }
    init.finish();
}

/// Reboots (`reboot`) or powers off, falling back to halt.
fn halt(reboot: bool) {
    let sync = || {
        if fs::stat(NOSYNC).is_err() {
            creds::sync();
        }
    };
    if reboot {
        say(&[b"system reboot."]);
        sync();
        let _ = creds::reboot(Reboot::Restart);
    } else {
        say(&[b"power off..."]);
        sync();
        let _ = creds::reboot(Reboot::PowerOff);
        sleep_ms(2000);
        say(&[b"system halt."]);
        sync();
        let _ = creds::reboot(Reboot::Halt);
    }
}

/// After a panic or the final reboot call: keep collecting zombies.
fn reap_forever() -> ! {
    loop {
        if process::wait_pid_any().is_err() {
            sleep_ms(14_000);
        }
    }
}

struct Init {
    selfpipe: SelfPipe,
    /// SIGPWR asked for a power-off, whatever the reboot file says.
    power_off: bool,
    stopit: std::ffi::CString,
    reboot: std::ffi::CString,
}

/// What runit's children (stages, ctrlaltdel) have in common: announced,
/// default signals, and an exec failure that exits 0 (a missing stage
/// program counts as a success).
fn child_plan<'a>(path: &'a CStr, argv: &'a [*const std::ffi::c_char; 2]) -> SpawnPlan<'a> {
    SpawnPlan {
        announce: &[],
        reset_signals: &RESET,
        msg_prefix: &[b"- runit: fatal: unable to start child: "],
        on_exec_fail: path.to_bytes(),
        fail_code: 0,
        ..SpawnPlan::new(path, argv)
    }
}

/// Forks and execs, retrying every 5 s while fork fails.
fn spawn_retrying(plan: &SpawnPlan<'_>) -> u32 {
    loop {
        match process::spawn(plan) {
            Ok(pid) => return pid,
            Err(e) => {
                say_err(
                    &[
                        b"fatal: unable to fork for \"",
                        plan.path.to_bytes(),
                        b"\" pausing",
                    ],
                    e,
                );
                sleep_ms(5000);
            }
        }
    }
}

impl Init {
    fn start(&self, stage: usize) -> u32 {
        let path = STAGES.get(stage).copied().unwrap_or(c"/etc/runit/3");
        let argv = [path.as_ptr(), core::ptr::null()];
        let announce: [&[u8]; 2] = [b"- runit: enter stage: ", path.to_bytes()];
        spawn_retrying(&SpawnPlan {
            setsid: stage != 0,
            console_stdin: (stage == 0).then_some(CONSOLE),
            console_warning: &[b"- runit: warning: unable to open /dev/console"],
            announce: &announce,
            ..child_plan(path, &argv)
        })
    }

    /// Runs one stage to its end; returns the next stage's index.
    fn run_stage(&mut self, stage: usize) -> usize {
        let path = STAGES
            .get(stage)
            .copied()
            .unwrap_or(c"/etc/runit/3")
            .to_bytes();
        let pid = self.start(stage);
        let (mut cont, mut int) = (false, false);
        loop {
            let _ = self.selfpipe.wait(&mut [], Some(14_000));
            self.selfpipe.drain(|sig| match sig {
                s if s == c::SIGCONT => cont = true,
                s if s == c::SIGINT => int = true,
                s if s == c::SIGPWR => {
                    cont = true;
                    self.power_off = true;
                }
                _ => {}
            });
            let mut exited = None;
            while let Some((p, ws)) = process::reap_one() {
                if p == pid {
                    exited = Some(ws);
                    break;
                }
            }
            console(false);
            if let Some(ws) = exited {
                let crashed = ws & 0x7f != 0;
                let code = (ws >> 8) & 0xff;
                if crashed {
                    say(&[b"warning: child crashed: ", path]);
                } else if code != 0 {
                    say(&[b"warning: child failed: ", path]);
                }
                if stage == 0 && (crashed || code == 100) {
                    say(&[b"leave stage: ", path]);
                    say(&[b"warning: skipping stage 2..."]);
                    return 2;
                }
                if stage == 1 && (crashed || code == 111) {
                    say(&[b"warning: killing all processes in stage 2..."]);
                    creds::kill_group(pid, c::SIGKILL);
                    self.pause_reaping(5000);
                    say(&[b"warning: restarting."]);
                    return 1;
                }
                say(&[b"leave stage: ", path]);
                return stage + 1;
            }
            if !cont && !int {
                continue;
            }
            if stage != 1 {
                say(&[b"warning: signals only work in stage 2."]);
                self.power_off = false;
                (cont, int) = (false, false);
                continue;
            }
            if int {
                int = false;
                if executable(CTRLALTDEL) {
                    say(&[b"ctrl-alt-del request..."]);
                    self.ctrlaltdel();
                    cont = true;
                }
            }
            if cont {
                cont = false;
                if self.power_off || executable(&self.stopit) {
                    let _ = creds::chmod(&self.stopit, 0);
                    self.stop_stage2(pid);
                    say(&[b"leave stage: ", path]);
                    return 2;
                }
            }
        }
    }

    /// Runs `/etc/runit/ctrlaltdel` and waits for it alone.
    fn ctrlaltdel(&self) {
        let path = CTRLALTDEL;
        let argv = [path.as_ptr(), core::ptr::null()];
        let announce: [&[u8]; 2] = [b"- runit: enter stage: ", path.to_bytes()];
        let pid = spawn_retrying(&SpawnPlan {
            announce: &announce,
            ..child_plan(path, &argv)
        });
        match process::wait_pid(pid) {
            Ok(ws) if ws & 0x7f != 0 => say(&[b"warning: child crashed: ", path.to_bytes()]),
            Ok(_) => {}
            Err(e) => say_err(&[b"fatal: wait_pid"], e),
        }
        say(&[b"leave stage: ", path.to_bytes()]);
    }

    /// TERM to stage 2, up to 5 s for it to go (checked every 10 ms, so
    /// shutdown never waits longer than needed), then KILL.
    fn stop_stage2(&mut self, pid: u32) {
        let _ = process::kill(pid, c::SIGTERM);
        let deadline = clock::mono_ms().saturating_add(5000);
        while clock::mono_ms() < deadline {
            while let Some((p, _)) = process::reap_one() {
                if p == pid {
                    return;
                }
            }
            let _ = self.selfpipe.wait(&mut [], Some(10));
            self.selfpipe.drain(|_| {});
        }
        say(&[b"warning: stage 2 not terminated, sending sigkill..."]);
        let _ = process::kill(pid, c::SIGKILL);
        if let Err(e) = process::wait_pid(pid) {
            say_err(&[b"warning: wait_pid"], e);
        }
    }

    /// Sleeps `ms`, reaping whatever exits meanwhile.
    fn pause_reaping(&mut self, ms: u64) {
        let deadline = clock::mono_ms().saturating_add(ms);
        loop {
            while process::reap_one().is_some() {}
            let now = clock::mono_ms();
            if now >= deadline {
                return;
            }
            let _ = self.selfpipe.wait(&mut [], Some(deadline - now));
            self.selfpipe.drain(|_| {});
        }
    }

    /// SPEC §3.5: kill everything, then reboot, power off or halt from a
    /// child; then reap forever.
    fn finish(&mut self) -> ! {
        console(false);
        say(&[b"sending KILL signal to all processes..."]);
        creds::kill_all(c::SIGKILL);
        let reboot = !self.power_off && executable(&self.reboot);
        // The reboot call is made from a child, as runit does, because some
        // kernels treat PID 1's reboot call as PID 1 exiting.
        match process::fork_child() {
            Some(0) => {
                halt(reboot);
                process::exit_now(0);
            }
            Some(pid) => {
                let _ = process::wait_pid(pid);
            }
            None => halt(reboot),
        }
        reap_forever();
    }
}
