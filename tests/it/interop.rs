//! Interop: runit's sv and daemontools' svc/svstat/svok drive our runsv.
//!
//! The clients are the reference binaries (Debian runit 2.1.2, daemontools
//! 0.76). Where a client's output is compared, the same command is run at
//! the same time against the reference runsv in a second sandbox, and the
//! outputs must match once the sandbox path, pids and seconds are masked.
//! Every effect is also checked on the service itself (the signal
//! recorder's `sigs` and `pids` files, `supervise/stat`, process states),
//! on both sides, so a scenario that is wrong for the reference fails too.
//! The last group checks that the reference runsv and ours exclude each
//! other through `supervise/lock` and `log/supervise/lock`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::sandbox::*;
use std::fs;
use std::path::{Path, PathBuf};

const SVC: &str = "svc";

/// Runs a client to completion within `secs`: exit code, stdout, stderr.
fn client(cwd: &Path, prog: &Path, args: &[&str], secs: f64) -> (Option<i32>, String, String) {
    outcome(run_with(cwd, prog, None, args, &[], secs))
}

/// Masks what differs between runs: the sandbox path becomes `SB`, the
/// digits after `(pid ` become `N`, and so do the digits of durations
/// (`12s`, `12 seconds`).
fn mask(text: &str, sandbox: &Path) -> String {
    let text = text.replace(&*sandbox.to_string_lossy(), "SB");
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
            let is_pid = before.ends_with("(pid ");
            let is_secs = after.starts_with("s;")
                || after.starts_with("s,")
                || after.starts_with("s\n")
                || after == "s"
                || after.starts_with(" seconds");
            if is_pid || is_secs {
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

#[test]
fn interop_mask_hides_only_pids_and_durations() {
    let sb = Path::new("/tmp/x1");
    assert_eq!(
        mask(
            "run: /tmp/x1/svc: (pid 123) 45s; run: log: (pid 6) 7s\n",
            sb
        ),
        "run: SB/svc: (pid N) Ns; run: log: (pid N) Ns\n"
    );
    assert_eq!(
        mask("down: s2: 10s, normally up\n", sb),
        "down: s2: Ns, normally up\n"
    );
    assert_eq!(
        mask("svc: up (pid 99) 3 seconds, paused\n", sb),
        "svc: up (pid N) N seconds, paused\n"
    );
    assert_eq!(mask("usr1 2 x3s 42\n", sb), "usr1 2 x3s 42\n");
}

// ---------------------------------------------------------------------------
// Two runsvs (reference and ours), each supervising the signal recorder

struct Side {
    label: &'static str,
    sb: Sandbox,
    svc: Service,
    runsv: Guarded,
}

impl Side {
    fn abs(&self) -> String {
        self.svc.dir.to_string_lossy().into_owned()
    }

    /// The service's files, for failure messages.
    fn describe(&self) -> String {
        format!(
            "{}: stat {:?} status {:02x?} pid {:?} pids {:?} sigs {:?} runsv output {:?}",
            self.label,
            self.svc.stat(),
            self.svc.status(),
            self.svc.read("supervise/pid"),
            self.svc.lines("pids"),
            self.svc.lines("sigs"),
            self.runsv.stderr()
        )
    }

    fn sigs(&self, name: &str) -> usize {
        self.svc.lines("sigs").iter().filter(|l| *l == name).count()
    }

    fn starts(&self) -> usize {
        self.svc.lines("pids").len()
    }

    /// Waits for `stat` to read `want` and for `status` (written after
    /// `stat`, and what the clients read) to agree with it.
    fn wait_stat(&self, want: &str) {
        wait_until(&format!("{}: stat {want:?}", self.label), 10.0, || {
            self.svc.stat() == want && status_agrees(want, &self.svc.status(), None)
        });
    }

    /// Waits for recorder start number `n` to be up and recorded as the
    /// running process in all three files; returns its pid.
    fn wait_running(&self, n: usize) -> u32 {
        let pid = self.svc.wait_recorder(n);
        wait_until(
            &format!("{}: start {n} (pid {pid}) recorded", self.label),
            10.0,
            || {
                let stat = self.svc.stat();
                self.svc.pid() == Some(pid)
                    && stat.starts_with("run")
                    && status_agrees(&stat, &self.svc.status(), Some(pid))
            },
        );
        pid
    }
}

/// Does the binary status say what the stat line says (and hold `pid`)?
fn status_agrees(stat: &str, status: &[u8], pid: Option<u32>) -> bool {
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
    let field = u32::from_le_bytes([status[12], status[13], status[14], status[15]]);
    word == state
        && stat.contains(", paused") == (status[16] != 0)
        && stat.contains(", got TERM") == (status[18] != 0)
        && pid.is_none_or(|p| p == field)
}

/// Starts the reference runsv and ours on the signal recorder, with
/// `setup` applied to both service directories. `None` skips the test.
fn pair(setup: impl Fn(&Service)) -> Option<[Side; 2]> {
    let reference = ref_runit("runsv")?;
    let mk = |label: &'static str, bin: PathBuf| {
        let sb = Sandbox::new();
        let svc = sb.service(SVC, SIGNAL_RECORDER);
        setup(&svc);
        let runsv = start_runsv(&bin, &sb, SVC);
        Side {
            label,
            sb,
            svc,
            runsv,
        }
    };
    Some([mk("reference", reference), mk("ours", ours("runsv"))])
}

/// Runs the reference `sv ARGS... /abs/svc` against both sides at once;
/// asserts the masked stdout, stderr and exit code are the same and
/// returns the reference's.
fn sv_both(sides: &[Side; 2], args: &[&str]) -> (Option<i32>, String, String) {
    let sv = ref_runit("sv").expect("sv (checked with runsv)");
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = sides
            .iter()
            .map(|s| {
                let sv = &sv;
                scope.spawn(move || {
                    let abs = s.abs();
                    let mut argv: Vec<&str> = args.to_vec();
                    argv.push(&abs);
                    let (code, out, err) = client(s.sb.path(), sv, &argv, 20.0);
                    (code, mask(&out, s.sb.path()), mask(&err, s.sb.path()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sv thread"))
            .collect()
    });
    assert_eq!(
        results[1],
        results[0],
        "sv {args:?}: (left: ours, right: reference)\n{}\n{}",
        sides[1].describe(),
        sides[0].describe()
    );
    results[0].clone()
}

fn ok(text: &str) -> (Option<i32>, String, String) {
    (Some(0), text.to_owned(), String::new())
}

// ---------------------------------------------------------------------------
// a. runit's sv against our runsv

#[test]
fn interop_sv_status_down_up_once_drive_our_runsv_like_the_reference() {
    let Some(sides) = pair(|svc| {
        svc.script("log/run", "exec cat");
    }) else {
        return;
    };
    for s in &sides {
        s.wait_running(1);
        wait_until(&format!("{}: log running", s.label), 10.0, || {
            s.svc.log_stat() == "run\n"
                && status_agrees(
                    "run\n",
                    &fs::read(s.svc.path("log/supervise/status")).unwrap_or_default(),
                    None,
                )
        });
    }

    let got = sv_both(&sides, &["status"]);
    assert_eq!(got, ok("run: SB/svc: (pid N) Ns; run: log: (pid N) Ns\n"));

    let got = sv_both(&sides, &["-w", "5", "down"]);
    assert_eq!(got, ok("ok: down: SB/svc: Ns, normally up\n"));
    for s in &sides {
        assert_eq!(s.svc.stat(), "down\n", "{}", s.label);
        wait_until(&format!("{}: TERM recorded", s.label), 5.0, || {
            s.sigs("TERM") == 1
        });
    }
    let got = sv_both(&sides, &["status"]);
    assert_eq!(
        got,
        ok("down: SB/svc: Ns, normally up; run: log: (pid N) Ns\n")
    );

    // The recorder ran for less than a second: both throttle the restart.
    let got = sv_both(&sides, &["-w", "5", "up"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns\n"));
    let pids: Vec<u32> = sides.iter().map(|s| s.wait_running(2)).collect();

    let got = sv_both(&sides, &["-w", "5", "once"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns, want down\n"));
    for (s, pid) in sides.iter().zip(&pids) {
        assert_eq!(s.svc.stat(), "run, want down\n", "{}", s.label);
        assert_eq!(
            s.svc.pid(),
            Some(*pid),
            "{}: once restarted the service",
            s.label
        );
    }
    let got = sv_both(&sides, &["status"]);
    assert_eq!(
        got,
        ok("run: SB/svc: (pid N) Ns, want down; run: log: (pid N) Ns\n")
    );

    // `sv down` after `once`: want is already d but got TERM is not set, so
    // d is sent again and the service stops.
    let got = sv_both(&sides, &["-w", "5", "down"]);
    assert_eq!(got, ok("ok: down: SB/svc: Ns, normally up\n"));
    // A `once` from down runs it once more. (Not with -w: sv's "o"
    // condition compares whole seconds and races with runsv, SPEC 7.6.)
    let got = sv_both(&sides, &["once"]);
    assert_eq!(got, ok(""));
    for s in &sides {
        s.wait_running(3);
        assert_eq!(s.svc.stat(), "run, want down\n", "{}", s.label);
    }
    let got = sv_both(&sides, &["status"]);
    assert_eq!(
        got,
        ok("run: SB/svc: (pid N) Ns, want down; run: log: (pid N) Ns\n")
    );
    // `up` on a service that runs with want down: only want changes. (Not
    // with -w: the "u" condition is met before runsv has read the byte.)
    let got = sv_both(&sides, &["up"]);
    assert_eq!(got, ok(""));
    for s in &sides {
        s.wait_stat("run\n");
        assert_eq!(
            s.starts(),
            3,
            "{}: up on a running service restarted it",
            s.label
        );
    }
    let got = sv_both(&sides, &["status"]);
    assert_eq!(got, ok("run: SB/svc: (pid N) Ns; run: log: (pid N) Ns\n"));
}

#[test]
fn interop_sv_pause_cont_and_signal_commands_reach_our_service() {
    let Some(sides) = pair(|_| {}) else { return };
    let pids: Vec<u32> = sides.iter().map(|s| s.wait_running(1)).collect();

    let got = sv_both(&sides, &["-w", "5", "pause"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns, paused\n"));
    for (s, pid) in sides.iter().zip(&pids) {
        assert_eq!(s.svc.stat(), "run, paused\n", "{}", s.label);
        wait_until(&format!("{}: recorder stopped", s.label), 5.0, || {
            proc_state(*pid) == Some('T')
        });
    }

    let got = sv_both(&sides, &["-w", "5", "cont"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns\n"));
    for (s, pid) in sides.iter().zip(&pids) {
        wait_until(&format!("{}: CONT recorded", s.label), 5.0, || {
            s.sigs("CONT") == 1
        });
        assert_ne!(proc_state(*pid), Some('T'), "{}: still stopped", s.label);
    }

    for (cmd, sig) in [
        ("hup", "HUP"),
        ("alarm", "ALRM"),
        ("interrupt", "INT"),
        ("quit", "QUIT"),
        ("1", "USR1"),
        ("2", "USR2"),
    ] {
        let got = sv_both(&sides, &["-w", "5", cmd]);
        assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns\n"), "sv {cmd}");
        for s in &sides {
            wait_until(
                &format!("{}: {sig} recorded after sv {cmd}", s.label),
                5.0,
                || s.sigs(sig) == 1,
            );
        }
    }
    // Also without -w: nothing printed, exit 0, signal delivered.
    let got = sv_both(&sides, &["hup"]);
    assert_eq!(got, ok(""));
    for (s, pid) in sides.iter().zip(&pids) {
        wait_until(&format!("{}: second HUP", s.label), 5.0, || {
            s.sigs("HUP") == 2
        });
        assert_eq!(
            s.svc.pid(),
            Some(*pid),
            "{}: a signal restarted the service",
            s.label
        );
        assert_eq!(s.starts(), 1, "{}", s.label);
        assert_eq!(s.sigs("TERM"), 0, "{}", s.label);
    }
}

#[test]
fn interop_sv_term_kill_exit_drive_our_runsv_like_the_reference() {
    let Some(mut sides) = pair(|_| {}) else {
        return;
    };
    let first: Vec<u32> = sides.iter().map(|s| s.wait_running(1)).collect();

    let got = sv_both(&sides, &["-w", "5", "term"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns\n"));
    let second: Vec<u32> = sides.iter().map(|s| s.wait_running(2)).collect();
    for (s, pid) in sides.iter().zip(&first) {
        assert_eq!(s.sigs("TERM"), 1, "{}", s.label);
        assert!(
            !alive(*pid),
            "{}: old process still alive after term",
            s.label
        );
    }

    let got = sv_both(&sides, &["-w", "5", "kill"]);
    assert_eq!(got, ok("ok: run: SB/svc: (pid N) Ns\n"));
    for (s, pid) in sides.iter().zip(&second) {
        s.wait_running(3);
        assert!(
            !alive(*pid),
            "{}: old process still alive after kill",
            s.label
        );
        assert_eq!(s.sigs("TERM"), 1, "{}: kill sent TERM", s.label);
    }

    let got = sv_both(&sides, &["-w", "5", "exit"]);
    assert_eq!(got, ok("ok: SB/svc: runsv not running\n"));
    for s in &mut sides {
        let st = s.runsv.wait_exit(5.0);
        assert_eq!(st.code(), Some(0), "{}: runsv exit code", s.label);
        assert_eq!(s.sigs("TERM"), 2, "{}", s.label);
    }
    let got = sv_both(&sides, &["status"]);
    assert_eq!(
        got,
        (
            Some(1),
            "fail: SB/svc: runsv not running\n".to_owned(),
            String::new()
        )
    );
}

// ---------------------------------------------------------------------------
// b. daemontools against our runsv

fn dt(name: &str) -> Option<PathBuf> {
    ref_daemontools(name)
}

#[test]
fn interop_svok_exits_0_while_our_runsv_runs_and_100_after_it_exits() {
    let Some(svok) = dt("svok") else { return };
    let Some(mut sides) = pair(|_| {}) else {
        return;
    };
    for s in &mut sides {
        s.wait_running(1);
        let (code, out, err) = client(s.sb.path(), &svok, &[SVC], 5.0);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(0), "", ""),
            "{}: svok while runsv runs",
            s.label
        );
        s.svc.control("x");
        assert_eq!(s.runsv.wait_exit(5.0).code(), Some(0), "{}", s.label);
        let (code, out, err) = client(s.sb.path(), &svok, &[SVC], 5.0);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(100), "", ""),
            "{}: svok after runsv exited",
            s.label
        );
    }
}

/// `svstat svc` on both sides (relative name), masked; asserts they agree.
fn svstat_both(svstat: &Path, sides: &[Side; 2]) -> String {
    let got: Vec<_> = sides
        .iter()
        .map(|s| {
            let (code, out, err) = client(s.sb.path(), svstat, &[SVC], 5.0);
            assert_eq!((code, err.as_str()), (Some(0), ""), "{}: svstat", s.label);
            out
        })
        .collect();
    let masked: Vec<_> = got
        .iter()
        .zip(sides)
        .map(|(o, s)| mask(o, s.sb.path()))
        .collect();
    assert_eq!(
        masked[1], masked[0],
        "svstat (left: ours, right: reference)"
    );
    // The pid svstat shows is our real pid.
    if let Some(pid) = sides[1].svc.pid() {
        assert!(
            got[1].contains(&format!("(pid {pid})")),
            "ours: svstat {:?} vs pid {pid}",
            got[1]
        );
    }
    masked[0].clone()
}

fn svc_both(svc_prog: &Path, sides: &[Side; 2], opts: &str) {
    for s in sides {
        let (code, out, err) = client(s.sb.path(), svc_prog, &[opts, SVC], 5.0);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(0), "", ""),
            "{}: svc {opts}",
            s.label
        );
    }
}

#[test]
fn interop_svstat_reports_up_down_paused_and_want_down_for_our_runsv() {
    let (Some(svstat), Some(svc)) = (dt("svstat"), dt("svc")) else {
        return;
    };
    let Some(sides) = pair(|_| {}) else { return };
    for s in &sides {
        s.wait_running(1);
    }
    assert_eq!(svstat_both(&svstat, &sides), "svc: up (pid N) N seconds\n");

    svc_both(&svc, &sides, "-d");
    for s in &sides {
        s.wait_stat("down\n");
    }
    assert_eq!(
        svstat_both(&svstat, &sides),
        "svc: down N seconds, normally up\n"
    );

    svc_both(&svc, &sides, "-u");
    for s in &sides {
        s.wait_running(2);
    }
    svc_both(&svc, &sides, "-p");
    for s in &sides {
        s.wait_stat("run, paused\n");
    }
    assert_eq!(
        svstat_both(&svstat, &sides),
        "svc: up (pid N) N seconds, paused\n"
    );

    svc_both(&svc, &sides, "-c");
    svc_both(&svc, &sides, "-o");
    for s in &sides {
        s.wait_stat("run, want down\n");
    }
    assert_eq!(
        svstat_both(&svstat, &sides),
        "svc: up (pid N) N seconds, want down\n"
    );

    // With a `down` file: "normally down" while up, and no "normally up".
    for s in &sides {
        s.svc.file("down", "");
    }
    assert_eq!(
        svstat_both(&svstat, &sides),
        "svc: up (pid N) N seconds, normally down, want down\n"
    );
}

/// Runs every svc option against one side and checks its effect.
fn svc_options_scenario(svc_prog: &Path, s: &mut Side) {
    let l = s.label;
    let cwd = s.sb.path().to_path_buf();
    let svc = |opts: &str| {
        let (code, out, err) = client(&cwd, svc_prog, &[opts, SVC], 5.0);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(0), "", ""),
            "{l}: svc {opts}"
        );
    };
    let p1 = s.wait_running(1);

    svc("-d");
    s.wait_stat("down\n");
    assert_eq!(s.sigs("TERM"), 1, "{l}: svc -d sent TERM");

    svc("-u");
    let p2 = s.wait_running(2);
    assert_ne!(p1, p2);

    svc("-o");
    s.wait_stat("run, want down\n");
    svc("-u");
    s.wait_stat("run\n");

    svc("-p");
    s.wait_stat("run, paused\n");
    wait_until(&format!("{l}: stopped by svc -p"), 5.0, || {
        proc_state(p2) == Some('T')
    });
    // (`-d` sent TERM and CONT: the dying recorder may have noted CONT.)
    let conts = s.sigs("CONT");
    svc("-c");
    s.wait_stat("run\n");
    wait_until(&format!("{l}: CONT recorded"), 5.0, || {
        s.sigs("CONT") == conts + 1
    });
    assert_ne!(proc_state(p2), Some('T'), "{l}: still stopped after svc -c");

    for (opt, sig) in [("-h", "HUP"), ("-a", "ALRM"), ("-i", "INT")] {
        svc(opt);
        wait_until(&format!("{l}: {sig} recorded after svc {opt}"), 5.0, || {
            s.sigs(sig) == 1
        });
    }
    assert_eq!(s.svc.pid(), Some(p2), "{l}: a signal restarted the service");

    svc("-t");
    let p3 = s.wait_running(3);
    assert_eq!(s.sigs("TERM"), 2, "{l}: svc -t sent TERM");
    assert!(!alive(p2), "{l}");

    svc("-k");
    s.wait_running(4);
    assert!(!alive(p3), "{l}: svc -k did not kill");
    assert_eq!(s.sigs("TERM"), 2, "{l}: svc -k sent TERM");

    svc("-x");
    assert_eq!(
        s.runsv.wait_exit(5.0).code(),
        Some(0),
        "{l}: runsv after svc -x"
    );
    assert_eq!(s.sigs("TERM"), 3, "{l}: svc -x sent TERM");
    assert_eq!(s.svc.stat(), "down\n", "{l}");
}

#[test]
fn interop_svc_options_take_effect_on_our_runsv() {
    let Some(svc) = dt("svc") else { return };
    let Some(mut sides) = pair(|_| {}) else {
        return;
    };
    std::thread::scope(|scope| {
        for s in &mut sides {
            let svc = &svc;
            std::thread::Builder::new()
                .name(format!("svc options against the {} runsv", s.label))
                .spawn_scoped(scope, move || svc_options_scenario(svc, s))
                .expect("thread");
        }
    });
}

// ---------------------------------------------------------------------------
// c. lock exclusion between the reference runsv and ours

/// `first` supervises svc; `second` on the same dir must fail on the lock.
fn second_runsv_is_refused(first: &Path, second: &Path, with_log: bool) {
    let sb = Sandbox::new();
    let svc = sb.service(SVC, "exec sleep 1000");
    if with_log {
        svc.script("log/run", "exec cat >/dev/null");
    }
    let _first = start_runsv(first, &sb, SVC);
    // status is written after stat: wait for both.
    wait_until("svc running", 10.0, || {
        svc.stat() == "run\n" && svc.status().get(19) == Some(&1)
    });
    if with_log {
        wait_until("log running", 10.0, || svc.log_stat() == "run\n");
    }
    let before = svc.status();
    let (code, out, err) = client(sb.path(), second, &[SVC], 10.0);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            Some(111),
            "",
            "runsv svc: fatal: unable to lock supervise/lock: temporary failure\n"
        ),
        "{} after {}",
        second.display(),
        first.display()
    );
    assert_eq!(
        svc.status(),
        before,
        "the refused runsv touched supervise/status"
    );
    assert_eq!(svc.stat(), "run\n");
}

#[test]
fn interop_lock_reference_runsv_first_refuses_ours() {
    let Some(reference) = ref_runit("runsv") else {
        return;
    };
    second_runsv_is_refused(&reference, &ours("runsv"), false);
}

#[test]
fn interop_lock_our_runsv_first_refuses_the_reference() {
    let Some(reference) = ref_runit("runsv") else {
        return;
    };
    second_runsv_is_refused(&ours("runsv"), &reference, false);
}

/// With a log service: the main lock refuses a second runsv, and a runsv
/// whose `log/supervise` is the first one's (a symlink) blocks on the log
/// lock until the first runsv is gone.
fn log_lock_excludes(first: &Path, second: &Path) {
    second_runsv_is_refused(first, second, true);

    let sb = Sandbox::new();
    let a = sb.service("a", "exec sleep 1000");
    a.script("log/run", "exec cat >/dev/null");
    let b = sb.service(SVC, "exec sleep 1000");
    fs::create_dir_all(b.path("log")).unwrap();
    b.script("log/run", "exec cat >/dev/null");
    std::os::unix::fs::symlink(a.path("log/supervise"), b.path("log/supervise")).unwrap();

    let mut first_runsv = Some(start_runsv(first, &sb, "a"));
    a.wait_stat("run\n");
    wait_until("a's log running", 10.0, || a.log_stat() == "run\n");

    let mut second_runsv = start_runsv(second, &sb, SVC);
    // It takes svc/supervise/lock, then waits on the shared log lock:
    // control FIFO and status are created only after that.
    wait_until("svc/supervise/lock taken", 10.0, || {
        b.path("supervise/lock").exists()
    });
    stays_false("second runsv got past the held log lock", 0.5, || {
        b.path("supervise/control").exists()
    });
    assert!(
        second_runsv.running(),
        "second runsv exited: {:?}",
        second_runsv.stderr()
    );

    // Killing the first runsv (and its services) releases the lock.
    first_runsv.take();
    b.wait_stat("run\n");
    wait_until("svc's log running", 10.0, || b.log_stat() == "run\n");
    assert!(
        second_runsv.running(),
        "second runsv exited: {:?}",
        second_runsv.stderr()
    );
    assert_eq!(second_runsv.stderr(), "");
}

#[test]
fn interop_lock_with_log_reference_runsv_first_excludes_ours() {
    let Some(reference) = ref_runit("runsv") else {
        return;
    };
    log_lock_excludes(&reference, &ours("runsv"));
}

#[test]
fn interop_lock_with_log_our_runsv_first_excludes_the_reference() {
    let Some(reference) = ref_runit("runsv") else {
        return;
    };
    log_lock_excludes(&ours("runsv"), &reference);
}
