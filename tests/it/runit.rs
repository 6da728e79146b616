//! runit (PID 1) and runit-init integration tests, in PID namespaces.
//!
//! Every boot runs `unshare --pid --fork --mount-proc --mount --kill-child
//! sh setup.sh`. The setup script works in the private mount namespace
//! only: it mounts a tmpfs over `/etc`, bind-mounts the sandbox's
//! `runit/` on `/etc/runit` and `service/` on `/etc/service`, the
//! sandbox's `run/` on `/run` (the reference's stopit lives there) and a
//! FIFO over `/dev/console`, then execs runit, which so becomes PID 1 of
//! the namespace. The machine's own /etc, /run, /dev/console and PID 1 are
//! never touched. The test keeps the FIFO open read-write and collects
//! everything written to the console, with the time each line arrived.
//!
//! Because the directories are bind mounts, the test reads and writes the
//! stage scripts, the stopit and reboot files and the service directories
//! through the sandbox path on the host. Acting *inside* the namespace
//! (runit-init 0/6, `kill -CONT 1`) goes through `nsenter -t INIT -m -p`.
//! The process table of the namespace is read from `/proc/INIT/root/proc`
//! (the namespace's own /proc).
//!
//! reboot(2) in a PID namespace ends the namespace: its init dies of
//! SIGINT after a power-off or halt request and of SIGHUP after a reboot
//! request, and `unshare` re-raises that signal. Tests assert on it.
//!
//! Cleanup: a [`Ns`] on drop SIGKILLs the namespace's init through a pidfd
//! (the kernel then kills everything in the namespace) and the unshare
//! process group. `--kill-child` and a parent-death signal on unshare
//! cover a test process that dies.
//!
//! unshare starts with every signal at its default action and none
//! blocked, as the kernel starts init: the test process ignores signal 32
//! (and a shell may ignore SIGINT), and those would otherwise be inherited
//! through runit by every stage, hiding what runit itself resets.
//!
//! Run with `--nocapture` to see the measured times.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::sandbox::*;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BANNER: &str = "- runit: $Id: c66c1e3b98d1b630bd51b1d56aaed5c2994e8c9d $: booting.";
const INIT_VERSION: &str = "$Id: f075d98bf7dd17c893021f9572cbb970cdad8dcf $";
const ENTER1: &str = "- runit: enter stage: /etc/runit/1";
const LEAVE1: &str = "- runit: leave stage: /etc/runit/1";
const ENTER2: &str = "- runit: enter stage: /etc/runit/2";
const LEAVE2: &str = "- runit: leave stage: /etc/runit/2";
const ENTER3: &str = "- runit: enter stage: /etc/runit/3";
const LEAVE3: &str = "- runit: leave stage: /etc/runit/3";
const KILLALL: &str = "- runit: sending KILL signal to all processes...";
const POWEROFF: &str = "- runit: power off...";
const REBOOT: &str = "- runit: system reboot.";
const ONLY2: &str = "- runit: warning: signals only work in stage 2.";

/// Deadline for anything runit does at once.
const SOON: f64 = 10.0;

fn debug_dir() -> PathBuf {
    ours("runit").parent().unwrap().to_path_buf()
}

/// The reference runit 2.1.2 (Debian: sbin/runit). Skipped when missing,
/// except under `CI=true`.
fn ref_runit_pid1() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference/runit/sbin/runit");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "reference program {} missing under CI=true: run scripts/get-reference",
            p.display()
        );
    }
    eprintln!(
        "skipping: reference program {} missing (run scripts/get-reference)",
        p.display()
    );
    None
}

fn write_exec(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn mode_of(path: &Path) -> Option<u32> {
    fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates `path` (empty) with `mode`.
fn touch_mode(path: &Path, mode: u32) {
    fs::write(path, "").unwrap();
    chmod(path, mode);
}

// ---------------------------------------------------------------------------
// The console: a FIFO bound over /dev/console, drained by a thread

#[derive(Default)]
struct Transcript {
    lines: Vec<(Instant, String)>,
    partial: Vec<u8>,
}

struct Console {
    text: Arc<Mutex<Transcript>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Console {
    /// Opens the FIFO read-write (so writers never see ENXIO or EOF
    /// matters) and starts the reader.
    fn open(fifo: &Path) -> Console {
        let mut f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
            .expect("open console fifo");
        let text = Arc::new(Mutex::new(Transcript::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (text.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let mut pfd = libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                unsafe { libc::poll(&mut pfd, 1, 20) };
                loop {
                    match f.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let now = Instant::now();
                            let mut tr = t.lock().unwrap();
                            tr.partial.extend_from_slice(&buf[..n]);
                            while let Some(i) = tr.partial.iter().position(|&b| b == b'\n') {
                                let line: Vec<u8> = tr.partial.drain(..=i).collect();
                                let s =
                                    String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                                tr.lines.push((now, s));
                            }
                        }
                    }
                }
                if s.load(Ordering::Relaxed) {
                    return;
                }
            }
        });
        Console {
            text,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// In a child before exec: every signal back to its default action and
/// none blocked, as the kernel starts init. (The test process ignores some:
/// signal 32 was seen ignored, and a shell may leave SIGINT ignored and
/// SIGCHLD blocked; exec keeps ignored dispositions and the mask.)
/// Async-signal-safe calls only.
unsafe fn kernel_like_signals() {
    // The raw system call: glibc's signal() refuses its reserved 32 and 33.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null::<u8>(),
                8usize,
            );
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
}

// ---------------------------------------------------------------------------
// A scratch root: runit/, service/, run/, sbin/, the console FIFO

/// What the namespace's PID 1 is and what /sbin holds.
#[derive(Clone, Copy, PartialEq)]
enum Sbin {
    /// /sbin as on the machine.
    Host,
    /// An empty directory over /sbin.
    Empty,
    /// A directory holding only `runit` (ours) over /sbin.
    OurRunit,
}

struct Root {
    sb: Sandbox,
}

impl Root {
    fn new() -> Root {
        let sb = Sandbox::new();
        for d in ["runit", "service", "run", "sbin-empty", "sbin-runit", "res"] {
            fs::create_dir(sb.path().join(d)).unwrap();
        }
        std::os::unix::fs::symlink(ours("runit"), sb.path().join("sbin-runit/runit")).unwrap();
        let fifo = std::ffi::CString::new(sb.path().join("console").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
        Root { sb }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.sb.path().join(rel)
    }

    /// Writes `/etc/runit/NAME` (a stage, ctrlaltdel, ...), mode 0755.
    fn runit_script(&self, name: &str, body: &str) -> &Root {
        write_exec(&self.path("runit").join(name), body);
        self
    }

    /// Host path of `/etc/runit/NAME`.
    fn etc_runit(&self, name: &str) -> PathBuf {
        self.path("runit").join(name)
    }

    /// Creates a FIFO `/etc/runit/NAME`: a stage script doing `: <
    /// /etc/runit/NAME` blocks until [`Ns::open_gate`].
    fn gate(&self, name: &str) -> &Root {
        let p = std::ffi::CString::new(self.etc_runit(name).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o600) }, 0, "mkfifo gate");
        self
    }

    /// A service `/etc/service/NAME` with `run`, and a `log/run` that
    /// appends its input to `log/out`.
    fn service(&self, name: &str, run: &str) -> Service {
        let s = Service {
            dir: self.path("service").join(name),
        };
        s.script("run", run);
        s.script("log/run", "exec cat >> out");
        s
    }

    /// Standard stage scripts: stage 1 says hello, stage 2 runs runsvdir
    /// on /etc/service, stage 3 stops every service.
    fn standard(&self) -> &Root {
        self.runit_script("1", "echo stage1 done")
            .runit_script("2", "exec runsvdir -P /etc/service")
            .runit_script(
                "3",
                "echo \"stage3 stopit mode $(stat -c %a /etc/runit/stopit 2>&1)\"\n\
                 sv -w5 force-stop /etc/service/*\nsv exit /etc/service/*\necho stage3 done",
            )
    }

    /// Boots `init` as PID 1 of a new namespace.
    fn boot(self, init: &Path) -> Ns {
        self.boot_with(init, Sbin::Host, "")
    }

    fn boot_with(self, init: &Path, sbin: Sbin, extra_env: &str) -> Ns {
        let sb = self.sb.path().display().to_string();
        let sbin_mount = match sbin {
            Sbin::Host => String::new(),
            Sbin::Empty => format!("mount --bind {sb}/sbin-empty /sbin\n"),
            Sbin::OurRunit => format!("mount --bind {sb}/sbin-runit /sbin\n"),
        };
        let setup = format!(
            "set -e\n\
             mount -t tmpfs tmpfs /etc\n\
             mkdir /etc/runit /etc/service\n\
             mount --bind {sb}/runit /etc/runit\n\
             mount --bind {sb}/service /etc/service\n\
             mount --bind {sb}/run /run\n\
             mount --bind {sb}/console /dev/console\n\
             {sbin_mount}\
             export PATH={dbg}:/usr/bin:/bin\n\
             {extra_env}\
             exec {init}\n",
            dbg = debug_dir().display(),
            init = init.display(),
        );
        fs::write(self.path("setup.sh"), setup).unwrap();
        let console = Console::open(&self.path("console"));
        let err = fs::File::create(self.path("unshare.out")).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "--kill-child",
            "sh",
        ])
        .arg(self.path("setup.sh"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(err.try_clone().unwrap())
        .stderr(err)
        .process_group(0);
        unsafe {
            cmd.pre_exec(|| {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                kernel_like_signals();
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn unshare");
        let upid = child.id();
        let mut ns = Ns {
            child: Some(child),
            upid,
            init: 0,
            pidfd: None,
            status: None,
            console,
            root: self,
        };
        let init = wait_for("the namespace's init", SOON, || {
            let s = fs::read_to_string(format!("/proc/{upid}/task/{upid}/children")).ok()?;
            s.split_whitespace().next()?.parse::<u32>().ok()
        });
        ns.init = init;
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, init as libc::c_int, 0) };
        assert!(fd >= 0, "pidfd_open {init}");
        ns.pidfd = Some(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        ns
    }
}

// ---------------------------------------------------------------------------
// A running namespace

struct Ns {
    child: Option<Child>,
    /// Host pid of unshare.
    upid: u32,
    /// Host pid of the namespace's PID 1.
    init: u32,
    pidfd: Option<OwnedFd>,
    status: Option<ExitStatus>,
    console: Console,
    root: Root,
}

/// One process of the namespace, as its own /proc shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    comm: String,
    state: char,
    ppid: u32,
    pgrp: u32,
    sid: u32,
}

impl Ns {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path(rel)
    }

    fn etc_runit(&self, name: &str) -> PathBuf {
        self.root.etc_runit(name)
    }

    fn lines(&self) -> Vec<String> {
        self.console
            .text
            .lock()
            .unwrap()
            .lines
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// runit's own lines (`- runit: ...`).
    fn runit_lines(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with("- runit: "))
            .collect()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| *l == line).count()
    }

    /// Everything seen so far, for failure messages.
    fn dump(&self) -> String {
        let tr = self.console.text.lock().unwrap();
        let mut s = String::from("--- console:\n");
        for (_, l) in &tr.lines {
            s.push_str(l);
            s.push('\n');
        }
        if !tr.partial.is_empty() {
            s.push_str(&format!(
                "(partial) {}\n",
                String::from_utf8_lossy(&tr.partial)
            ));
        }
        s.push_str("--- unshare/setup output:\n");
        s.push_str(&fs::read_to_string(self.path("unshare.out")).unwrap_or_default());
        s
    }

    /// When the `n`th (1-based) line equal to `want` arrived, if it did.
    fn line_time_nth(&self, want: &str, n: usize) -> Option<Instant> {
        let tr = self.console.text.lock().unwrap();
        tr.lines
            .iter()
            .filter(|(_, l)| l == want)
            .nth(n.saturating_sub(1))
            .map(|(t, _)| *t)
    }

    /// Waits for the `n`th console line equal to `want`; returns when it came.
    fn wait_line_nth(&self, want: &str, n: usize, secs: f64) -> Instant {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            if let Some(t) = self.line_time_nth(want, n) {
                return t;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {secs}s waiting for console line #{n} {want:?}\n{}",
                    self.dump()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn wait_line(&self, want: &str) -> Instant {
        self.wait_line_nth(want, 1, SOON)
    }

    /// Asserts `want` appear on the console in this order (other lines may
    /// come between).
    fn assert_order(&self, want: &[&str]) {
        let lines = self.lines();
        let mut it = lines.iter();
        for w in want {
            if !it.any(|l| l == w) {
                panic!(
                    "console line {w:?} missing or out of order; wanted in order {want:#?}\n{}",
                    self.dump()
                );
            }
        }
    }

    fn assert_runit_lines(&self, want: &[&str]) {
        let got = self.runit_lines();
        if got != want {
            panic!(
                "runit's lines differ\n  want: {want:#?}\n  got: {got:#?}\n{}",
                self.dump()
            );
        }
    }

    /// Sends `sig` to the namespace's init (from the host; runit has
    /// handlers for the signals it reacts to, so they are delivered).
    fn signal(&self, sig: i32) {
        let fd = self.pidfd.as_ref().unwrap().as_raw_fd();
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                sig,
                std::ptr::null::<u8>(),
                0,
            )
        };
        assert_eq!(r, 0, "pidfd_send_signal {sig}");
    }

    /// Runs `args` inside the namespace (mount and PID namespaces).
    fn inside(&self, args: &[&str]) -> Output {
        let init = self.init.to_string();
        let mut all = vec!["-t", &init, "-m", "-p", "--"];
        all.extend_from_slice(args);
        run_with(
            Path::new("/"),
            Path::new("/usr/bin/nsenter"),
            None,
            &all,
            &[],
            SOON,
        )
    }

    /// Runs a shutdown request inside (`runit-init 0`, `kill -CONT 1`). It
    /// must succeed silently, or be killed by runit's final KILL to all
    /// when the shutdown outran its exit (seen under load).
    fn request(&self, args: &[&str]) {
        let out = self.inside(args);
        let ok = (out.status.code() == Some(0) && out.stdout.is_empty() && out.stderr.is_empty())
            || out.status.signal() == Some(libc::SIGKILL);
        assert!(ok, "{args:?}: {:?}\n{}", outcome(out), self.dump());
    }

    /// Unblocks a stage script waiting in `: < /etc/runit/NAME`.
    fn open_gate(&self, name: &str) {
        let p = self.etc_runit(name);
        let f = wait_for(&format!("a reader on gate {name}"), SOON, || {
            fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&p)
                .ok()
        });
        drop(f);
    }

    /// The namespace's process table.
    fn procs(&self) -> Vec<Proc> {
        let base = format!("/proc/{}/root/proc", self.init);
        let mut v = Vec::new();
        for e in fs::read_dir(&base).into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat[open + 1..close].to_string();
            let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            if rest.len() < 4 {
                continue;
            }
            v.push(Proc {
                pid,
                comm,
                state: rest[0].chars().next().unwrap_or('?'),
                ppid: rest[1].parse().unwrap_or(0),
                pgrp: rest[2].parse().unwrap_or(0),
                sid: rest[3].parse().unwrap_or(0),
            });
        }
        v.sort_by_key(|p| p.pid);
        v
    }

    fn running(&mut self) -> bool {
        self.try_status().is_none()
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(c) = self.child.as_mut() {
                self.status = c.try_wait().unwrap();
            }
        }
        self.status
    }

    /// Waits until unshare has exited (the namespace is gone).
    fn wait_gone(&mut self, secs: f64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            if let Some(st) = self.try_status() {
                return st;
            }
            if Instant::now() > deadline {
                panic!(
                    "namespace still there after {secs}s\n{}\n--- processes: {:#?}",
                    self.dump(),
                    self.procs()
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the end and asserts init died of `sig` (SIGINT after
    /// power-off, SIGHUP after reboot).
    fn assert_ends_by(&mut self, sig: i32, secs: f64) {
        let st = self.wait_gone(secs);
        // Let the reader take the last lines.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            st.signal(),
            Some(sig),
            "unshare status {st:?}, want signal {sig}\n{}",
            self.dump()
        );
    }

    /// Fails if the console gets a new runit line within `secs`.
    fn quiet_for(&mut self, what: &str, secs: f64) {
        let before = self.runit_lines().len();
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < deadline {
            if self.runit_lines().len() != before || !self.running() {
                panic!("unexpected reaction to {what}\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            if let Some(fd) = self.pidfd.as_ref() {
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<u8>(),
                        0,
                    )
                };
            }
            unsafe { libc::kill(-(self.upid as i32), libc::SIGKILL) };
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Scratch namespaces where a shell is PID 1 (for runit-init and runit when
// they are *not* PID 1: their SIGCONT to PID 1 and any mistake stay inside)

/// Runs `body` as a script under a shell that is PID 1 of a new PID and
/// mount namespace, with a tmpfs /etc (and no /etc/runit) and /dev/null
/// bound over /dev/console. `$R` is the sandbox's `res/` directory and
/// PATH starts with our build directory. Returns the unshare exit code.
fn scratch(root: &Root, body: &str) -> Option<i32> {
    let script = format!(
        "set -u\nmount -t tmpfs tmpfs /etc || exit 90\nmount --bind /dev/null /dev/console || exit 91\n\
         R={res}\nexport PATH={dbg}:/usr/bin:/bin\n{body}\n",
        res = root.path("res").display(),
        dbg = debug_dir().display()
    );
    fs::write(root.path("scratch.sh"), script).unwrap();
    let unshare = Path::new("/usr/bin/unshare");
    let script = root.path("scratch.sh");
    let out = run_with(
        Path::new("/"),
        unshare,
        None,
        &[
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "--kill-child",
            "sh",
            script.to_str().unwrap(),
        ],
        &[],
        20.0,
    );
    let (code, o, e) = outcome(out);
    if code != Some(0) {
        eprintln!("scratch namespace: exit {code:?}\nstdout: {o}\nstderr: {e}");
    }
    code
}

fn res(root: &Root, name: &str) -> String {
    fs::read_to_string(root.path("res").join(name)).unwrap_or_else(|_| "<missing>".into())
}

// ===========================================================================
// Tests

/// A whole boot: stage 1, stage 2 with a logged service under our
/// runsvdir/runsv, `runit-init 0` from inside, stage 3 stopping the
/// service, KILL to all, power off, and the namespace ending by SIGINT.
/// Also: stage children get an empty mask and no ignored signals, stage 1
/// stays in runit's session and stage 2 gets its own, runit is PID 1,
/// stopit is mode 0 when stage 3 runs.
#[test]
fn full_boot_service_and_power_off() {
    let root = Root::new();
    root.standard()
        .runit_script(
            "1",
            "echo \"stage1 sid $(cut -d' ' -f6 /proc/$$/stat)\"\n\
             grep -E '^Sig(Blk|Ign)' /proc/self/status | sed 's/^/stage1 /'\necho stage1 done",
        )
        .runit_script(
            "2",
            "echo \"stage2 pid $$ sid $(cut -d' ' -f6 /proc/$$/stat)\"\n\
             grep -E '^Sig(Blk|Ign)' /proc/self/status | sed 's/^/stage2 /'\n\
             exec runsvdir -P /etc/service",
        );
    let svc = root.service(
        "a",
        "trap 'echo a got TERM; exit 0' TERM\necho a up\nwhile :; do sleep 1 & wait $!; done",
    );
    // The whole suite: our runsvdir, runsv and svlogd under our runit.
    svc.script("log/run", "exec svlogd .");
    let mut ns = root.boot(&ours("runit"));

    let t2 = ns.wait_line(ENTER2);
    let out = svc.path("log/current");
    wait_until("service a logged its start", SOON, || {
        fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("a up")
    });
    let up = t2.elapsed();

    // The process table: runit is PID 1, stage 2 is runsvdir in a session
    // of its own, the service and its logger run.
    let procs = ns.procs();
    let status = fs::read_to_string(format!("/proc/{}/status", ns.init)).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .to_string();
    assert!(nspid.split_whitespace().last() == Some("1"), "{nspid}");
    let p1 = procs.iter().find(|p| p.pid == 1).expect("pid 1");
    assert_eq!(p1.comm, "runit", "{procs:#?}");
    let rsd = procs
        .iter()
        .find(|p| p.comm == "runsvdir")
        .unwrap_or_else(|| panic!("no runsvdir: {procs:#?}"));
    assert_eq!(
        (rsd.ppid, rsd.sid, rsd.pgrp),
        (1, rsd.pid, rsd.pid),
        "{procs:#?}"
    );
    assert!(procs.iter().any(|p| p.comm == "runsv"), "{procs:#?}");
    assert!(procs.iter().any(|p| p.comm == "svlogd"), "{procs:#?}");
    assert!(
        ns.lines()
            .contains(&format!("stage2 pid {} sid {}", rsd.pid, rsd.pid)),
        "{}",
        ns.dump()
    );
    assert!(!procs.iter().any(|p| p.state == 'Z'), "zombies: {procs:#?}");

    let t_req = Instant::now();
    ns.request(&[ours("runit-init").to_str().unwrap(), "0"]);
    ns.assert_ends_by(libc::SIGINT, SOON);
    let down = t_req.elapsed();
    println!("runit timing (ours): stage 2 entered -> service up {up:?}; runit-init 0 -> namespace gone {down:?}");

    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ]);
    ns.assert_order(&[
        BANNER,
        ENTER1,
        "stage1 sid 1",
        "stage1 SigBlk:\t0000000000000000",
        "stage1 SigIgn:\t0000000000000000",
        "stage1 done",
        LEAVE1,
        ENTER2,
        "stage2 SigBlk:\t0000000000000000",
        "stage2 SigIgn:\t0000000000000000",
        LEAVE2,
        ENTER3,
        "stage3 stopit mode 0",
        "stage3 done",
        LEAVE3,
        KILLALL,
        POWEROFF,
    ]);
    let lines = ns.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok: down: /etc/service/a: ")),
        "{}",
        ns.dump()
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), "a up\na got TERM\n");
    assert_eq!(mode_of(&ns.etc_runit("stopit")), Some(0));
    assert_eq!(
        mode_of(&ns.etc_runit("reboot")),
        None,
        "runit-init 0 made a reboot file"
    );
}

/// `runit-init 6` → stage 3 → `system reboot.`, the namespace ends by
/// SIGHUP; stopit is mode 0 afterwards and the reboot file 0100.
#[test]
fn runit_init_6_reboots() {
    let root = Root::new();
    root.standard();
    let svc = root.service("a", "echo a up\nexec sleep 1000");
    let mut ns = root.boot(&ours("runit"));
    ns.wait_line(ENTER2);
    wait_until("service a up", SOON, || {
        svc.read("log/out").contains("a up")
    });
    ns.request(&[ours("runit-init").to_str().unwrap(), "6"]);
    ns.assert_ends_by(libc::SIGHUP, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, REBOOT,
    ]);
    ns.assert_order(&["stage3 stopit mode 0", "stage3 done"]);
    assert_eq!(mode_of(&ns.etc_runit("stopit")), Some(0));
    assert_eq!(mode_of(&ns.etc_runit("reboot")), Some(0o100));
}

/// SIGCONT without an executable stopit (absent, 0644, 0011) and SIGINT
/// without an executable ctrlaltdel (0644) do nothing: runit stays in stage
/// 2, stage 2 keeps running. Then an executable stopit plus SIGCONT (sent
/// from inside with `kill -CONT 1`) shuts down.
#[test]
fn sigcont_without_executable_stopit_is_ignored() {
    let root = Root::new();
    root.runit_script("1", "")
        .runit_script("2", "echo stage2 up\nexec sleep 1000")
        .runit_script("3", "");
    root.runit_script(
        "ctrlaltdel",
        ": > /etc/runit/stopit; chmod 100 /etc/runit/stopit",
    );
    chmod(&root.etc_runit("ctrlaltdel"), 0o644);
    let mut ns = root.boot(&ours("runit"));
    ns.wait_line("stage2 up");
    let stage2 = wait_for("stage 2's sleep", SOON, || {
        ns.procs().into_iter().find(|p| p.comm == "sleep")
    });

    ns.signal(libc::SIGCONT);
    ns.quiet_for("SIGCONT without stopit", 0.4);
    touch_mode(&ns.etc_runit("stopit"), 0o644);
    ns.signal(libc::SIGCONT);
    ns.quiet_for("SIGCONT with stopit 0644", 0.3);
    chmod(&ns.etc_runit("stopit"), 0o011);
    ns.signal(libc::SIGCONT);
    ns.quiet_for("SIGCONT with stopit 0011", 0.3);
    ns.signal(libc::SIGINT);
    ns.quiet_for("SIGINT with ctrlaltdel 0644", 0.3);
    assert_eq!(
        mode_of(&ns.etc_runit("stopit")),
        Some(0o011),
        "stopit touched"
    );
    assert!(
        ns.procs()
            .iter()
            .any(|p| p.pid == stage2.pid && p.comm == "sleep"),
        "stage 2 gone"
    );
    ns.assert_runit_lines(&[BANNER, ENTER1, LEAVE1, ENTER2]);

    chmod(&ns.etc_runit("stopit"), 0o100);
    ns.request(&["sh", "-c", "kill -CONT 1"]);
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ]);
    assert_eq!(mode_of(&ns.etc_runit("stopit")), Some(0));
}

/// SIGINT with an executable ctrlaltdel that makes stopit executable:
/// `ctrl-alt-del request...`, the ctrlaltdel "stage", then the shutdown.
#[test]
fn sigint_runs_ctrlaltdel_then_shuts_down() {
    let root = Root::new();
    root.runit_script("1", "")
        .runit_script("2", "echo stage2 up\nexec sleep 1000")
        .runit_script("3", "echo stage3 ran")
        .runit_script(
            "ctrlaltdel",
            "echo cad running\ngrep -E '^Sig(Blk|Ign)' /proc/self/status | sed 's/^/cad /'\n\
             : > /etc/runit/stopit\nchmod 100 /etc/runit/stopit\necho cad done",
        );
    let mut ns = root.boot(&ours("runit"));
    ns.wait_line("stage2 up");
    ns.signal(libc::SIGINT);
    ns.assert_ends_by(libc::SIGINT, SOON);
    let cad_enter = "- runit: enter stage: /etc/runit/ctrlaltdel";
    let cad_leave = "- runit: leave stage: /etc/runit/ctrlaltdel";
    ns.assert_runit_lines(&[
        BANNER,
        ENTER1,
        LEAVE1,
        ENTER2,
        "- runit: ctrl-alt-del request...",
        cad_enter,
        cad_leave,
        LEAVE2,
        ENTER3,
        LEAVE3,
        KILLALL,
        POWEROFF,
    ]);
    ns.assert_order(&[
        cad_enter,
        "cad running",
        "cad SigBlk:\t0000000000000000",
        "cad SigIgn:\t0000000000000000",
        "cad done",
        cad_leave,
        ENTER3,
        "stage3 ran",
    ]);
    assert_eq!(mode_of(&ns.etc_runit("stopit")), Some(0));
}

/// SIGPWR (our extension, as Debian and Void) shuts down and powers off,
/// even with an executable reboot file and no stopit at all.
#[test]
fn sigpwr_powers_off_despite_reboot_file() {
    let root = Root::new();
    root.runit_script("1", "")
        .runit_script("2", "echo stage2 up\nexec sleep 1000")
        .runit_script("3", "echo stage3 ran");
    touch_mode(&root.etc_runit("reboot"), 0o100);
    let mut ns = root.boot(&ours("runit"));
    ns.wait_line("stage2 up");
    ns.signal(libc::SIGPWR);
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ]);
    ns.assert_order(&[ENTER3, "stage3 ran", LEAVE3]);
}

/// Signals in stages 1 and 3 only give `signals only work in stage 2.`
/// and are forgotten: an executable stopit plus SIGCONT in stage 1 does not
/// cut stage 2 short, and a SIGPWR in stage 1 or 3 does not override the
/// executable reboot file (the machine reboots).
#[test]
fn signals_outside_stage_2_only_warn() {
    let root = Root::new();
    root.gate("gate1").gate("gate2").gate("gate3");
    root.runit_script("1", "echo stage1 waiting\n: < /etc/runit/gate1")
        .runit_script(
            "2",
            "echo stage2 waiting\n: < /etc/runit/gate2\necho stage2 done",
        )
        .runit_script("3", "echo stage3 waiting\n: < /etc/runit/gate3");
    touch_mode(&root.etc_runit("reboot"), 0o100);
    let mut ns = root.boot(&ours("runit"));
    ns.wait_line("stage1 waiting");
    touch_mode(&ns.etc_runit("stopit"), 0o100);
    ns.signal(libc::SIGCONT);
    ns.wait_line_nth(ONLY2, 1, SOON);
    ns.signal(libc::SIGINT);
    ns.wait_line_nth(ONLY2, 2, SOON);
    ns.signal(libc::SIGPWR);
    ns.wait_line_nth(ONLY2, 3, SOON);
    ns.open_gate("gate1");
    ns.wait_line("stage2 waiting");
    ns.quiet_for("stage 2 after signals in stage 1", 0.3);
    ns.open_gate("gate2");
    ns.wait_line("stage3 waiting");
    ns.signal(libc::SIGCONT);
    ns.wait_line_nth(ONLY2, 4, SOON);
    ns.signal(libc::SIGPWR);
    ns.wait_line_nth(ONLY2, 5, SOON);
    ns.open_gate("gate3");
    ns.assert_ends_by(libc::SIGHUP, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, ONLY2, ONLY2, ONLY2, LEAVE1, ENTER2, LEAVE2, ENTER3, ONLY2, ONLY2, LEAVE3,
        KILLALL, REBOOT,
    ]);
    ns.assert_order(&["stage2 waiting", "stage2 done", LEAVE2]);
    // The stopit file was never acted on.
    assert_eq!(mode_of(&ns.etc_runit("stopit")), Some(0o100));
}

/// Stage 2 that exits 111 on its first run is restarted after 5 s: its
/// process group is killed first; no `leave stage` for it.
#[test]
fn stage2_exit_111_is_restarted() {
    stage2_restart("exit 111", "- runit: warning: child failed: /etc/runit/2");
}

/// Stage 2 killed by a signal on its first run is restarted after 5 s
/// (2.3.0; 2.1.2 went on to stage 3).
#[test]
fn stage2_killed_by_signal_is_restarted() {
    stage2_restart(
        "kill -KILL $$",
        "- runit: warning: child crashed: /etc/runit/2",
    );
}

fn stage2_restart(first_end: &str, warning: &str) {
    let root = Root::new();
    root.runit_script("1", "")
        .runit_script(
            "2",
            &format!(
                "n=$(cat /etc/runit/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /etc/runit/count\n\
                 if [ $n = 1 ]; then sleep 1000 & echo \"stage2 run 1 left $!\"; {first_end}; fi\n\
                 echo \"stage2 run $n\"\nexec sleep 1000"
            ),
        )
        .runit_script("3", "echo stage3 ran");
    let mut ns = root.boot(&ours("runit"));
    let left: u32 = wait_for("stage 2's first run", SOON, || {
        ns.lines()
            .iter()
            .find_map(|l| l.strip_prefix("stage2 run 1 left ")?.parse().ok())
    });
    let killing = "- runit: warning: killing all processes in stage 2...";
    let restarting = "- runit: warning: restarting.";
    let t_kill = ns.wait_line(killing);
    let t_restart = ns.wait_line_nth(restarting, 1, 10.0);
    ns.wait_line("stage2 run 2");
    let pause = t_restart - t_kill;
    println!("runit timing (ours): stage 2 restart pause {pause:?} ({warning})");
    assert!(
        pause >= Duration::from_millis(4900) && pause < Duration::from_secs(7),
        "pause {pause:?}"
    );
    // The process left behind in stage 2's group is gone, not a zombie.
    let procs = ns.procs();
    assert!(
        !procs.iter().any(|p| p.pid == left),
        "stage 2's leftover {left} survived: {procs:#?}"
    );
    assert!(!procs.iter().any(|p| p.state == 'Z'), "zombies: {procs:#?}");
    ns.signal(libc::SIGPWR);
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, warning, killing, restarting, ENTER2, LEAVE2, ENTER3,
        LEAVE3, KILLALL, POWEROFF,
    ]);
    assert_eq!(ns.count("stage2 run 1"), 0);
}

/// Stage 1 exiting 100 or killed by a signal skips stage 2; exiting 1 is
/// "failed" but stage 2 runs.
#[test]
fn stage1_outcomes() {
    let skip = "- runit: warning: skipping stage 2...";
    let failed = "- runit: warning: child failed: /etc/runit/1";
    let crashed = "- runit: warning: child crashed: /etc/runit/1";
    let cases: [(&str, &[&str], bool); 3] = [
        (
            "exit 100",
            &[
                BANNER, ENTER1, failed, LEAVE1, skip, ENTER3, LEAVE3, KILLALL, POWEROFF,
            ],
            false,
        ),
        (
            "kill -KILL $$",
            &[
                BANNER, ENTER1, crashed, LEAVE1, skip, ENTER3, LEAVE3, KILLALL, POWEROFF,
            ],
            false,
        ),
        (
            "exit 1",
            &[
                BANNER, ENTER1, failed, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
            ],
            true,
        ),
    ];
    for (end, want, stage2_runs) in cases {
        let root = Root::new();
        root.runit_script("1", &format!("echo stage1\n{end}"))
            .runit_script("2", "echo stage2 ran")
            .runit_script("3", "echo stage3 ran");
        let mut ns = root.boot(&ours("runit"));
        ns.assert_ends_by(libc::SIGINT, SOON);
        ns.assert_runit_lines(want);
        assert_eq!(
            ns.count("stage2 ran"),
            usize::from(stage2_runs),
            "stage 1 `{end}`\n{}",
            ns.dump()
        );
        assert_eq!(ns.count("stage3 ran"), 1, "stage 1 `{end}`\n{}", ns.dump());
    }
}

/// A missing stage program counts as success: the child prints why and
/// exits 0, runit leaves the stage and goes on.
#[test]
fn missing_stage_programs_count_as_success() {
    let root = Root::new();
    root.runit_script("2", "echo stage2 ran");
    let mut ns = root.boot(&ours("runit"));
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER,
        ENTER1,
        "- runit: fatal: unable to start child: /etc/runit/1: file does not exist",
        LEAVE1,
        ENTER2,
        LEAVE2,
        ENTER3,
        "- runit: fatal: unable to start child: /etc/runit/3: file does not exist",
        LEAVE3,
        KILLALL,
        POWEROFF,
    ]);
    ns.assert_order(&[ENTER2, "stage2 ran", LEAVE2]);
}

/// /etc/runit/nosync present: the shutdown still powers off.
#[test]
fn nosync_still_powers_off() {
    let root = Root::new();
    root.runit_script("1", "")
        .runit_script("2", "")
        .runit_script("3", "");
    fs::write(root.etc_runit("nosync"), "").unwrap();
    let mut ns = root.boot(&ours("runit"));
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ]);
}

/// A double-forking service leaves orphans to PID 1; runit reaps them all:
/// no zombie stays in the namespace. The 20 orphans wait on a FIFO and all
/// exit at once when the test opens it.
#[test]
fn orphans_are_reaped() {
    let root = Root::new();
    root.standard().gate("orphans");
    let svc = root.service(
        "d",
        "i=0; while [ $i -lt 20 ]; do (sh -c ': < /etc/runit/orphans' &); i=$((i+1)); done\n\
         echo d up\nexec sleep 1000",
    );
    let mut ns = root.boot(&ours("runit"));
    wait_until("service d up", SOON, || {
        svc.read("log/out").contains("d up")
    });
    let orphans: Vec<u32> = wait_for("20 orphans re-parented to PID 1", SOON, || {
        let v: Vec<u32> = ns
            .procs()
            .iter()
            .filter(|p| p.ppid == 1 && p.comm == "sh")
            .map(|p| p.pid)
            .collect();
        (v.len() == 20).then_some(v)
    });
    ns.open_gate("orphans");
    wait_until("every orphan gone", SOON, || {
        let procs = ns.procs();
        !procs.iter().any(|p| orphans.contains(&p.pid))
    });
    let procs = ns.procs();
    assert!(!procs.iter().any(|p| p.state == 'Z'), "zombies: {procs:#?}");
    assert!(procs.iter().any(|p| p.comm == "runsv"), "{procs:#?}");
    ns.signal(libc::SIGPWR);
    ns.assert_ends_by(libc::SIGINT, SOON);
}

/// runit not PID 1: `- runit: fatal: must be run as process no 1.`, exit
/// 111 (arguments ignored); the same as the reference. Run under a shell
/// that is PID 1 of a scratch namespace, so a runit that wrongly carried
/// on could not touch the machine.
#[test]
fn runit_not_pid_1_refuses() {
    let root = Root::new();
    let reference = ref_runit_pid1();
    let body = format!(
        "runit >$R/a.out 2>$R/a.err; echo $? >$R/a.rc\n\
         {ours} foo >$R/b.out 2>$R/b.err; echo $? >$R/b.rc\n\
         {refcmd}",
        ours = ours("runit").display(),
        refcmd = match &reference {
            Some(r) => format!("{} >$R/r.out 2>$R/r.err; echo $? >$R/r.rc", r.display()),
            None => String::new(),
        }
    );
    assert_eq!(scratch(&root, &body), Some(0));
    let fatal = "- runit: fatal: must be run as process no 1.\n";
    for c in ["a", "b"] {
        assert_eq!(
            (
                res(&root, &format!("{c}.rc")),
                res(&root, &format!("{c}.out")),
                res(&root, &format!("{c}.err"))
            ),
            ("111\n".into(), String::new(), fatal.into()),
            "case {c}"
        );
    }
    if reference.is_some() {
        assert_eq!(
            (res(&root, "r.rc"), res(&root, "r.err")),
            ("111\n".into(), fatal.into()),
            "reference"
        );
    }
}

/// runit-init when not PID 1: requests through the stopit and reboot
/// files (in the namespace's tmpfs /etc) and SIGCONT to PID 1 (a shell
/// that traps it), usage and `-V`, and the failure messages.
#[test]
fn runit_init_not_pid_1() {
    let root = Root::new();
    let abs = ours("runit-init");
    let body = format!(
        r#"cont=
trap 'cont=yes' CONT
st() {{ stat -c %a "$1" 2>/dev/null || echo none; }}
c() {{
  name=$1; shift
  "$@" >$R/$name.out 2>$R/$name.err; echo $? >$R/$name.rc
  : "wait for the trap"; echo "$cont" >$R/$name.cont; cont=
  echo "$(st /etc/runit/stopit) $(st /etc/runit/reboot)" >$R/$name.modes
}}
c nodir runit-init 0
mkdir /etc/runit
c zero runit-init 0
chmod 0 /etc/runit/stopit
c six runit-init 6
chmod 0 /etc/runit/stopit
c zero_after_six runit-init 0
echo junk > /etc/runit/stopit; chmod 0 /etc/runit/stopit; rm /etc/runit/reboot
c zeroxyz runit-init 0xyz extra
echo "$(wc -c < /etc/runit/stopit)" > $R/zeroxyz.size
chmod 0 /etc/runit/stopit
c sixabc runit-init 6abc
chmod 0 /etc/runit/stopit /etc/runit/reboot
c five runit-init 5
c empty runit-init ''
c noarg runit-init
c version runit-init -V
c abspath {abs}
rm /etc/runit/reboot
ln -s /nonexistent/reboot /etc/runit/reboot
c six_badreboot runit-init 6
rm /etc/runit/reboot; chmod 0 /etc/runit/stopit
mkdir /etc/ro; mount -t tmpfs tmpfs /etc/ro; : > /etc/ro/f; mount -o remount,ro /etc/ro
ln -s /etc/ro/f /etc/runit/reboot
c zero_roreboot runit-init 0
rm /etc/runit/reboot; chmod 0 /etc/runit/stopit
mount --bind /etc/runit /etc/runit; mount -o remount,bind,ro /etc/runit
c zero_rostopit runit-init 0
"#,
        abs = abs.display()
    );
    assert_eq!(scratch(&root, &body), Some(0));
    let usage = "usage: runit-init 0|6\n\n";
    let get = |name: &str| {
        (
            res(&root, &format!("{name}.rc")).trim().to_string(),
            res(&root, &format!("{name}.out")),
            res(&root, &format!("{name}.err")),
            res(&root, &format!("{name}.cont")).trim().to_string(),
            res(&root, &format!("{name}.modes")).trim().to_string(),
        )
    };
    let s = |x: &str| x.to_string();
    // (exit code, stdout, stderr, PID 1 got SIGCONT, `stopit reboot` modes)
    type Outcome = (String, String, String, String, String);
    let want: Vec<(&str, Outcome)> = vec![
        (
            "nodir",
            (
                s("111"),
                s(""),
                s("init: fatal: unable to create /etc/runit/stopit: file does not exist\n"),
                s(""),
                s("none none"),
            ),
        ),
        ("zero", (s("0"), s(""), s(""), s("yes"), s("100 none"))),
        ("six", (s("0"), s(""), s(""), s("yes"), s("100 100"))),
        (
            "zero_after_six",
            (s("0"), s(""), s(""), s("yes"), s("100 0")),
        ),
        ("zeroxyz", (s("0"), s(""), s(""), s("yes"), s("100 none"))),
        ("sixabc", (s("0"), s(""), s(""), s("yes"), s("100 100"))),
        ("five", (s("0"), s(""), s(usage), s(""), s("0 0"))),
        ("empty", (s("0"), s(""), s(usage), s(""), s("0 0"))),
        ("noarg", (s("0"), s(""), s(usage), s(""), s("0 0"))),
        (
            "version",
            (
                s("0"),
                s(""),
                format!("{INIT_VERSION}\n\n{usage}"),
                s(""),
                s("0 0"),
            ),
        ),
        (
            "abspath",
            (
                s("0"),
                s(""),
                format!("usage: {} 0|6\n\n", abs.display()),
                s(""),
                s("0 0"),
            ),
        ),
        (
            "six_badreboot",
            (
                s("111"),
                s(""),
                s("init: fatal: unable to create /etc/runit/reboot: file does not exist\n"),
                s(""),
                s("100 777"),
            ),
        ),
        (
            "zero_roreboot",
            (
                s("111"),
                s(""),
                s("init: fatal: unable to chmod /etc/runit/reboot: read-only file system\n"),
                s(""),
                s("100 777"),
            ),
        ),
        (
            "zero_rostopit",
            (
                s("111"),
                s(""),
                s("init: fatal: unable to create /etc/runit/stopit: read-only file system\n"),
                s(""),
                s("0 none"),
            ),
        ),
    ];
    let mut bad = Vec::new();
    for (name, w) in &want {
        let got = get(name);
        if &got != w {
            bad.push(format!("{name}: want {w:?}\n  got {got:?}"));
        }
    }
    assert_eq!(
        res(&root, "zeroxyz.size").trim(),
        "0",
        "stopit not truncated"
    );
    assert!(
        bad.is_empty(),
        "runit-init cases differ:\n{}",
        bad.join("\n")
    );
}

/// runit-init as PID 1 with no /sbin/runit: `init: fatal: unable to start
/// runit: file does not exist`, exit 111.
#[test]
fn runit_init_pid_1_without_sbin_runit() {
    let root = Root::new();
    let mut ns = root.boot_with(&ours("runit-init"), Sbin::Empty, "");
    let st = ns.wait_gone(SOON);
    assert_eq!(st.code(), Some(111), "{st:?}\n{}", ns.dump());
    let out = fs::read_to_string(ns.path("unshare.out")).unwrap();
    assert_eq!(
        out,
        "init: fatal: unable to start runit: file does not exist\n"
    );
    assert!(ns.lines().is_empty(), "{}", ns.dump());
}

/// runit-init as PID 1 with /sbin/runit: becomes runit (argv[0] `runit`,
/// same environment) and boots.
#[test]
fn runit_init_pid_1_execs_sbin_runit() {
    let root = Root::new();
    root.runit_script(
        "1",
        "echo \"stage1 pid1 argv: $(tr '\\0' ' ' < /proc/1/cmdline)\"\necho \"stage1 FOO=$FOO\"",
    )
    .runit_script("2", "")
    .runit_script("3", "");
    let mut ns = root.boot_with(&ours("runit-init"), Sbin::OurRunit, "export FOO=bar\n");
    ns.assert_ends_by(libc::SIGINT, SOON);
    ns.assert_runit_lines(&[
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ]);
    ns.assert_order(&["stage1 pid1 argv: runit ", "stage1 FOO=bar"]);
}

/// The same boot and shutdown under ours and under the reference runit
/// 2.1.2 (stopit in /run/runit.stopit; SIGCONT left ignored in children):
/// the same runit lines apart from the banner, and ours shuts down no
/// slower. The request is the same for both: create stopit with mode 0100
/// and `kill -CONT 1`, from inside.
#[test]
fn shutdown_timing_against_reference() {
    let Some(reference) = ref_runit_pid1() else {
        return;
    };
    struct Run {
        up: Duration,
        down: Duration,
        lines: Vec<String>,
        sigign2: Option<String>,
    }
    let boot = |init: &Path, stopit: &str| -> Run {
        let root = Root::new();
        root.standard().runit_script(
            "2",
            "grep -E '^SigIgn' /proc/self/status | sed 's/^/stage2 /'\nexec runsvdir -P /etc/service",
        );
        root.runit_script(
            "3",
            "sv -w5 force-stop /etc/service/*\nsv exit /etc/service/*\necho stage3 done",
        );
        let svc = root.service("a", "echo a up\nexec sleep 1000");
        let mut ns = root.boot(init);
        let t2 = ns.wait_line(ENTER2);
        wait_until("service a up", SOON, || {
            svc.read("log/out").contains("a up")
        });
        let up = t2.elapsed();
        let t = Instant::now();
        let req = format!(": > {stopit}; chmod 100 {stopit}; kill -CONT 1");
        ns.request(&["sh", "-c", &req]);
        ns.assert_ends_by(libc::SIGINT, SOON);
        let down = t.elapsed();
        let sigign2 = ns
            .lines()
            .iter()
            .find_map(|l| l.strip_prefix("stage2 SigIgn:\t").map(str::to_owned));
        Run {
            up,
            down,
            lines: ns.runit_lines(),
            sigign2,
        }
    };
    let o = boot(&ours("runit"), "/etc/runit/stopit");
    let r = boot(&reference, "/run/runit.stopit");
    println!(
        "runit timing: stage 2 -> service up: ours {:?}, reference {:?}; shutdown request -> namespace gone: ours {:?}, reference {:?}",
        o.up, r.up, o.down, r.down
    );
    let want = [
        BANNER, ENTER1, LEAVE1, ENTER2, LEAVE2, ENTER3, LEAVE3, KILLALL, POWEROFF,
    ];
    assert_eq!(o.lines, want);
    assert!(
        r.lines[0].starts_with("- runit: $Id: ") && r.lines[0].ends_with(" $: booting."),
        "{:?}",
        r.lines
    );
    assert_eq!(r.lines[1..], want[1..], "reference");
    assert_eq!(o.sigign2.as_deref(), Some("0000000000000000"));
    // 2.1.2 left SIGCONT (bit 18) ignored in its stages (SPEC §12).
    assert_eq!(r.sigign2.as_deref(), Some("0000000000020000"));
    assert!(
        o.down <= r.down,
        "ours shut down slower: {:?} vs reference {:?}",
        o.down,
        r.down
    );
}
