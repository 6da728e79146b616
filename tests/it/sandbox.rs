//! Test scaffolding: temp service trees, supervised children that are
//! killed with their whole process group on drop, waits with deadlines,
//! and the location of the reference programs.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Our binaries (built by cargo for this test run).
pub fn ours(name: &str) -> PathBuf {
    match name {
        "runsv" => PathBuf::from(env!("CARGO_BIN_EXE_runsv")),
        "sv" => PathBuf::from(env!("CARGO_BIN_EXE_sv")),
        "runsvdir" => PathBuf::from(env!("CARGO_BIN_EXE_runsvdir")),
        "chpst" => PathBuf::from(env!("CARGO_BIN_EXE_chpst")),
        "runsvchdir" => PathBuf::from(env!("CARGO_BIN_EXE_runsvchdir")),
        "utmpset" => PathBuf::from(env!("CARGO_BIN_EXE_utmpset")),
        "runit" => PathBuf::from(env!("CARGO_BIN_EXE_runit")),
        "svlogd" => PathBuf::from(env!("CARGO_BIN_EXE_svlogd")),
        "runit-init" => PathBuf::from(env!("CARGO_BIN_EXE_runit-init")),
        other => panic!("no binary {other} in this build"),
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A reference program from Debian's runit 2.1.2 or daemontools 0.76.
/// Without it the test is skipped, except under `CI=true`, where it fails.
pub fn reference(pkg: &str, name: &str) -> Option<PathBuf> {
    let base = repo().join("reference").join(pkg);
    let p = base.join("usr/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    let sbin = base.join("usr/sbin").join(name);
    if sbin.exists() {
        return Some(sbin);
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

pub fn ref_runit(name: &str) -> Option<PathBuf> {
    reference("runit", name)
}

pub fn ref_daemontools(name: &str) -> Option<PathBuf> {
    reference("daemontools", name)
}

/// Polls `f` every few ms until it returns `Some`, or panics after `secs`.
pub fn wait_for<T>(what: &str, secs: f64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `f` is true.
pub fn wait_until(what: &str, secs: f64, mut f: impl FnMut() -> bool) {
    wait_for(what, secs, || f().then_some(()))
}

/// Asserts `f` stays false for `secs` (used for "nothing happens" checks).
pub fn stays_false(what: &str, secs: f64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < deadline {
        assert!(!f(), "unexpected: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A temporary directory that holds service directories.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("runit-rs-it.")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// A sandbox in memory (/dev/shm when present): file writes cost
    /// microseconds, which narrows timing windows the way a fast machine does.
    pub fn in_memory() -> Sandbox {
        let base = Path::new("/dev/shm");
        if !base.is_dir() {
            return Sandbox::new();
        }
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("runit-rs-it.")
                .tempdir_in(base)
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates service directory `name` with an executable `run` script.
    pub fn service(&self, name: &str, run: &str) -> Service {
        let dir = self.path().join(name);
        fs::create_dir_all(&dir).expect("mkdir service");
        let s = Service { dir };
        s.script("run", run);
        s
    }
}

/// A service directory under construction or under supervision.
#[derive(Clone)]
pub struct Service {
    pub dir: PathBuf,
}

impl Service {
    /// Writes an executable script (`#!/bin/sh` is prepended) at `rel`.
    pub fn script(&self, rel: &str, body: &str) -> &Service {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        self
    }

    pub fn file(&self, rel: &str, body: &str) -> &Service {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(p, body).expect("write file");
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dir.join(rel)).unwrap_or_default()
    }

    pub fn stat(&self) -> String {
        self.read("supervise/stat")
    }

    pub fn log_stat(&self) -> String {
        self.read("log/supervise/stat")
    }

    pub fn status(&self) -> Vec<u8> {
        fs::read(self.dir.join("supervise/status")).unwrap_or_default()
    }

    /// The pid in `supervise/pid`, if any.
    pub fn pid(&self) -> Option<u32> {
        self.read("supervise/pid").trim().parse().ok()
    }

    pub fn log_pid(&self) -> Option<u32> {
        self.read("log/supervise/pid").trim().parse().ok()
    }

    /// Writes command bytes to `supervise/control` (non-blocking open).
    pub fn control(&self, bytes: &str) {
        control_fifo(&self.dir.join("supervise/control"), bytes.as_bytes());
    }

    pub fn log_control(&self, bytes: &str) {
        control_fifo(&self.dir.join("log/supervise/control"), bytes.as_bytes());
    }

    /// Waits until `supervise/stat` reads `want`.
    pub fn wait_stat(&self, want: &str) {
        wait_until(
            &format!("stat {want:?} in {}", self.dir.display()),
            10.0,
            || self.stat() == want,
        );
    }

    /// Waits until a running process with a pid other than `old` is recorded.
    pub fn wait_new_pid(&self, old: Option<u32>) -> u32 {
        wait_for("a new pid", 10.0, || {
            self.pid().filter(|p| Some(*p) != old && alive(*p))
        })
    }

    /// Waits until the [`SIGNAL_RECORDER`] has started `n` times with its
    /// traps set; returns the pid of the last start.
    pub fn wait_recorder(&self, n: usize) -> u32 {
        wait_for(&format!("{n} recorder start(s)"), 10.0, || {
            let pids = self.lines("pids");
            (pids.len() >= n)
                .then(|| pids.last()?.parse().ok())
                .flatten()
        })
    }

    /// Lines of a log file the scripts append to.
    pub fn lines(&self, rel: &str) -> Vec<String> {
        self.read(rel).lines().map(str::to_owned).collect()
    }
}

pub fn control_fifo(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all(bytes).expect("write control");
}

pub fn alive(pid: u32) -> bool {
    // A zombie counts as gone.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// The state letter of a process from /proc (R, S, T, Z, ...).
pub fn proc_state(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.trim_start().chars().next()
}

/// A child process in its own process group, killed with the group on drop.
pub struct Guarded {
    pub child: Option<Child>,
    pub pid: u32,
    pub stderr_path: PathBuf,
}

impl Guarded {
    /// Waits for exit with a deadline; returns the status.
    pub fn wait_exit(&mut self, secs: f64) -> ExitStatus {
        let child = self.child.as_mut().expect("child");
        wait_for("process exit", secs, || child.try_wait().expect("try_wait"))
    }

    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .map(|c| c.try_wait().ok().flatten().is_none())
            .unwrap_or(false)
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid as i32, sig) };
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `prog args...` in `cwd` as the leader of a new process group,
/// stdin from /dev/null, stdout and stderr into `stderr_path`.
pub fn spawn_in(cwd: &Path, prog: &Path, args: &[&str], stderr_path: PathBuf) -> Guarded {
    let err = fs::File::create(&stderr_path).expect("stderr file");
    let out = err.try_clone().expect("dup");
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // Hand the program a clean descriptor table (cargo leaks its jobserver
    // pipes into tests), so fd checks see only what the program opened.
    // SAFETY: close_range is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", prog.display()));
    let pid = child.id();
    Guarded {
        child: Some(child),
        pid,
        stderr_path,
    }
}

/// Starts `runsv NAME` (ours or another binary) in the sandbox.
pub fn start_runsv(bin: &Path, sb: &Sandbox, name: &str) -> Guarded {
    let errf = sb.path().join(format!("{name}.runsv-stderr"));
    spawn_in(sb.path(), bin, &[name], errf)
}

/// Runs a command to completion with a deadline.
pub fn run(cwd: &Path, prog: &Path, args: &[&str]) -> Output {
    run_env(cwd, prog, args, &[])
}

pub fn run_env(cwd: &Path, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with(cwd, prog, None, args, env, 60.0)
}

/// Runs to completion with argv[0] `argv0` (if given), extra environment
/// and a deadline of `secs` (then the test fails). Output goes to files,
/// so waiting needs no reader threads and a chatty child cannot block on a
/// full pipe; a killed pid is always our own unreaped child.
pub fn run_with(
    cwd: &Path,
    prog: &Path,
    argv0: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
    secs: f64,
) -> Output {
    let out_f = tempfile::tempfile().expect("stdout file");
    let err_f = tempfile::tempfile().expect("stderr file");
    let mut cmd = Command::new(prog);
    if let Some(a) = argv0 {
        cmd.arg0(a);
    }
    cmd.args(args).current_dir(cwd).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(out_f.try_clone().expect("dup"))
        .stderr(err_f.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", prog.display()));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit within {secs} s", prog.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |mut f: fs::File| {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).expect("seek");
        f.read_to_end(&mut v).expect("read");
        v
    };
    Output {
        status,
        stdout: read(out_f),
        stderr: read(err_f),
    }
}

/// Exit code, stdout and stderr as text.
pub fn outcome(out: Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A run script that records every catchable signal it gets in `sigs`,
/// appends its pid to `pids` once its traps are set (wait for that with
/// [`wait_recorder`] before signalling), and never exits on its own.
pub const SIGNAL_RECORDER: &str = r#"for s in HUP ALRM INT QUIT USR1 USR2 CONT; do trap "echo $s >> sigs" $s; done
trap 'echo TERM >> sigs; exit 0' TERM
echo $$ >> pids
echo started
while :; do sleep 1 & wait $!; done"#;
