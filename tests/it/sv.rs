//! sv: our sv against runit 2.1.2's sv (reference/), command by command.
//!
//! Most tests build the same service tree twice, one sandbox per sv, run
//! the reference sv in one and ours in the other with the same arguments
//! at the same time, and require the same stdout, stderr and exit code once
//! the sandbox path reads `SB` and pids and seconds read `N` ([`mask`]).
//! In arguments and environment values `{SB}` stands for the sandbox path;
//! `SVDIR` is `{SB}` and `SVWAIT` is 7 unless a test says otherwise. Every
//! test also asserts the expected text for ours, so it still checks
//! something when the reference is missing (skipped locally; under
//! `CI=true` a missing reference fails).
//!
//! Where upstream 2.3.0 (our target) differs from Debian's 2.1.2 (SPEC
//! §12: the `check` command, LSB `status` with a log service), ours is held
//! to 2.3.0 and the reference's 2.1.2 value is asserted and documented
//! separately.
//!
//! The services are supervised by a real runsv (ours; the `interop` tests
//! rerun the command scenarios on the reference runsv), or by a *fake*: a
//! `supervise/` directory whose FIFOs the test holds open for reading and
//! whose `status` it writes byte by byte. A fake shows exactly which bytes
//! sv wrote to `supervise/control`, and can hold any status, including
//! malformed ones; nothing ever answers, so waits end in `timeout:`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::sandbox::*;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Exit code, stdout, stderr.
type Res = (Option<i32>, String, String);

fn res(code: i32, out: &str, err: &str) -> Res {
    (Some(code), out.to_owned(), err.to_owned())
}

fn ok(out: &str) -> Res {
    res(0, out, "")
}

const USAGE: &str = "usage: sv [-v] [-w sec] command service ...\n\n";
/// SPEC §2.9: what upstream 2.3.0's `sv -V` prints.
const ID_2_3_0: &str = "$Id: b55dfab6dd0e89e123220186c95410f869e8b626 $";

// ---------------------------------------------------------------------------
// Masking

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mask {
    /// Pids (`(pid N)`) and seconds (`Ns`): for real services.
    PidsAndSecs,
    /// Seconds only: for fakes, whose pids are made up and must be exact.
    Secs,
    /// Only the sandbox path and version ids.
    Nothing,
}

/// The sandbox path becomes `SB`, `$Id: ... $` becomes `$Id: ID $`, and
/// the digits of pids and of status-line seconds become `N`.
fn mask(text: &str, sb: &Path, m: Mask) -> String {
    let text = mask_ids(&text.replace(&*sb.to_string_lossy(), "SB"));
    if m == Mask::Nothing {
        return text;
    }
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let before = &text[..start];
            let after = &text[i..];
            let pid = m == Mask::PidsAndSecs && before.ends_with("(pid ") && after.starts_with(')');
            let secs = (before.ends_with(": ") || before.ends_with(") "))
                && after.starts_with('s')
                && matches!(after.as_bytes().get(1), None | Some(b';' | b',' | b'\n'));
            if pid || secs {
                out.push('N');
            } else {
                out.push_str(&text[start..i]);
            }
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("$Id: ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        match rest.find(" $") {
            Some(j) => {
                out.push_str("ID");
                rest = &rest[j..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

fn sort_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn sv_mask_hides_sandbox_pids_seconds_and_version_ids() {
    let sb = Path::new("/tmp/x1");
    assert_eq!(
        mask(
            "run: /tmp/x1/s1: (pid 123) 45s; run: log: (pid 6) 7s\n",
            sb,
            Mask::PidsAndSecs
        ),
        "run: SB/s1: (pid N) Ns; run: log: (pid N) Ns\n"
    );
    assert_eq!(
        mask("down: s2: 10s, normally up\n", sb, Mask::PidsAndSecs),
        "down: s2: Ns, normally up\n"
    );
    assert_eq!(
        mask("run: s2: (pid 42) 100s\n", sb, Mask::Secs),
        "run: s2: (pid 42) Ns\n"
    );
    assert_eq!(
        mask("run: s2: (pid 42) 100s\n", sb, Mask::Nothing),
        "run: s2: (pid 42) 100s\n"
    );
    assert_eq!(
        mask("fail: 3: x 12s 4s\n", sb, Mask::PidsAndSecs),
        "fail: 3: x 12s 4s\n"
    );
    assert_eq!(
        mask("$Id: 0123abc $\nusage: sv\n", sb, Mask::Secs),
        "$Id: ID $\nusage: sv\n"
    );
}

// ---------------------------------------------------------------------------
// Status bytes and fake supervisors

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn tai(unix: u64) -> u64 {
    0x4000_0000_0000_000A + unix
}

/// The 20-byte status file (SPEC §6.4).
fn status_bytes(tai: u64, pid: u32, paused: u8, want: u8, term: u8, state: u8) -> Vec<u8> {
    let mut v = tai.to_be_bytes().to_vec();
    v.extend_from_slice(&500u32.to_be_bytes());
    v.extend_from_slice(&pid.to_le_bytes());
    v.extend_from_slice(&[paused, want, term, state]);
    v
}

/// `./run` running as `pid` for 100 s, wanted up.
fn st_run(pid: u32) -> Vec<u8> {
    status_bytes(tai(unix_now() - 100), pid, 0, b'u', 0, 1)
}

/// Down for 100 s, wanted down.
fn st_down() -> Vec<u8> {
    status_bytes(tai(unix_now() - 100), 0, 0, b'd', 0, 0)
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        r,
        0,
        "mkfifo {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

fn fifo_reader(p: &Path) -> fs::File {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .unwrap_or_else(|e| panic!("open {} for reading: {e}", p.display()))
}

/// A `supervise/` directory without runsv: `ok` and `control` FIFOs, held
/// open for reading when "running", and a status file the test writes.
struct Fake {
    svc: Service,
    _ok: Option<fs::File>,
    control: Option<fs::File>,
}

impl Fake {
    fn new(dir: &Path, status: Option<&[u8]>, ok_reader: bool, control_reader: bool) -> Fake {
        let svc = Service {
            dir: dir.to_path_buf(),
        };
        fs::create_dir_all(svc.path("supervise")).unwrap();
        mkfifo(&svc.path("supervise/ok"));
        mkfifo(&svc.path("supervise/control"));
        let f = Fake {
            _ok: ok_reader.then(|| fifo_reader(&svc.path("supervise/ok"))),
            control: control_reader.then(|| fifo_reader(&svc.path("supervise/control"))),
            svc,
        };
        if let Some(s) = status {
            f.set(s);
        }
        f
    }

    /// Replaces `supervise/status` atomically, as runsv does.
    fn set(&self, status: &[u8]) {
        let tmp = self.svc.path("supervise/status.new");
        fs::write(&tmp, status).unwrap();
        fs::rename(&tmp, self.svc.path("supervise/status")).unwrap();
    }

    /// Everything written to `supervise/control` since the last call.
    fn sent(&self) -> String {
        let mut v = Vec::new();
        if let Some(mut f) = self.control.as_ref() {
            let mut buf = [0u8; 256];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                v.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

// ---------------------------------------------------------------------------
// Two sandboxes: one for the reference sv, one for ours

/// One sv run.
#[derive(Clone, Copy, Debug)]
struct Call<'a> {
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    /// A program inside the sandbox (e.g. a symlink) instead of the side's sv.
    prog: Option<&'a str>,
    argv0: Option<&'a str>,
    /// The working directory, relative to the sandbox.
    cwd: Option<&'a str>,
    secs: f64,
}

impl<'a> Call<'a> {
    fn new(args: &'a [&'a str]) -> Call<'a> {
        Call {
            args,
            env: &[],
            prog: None,
            argv0: None,
            cwd: None,
            secs: 20.0,
        }
    }
    fn env(self, env: &'a [(&'a str, &'a str)]) -> Call<'a> {
        Call { env, ..self }
    }
    fn prog(self, prog: &'a str) -> Call<'a> {
        Call {
            prog: Some(prog),
            ..self
        }
    }
    fn argv0(self, argv0: &'a str) -> Call<'a> {
        Call {
            argv0: Some(argv0),
            ..self
        }
    }
    fn cwd(self, cwd: &'a str) -> Call<'a> {
        Call {
            cwd: Some(cwd),
            ..self
        }
    }
    fn secs(self, secs: f64) -> Call<'a> {
        Call { secs, ..self }
    }
}

struct Side {
    label: &'static str,
    sv: PathBuf,
    sb: Sandbox,
    runsvs: Vec<(String, Guarded)>,
    fakes: Vec<(String, Fake)>,
}

impl Side {
    fn new(label: &'static str, sv: PathBuf) -> Side {
        Side {
            label,
            sv,
            sb: Sandbox::new(),
            runsvs: Vec::new(),
            fakes: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.sb.path()
    }

    fn svc(&self, name: &str) -> Service {
        Service {
            dir: self.path().join(name),
        }
    }

    fn service(&self, name: &str, run: &str) -> Service {
        self.sb.service(name, run)
    }

    /// Starts `runsv NAME` in the sandbox.
    fn start(&mut self, runsv: &Path, name: &str) {
        let g = start_runsv(runsv, &self.sb, name);
        self.runsvs.push((name.to_owned(), g));
    }

    fn runsv(&mut self, name: &str) -> &mut Guarded {
        &mut self
            .runsvs
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("runsv started")
            .1
    }

    /// A running fake at `name` holding `status`.
    fn fake(&mut self, name: &str, status: &[u8]) {
        let f = Fake::new(&self.path().join(name), Some(status), true, true);
        self.fakes.push((name.to_owned(), f));
    }

    fn add_fake(&mut self, name: &str, f: Fake) {
        self.fakes.push((name.to_owned(), f));
    }

    fn get_fake(&self, name: &str) -> &Fake {
        &self.fakes.iter().find(|(n, _)| n == name).expect("fake").1
    }

    fn subst(&self, s: &str) -> String {
        s.replace("{SB}", &self.path().to_string_lossy())
    }

    fn describe(&self) -> String {
        let mut d = format!("{} in {}:", self.label, self.path().display());
        for (name, g) in &self.runsvs {
            let s = self.svc(name);
            d += &format!(
                "\n  {name}: stat {:?} status {:02x?} pids {:?} sigs {:?} log stat {:?} runsv output {:?}",
                s.stat(),
                s.status(),
                s.lines("pids"),
                s.lines("sigs"),
                s.log_stat(),
                g.stderr()
            );
        }
        d
    }

    /// Runs sv (unmasked result) and measures how long it took.
    fn call(&self, c: &Call) -> (Res, Duration) {
        let args: Vec<String> = c.args.iter().map(|a| self.subst(a)).collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env: Vec<(String, String)> = vec![
            ("SVDIR".to_owned(), self.subst("{SB}")),
            ("SVWAIT".to_owned(), "7".to_owned()),
        ];
        for (k, v) in c.env {
            env.retain(|(k2, _)| k2 != k);
            env.push(((*k).to_owned(), self.subst(v)));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let prog = c
            .prog
            .map_or_else(|| self.sv.clone(), |p| self.path().join(p));
        let cwd = c
            .cwd
            .map_or_else(|| self.path().to_path_buf(), |d| self.path().join(d));
        let argv0 = c.argv0.map(|a| self.subst(a));
        let t = Instant::now();
        let out = run_with(&cwd, &prog, argv0.as_deref(), &argv, &env, c.secs);
        (outcome(out), t.elapsed())
    }
}

/// The same tree in two sandboxes: reference sv first (when present), ours
/// last.
struct Twin {
    sides: Vec<Side>,
}

impl Twin {
    fn new(setup: impl Fn(&mut Side)) -> Twin {
        let mut sides = Vec::new();
        if let Some(r) = ref_runit("sv") {
            sides.push(Side::new("reference sv", r));
        }
        sides.push(Side::new("our sv", ours("sv")));
        for s in &mut sides {
            setup(s);
        }
        Twin { sides }
    }

    fn ours(&self) -> &Side {
        self.sides.last().unwrap()
    }

    fn each(&self, f: impl Fn(&Side)) {
        for s in &self.sides {
            f(s);
        }
    }

    fn map<T>(&self, f: impl Fn(&Side) -> T) -> Vec<T> {
        self.sides.iter().map(f).collect()
    }

    fn describe(&self) -> String {
        self.map(Side::describe).join("\n")
    }

    /// Runs `c` on every side at the same time while `during` runs in this
    /// thread; returns each side's masked result and duration.
    fn results_while(&self, c: &Call, m: Mask, during: impl FnOnce()) -> Vec<(Res, Duration)> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .sides
                .iter()
                .map(|s| {
                    scope.spawn(move || {
                        let ((code, out, err), d) = s.call(c);
                        ((code, mask(&out, s.path(), m), mask(&err, s.path(), m)), d)
                    })
                })
                .collect();
            during();
            handles
                .into_iter()
                .map(|h| h.join().expect("sv thread"))
                .collect()
        })
    }

    /// Asserts ours (last) equals the reference; returns ours and its duration.
    fn same_timed(&self, c: &Call, m: Mask, sort: bool, during: impl FnOnce()) -> (Res, Duration) {
        let r = self.results_while(c, m, during);
        self.check_same(c, r, sort)
    }

    /// Asserts ours (last of `r`) equals the reference's result.
    fn check_same(&self, c: &Call, mut r: Vec<(Res, Duration)>, sort: bool) -> (Res, Duration) {
        if sort {
            for (x, _) in &mut r {
                x.1 = sort_lines(&x.1);
            }
        }
        if r.len() == 2 {
            let args = if c.args.len() > 12 {
                &c.args[..12]
            } else {
                c.args
            };
            if r[1].0 != r[0].0 && (r[0].0 .1.len() > 2000 || r[1].0 .1.len() > 2000) {
                // Long outputs: show where they part.
                let (a, b) = (&r[1].0 .1, &r[0].0 .1);
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let from = at.saturating_sub(200);
                panic!(
                    "sv {args:?}... : ours differs from the reference; exit {:?} vs {:?}; stdout from byte {from}:\n ours: {:?}\n  ref: {:?}",
                    r[1].0 .0,
                    r[0].0 .0,
                    &a[from.min(a.len())..(at + 200).min(a.len())],
                    &b[from.min(b.len())..(at + 200).min(b.len())]
                );
            }
            assert_eq!(
                r[1].0,
                r[0].0,
                "sv {:?} env {:?} argv0 {:?}: ours (left) differs from the reference (right)\n{}",
                args,
                c.env,
                c.argv0,
                self.describe()
            );
        }
        r.pop().unwrap()
    }

    fn same(&self, c: &Call, m: Mask) -> Res {
        self.same_timed(c, m, false, || {}).0
    }

    /// sv ARGS on both sides: masked, compared, ours returned.
    fn sv(&self, args: &[&str]) -> Res {
        self.same(&Call::new(args), Mask::PidsAndSecs)
    }

    /// For the documented 2.1.2/2.3.0 differences: (reference's, ours),
    /// not compared.
    fn split(&self, c: &Call, m: Mask) -> (Option<Res>, Res) {
        let mut r: Vec<Res> = self
            .results_while(c, m, || {})
            .into_iter()
            .map(|(x, _)| x)
            .collect();
        let ours = r.pop().unwrap();
        (r.pop(), ours)
    }
}

// ---------------------------------------------------------------------------
// Waiting on real services

/// Does the binary status say what the stat line says?
fn agrees(stat: &str, status: &[u8]) -> bool {
    if status.len() != 20 {
        return false;
    }
    let state = match status[19] {
        0 => "down",
        1 => "run",
        2 => "finish",
        _ => return false,
    };
    let word = stat.split([',', '\n']).next().unwrap_or("");
    word == state
        && stat.contains(", paused") == (status[16] != 0)
        && stat.contains(", got TERM") == (status[18] != 0)
}

fn status_pid(status: &[u8]) -> Option<u32> {
    (status.len() == 20)
        .then(|| u32::from_le_bytes([status[12], status[13], status[14], status[15]]))
}

/// Waits until `supervise/stat` reads `want` and `status` agrees.
fn settle(svc: &Service, want: &str) {
    wait_until(
        &format!("stat {want:?} in {}", svc.dir.display()),
        10.0,
        || {
            let stat = svc.stat();
            stat == want && agrees(&stat, &svc.status())
        },
    );
}

fn settle_log(svc: &Service, want: &str) {
    wait_until(
        &format!("log stat {want:?} in {}", svc.dir.display()),
        10.0,
        || {
            let stat = svc.log_stat();
            stat == want
                && agrees(
                    &stat,
                    &fs::read(svc.path("log/supervise/status")).unwrap_or_default(),
                )
        },
    );
}

/// Waits until the signal recorder's start number `n` runs with its traps
/// set and is recorded as the service's process; returns its pid.
fn running(svc: &Service, n: usize) -> u32 {
    let pid = svc.wait_recorder(n);
    wait_until(
        &format!("start {n} (pid {pid}) recorded in {}", svc.dir.display()),
        10.0,
        || {
            let stat = svc.stat();
            let status = svc.status();
            svc.pid() == Some(pid)
                && stat.starts_with("run")
                && agrees(&stat, &status)
                && status_pid(&status) == Some(pid)
        },
    );
    pid
}

fn starts(svc: &Service) -> usize {
    svc.lines("pids").len()
}

fn sigs(svc: &Service, name: &str) -> usize {
    svc.lines("sigs").iter().filter(|l| *l == name).count()
}

fn wait_sigs(svc: &Service, name: &str, n: usize) {
    wait_until(
        &format!("{n} x {name} recorded in {}", svc.dir.display()),
        5.0,
        || sigs(svc, name) == n,
    );
}

/// A twin where each side supervises the signal recorder `names` with `runsv`.
fn recorder_twin(runsv: &Path, names: &[&str]) -> Twin {
    Twin::new(|s| {
        for n in names {
            s.service(n, SIGNAL_RECORDER);
            s.start(runsv, n);
        }
    })
}

fn pairs<'a>(t: &'a Twin, pids: &'a [u32]) -> impl Iterator<Item = (&'a Side, u32)> {
    t.sides.iter().zip(pids.iter().copied())
}

// ---------------------------------------------------------------------------
// Arguments, usage, version (SPEC §2.3, §2.4, §7.1; runit's self-check §13)

#[test]
fn sv_without_arguments_prints_usage_and_an_empty_line_exit_100() {
    let t = Twin::new(|_| {});
    // As the self-check runs it (found through PATH, argv[0] `sv`) and by
    // absolute path: PROG is the basename either way.
    assert_eq!(
        t.same(&Call::new(&[]).argv0("sv"), Mask::Nothing),
        res(100, "", USAGE)
    );
    assert_eq!(t.same(&Call::new(&[]), Mask::Nothing), res(100, "", USAGE));
}

#[test]
fn sv_version_option_prints_the_2_3_0_id_then_usage_exit_100() {
    let t = Twin::new(|_| {});
    let got = t.same(&Call::new(&["-V"]).argv0("sv"), Mask::Secs);
    assert_eq!(got, res(100, "", &format!("$Id: ID $\n{USAGE}")));
    // Unmasked, ours prints upstream 2.3.0's identifier (SPEC §2.9).
    let ((_, _, err), _) = t.ours().call(&Call::new(&["-V", "status", "x"]));
    assert_eq!(err, format!("{ID_2_3_0}\n{USAGE}"));
}

#[test]
fn sv_bad_options_and_unknown_commands_are_usage_errors_exit_100() {
    let t = Twin::new(|s| s.fake("svc", &st_run(31)));
    let illegal = |c: char| format!("sv: illegal option -- {c}\n{USAGE}");
    let cases: Vec<(&[&str], String)> = vec![
        (&["-x", "status", "svc"], illegal('x')),
        (&["-vq", "status", "svc"], illegal('q')),
        (
            &["-w"],
            format!("sv: option requires an argument -- w\n{USAGE}"),
        ),
        (
            &["-v", "-w"],
            format!("sv: option requires an argument -- w\n{USAGE}"),
        ),
        (&["status"], USAGE.to_owned()),
        (&["-v"], USAGE.to_owned()),
        (&["-w", "5"], USAGE.to_owned()),
        (&["--"], USAGE.to_owned()),
        (&["-w", "5", "up"], USAGE.to_owned()),
        (&["bogus", "svc"], USAGE.to_owned()),
        (&["reboot", "svc"], USAGE.to_owned()),
        (&["force", "svc"], USAGE.to_owned()),
        (&["r", "svc"], USAGE.to_owned()),
        (&["f", "svc"], USAGE.to_owned()),
        (&["restartx", "svc"], USAGE.to_owned()),
        (&["force-stopx", "svc"], USAGE.to_owned()),
        (&["Uxyz", "svc"], USAGE.to_owned()),
        (&["S", "svc"], USAGE.to_owned()),
        (&["C", "svc"], USAGE.to_owned()),
        (&["0", "svc"], USAGE.to_owned()),
        (&["3", "svc"], USAGE.to_owned()),
        (&["", "svc"], USAGE.to_owned()),
        (&["-", "svc"], USAGE.to_owned()),
    ];
    for (args, err) in cases {
        let got = t.same(&Call::new(args), Mask::Secs);
        assert_eq!(got, res(100, "", &err), "sv {args:?}");
        assert_eq!(
            t.ours().get_fake("svc").sent(),
            "",
            "sv {args:?} wrote to the control FIFO"
        );
    }
}

#[test]
fn sv_options_stop_at_the_first_non_option_so_later_words_are_services() {
    let t = Twin::new(|s| s.fake("svc", &st_run(31)));
    let fail = |n: &str| {
        format!("fail: {n}: unable to change to service directory: file does not exist\n")
    };
    let got = t.same(&Call::new(&["status", "svc", "-w", "3"]), Mask::Secs);
    assert_eq!(
        got,
        res(
            2,
            &format!("run: svc: (pid 31) Ns\n{}{}", fail("-w"), fail("3")),
            ""
        )
    );
    let got = t.same(&Call::new(&["--", "status", "svc"]), Mask::Secs);
    assert_eq!(got, ok("run: svc: (pid 31) Ns\n"));
    // Grouped options with an attached argument.
    let got = t.same(&Call::new(&["-vw5", "hup", "svc"]), Mask::Secs);
    assert_eq!(got, ok("ok: run: svc: (pid 31) Ns\n"));
    t.each(|s| assert_eq!(s.get_fake("svc").sent(), "h", "{}", s.label));
    let got = t.same(
        &Call::new(&["-w", "0", "-v", "--", "down", "svc"]),
        Mask::Secs,
    );
    assert_eq!(got, res(1, "timeout: run: svc: (pid 31) Ns\n", ""));
    t.each(|s| assert_eq!(s.get_fake("svc").sent(), "d", "{}", s.label));
}

#[test]
fn sv_down_by_absolute_path_prints_nothing_then_exit_stops_runsv_with_0() {
    // runit's own self-check for sv (SPEC §13), with argv[0] `sv`.
    let runsv = ours("runsv");
    let mut t = Twin::new(|s| {
        s.service("svc", "echo starting\nexec sleep 1000");
        s.start(&runsv, "svc");
    });
    t.each(|s| settle(&s.svc("svc"), "run\n"));
    assert_eq!(
        t.same(
            &Call::new(&["down", "{SB}/svc"]).argv0("sv"),
            Mask::PidsAndSecs
        ),
        ok("")
    );
    t.each(|s| settle(&s.svc("svc"), "down\n"));
    assert_eq!(
        t.same(
            &Call::new(&["exit", "{SB}/svc"]).argv0("sv"),
            Mask::PidsAndSecs
        ),
        ok("")
    );
    for s in &mut t.sides {
        let label = s.label;
        assert_eq!(
            s.runsv("svc").wait_exit(5.0).code(),
            Some(0),
            "{label}: runsv exit code after sv exit"
        );
    }
}

// ---------------------------------------------------------------------------
// Every command against a real runsv: ours, and (interop) the reference's

/// hup, alarm, interrupt, quit, 1, 2, reload, pause, cont, with and
/// without -v, through every name form.
fn signal_commands_scenario(runsv: &Path) {
    let t = recorder_twin(runsv, &["svc"]);
    let pids = t.map(|s| running(&s.svc("svc"), 1));
    let cases: [(&[&str], &str, &str); 9] = [
        (
            &["-w", "5", "hup", "svc"],
            "HUP",
            "ok: run: svc: (pid N) Ns\n",
        ),
        (
            &["-v", "alarm", "./svc"],
            "ALRM",
            "ok: run: ./svc: (pid N) Ns\n",
        ),
        (
            &["-w5", "interrupt", "{SB}/svc"],
            "INT",
            "ok: run: SB/svc: (pid N) Ns\n",
        ),
        (
            &["-vw", "5", "quit", "svc/"],
            "QUIT",
            "ok: run: svc/: (pid N) Ns\n",
        ),
        (
            &["-w", "5", "1xyz", "svc"],
            "USR1",
            "ok: run: svc: (pid N) Ns\n",
        ),
        (
            &["-w", "5", "2", "svc"],
            "USR2",
            "ok: run: svc: (pid N) Ns\n",
        ),
        (&["reload", "svc"], "HUP", "ok: run: svc: (pid N) Ns\n"),
        (&["h", "svc"], "HUP", ""),
        (&["interruptxyz", "svc"], "INT", ""),
    ];
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (args, sig, want) in cases {
        assert_eq!(t.sv(args), ok(want), "sv {args:?}");
        let n = counts.entry(sig).or_insert(0);
        *n += 1;
        let n = *n;
        t.each(|s| wait_sigs(&s.svc("svc"), sig, n));
    }

    assert_eq!(
        t.sv(&["-w", "5", "pause", "svc"]),
        ok("ok: run: svc: (pid N) Ns, paused\n")
    );
    for (s, pid) in pairs(&t, &pids) {
        wait_until(
            &format!("{}: service stopped by pause", s.label),
            5.0,
            || proc_state(pid) == Some('T'),
        );
    }
    assert_eq!(
        t.sv(&["status", "svc"]),
        ok("run: svc: (pid N) Ns, paused\n")
    );
    assert_eq!(
        t.sv(&["-w", "5", "cont", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    for (s, pid) in pairs(&t, &pids) {
        wait_sigs(&s.svc("svc"), "CONT", 1);
        assert_ne!(
            proc_state(pid),
            Some('T'),
            "{}: still stopped after cont",
            s.label
        );
    }
    assert_eq!(t.sv(&["p", "svc"]), ok(""));
    t.each(|s| settle(&s.svc("svc"), "run, paused\n"));
    assert_eq!(t.sv(&["c", "svc"]), ok(""));
    t.each(|s| settle(&s.svc("svc"), "run\n"));

    for (s, pid) in pairs(&t, &pids) {
        let svc = s.svc("svc");
        assert_eq!(
            svc.pid(),
            Some(pid),
            "{}: a signal command restarted the service",
            s.label
        );
        assert_eq!((starts(&svc), sigs(&svc, "TERM")), (1, 0), "{}", s.label);
    }
}

#[test]
fn sv_signal_and_pause_commands_match_the_reference_on_our_runsv() {
    signal_commands_scenario(&ours("runsv"));
}

#[test]
fn sv_interop_signal_and_pause_commands_drive_the_reference_runsv() {
    let Some(runsv) = ref_runit("runsv") else {
        return;
    };
    signal_commands_scenario(&runsv);
}

/// down, up (and its redundant-send suppression), term, kill, once, exit,
/// then every kind of command once runsv is gone.
fn up_down_scenario(runsv: &Path) {
    let mut t = recorder_twin(runsv, &["svc"]);
    t.each(|s| {
        running(&s.svc("svc"), 1);
    });
    assert_eq!(
        t.sv(&["-w", "5", "down", "svc"]),
        ok("ok: down: svc: Ns, normally up\n")
    );
    t.each(|s| {
        settle(&s.svc("svc"), "down\n");
        wait_sigs(&s.svc("svc"), "TERM", 1);
    });
    assert_eq!(t.sv(&["status", "svc"]), ok("down: svc: Ns, normally up\n"));
    // Want is down but got TERM is clear: `d` is sent again, harmlessly.
    assert_eq!(t.sv(&["down", "svc"]), ok(""));

    assert_eq!(
        t.sv(&["-w", "5", "up", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    let p2 = t.map(|s| running(&s.svc("svc"), 2));
    // Already wanted up: nothing is written, and the wait is met at once.
    assert_eq!(
        t.sv(&["-w", "5", "upxyz", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    t.each(|s| {
        assert_eq!(
            starts(&s.svc("svc")),
            2,
            "{}: up restarted a running service",
            s.label
        )
    });

    // (`ok:` may show the old pid when the restart is in the same second,
    // SPEC §7.6; pids are masked.)
    assert_eq!(
        t.sv(&["-w", "5", "term", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    let p3 = t.map(|s| running(&s.svc("svc"), 3));
    for (s, pid) in pairs(&t, &p2) {
        assert_eq!(sigs(&s.svc("svc"), "TERM"), 2, "{}", s.label);
        wait_until(
            &format!("{}: old process gone after term", s.label),
            5.0,
            || !alive(pid),
        );
    }
    assert_eq!(
        t.sv(&["-w", "5", "kill", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    let p4 = t.map(|s| running(&s.svc("svc"), 4));
    for (s, pid) in pairs(&t, &p3) {
        assert_eq!(
            sigs(&s.svc("svc"), "TERM"),
            2,
            "{}: kill sent TERM",
            s.label
        );
        wait_until(
            &format!("{}: old process gone after kill", s.label),
            5.0,
            || !alive(pid),
        );
    }

    assert_eq!(
        t.sv(&["-w", "5", "once", "svc"]),
        ok("ok: run: svc: (pid N) Ns, want down\n")
    );
    for (s, pid) in pairs(&t, &p4) {
        settle(&s.svc("svc"), "run, want down\n");
        assert_eq!(
            s.svc("svc").pid(),
            Some(pid),
            "{}: once restarted a running service",
            s.label
        );
    }
    assert_eq!(
        t.sv(&["status", "svc"]),
        ok("run: svc: (pid N) Ns, want down\n")
    );
    // After once: want is down but no TERM yet, so `d` is sent.
    assert_eq!(
        t.sv(&["-w", "5", "down", "svc"]),
        ok("ok: down: svc: Ns, normally up\n")
    );
    t.each(|s| wait_sigs(&s.svc("svc"), "TERM", 3));

    assert_eq!(
        t.sv(&["-w", "5", "exit", "svc"]),
        ok("ok: svc: runsv not running\n")
    );
    for s in &mut t.sides {
        let label = s.label;
        assert_eq!(
            s.runsv("svc").wait_exit(5.0).code(),
            Some(0),
            "{label}: runsv exit code"
        );
    }
    let not_running = res(1, "fail: svc: runsv not running\n", "");
    assert_eq!(t.sv(&["status", "svc"]), not_running);
    assert_eq!(t.sv(&["-v", "up", "svc"]), not_running);
    assert_eq!(t.sv(&["check", "svc"]), not_running);
    assert_eq!(t.sv(&["exit", "svc"]), ok("ok: svc: runsv not running\n"));
    assert_eq!(
        t.sv(&["-v", "e", "svc"]),
        ok("ok: svc: runsv not running\n")
    );
}

#[test]
fn sv_up_down_term_kill_once_exit_match_the_reference_on_our_runsv() {
    up_down_scenario(&ours("runsv"));
}

#[test]
fn sv_interop_up_down_term_kill_once_exit_drive_the_reference_runsv() {
    let Some(runsv) = ref_runit("runsv") else {
        return;
    };
    up_down_scenario(&runsv);
}

/// The init-script words in normal mode: they always wait.
fn lsb_words_scenario(runsv: &Path) {
    let mut t = recorder_twin(runsv, &["svc"]);
    t.each(|s| {
        running(&s.svc("svc"), 1);
    });
    let up = ok("ok: run: svc: (pid N) Ns\n");
    assert_eq!(
        t.sv(&["stop", "svc"]),
        ok("ok: down: svc: Ns, normally up\n")
    );
    t.each(|s| wait_sigs(&s.svc("svc"), "TERM", 1));
    assert_eq!(t.sv(&["start", "svc"]), up);
    t.each(|s| {
        running(&s.svc("svc"), 2);
    });
    assert_eq!(t.sv(&["reload", "svc"]), up);
    t.each(|s| wait_sigs(&s.svc("svc"), "HUP", 1));
    assert_eq!(t.sv(&["restart", "svc"]), up);
    t.each(|s| {
        running(&s.svc("svc"), 3);
        assert_eq!(sigs(&s.svc("svc"), "TERM"), 2, "{}", s.label);
    });
    assert_eq!(t.sv(&["try-restart", "svc"]), up);
    t.each(|s| {
        running(&s.svc("svc"), 4);
        assert_eq!(sigs(&s.svc("svc"), "TERM"), 3, "{}", s.label);
    });
    assert_eq!(t.sv(&["check", "svc"]), up);
    assert_eq!(
        t.sv(&["shutdown", "svc"]),
        ok("ok: svc: runsv not running\n")
    );
    for s in &mut t.sides {
        let label = s.label;
        assert_eq!(
            s.runsv("svc").wait_exit(5.0).code(),
            Some(0),
            "{label}: runsv exit code after shutdown"
        );
        assert_eq!(sigs(&s.svc("svc"), "TERM"), 4, "{label}");
    }
}

#[test]
fn sv_start_stop_reload_restart_shutdown_match_the_reference_on_our_runsv() {
    lsb_words_scenario(&ours("runsv"));
}

#[test]
fn sv_interop_start_stop_reload_restart_shutdown_drive_the_reference_runsv() {
    let Some(runsv) = ref_runit("runsv") else {
        return;
    };
    lsb_words_scenario(&runsv);
}

/// The force-* words, then check and try-restart on a stopped service.
fn force_words_scenario(runsv: &Path) {
    let mut t = recorder_twin(runsv, &["svc"]);
    t.each(|s| {
        running(&s.svc("svc"), 1);
    });
    let up = ok("ok: run: svc: (pid N) Ns\n");
    let down = ok("ok: down: svc: Ns, normally up\n");
    assert_eq!(t.sv(&["force-reload", "svc"]), up);
    t.each(|s| {
        running(&s.svc("svc"), 2);
    });
    assert_eq!(t.sv(&["force-restart", "svc"]), up);
    t.each(|s| {
        running(&s.svc("svc"), 3);
    });
    assert_eq!(t.sv(&["force-stop", "svc"]), down);
    t.each(|s| {
        settle(&s.svc("svc"), "down\n");
        assert_eq!(sigs(&s.svc("svc"), "TERM"), 3, "{}", s.label);
    });
    // 2.3.0 and 2.1.2 agree here: wanted down and down.
    assert_eq!(t.sv(&["check", "svc"]), down);
    // try-restart sends `tc` to a stopped service: met at once, not started.
    assert_eq!(t.sv(&["try-restart", "svc"]), down);
    t.each(|s| {
        let svc = s.svc("svc");
        stays_false(
            &format!("{}: try-restart started a stopped service", s.label),
            0.3,
            || starts(&svc) != 3,
        );
        assert_eq!(svc.stat(), "down\n", "{}", s.label);
    });
    assert_eq!(
        t.sv(&["force-shutdown", "svc"]),
        ok("ok: svc: runsv not running\n")
    );
    for s in &mut t.sides {
        let label = s.label;
        assert_eq!(
            s.runsv("svc").wait_exit(5.0).code(),
            Some(0),
            "{label}: runsv exit code after force-shutdown"
        );
    }
}

#[test]
fn sv_force_commands_and_try_restart_match_the_reference_on_our_runsv() {
    force_words_scenario(&ours("runsv"));
}

#[test]
fn sv_interop_force_commands_and_try_restart_drive_the_reference_runsv() {
    let Some(runsv) = ref_runit("runsv") else {
        return;
    };
    force_words_scenario(&runsv);
}

/// The undocumented D, T, E, X words, first-letter matching, and several
/// services in one call.
fn variants_scenario(runsv: &Path) {
    let mut t = recorder_twin(runsv, &["a", "b"]);
    t.each(|s| {
        running(&s.svc("a"), 1);
        running(&s.svc("b"), 1);
    });
    assert_eq!(t.sv(&["D", "a"]), ok("ok: down: a: Ns, normally up\n"));
    t.each(|s| settle(&s.svc("a"), "down\n"));
    assert_eq!(t.sv(&["upxyz", "a"]), ok(""));
    t.each(|s| {
        running(&s.svc("a"), 2);
    });
    assert_eq!(t.sv(&["Tfoo", "a"]), ok("ok: run: a: (pid N) Ns\n"));
    t.each(|s| {
        running(&s.svc("a"), 3);
    });

    // Commands go to every service first (the bad name fails then), and
    // the waiting phase covers the rest in argument order.
    let got = t.sv(&["-w", "5", "hup", "a", "nope", "b"]);
    let want = "fail: nope: unable to change to service directory: file does not exist\n\
                ok: run: a: (pid N) Ns\nok: run: b: (pid N) Ns\n";
    assert_eq!(got, res(1, want, ""));
    t.each(|s| {
        wait_sigs(&s.svc("a"), "HUP", 1);
        wait_sigs(&s.svc("b"), "HUP", 1);
    });
    // Which service is reported first depends on when each runsv answers.
    let (got, _) = t.same_timed(
        &Call::new(&["-w", "5", "down", "a", "b"]),
        Mask::PidsAndSecs,
        true,
        || {},
    );
    assert_eq!(
        got,
        ok("ok: down: a: Ns, normally up\nok: down: b: Ns, normally up\n")
    );

    assert_eq!(t.sv(&["E", "a"]), ok("ok: a: runsv not running\n"));
    assert_eq!(t.sv(&["X", "b"]), ok("ok: b: runsv not running\n"));
    for s in &mut t.sides {
        let label = s.label;
        for n in ["a", "b"] {
            assert_eq!(
                s.runsv(n).wait_exit(5.0).code(),
                Some(0),
                "{label}: runsv {n} exit code"
            );
        }
    }
    assert_eq!(t.sv(&["xyz", "a"]), ok("ok: a: runsv not running\n"));
    let want = "fail: a: runsv not running\nfail: b: runsv not running\n";
    assert_eq!(t.sv(&["sxyz", "a", "b"]), res(2, want, ""));
}

#[test]
fn sv_force_variants_x_e_d_t_and_several_services_match_the_reference_on_our_runsv() {
    variants_scenario(&ours("runsv"));
}

#[test]
fn sv_interop_force_variants_x_e_d_t_and_several_services_drive_the_reference_runsv() {
    let Some(runsv) = ref_runit("runsv") else {
        return;
    };
    variants_scenario(&runsv);
}

// ---------------------------------------------------------------------------
// The command table, byte by byte, against a fake (SPEC §7.3, §7.4, §7.6)

/// One sv run against a fake `svc` holding `status`: the bytes sent to
/// its control FIFO and the result must match the reference and these.
struct Row {
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    status: Vec<u8>,
    sent: &'static str,
    want: Res,
}

fn row(
    args: &[&'static str],
    env: &[(&'static str, &'static str)],
    status: &[u8],
    sent: &'static str,
    want: Res,
) -> Row {
    Row {
        args: args.to_vec(),
        env: env.to_vec(),
        status: status.to_vec(),
        sent,
        want,
    }
}

/// Runs all rows at once, row i against its own fake `r{i}/svc` (with
/// `r{i}` as SVDIR), which `prep` may add to. Returns the twin and ours'
/// durations.
fn run_rows(rows: &[Row], prep: impl Fn(&Service)) -> (Twin, Vec<Duration>) {
    let t = Twin::new(|s| {
        for (i, r) in rows.iter().enumerate() {
            let name = format!("r{i}/svc");
            s.fake(&name, &r.status);
            prep(&s.svc(&name));
        }
    });
    let dirs: Vec<String> = (0..rows.len()).map(|i| format!("{{SB}}/r{i}")).collect();
    let envs: Vec<Vec<(&str, &str)>> = rows
        .iter()
        .zip(&dirs)
        .map(|(r, d)| {
            let mut e = r.env.clone();
            e.push(("SVDIR", d.as_str()));
            e
        })
        .collect();
    let outs: Vec<Vec<(Res, Duration)>> = std::thread::scope(|scope| {
        let t = &t;
        let handles: Vec<_> = rows
            .iter()
            .zip(&envs)
            .map(|(r, e)| {
                scope.spawn(move || t.results_while(&Call::new(&r.args).env(e), Mask::Secs, || {}))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("row thread"))
            .collect()
    });
    let mut took = Vec::new();
    for (i, (r, out)) in rows.iter().zip(outs).enumerate() {
        let (args, env) = (&r.args, &r.env);
        let (got, d) = t.check_same(&Call::new(args).env(&envs[i]), out, false);
        let bytes = t.map(|s| s.get_fake(&format!("r{i}/svc")).sent());
        if bytes.len() == 2 {
            assert_eq!(
                bytes[1], bytes[0],
                "sv {args:?} env {env:?}: bytes sent (left: ours, right: reference)"
            );
        }
        assert_eq!(
            bytes.last().unwrap(),
            r.sent,
            "sv {args:?} env {env:?}: bytes sent by ours"
        );
        assert_eq!(got, r.want, "sv {args:?} env {env:?}");
        took.push(d);
    }
    (t, took)
}

#[test]
fn sv_every_command_word_sends_the_reference_bytes_to_a_running_service() {
    let status = st_run(12345);
    let line = "run: svc: (pid 12345) Ns\n";
    let quiet = ok("");
    let okl = ok(&format!("ok: {line}"));
    let timeout = res(1, &format!("timeout: {line}"), "");
    let kill = res(1, &format!("kill: {line}"), "");
    let usage = res(100, "", USAGE);
    // SVWAIT=0: the commands that always wait give up in the first round.
    let rows: Vec<(&str, &str, Res)> = vec![
        ("status", "", ok(line)),
        ("s", "", ok(line)),
        ("sxyz", "", ok(line)),
        ("stat", "", ok(line)),
        ("startx", "", ok(line)),
        ("stopx", "", ok(line)),
        ("shutdownx", "", ok(line)),
        // Wanted up already: `u` is not written.
        ("up", "", quiet.clone()),
        ("u", "", quiet.clone()),
        ("upxyz", "", quiet.clone()),
        ("usr1", "", quiet.clone()),
        ("down", "d", quiet.clone()),
        ("d", "d", quiet.clone()),
        ("once", "o", quiet.clone()),
        ("pause", "p", quiet.clone()),
        ("cont", "c", quiet.clone()),
        ("checkx", "c", quiet.clone()),
        ("hup", "h", quiet.clone()),
        ("alarm", "a", quiet.clone()),
        ("interrupt", "i", quiet.clone()),
        ("quit", "q", quiet.clone()),
        ("1", "1", quiet.clone()),
        ("1xyz", "1", quiet.clone()),
        ("2", "2", quiet.clone()),
        ("term", "t", quiet.clone()),
        ("terminate", "t", quiet.clone()),
        ("try", "t", quiet.clone()),
        ("try-restartx", "t", quiet.clone()),
        ("kill", "k", quiet.clone()),
        ("exit", "x", quiet.clone()),
        ("e", "x", quiet.clone()),
        ("x", "x", quiet.clone()),
        ("xyz", "x", quiet.clone()),
        ("start", "", okl.clone()),
        ("stop", "d", timeout.clone()),
        ("reload", "h", okl.clone()),
        // The process started before sv did: `t` is not met.
        ("restart", "tcu", timeout.clone()),
        ("shutdown", "x", timeout.clone()),
        ("try-restart", "tc", timeout.clone()),
        ("check", "", okl.clone()),
        ("force-stop", "dk", kill.clone()),
        ("force-reload", "tck", kill.clone()),
        ("force-restart", "tcuk", kill.clone()),
        ("force-shutdown", "xk", kill.clone()),
        ("X", "xk", kill.clone()),
        ("Xfoo", "xk", kill.clone()),
        ("E", "xk", kill.clone()),
        ("Efoo", "xk", kill.clone()),
        ("D", "dk", kill.clone()),
        ("Dfoo", "dk", kill.clone()),
        ("T", "tck", kill.clone()),
        ("Tfoo", "tck", kill.clone()),
        ("bogus", "", usage.clone()),
        ("reboot", "", usage.clone()),
        ("force", "", usage.clone()),
        ("r", "", usage.clone()),
        ("f", "", usage.clone()),
    ];
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(word, sent, want)| row(&[word, "svc"], &[("SVWAIT", "0")], &status, sent, want))
        .collect();
    run_rows(&rows, |_| {});
}

#[test]
fn sv_every_command_word_with_v_waits_like_the_reference() {
    let status = st_run(12345);
    let line = "run: svc: (pid 12345) Ns\n";
    let okl = ok(&format!("ok: {line}"));
    let timeout = res(1, &format!("timeout: {line}"), "");
    let rows: Vec<(&str, &str, Res)> = vec![
        // status ignores -v.
        ("status", "", ok(line)),
        ("up", "", okl.clone()),
        ("down", "d", timeout.clone()),
        // Running but wanted up: `o` is not met.
        ("once", "o", timeout.clone()),
        ("pause", "p", timeout.clone()),
        ("cont", "c", okl.clone()),
        ("hup", "h", okl.clone()),
        ("alarm", "a", okl.clone()),
        ("interrupt", "i", okl.clone()),
        ("quit", "q", okl.clone()),
        ("1", "1", okl.clone()),
        ("2", "2", okl.clone()),
        ("term", "t", timeout.clone()),
        ("kill", "k", timeout.clone()),
        // `x` is never met while runsv runs.
        ("exit", "x", timeout.clone()),
    ];
    let mut all = Vec::new();
    for (word, sent, want) in rows {
        all.push(row(
            &["-v", word, "svc"],
            &[("SVWAIT", "0")],
            &status,
            sent,
            want.clone(),
        ));
        all.push(row(&["-w", "0", word, "svc"], &[], &status, sent, want));
    }
    run_rows(&all, |_| {});
}

#[test]
fn sv_commands_to_a_stopped_service_send_and_wait_like_the_reference() {
    let status = st_down();
    let line = "down: svc: Ns, normally up\n";
    let okl = ok(&format!("ok: {line}"));
    let timeout = res(1, &format!("timeout: {line}"), "");
    let rows: Vec<(&[&str], &str, Res)> = vec![
        (&["-v", "up", "svc"], "u", timeout.clone()),
        // Wanted down, but no TERM flag: `d` is sent again.
        (&["-v", "down", "svc"], "d", okl.clone()),
        // Down since before sv started: `o` is not met.
        (&["-v", "once", "svc"], "o", timeout.clone()),
        (&["-v", "pause", "svc"], "p", okl.clone()),
        (&["-v", "cont", "svc"], "c", okl.clone()),
        // Down and wanted down: `t` and `k` are met at once.
        (&["-v", "term", "svc"], "t", okl.clone()),
        (&["-v", "kill", "svc"], "k", okl.clone()),
        (&["-v", "exit", "svc"], "x", timeout.clone()),
        (&["try-restart", "svc"], "tc", okl.clone()),
        (&["check", "svc"], "", okl.clone()),
        (&["stop", "svc"], "d", okl.clone()),
        (&["start", "svc"], "u", timeout.clone()),
        (
            &["force-restart", "svc"],
            "tcuk",
            res(1, &format!("kill: {line}"), ""),
        ),
        (&["T", "svc"], "tc", okl.clone()),
        (&["status", "svc"], "", ok(line)),
    ];
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(args, sent, want)| row(args, &[("SVWAIT", "0")], &status, sent, want))
        .collect();
    run_rows(&rows, |_| {});
}

#[test]
fn sv_down_is_not_resent_once_want_down_and_got_term_are_set() {
    let stopping = status_bytes(tai(unix_now() - 100), 7, 0, b'd', 1, 1);
    let line = "run: svc: (pid 7) Ns, want down, got TERM\n";
    // After `once` (want down, no TERM yet), `d` does go out.
    let once = status_bytes(tai(unix_now() - 100), 7, 0, b'd', 0, 1);
    let rows = [
        row(&["down", "svc"], &[], &stopping, "", ok("")),
        row(
            &["-w", "0", "down", "svc"],
            &[],
            &stopping,
            "",
            res(1, &format!("timeout: {line}"), ""),
        ),
        row(
            &["-w", "0", "force-stop", "svc"],
            &[],
            &stopping,
            "k",
            res(1, &format!("kill: {line}"), ""),
        ),
        row(&["status", "svc"], &[], &stopping, "", ok(line)),
        row(&["down", "svc"], &[], &once, "d", ok("")),
        // And `up` goes out whenever want is not up.
        row(&["up", "svc"], &[], &once, "u", ok("")),
    ];
    run_rows(&rows, |_| {});
}

// ---------------------------------------------------------------------------
// Status lines (SPEC §7.5)

#[test]
fn sv_status_shows_every_state_and_flag_like_the_reference() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("up", "exec sleep 1000");
        s.service("nd", "exec sleep 1000").file("down", "");
        s.service("ps", "exec sleep 1000");
        s.service("gt", "trap '' TERM\nexec sleep 1000");
        s.service("fin", "exit 0")
            .script("finish", "exec sleep 1000");
        s.service("once", "exec sleep 1000").file("down", "");
        s.service("lg", "exec sleep 1000")
            .script("log/run", "exec cat >/dev/null");
        s.service("lgdown", "exec sleep 1000")
            .file("down", "")
            .script("log/run", "exec cat >/dev/null");
        s.service("lgoff", "exec sleep 1000")
            .script("log/run", "exec cat >/dev/null")
            .file("log/down", "");
        for n in [
            "up", "nd", "ps", "gt", "fin", "once", "lg", "lgdown", "lgoff",
        ] {
            s.start(&runsv, n);
        }
    });
    t.each(|s| {
        settle(&s.svc("up"), "run\n");
        settle(&s.svc("nd"), "down\n");
        settle(&s.svc("ps"), "run\n");
        s.svc("ps").control("p");
        settle(&s.svc("ps"), "run, paused\n");
        settle(&s.svc("gt"), "run\n");
        s.svc("gt").control("d");
        settle(&s.svc("gt"), "run, got TERM, want down\n");
        settle(&s.svc("fin"), "finish\n");
        settle(&s.svc("once"), "down\n");
        s.svc("once").control("o");
        settle(&s.svc("once"), "run, want down\n");
        settle(&s.svc("lg"), "run\n");
        settle_log(&s.svc("lg"), "run\n");
        settle(&s.svc("lgdown"), "down\n");
        settle_log(&s.svc("lgdown"), "run\n");
        settle(&s.svc("lgoff"), "run\n");
        settle_log(&s.svc("lgoff"), "down\n");
    });
    let got = t.sv(&[
        "status", "up", "nd", "ps", "gt", "fin", "once", "lg", "lgdown", "lgoff",
    ]);
    let want = "run: up: (pid N) Ns\n\
                down: nd: Ns\n\
                run: ps: (pid N) Ns, paused\n\
                run: gt: (pid N) Ns, want down, got TERM\n\
                finish: fin: (pid N) Ns\n\
                run: once: (pid N) Ns, normally down, want down\n\
                run: lg: (pid N) Ns; run: log: (pid N) Ns\n\
                down: lgdown: Ns; run: log: (pid N) Ns\n\
                run: lgoff: (pid N) Ns; down: log: Ns\n";
    assert_eq!(got, ok(want));
    // The pid shown is the real one, for the service and its log.
    let ((_, out, _), _) = t.ours().call(&Call::new(&["status", "lg"]));
    let lg = t.ours().svc("lg");
    let want = format!("(pid {}) ", lg.pid().unwrap());
    assert!(out.starts_with(&format!("run: lg: {want}")), "{out:?}");
    assert!(
        out.contains(&format!("; run: log: (pid {}) ", lg.log_pid().unwrap())),
        "{out:?}"
    );
}

#[test]
fn sv_status_of_a_log_dir_without_supervise_repeats_the_main_status_labelled_log() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("svc", "exec sleep 1000");
        s.start(&runsv, "svc");
    });
    t.each(|s| {
        settle(&s.svc("svc"), "run\n");
        // runsv looks for log/ only at start-up: this one is never supervised.
        fs::create_dir(s.svc("svc").path("log")).unwrap();
    });
    let got = t.sv(&["status", "svc"]);
    let want = "run: svc: (pid N) Ns; warning: svc/log: unable to open supervise/ok: file does not exist\n\
                run: log: (pid N) Ns\n";
    assert_eq!(got, res(1, want, ""));
    // The repeated status is the main service's: same pid.
    let ((_, out, _), _) = t.ours().call(&Call::new(&["status", "svc"]));
    let pid = t.ours().svc("svc").pid().unwrap();
    assert_eq!(out.matches(&format!("(pid {pid})")).count(), 2, "{out:?}");
}

#[test]
fn sv_status_reports_a_log_runsv_not_running_or_a_log_that_is_no_directory() {
    let runsv = ours("runsv");
    let mut t = Twin::new(|s| {
        for n in ["dead", "file", "bad"] {
            s.service(n, "exec sleep 1000");
            s.start(&runsv, n);
        }
    });
    for s in &mut t.sides {
        for n in ["dead", "file", "bad"] {
            settle(&s.svc(n), "run\n");
        }
        // A log/supervise/ok FIFO without a reader: its runsv is gone.
        let log = s.svc("dead").path("log");
        fs::create_dir_all(log.join("supervise")).unwrap();
        mkfifo(&log.join("supervise/ok"));
        fs::write(s.svc("file").path("log"), "").unwrap();
        // A live log supervise/ whose status is truncated.
        let f = Fake::new(
            &s.svc("bad").path("log"),
            Some(&st_run(99)[..10]),
            true,
            true,
        );
        s.add_fake("bad/log", f);
    }
    let got = t.sv(&["status", "dead"]);
    assert_eq!(
        got,
        res(
            1,
            "run: dead: (pid N) Ns; fail: dead/log: runsv not running\n",
            ""
        )
    );
    let got = t.sv(&["status", "file"]);
    let want =
        "run: file: (pid N) Ns; warning: file/log: unable to change directory: not a directory\n";
    assert_eq!(got, res(1, want, ""));
    let got = t.sv(&["status", "bad"]);
    let want =
        "run: bad: (pid N) Ns; warning: bad/log: unable to read supervise/status: bad format\n\
                run: log: (pid N) Ns\n";
    assert_eq!(got, res(1, want, ""));
    // Lines after a wait have no log part.
    let got = t.sv(&["-w", "5", "up", "dead", "file", "bad"]);
    assert_eq!(
        got,
        ok("ok: run: dead: (pid N) Ns\nok: run: file: (pid N) Ns\nok: run: bad: (pid N) Ns\n")
    );
}

#[test]
fn sv_status_of_crafted_status_bytes_matches_the_reference() {
    let t = Twin::new(|s| s.fake("svc", &st_run(1)));
    let ago = tai(unix_now() - 100);
    // (status, `down` file, expected stdout with seconds masked)
    let rows: Vec<(Vec<u8>, bool, &str)> = vec![
        (
            status_bytes(ago, 0, 0, b'u', 0, 0),
            false,
            "down: svc: Ns, normally up, want up\n",
        ),
        (
            status_bytes(ago, 0, 0, b'u', 0, 0),
            true,
            "down: svc: Ns, want up\n",
        ),
        (
            status_bytes(ago, 9, 0, b'u', 0, 1),
            true,
            "run: svc: (pid 9) Ns, normally down\n",
        ),
        // Paused and TERM flags and "want down" are shown only with a pid.
        (
            status_bytes(ago, 0, 1, b'd', 1, 0),
            false,
            "down: svc: Ns, normally up\n",
        ),
        (
            status_bytes(ago, 7, 5, b'x', 9, 2),
            false,
            "finish: svc: (pid 7) Ns, paused, got TERM\n",
        ),
        (
            status_bytes(ago, 0, 0, b'u', 0, 1),
            false,
            "run: svc: (pid 0) Ns, normally up, want up\n",
        ),
        // An unknown state byte: no state word, but a pid.
        (
            status_bytes(ago, 42, 0, b'u', 0, 7),
            false,
            "svc: (pid 42) Ns\n",
        ),
        // A time stamp of 0 is ~2^62 seconds ago.
        (
            status_bytes(0, 5, 0, b'u', 0, 1),
            false,
            "run: svc: (pid 5) Ns\n",
        ),
        // Extra bytes after the 20 are ignored.
        (
            [st_run(5), b"0123456789".to_vec()].concat(),
            false,
            "run: svc: (pid 5) Ns\n",
        ),
    ];
    for (status, down, want) in rows {
        t.each(|s| {
            let f = s.get_fake("svc");
            f.set(&status);
            let d = f.svc.path("down");
            if down {
                fs::write(d, "").unwrap();
            } else {
                let _ = fs::remove_file(d);
            }
        });
        let got = t.same(&Call::new(&["status", "svc"]), Mask::Secs);
        assert_eq!(
            got,
            ok(want),
            "status bytes {status:02x?}, down file {down}"
        );
    }
    // Seconds: whole seconds since the stamp; a future stamp gives 0.
    t.each(|s| {
        s.get_fake("svc")
            .set(&status_bytes(tai(unix_now() + 1000), 5, 0, b'u', 0, 1))
    });
    let got = t.same(&Call::new(&["status", "svc"]), Mask::Nothing);
    assert_eq!(got, ok("run: svc: (pid 5) 0s\n"));
    t.each(|s| {
        s.get_fake("svc")
            .set(&status_bytes(u64::MAX, 5, 0, b'u', 0, 1))
    });
    let got = t.same(&Call::new(&["status", "svc"]), Mask::Nothing);
    assert_eq!(got, ok("run: svc: (pid 5) 0s\n"));
    t.ours().get_fake("svc").set(&st_run(5));
    let ((code, out, _), _) = t.ours().call(&Call::new(&["status", "svc"]));
    assert_eq!(code, Some(0));
    assert!(
        out == "run: svc: (pid 5) 100s\n" || out == "run: svc: (pid 5) 101s\n",
        "{out:?}"
    );
    // runit reads the pid into an int and prints it as an unsigned long:
    // from 2^31 on, the value is sign-extended to 64 bits.
    for (pid, shown) in [
        (0x8000_0000, "18446744071562067968"),
        (u32::MAX, "18446744073709551615"),
    ] {
        t.each(|s| {
            s.get_fake("svc")
                .set(&status_bytes(ago, pid, 0, b'u', 0, 1))
        });
        let got = t.same(&Call::new(&["status", "svc"]), Mask::Secs);
        assert_eq!(
            got,
            ok(&format!("run: svc: (pid {shown}) Ns\n")),
            "pid {pid:#x}"
        );
    }
}

#[test]
fn sv_unreadable_or_missing_supervise_files_give_the_reference_messages() {
    let t = Twin::new(|s| {
        let p = s.path().to_path_buf();
        s.add_fake("nostatus", Fake::new(&p.join("nostatus"), None, true, true));
        let f = Fake::new(&p.join("statusdir"), None, true, true);
        fs::create_dir(f.svc.path("supervise/status")).unwrap();
        s.add_fake("statusdir", f);
        let f = Fake::new(&p.join("statusfifo"), None, true, true);
        mkfifo(&f.svc.path("supervise/status"));
        s.add_fake("statusfifo", f);
        s.add_fake(
            "short",
            Fake::new(&p.join("short"), Some(&st_run(5)[..10]), true, true),
        );
        s.add_fake("empty", Fake::new(&p.join("empty"), Some(b""), true, true));
        s.add_fake(
            "dead",
            Fake::new(&p.join("dead"), Some(&st_run(5)), false, false),
        );
        s.add_fake(
            "deadctl",
            Fake::new(&p.join("deadctl"), Some(&st_run(5)), true, false),
        );
        let f = Fake::new(&p.join("noctl"), Some(&st_run(5)), true, false);
        fs::remove_file(f.svc.path("supervise/control")).unwrap();
        s.add_fake("noctl", f);
        // `ok` and `control` as plain files: opening them works.
        let f = Fake::new(&p.join("plain"), Some(&st_run(5)), false, false);
        for n in ["ok", "control"] {
            fs::remove_file(f.svc.path(&format!("supervise/{n}"))).unwrap();
            fs::write(f.svc.path(&format!("supervise/{n}")), "").unwrap();
        }
        s.add_fake("plain", f);
        fs::create_dir(p.join("nosup")).unwrap();
        fs::create_dir(p.join("supfile")).unwrap();
        fs::write(p.join("supfile/supervise"), "").unwrap();
        fs::write(p.join("notdir"), "").unwrap();
    });
    let warn = |n: &str, text: &str| res(1, &format!("warning: {n}: {text}\n"), "");
    let rows: Vec<(&[&str], Res)> = vec![
        (
            &["status", "nostatus"],
            warn(
                "nostatus",
                "unable to open supervise/status: file does not exist",
            ),
        ),
        (
            &["status", "statusdir"],
            warn(
                "statusdir",
                "unable to read supervise/status: is a directory",
            ),
        ),
        (
            &["status", "statusfifo"],
            warn("statusfifo", "unable to read supervise/status: bad format"),
        ),
        (
            &["status", "short"],
            warn("short", "unable to read supervise/status: bad format"),
        ),
        (
            &["status", "empty"],
            warn("empty", "unable to read supervise/status: bad format"),
        ),
        (
            &["-w", "1", "up", "short"],
            warn("short", "unable to read supervise/status: bad format"),
        ),
        (
            &["status", "nosup"],
            warn("nosup", "unable to open supervise/ok: file does not exist"),
        ),
        (
            &["exit", "nosup"],
            warn("nosup", "unable to open supervise/ok: file does not exist"),
        ),
        (
            &["status", "supfile"],
            warn("supfile", "unable to open supervise/ok: not a directory"),
        ),
        (
            &["down", "noctl"],
            warn(
                "noctl",
                "unable to open supervise/control: file does not exist",
            ),
        ),
        (
            &["status", "notdir"],
            res(
                1,
                "fail: notdir: unable to change to service directory: not a directory\n",
                "",
            ),
        ),
        (
            &["status", "dead"],
            res(1, "fail: dead: runsv not running\n", ""),
        ),
        (
            &["up", "dead"],
            res(1, "fail: dead: runsv not running\n", ""),
        ),
        (
            &["-w", "1", "up", "dead"],
            res(1, "fail: dead: runsv not running\n", ""),
        ),
        (
            &["check", "dead"],
            res(1, "fail: dead: runsv not running\n", ""),
        ),
        (&["exit", "dead"], ok("ok: dead: runsv not running\n")),
        (&["-v", "exit", "dead"], ok("ok: dead: runsv not running\n")),
        (&["shutdown", "dead"], ok("ok: dead: runsv not running\n")),
        (
            &["force-shutdown", "dead"],
            ok("ok: dead: runsv not running\n"),
        ),
        (&["Efoo", "dead"], ok("ok: dead: runsv not running\n")),
        // `ok` has a reader, `control` has none.
        (
            &["down", "deadctl"],
            res(1, "fail: deadctl: runsv not running\n", ""),
        ),
        (&["exit", "deadctl"], ok("ok: deadctl: runsv not running\n")),
        (&["status", "plain"], ok("run: plain: (pid 5) Ns\n")),
        (&["down", "plain"], ok("")),
        (
            &["status", "nostatus", "short", "nosup", "dead", "plain"],
            res(
                4,
                "warning: nostatus: unable to open supervise/status: file does not exist\n\
                 warning: short: unable to read supervise/status: bad format\n\
                 warning: nosup: unable to open supervise/ok: file does not exist\n\
                 fail: dead: runsv not running\n\
                 run: plain: (pid 5) Ns\n",
                "",
            ),
        ),
    ];
    for (args, want) in rows {
        let (got, took) = t.same_timed(&Call::new(args).secs(5.0), Mask::Secs, false, || {});
        assert_eq!(got, want, "sv {args:?}");
        assert!(took < Duration::from_secs(2), "sv {args:?} took {took:?}");
    }
    t.each(|s| {
        assert_eq!(
            fs::read_to_string(s.path().join("plain/supervise/control")).unwrap(),
            "d",
            "{}",
            s.label
        );
    });
}

#[test]
fn sv_down_file_that_cannot_be_stat_ed_warns_on_stderr_and_still_ends_the_line() {
    let warn = "warning: unable to stat svc/down: symbolic link loop\n";
    let st = st_run(5);
    // The status part is left out, the line still ends.
    let rows = [
        row(&["status", "svc"], &[], &st, "", res(0, "\n", warn)),
        row(&["-v", "hup", "svc"], &[], &st, "h", res(0, "ok: \n", warn)),
        row(
            &["-w", "0", "down", "svc"],
            &[],
            &st,
            "d",
            res(1, "timeout: \n", warn),
        ),
        row(
            &["-w", "0", "force-stop", "svc"],
            &[],
            &st,
            "dk",
            res(1, "kill: \n", warn),
        ),
    ];
    run_rows(&rows, |svc| {
        std::os::unix::fs::symlink("down", svc.path("down")).unwrap()
    });
}

// ---------------------------------------------------------------------------
// Service names (SPEC §7.2) and exit codes (SPEC §7.9)

/// cwd/ holds svc (pid 4242) and .hid (4343); dir/ (SVDIR) holds another
/// svc (5555) and other (7777); empty/ holds nothing.
fn names_twin() -> Twin {
    Twin::new(|s| {
        for d in ["cwd", "dir", "empty"] {
            fs::create_dir(s.path().join(d)).unwrap();
        }
        s.fake("cwd/svc", &st_run(4242));
        s.fake("cwd/.hid", &st_run(4343));
        s.fake("dir/svc", &st_run(5555));
        s.fake("dir/other", &st_run(7777));
    })
}

#[test]
fn sv_service_names_resolve_under_svdir_relative_absolute_and_dotted() {
    let t = names_twin();
    let env = [("SVDIR", "{SB}/dir")];
    let status = |args: &[&str], env: &[(&str, &str)]| {
        t.same(&Call::new(args).env(env).cwd("cwd"), Mask::Secs)
    };
    let got = status(
        &[
            "status",
            "svc",
            "other",
            "./svc",
            "svc/",
            ".hid",
            "{SB}/cwd/svc",
            "../dir/other",
        ],
        &env,
    );
    let want = "run: svc: (pid 5555) Ns\n\
                run: other: (pid 7777) Ns\n\
                run: ./svc: (pid 4242) Ns\n\
                run: svc/: (pid 4242) Ns\n\
                run: .hid: (pid 4343) Ns\n\
                run: SB/cwd/svc: (pid 4242) Ns\n\
                run: ../dir/other: (pid 7777) Ns\n";
    assert_eq!(got, ok(want));
    // SVDIR with a trailing slash, and relative to the cwd.
    assert_eq!(
        status(&["status", "other"], &[("SVDIR", "{SB}/dir/")]),
        ok("run: other: (pid 7777) Ns\n")
    );
    assert_eq!(
        status(&["status", "other"], &[("SVDIR", "../dir")]),
        ok("run: other: (pid 7777) Ns\n")
    );
    let missing = |n: &str| {
        format!("fail: {n}: unable to change to service directory: file does not exist\n")
    };
    assert_eq!(
        status(&["status", "other"], &[("SVDIR", "{SB}/empty")]),
        res(1, &missing("other"), "")
    );
    assert_eq!(
        status(&["status", ".hid"], &[("SVDIR", "{SB}/empty")]),
        ok("run: .hid: (pid 4343) Ns\n")
    );
    assert_eq!(status(&["status", ""], &env), res(1, &missing(""), ""));
    assert_eq!(
        status(&["status", "nope/"], &env),
        res(1, &missing("nope/"), "")
    );
    // Bytes go where the name resolves.
    assert_eq!(status(&["hup", "svc", "./svc"], &env), ok(""));
    t.each(|s| {
        assert_eq!(s.get_fake("dir/svc").sent(), "h", "{}", s.label);
        assert_eq!(s.get_fake("cwd/svc").sent(), "h", "{}", s.label);
    });
}

#[test]
fn sv_trailing_slash_name_is_looked_up_under_svdir_in_the_waiting_phase() {
    // SPEC §7.2 quirk: `svc/` is sent to cwd/svc, but waited for as
    // SVDIR/svc/, which here is another service or none at all.
    let t = names_twin();
    let call = |args: &'static [&'static str], svdir: &'static str| {
        let env: &'static [(&str, &str)] = if svdir == "dir" {
            &[("SVDIR", "{SB}/dir")]
        } else {
            &[("SVDIR", "{SB}/empty")]
        };
        t.same(&Call::new(args).env(env).cwd("cwd"), Mask::Secs)
    };
    let sent = |who: &str| t.map(|s| s.get_fake(who).sent());
    let both = |v: &str| vec![v.to_owned(); t.sides.len()];

    assert_eq!(
        call(&["-v", "hup", "svc/"], "dir"),
        ok("ok: run: svc/: (pid 5555) Ns\n")
    );
    assert_eq!((sent("cwd/svc"), sent("dir/svc")), (both("h"), both("")));
    let missing = "fail: svc/: unable to change to service directory: file does not exist\n";
    assert_eq!(call(&["-v", "hup", "svc/"], "empty"), res(1, missing, ""));
    assert_eq!(sent("cwd/svc"), both("h"));
    assert_eq!(call(&["reload", "svc/"], "empty"), res(1, missing, ""));
    assert_eq!(sent("cwd/svc"), both("h"));
    // Without a wait the name works as typed.
    assert_eq!(call(&["hup", "svc/"], "empty"), ok(""));
    assert_eq!(sent("cwd/svc"), both("h"));
    assert_eq!(
        call(&["status", "svc/"], "empty"),
        ok("run: svc/: (pid 4242) Ns\n")
    );
}

#[test]
fn sv_exit_code_counts_failures_and_caps_at_99() {
    let t = Twin::new(|s| {
        s.fake("a", &st_run(1));
        s.fake("b", &st_run(2));
    });
    let fail = |n: &str| {
        format!("fail: {n}: unable to change to service directory: file does not exist\n")
    };
    let got = t.same(&Call::new(&["status", "n1", "a", "n2"]), Mask::Secs);
    assert_eq!(
        got,
        res(
            2,
            &format!("{}run: a: (pid 1) Ns\n{}", fail("n1"), fail("n2")),
            ""
        )
    );
    let names: Vec<String> = (0..120).map(|i| format!("n{i}")).collect();
    for cmd in ["status", "up"] {
        let mut args = vec![cmd];
        args.extend(names.iter().map(String::as_str));
        let got = t.same(&Call::new(&args), Mask::Secs);
        let want: String = names.iter().map(|n| fail(n)).collect();
        assert_eq!(
            got,
            res(99, &want, ""),
            "sv {cmd} with 120 missing services"
        );
    }
    // Sending first, then waiting, in argument order; every timeout counts.
    let got = t.same(
        &Call::new(&["-w", "0", "down", "a", "nope", "b"]),
        Mask::Secs,
    );
    let want = format!(
        "{}timeout: run: a: (pid 1) Ns\ntimeout: run: b: (pid 2) Ns\n",
        fail("nope")
    );
    assert_eq!(got, res(3, &want, ""));
    t.each(|s| {
        assert_eq!(
            (s.get_fake("a").sent(), s.get_fake("b").sent()),
            ("d".into(), "d".into()),
            "{}",
            s.label
        )
    });
    let got = t.same(&Call::new(&["-w", "0", "hup", "a", "b"]), Mask::Secs);
    assert_eq!(got, ok("ok: run: a: (pid 1) Ns\nok: run: b: (pid 2) Ns\n"));
}

// ---------------------------------------------------------------------------
// Timeouts (SPEC §7.6)

#[test]
fn sv_up_times_out_when_the_check_script_never_passes() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("svc", "exec sleep 1000")
            .file("down", "")
            .script("check", "exit 1");
        s.start(&runsv, "svc");
    });
    t.each(|s| settle(&s.svc("svc"), "down\n"));
    let (got, took) = t.same_timed(
        &Call::new(&["-w", "1", "up", "svc"]),
        Mask::PidsAndSecs,
        false,
        || {},
    );
    assert_eq!(
        got,
        res(1, "timeout: run: svc: (pid N) Ns, normally down\n", "")
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    t.each(|s| settle(&s.svc("svc"), "run\n"));
}

#[test]
fn sv_force_stop_kills_a_service_that_ignores_term_after_the_timeout() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        for n in ["stubborn", "plain"] {
            s.service(n, "trap '' TERM\nexec sleep 1000");
            s.start(&runsv, n);
        }
    });
    t.each(|s| {
        settle(&s.svc("stubborn"), "run\n");
        settle(&s.svc("plain"), "run\n");
    });
    let pids = t.map(|s| s.svc("stubborn").pid().unwrap());
    let got = t.sv(&["-w", "1", "force-stop", "stubborn"]);
    assert_eq!(
        got,
        res(
            1,
            "kill: run: stubborn: (pid N) Ns, want down, got TERM\n",
            ""
        )
    );
    for (s, pid) in pairs(&t, &pids) {
        wait_until(
            &format!("{}: stubborn service killed", s.label),
            5.0,
            || !alive(pid),
        );
        settle(&s.svc("stubborn"), "down\n");
    }
    // Without force, the service is left running.
    let pids = t.map(|s| s.svc("plain").pid().unwrap());
    let got = t.sv(&["-w", "1", "down", "plain"]);
    assert_eq!(
        got,
        res(
            1,
            "timeout: run: plain: (pid N) Ns, want down, got TERM\n",
            ""
        )
    );
    for (s, pid) in pairs(&t, &pids) {
        stays_false(&format!("{}: plain service died", s.label), 0.3, || {
            !alive(pid)
        });
        assert_eq!(
            s.svc("plain").stat(),
            "run, got TERM, want down\n",
            "{}",
            s.label
        );
    }
}

/// `./check` that fails as many more times as `armed` says, then passes.
const CHECK_ARMED: &str =
    "if [ -s armed ]; then n=$(cat armed); if [ \"$n\" -gt 0 ]; then echo $((n - 1)) >armed; exit 1; fi; fi";

#[test]
fn sv_wait_time_comes_from_svwait_and_w_with_trailing_junk_ignored() {
    let st = st_run(6);
    let up = ok("ok: run: svc: (pid 6) Ns\n");
    let timeout = res(1, "timeout: run: svc: (pid 6) Ns\n", "");
    // ./check fails in the first two rounds (at 0 s and 0.42 s in runit).
    // The first round never times out, so a timeout of 0 ends after the
    // second; a timeout of 3 or 5 lets the third round pass.
    let rows = [
        // Malformed SVWAIT reads as 0.
        row(
            &["check", "svc"],
            &[("SVWAIT", "abc")],
            &st,
            "",
            timeout.clone(),
        ),
        row(
            &["check", "svc"],
            &[("SVWAIT", "3junk")],
            &st,
            "",
            up.clone(),
        ),
        row(
            &["-w", "5x", "check", "svc"],
            &[("SVWAIT", "0")],
            &st,
            "",
            up.clone(),
        ),
        // -w overrides SVWAIT; a malformed -w reads as 0.
        row(
            &["-w", "0", "check", "svc"],
            &[("SVWAIT", "5")],
            &st,
            "",
            timeout.clone(),
        ),
        row(
            &["-w", "x", "check", "svc"],
            &[("SVWAIT", "5")],
            &st,
            "",
            timeout.clone(),
        ),
        row(
            &["-w", "0", "up", "svc"],
            &[("SVWAIT", "5")],
            &st,
            "",
            timeout.clone(),
        ),
    ];
    let (t, took) = run_rows(&rows, |svc| {
        svc.script("check", CHECK_ARMED);
        fs::write(svc.path("armed"), "2").unwrap();
    });
    for (i, (r, took)) in rows.iter().zip(took).enumerate() {
        assert!(
            took < Duration::from_secs(3),
            "sv {:?} env {:?} took {took:?}",
            r.args,
            r.env
        );
        // (Whether a timed-out run had its second round is the subject of
        // the next test.)
        t.each(|s| {
            assert_ne!(
                s.svc(&format!("r{i}/svc")).read("armed"),
                "2",
                "{}: ./check never ran",
                s.label
            )
        });
    }
}

#[test]
fn sv_first_wait_round_never_times_out_even_after_a_slow_sending_phase() {
    // runit measures the first round at elapsed 0 exactly (SPEC §7.6), so
    // with -w 0 a second round always follows, however long sending took
    // (here: 3000 names that fail). ./check fails once, then passes.
    let t = Twin::new(|s| {
        s.fake("svc", &st_run(6));
        s.svc("svc").script("check", CHECK_ARMED);
        fs::write(s.svc("svc").path("armed"), "1").unwrap();
    });
    let names: Vec<String> = (0..3000).map(|i| format!("nope{i}")).collect();
    let mut args = vec!["-w", "0", "check"];
    args.extend(names.iter().map(String::as_str));
    args.push("svc");
    let got = t.same(&Call::new(&args), Mask::Secs);
    let mut want: String = names
        .iter()
        .map(|n| format!("fail: {n}: unable to change to service directory: file does not exist\n"))
        .collect();
    want += "ok: run: svc: (pid 6) Ns\n";
    assert_eq!(got.0, Some(99));
    assert!(
        got.1 == want,
        "stdout ends {:?}",
        &got.1[got.1.len().saturating_sub(200)..]
    );
    assert_eq!(got.2, "");
}

// ---------------------------------------------------------------------------
// ./check scripts (SPEC §7.7)

fn check_twin(check: &str) -> Twin {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("svc", "exec sleep 1000").script("check", check);
        s.start(&runsv, "svc");
    });
    t.each(|s| settle(&s.svc("svc"), "run\n"));
    t
}

#[test]
fn sv_check_script_that_passes_gives_ok_and_runs_with_stdout_closed() {
    let t = check_twin(
        "if [ -e /proc/$$/fd/1 ]; then echo open >probe; else echo closed >probe; fi\n\
         echo \"$0 $(pwd)\" >argv\n\
         echo leaked 2>/dev/null\n\
         exit 0",
    );
    assert_eq!(t.sv(&["check", "svc"]), ok("ok: run: svc: (pid N) Ns\n"));
    t.each(|s| {
        let svc = s.svc("svc");
        assert_eq!(svc.read("probe"), "closed\n", "{}: check's stdout", s.label);
    });
    assert_eq!(
        t.sv(&["-w", "2", "up", "svc"]),
        ok("ok: run: svc: (pid N) Ns\n")
    );
    assert_eq!(
        t.sv(&["start", "{SB}/svc"]),
        ok("ok: run: SB/svc: (pid N) Ns\n")
    );
    t.each(|s| {
        // runit execs the path `check` with argv[0] `./check`: a script's
        // $0 is the path the kernel was given.
        let svc = s.svc("svc");
        assert_eq!(
            svc.read("argv"),
            format!("check {}\n", svc.dir.display()),
            "{}: check's $0 and cwd",
            s.label
        );
    });
}

#[test]
fn sv_check_script_that_fails_times_out() {
    let t = check_twin("echo x >> checks\nexit 1");
    let (got, took) = t.same_timed(
        &Call::new(&["-w", "1", "check", "svc"]),
        Mask::PidsAndSecs,
        false,
        || {},
    );
    assert_eq!(got, res(1, "timeout: run: svc: (pid N) Ns\n", ""));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    // Run in every poll round.
    t.each(|s| assert!(s.svc("svc").lines("checks").len() >= 2, "{}", s.label));
}

#[test]
fn sv_check_script_that_becomes_ready_lets_start_succeed() {
    let t = check_twin("echo x >> checks\ntest -e ready");
    let during = || {
        for s in &t.sides {
            let svc = s.svc("svc");
            wait_until(&format!("{}: first check ran", s.label), 5.0, || {
                !svc.lines("checks").is_empty()
            });
            fs::write(svc.path("ready"), "").unwrap();
        }
    };
    let (got, took) = t.same_timed(
        &Call::new(&["-w", "5", "start", "svc"]),
        Mask::PidsAndSecs,
        false,
        during,
    );
    assert_eq!(got, ok("ok: run: svc: (pid N) Ns\n"));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    t.each(|s| {
        assert!(
            s.svc("svc").lines("checks").len() >= 2,
            "{}: check ran once",
            s.label
        )
    });
}

#[test]
fn sv_check_script_that_is_not_executable_warns_and_counts_as_passed() {
    let t = check_twin("echo x >> checks\nexit 1");
    t.each(|s| {
        fs::set_permissions(
            s.svc("svc").path("check"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap()
    });
    let got = t.sv(&["-w", "2", "check", "svc"]);
    assert_eq!(
        got,
        res(
            0,
            "ok: run: svc: (pid N) Ns\n",
            "warning: unable to run svc/check: access denied\n"
        )
    );
    let got = t.sv(&["start", "./svc"]);
    assert_eq!(
        got,
        res(
            0,
            "ok: run: ./svc: (pid N) Ns\n",
            "warning: unable to run ./svc/check: access denied\n"
        )
    );
    t.each(|s| {
        assert!(
            s.svc("svc").lines("checks").is_empty(),
            "{}: the script ran",
            s.label
        )
    });
}

#[test]
fn sv_check_script_that_cannot_be_stat_ed_warns_and_does_not_pass() {
    let t = check_twin("exit 0");
    t.each(|s| {
        let p = s.svc("svc").path("check");
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("check", &p).unwrap();
    });
    // A warning in every round: at 0, 0.42, 0.84 and 1.26 s in runit.
    let got = t.sv(&["-w", "1", "check", "svc"]);
    let warn = "warning: unable to stat svc/check: symbolic link loop\n";
    assert_eq!(
        got,
        res(1, "timeout: run: svc: (pid N) Ns\n", &warn.repeat(4))
    );
}

#[test]
fn sv_check_command_compares_with_the_wanted_state_as_in_2_3_0() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("svc", SIGNAL_RECORDER);
        s.start(&runsv, "svc");
        s.fake(
            "fake",
            &status_bytes(tai(unix_now() - 100), 0, 0, b'u', 0, 0),
        );
    });
    t.each(|s| {
        running(&s.svc("svc"), 1);
    });
    assert_eq!(
        t.sv(&["-w", "5", "once", "svc"]),
        ok("ok: run: svc: (pid N) Ns, want down\n")
    );
    // Running, but wanted down: 2.3.0 waits for it to be down.
    let (reference, got) = t.split(&Call::new(&["-w", "1", "check", "svc"]), Mask::PidsAndSecs);
    assert_eq!(
        got,
        res(1, "timeout: run: svc: (pid N) Ns, want down\n", "")
    );
    if let Some(r) = reference {
        // 2.1.2: a running service whose ./check passes is "ok".
        assert_eq!(
            r,
            ok("ok: run: svc: (pid N) Ns, want down\n"),
            "reference (2.1.2)"
        );
    }
    // Down, but wanted up: 2.3.0 waits for it to be up.
    let (reference, got) = t.split(&Call::new(&["-w", "0", "check", "fake"]), Mask::Secs);
    assert_eq!(
        got,
        res(1, "timeout: down: fake: Ns, normally up, want up\n", "")
    );
    if let Some(r) = reference {
        // 2.1.2: a service without a process is "ok".
        assert_eq!(
            r,
            ok("ok: down: fake: Ns, normally up, want up\n"),
            "reference (2.1.2)"
        );
    }
    t.each(|s| {
        assert_eq!(
            s.get_fake("fake").sent(),
            "",
            "{}: check sent bytes",
            s.label
        )
    });
}

// ---------------------------------------------------------------------------
// LSB mode: sv called by another name (SPEC §7.1, §7.9)

fn lsb_usage(name: &str) -> String {
    format!("usage: {name} [-w sec] command\n\n")
}

#[test]
fn sv_lsb_mode_through_a_symlink_starts_stops_and_reports_status() {
    let runsv = ours("runsv");
    let mut t = Twin::new(|s| {
        fs::create_dir_all(s.path().join("services")).unwrap();
        fs::create_dir_all(s.path().join("init.d")).unwrap();
        std::os::unix::fs::symlink(&s.sv, s.path().join("init.d/svc")).unwrap();
        s.service("services/svc", SIGNAL_RECORDER);
        s.start(&runsv, "services/svc");
    });
    t.each(|s| {
        running(&s.svc("services/svc"), 1);
    });
    let lsb = |t: &Twin, args: &[&str]| {
        t.same(
            &Call::new(args)
                .prog("init.d/svc")
                .env(&[("SVDIR", "{SB}/services")]),
            Mask::PidsAndSecs,
        )
    };
    assert_eq!(lsb(&t, &["status"]), ok("run: svc: (pid N) Ns\n"));
    assert_eq!(lsb(&t, &["stop"]), ok("ok: down: svc: Ns, normally up\n"));
    assert_eq!(
        lsb(&t, &["status"]),
        res(3, "down: svc: Ns, normally up\n", "")
    );
    assert_eq!(lsb(&t, &["start"]), ok("ok: run: svc: (pid N) Ns\n"));
    t.each(|s| {
        running(&s.svc("services/svc"), 2);
    });
    assert_eq!(lsb(&t, &["-v", "status"]), ok("run: svc: (pid N) Ns\n"));
    assert_eq!(
        lsb(&t, &["status", "ignored"]),
        ok("run: svc: (pid N) Ns\n")
    );
    assert_eq!(lsb(&t, &["reload"]), ok("ok: run: svc: (pid N) Ns\n"));
    t.each(|s| wait_sigs(&s.svc("services/svc"), "HUP", 1));
    // First-letter commands still work, and do not wait without -v.
    assert_eq!(lsb(&t, &["alarm"]), ok(""));
    t.each(|s| wait_sigs(&s.svc("services/svc"), "ALRM", 1));
    assert_eq!(lsb(&t, &["-w", "5", "2"]), ok("ok: run: svc: (pid N) Ns\n"));
    t.each(|s| wait_sigs(&s.svc("services/svc"), "USR2", 1));
    assert_eq!(lsb(&t, &["shutdown"]), ok("ok: svc: runsv not running\n"));
    for s in &mut t.sides {
        let label = s.label;
        assert_eq!(
            s.runsv("services/svc").wait_exit(5.0).code(),
            Some(0),
            "{label}: runsv exit code"
        );
    }
    assert_eq!(
        lsb(&t, &["status"]),
        res(1, "fail: svc: runsv not running\n", "")
    );
    assert_eq!(
        lsb(&t, &["start"]),
        res(1, "fail: svc: runsv not running\n", "")
    );
    assert_eq!(
        lsb(&t, &["stop"]),
        res(1, "fail: svc: runsv not running\n", "")
    );
}

#[test]
fn sv_lsb_mode_usage_errors_exit_2_and_status_must_be_spelt_out() {
    let t = Twin::new(|s| s.fake("svc", &st_run(8)));
    let usage = lsb_usage("svc");
    let rows: Vec<(&[&str], String)> = vec![
        (&[], usage.clone()),
        (&["-v"], usage.clone()),
        (&["stat"], usage.clone()),
        (&["s"], usage.clone()),
        (&["sxyz"], usage.clone()),
        (&["statusx"], usage.clone()),
        (&["bogus"], usage.clone()),
        (&["reboot"], usage.clone()),
        (&["force"], usage.clone()),
        (
            &["-x", "status"],
            format!("svc: illegal option -- x\n{usage}"),
        ),
        (
            &["-w"],
            format!("svc: option requires an argument -- w\n{usage}"),
        ),
        (&["-V"], format!("$Id: ID $\n{usage}")),
    ];
    for (args, err) in rows {
        let got = t.same(&Call::new(args).argv0("/etc/init.d/svc"), Mask::Secs);
        assert_eq!(got, res(2, "", &err), "svc {args:?}");
    }
    t.each(|s| assert_eq!(s.get_fake("svc").sent(), "", "{}", s.label));
    let ((_, _, err), _) = t.ours().call(&Call::new(&["-V"]).argv0("svc"));
    assert_eq!(err, format!("{ID_2_3_0}\n{usage}"));
    // The mode depends only on the basename of argv[0].
    let got = t.same(
        &Call::new(&["status", "svc"]).argv0("/somewhere/sv"),
        Mask::Secs,
    );
    assert_eq!(got, ok("run: svc: (pid 8) Ns\n"));
    let got = t.same(&Call::new(&["status"]).argv0("sv.old"), Mask::Secs);
    assert_eq!(
        got,
        res(
            1,
            "fail: sv.old: unable to change to service directory: file does not exist\n",
            ""
        )
    );
    let got = t.same(&Call::new(&["status"]).argv0("./svc"), Mask::Secs);
    assert_eq!(got, ok("run: svc: (pid 8) Ns\n"));
}

#[test]
fn sv_lsb_status_exit_codes_are_0_running_3_down_4_unreadable_1_failed() {
    let t = Twin::new(|s| {
        let p = s.path().to_path_buf();
        s.fake("up", &st_run(42));
        s.fake(
            "fin",
            &status_bytes(tai(unix_now() - 100), 43, 0, b'u', 0, 2),
        );
        s.fake("down", &st_down());
        s.fake(
            "wantup",
            &status_bytes(tai(unix_now() - 100), 0, 0, b'u', 0, 0),
        );
        s.fake(
            "odd",
            &status_bytes(tai(unix_now() - 100), 44, 0, b'u', 0, 7),
        );
        s.fake(
            "pid0run",
            &status_bytes(tai(unix_now() - 100), 0, 0, b'u', 0, 1),
        );
        s.fake("short", &st_run(5)[..10]);
        s.add_fake(
            "dead",
            Fake::new(&p.join("dead"), Some(&st_run(5)), false, false),
        );
        fs::create_dir(p.join("nosup")).unwrap();
        s.fake("downloop", &st_run(9));
        std::os::unix::fs::symlink("down", p.join("downloop/down")).unwrap();
    });
    let lsb = |name: &'static str, args: &'static [&'static str]| {
        let argv0: &'static str = Box::leak(format!("/etc/init.d/{name}").into_boxed_str());
        t.same(&Call::new(args).argv0(argv0), Mask::Secs)
    };
    assert_eq!(lsb("up", &["status"]), ok("run: up: (pid 42) Ns\n"));
    assert_eq!(lsb("fin", &["status"]), ok("finish: fin: (pid 43) Ns\n"));
    assert_eq!(
        lsb("down", &["status"]),
        res(3, "down: down: Ns, normally up\n", "")
    );
    assert_eq!(
        lsb("wantup", &["status"]),
        res(3, "down: wantup: Ns, normally up, want up\n", "")
    );
    assert_eq!(lsb("odd", &["status"]), ok("odd: (pid 44) Ns\n"));
    // The code follows the pid, not the state byte.
    assert_eq!(
        lsb("pid0run", &["status"]),
        res(3, "run: pid0run: (pid 0) Ns, normally up, want up\n", "")
    );
    let bad = "warning: short: unable to read supervise/status: bad format\n";
    assert_eq!(lsb("short", &["status"]), res(4, bad, ""));
    let nosup = "warning: nosup: unable to open supervise/ok: file does not exist\n";
    assert_eq!(lsb("nosup", &["status"]), res(4, nosup, ""));
    assert_eq!(
        lsb("dead", &["status"]),
        res(1, "fail: dead: runsv not running\n", "")
    );
    let missing = "fail: missing: unable to change to service directory: file does not exist\n";
    assert_eq!(lsb("missing", &["status"]), res(1, missing, ""));
    // Other commands count failures as in normal mode.
    assert_eq!(lsb("nosup", &["start"]), res(1, nosup, ""));
    assert_eq!(
        lsb("dead", &["start"]),
        res(1, "fail: dead: runsv not running\n", "")
    );
    assert_eq!(
        lsb("dead", &["shutdown"]),
        ok("ok: dead: runsv not running\n")
    );
    assert_eq!(lsb("missing", &["stop"]), res(1, missing, ""));
    assert_eq!(
        lsb("down", &["-w", "0", "start"]),
        res(1, "timeout: down: down: Ns, normally up\n", "")
    );
    assert_eq!(
        lsb("up", &["-w", "0", "stop"]),
        res(1, "timeout: run: up: (pid 42) Ns\n", "")
    );
    t.each(|s| assert_eq!(s.get_fake("up").sent(), "d", "{}", s.label));
    // A `down` file that cannot be stat'ed: no status part, exit 4.
    let warn = "warning: unable to stat downloop/down: symbolic link loop\n";
    assert_eq!(lsb("downloop", &["status"]), res(4, "\n", warn));
}

#[test]
fn sv_lsb_status_ignores_the_log_service_as_in_2_3_0() {
    let runsv = ours("runsv");
    let t = Twin::new(|s| {
        s.service("dn", "exec sleep 1000")
            .file("down", "")
            .script("log/run", "exec cat >/dev/null");
        s.service("up", "exec sleep 1000")
            .script("log/run", "exec cat >/dev/null")
            .file("log/down", "");
        s.start(&runsv, "dn");
        s.start(&runsv, "up");
    });
    t.each(|s| {
        settle(&s.svc("dn"), "down\n");
        settle_log(&s.svc("dn"), "run\n");
        settle(&s.svc("up"), "run\n");
        settle_log(&s.svc("up"), "down\n");
    });
    // A down service with a running logger: 3 in 2.3.0.
    let (reference, got) = t.split(&Call::new(&["status"]).argv0("dn"), Mask::PidsAndSecs);
    let out = "down: dn: Ns; run: log: (pid N) Ns\n";
    assert_eq!(got, res(3, out, ""));
    if let Some(r) = reference {
        // 2.1.2 took the exit code from the log service: 0.
        assert_eq!(r, res(0, out, ""), "reference (2.1.2)");
    }
    // A running service with a stopped logger: 0 in 2.3.0.
    let (reference, got) = t.split(&Call::new(&["status"]).argv0("up"), Mask::PidsAndSecs);
    let out = "run: up: (pid N) Ns; down: log: Ns\n";
    assert_eq!(got, res(0, out, ""));
    if let Some(r) = reference {
        // 2.1.2: 3, from the log service.
        assert_eq!(r, res(3, out, ""), "reference (2.1.2)");
    }
    // Normal mode `status` exits 0 either way.
    assert_eq!(
        t.sv(&["status", "dn", "up"]),
        ok(&format!("down: dn: Ns; run: log: (pid N) Ns\n{out}"))
    );
}
