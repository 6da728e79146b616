//! runsv integration tests: real processes, FIFOs and files in temp dirs,
//! one behaviour per test.

use crate::sandbox::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

fn runsv() -> std::path::PathBuf {
    ours("runsv")
}

fn mode(p: &std::path::Path) -> u32 {
    fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn usage_line_is_followed_by_an_empty_line_and_exit_1() {
    let sb = Sandbox::new();
    for args in [&[][..], &["a", "b"][..]] {
        let out = run(sb.path(), &runsv(), args);
        assert_eq!(out.status.code(), Some(1));
        let want = format!("usage: {} dir\n\n", runsv().display());
        assert_eq!(String::from_utf8_lossy(&out.stderr), want);
    }
}

#[test]
fn supervise_directory_has_runits_files_and_modes() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    let pid = svc.wait_new_pid(None);
    let sup = svc.path("supervise");
    assert_eq!(mode(&sup), 0o700);
    for fifo in ["control", "ok"] {
        let m = fs::metadata(sup.join(fifo)).expect("fifo");
        assert!(m.file_type().is_fifo(), "{fifo} is a fifo");
        assert_eq!(mode(&sup.join(fifo)), 0o600);
    }
    assert_eq!(mode(&sup.join("lock")), 0o600);
    assert_eq!(fs::metadata(sup.join("lock")).expect("lock").len(), 0);
    for f in ["status", "stat", "pid"] {
        assert_eq!(mode(&sup.join(f)), 0o644, "{f}");
    }
    let st = svc.status();
    assert_eq!(st.len(), 20);
    assert_eq!(u32::from_le_bytes([st[12], st[13], st[14], st[15]]), pid);
    assert_eq!(&st[16..20], &[0, b'u', 0, 1]);
    assert_eq!(svc.read("supervise/pid"), format!("{pid}\n"));
    assert!(!sup.join("status.new").exists());
}

#[test]
fn status_stamp_is_tai64n_of_the_start_with_500_nanoseconds() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    let st = svc.status();
    let secs = u64::from_be_bytes(st[0..8].try_into().unwrap());
    let nanos = u32::from_be_bytes(st[8..12].try_into().unwrap());
    let unix = secs - 0x4000_0000_0000_000A;
    assert!(
        unix >= before && unix <= before + 2,
        "stamp {unix} vs now {before}"
    );
    assert_eq!(nanos % 1000, 500);
}

#[test]
fn down_file_keeps_the_service_down_until_u() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo started >> starts; exec sleep 1000");
    svc.file("down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    assert_eq!(svc.status()[17], b'd');
    assert_eq!(svc.read("supervise/pid"), "");
    stays_false("service started despite down file", 0.3, || {
        svc.path("starts").exists()
    });
    svc.control("u");
    svc.wait_stat("run\n");
    svc.wait_new_pid(None);
    assert_eq!(svc.status()[17], b'u');
}

#[test]
fn d_sends_term_then_cont_and_keeps_it_down() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    svc.wait_recorder(1);
    svc.control("d");
    svc.wait_stat("down\n");
    assert_eq!(svc.lines("sigs"), ["TERM"]);
    assert_eq!(svc.read("supervise/pid"), "");
    assert_eq!(&svc.status()[16..20], &[0, b'd', 0, 0]);
    stays_false("restarted after d", 1.3, || svc.lines("pids").len() > 1);
}

#[test]
fn u_restarts_a_service_that_was_down() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    svc.file("down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    svc.control("u");
    let p1 = svc.wait_recorder(1);
    svc.control("d");
    svc.wait_stat("down\n");
    svc.control("u");
    let p2 = svc.wait_recorder(2);
    assert_ne!(p1, p2);
    svc.wait_stat("run\n");
}

#[test]
fn o_runs_once_and_does_not_restart() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo run >> starts; exec sleep 0.2");
    svc.file("down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    svc.control("o");
    wait_until("first start", 5.0, || svc.lines("starts").len() == 1);
    svc.wait_stat("down\n");
    stays_false("restarted after once", 1.5, || {
        svc.lines("starts").len() > 1
    });
    assert_eq!(svc.status()[17], b'd');
}

#[test]
fn o_on_a_running_service_only_changes_want() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo run >> starts; exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_new_pid(None);
    svc.control("o");
    svc.wait_stat("run, want down\n");
    assert_eq!(svc.pid(), Some(pid));
    assert!(alive(pid));
}

#[test]
fn t_restarts_with_term_only() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let _r = start_runsv(&runsv(), &sb, "svc");
    let p1 = svc.wait_recorder(1);
    svc.control("t");
    let p2 = svc.wait_recorder(2);
    assert_ne!(p1, p2);
    assert_eq!(svc.lines("sigs"), ["TERM"], "t sends TERM and no CONT");
    svc.wait_stat("run\n");
}

#[test]
fn p_stops_and_c_continues_the_process() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_new_pid(None);
    svc.control("p");
    svc.wait_stat("run, paused\n");
    wait_until("process stopped", 5.0, || proc_state(pid) == Some('T'));
    assert_eq!(svc.status()[16], 1);
    svc.control("c");
    svc.wait_stat("run\n");
    wait_until("process continued", 5.0, || proc_state(pid) == Some('S'));
    assert_eq!(svc.status()[16], 0);
}

#[test]
fn p_while_down_sets_the_paused_flag() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.file("down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    svc.control("p");
    svc.wait_stat("down, paused\n");
    svc.control("u");
    svc.wait_stat("run\n");
}

#[test]
fn signal_letters_send_their_signals() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_recorder(1);
    let want = ["HUP", "ALRM", "INT", "QUIT", "USR1", "USR2"];
    for (i, (letter, name)) in ["h", "a", "i", "q", "1", "2"].iter().zip(want).enumerate() {
        svc.control(letter);
        wait_until(&format!("{name} recorded"), 5.0, || {
            svc.lines("sigs").len() == i + 1
        });
        assert_eq!(svc.lines("sigs").last().map(String::as_str), Some(name));
    }
    assert_eq!(svc.lines("pids").len(), 1, "no restart from these signals");
}

#[test]
fn k_kills_and_finish_gets_minus_one_and_9() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("finish", r#"echo "$1 $2" >> finished"#);
    let _r = start_runsv(&runsv(), &sb, "svc");
    let p1 = svc.wait_new_pid(None);
    svc.control("k");
    wait_until("finish ran", 5.0, || svc.lines("finished") == ["-1 9"]);
    svc.wait_new_pid(Some(p1));
}

#[test]
fn finish_gets_exit_code_and_zero_for_a_normal_exit() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exit 3");
    svc.script("finish", r#"echo "$1 $2" >> finished"#);
    svc.file("down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    svc.control("o");
    wait_until("finish ran", 5.0, || svc.lines("finished") == ["3 0"]);
}

#[test]
fn finish_gets_minus_one_and_15_after_term() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("finish", r#"echo "$1 $2" >> finished; exec sleep 0.3"#);
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_new_pid(None);
    svc.control("d");
    svc.wait_stat("finish, want down\n");
    wait_until("finish ran", 5.0, || svc.lines("finished") == ["-1 15"]);
    svc.wait_stat("down\n");
}

#[test]
fn finish_gets_111_when_run_cannot_be_executed() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exit 0");
    fs::set_permissions(svc.path("run"), fs::Permissions::from_mode(0o644)).unwrap();
    svc.script("finish", r#"echo "$1 $2" >> finished"#);
    let r = start_runsv(&runsv(), &sb, "svc");
    wait_until("finish ran", 5.0, || {
        svc.lines("finished").first().map(String::as_str) == Some("111 0")
    });
    assert!(
        r.stderr()
            .contains("runsv svc: fatal: unable to start ./run: access denied\n"),
        "{}",
        r.stderr()
    );
}

#[test]
fn missing_run_is_retried_about_once_a_second_until_it_appears() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "");
    fs::remove_file(svc.path("run")).unwrap();
    let r = start_runsv(&runsv(), &sb, "svc");
    let msg = "runsv svc: fatal: unable to start ./run: file does not exist\n";
    wait_until("two warnings", 5.0, || r.stderr().matches(msg).count() >= 2);
    let t0 = std::time::Instant::now();
    let n = r.stderr().matches(msg).count();
    wait_until("a third warning", 5.0, || {
        r.stderr().matches(msg).count() > n
    });
    let gap = t0.elapsed().as_secs_f64();
    assert!(gap < 1.6, "retries are about a second apart, took {gap}");
    svc.script("run", "echo up > up; exec sleep 1000");
    wait_until("service started once run exists", 5.0, || {
        svc.path("up").exists()
    });
    svc.wait_stat("run\n");
}

#[test]
fn quick_exits_restart_at_most_once_a_second() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo x >> starts; exit 0");
    let _r = start_runsv(&runsv(), &sb, "svc");
    wait_until("first start", 5.0, || !svc.lines("starts").is_empty());
    let t0 = std::time::Instant::now();
    wait_until("three more starts", 8.0, || svc.lines("starts").len() >= 4);
    let took = t0.elapsed().as_secs_f64();
    assert!(
        took >= 2.7,
        "3 restarts took only {took}s: throttle missing"
    );
}

#[test]
fn commands_are_acted_on_during_the_restart_throttle() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo x >> starts; exit 0");
    let _r = start_runsv(&runsv(), &sb, "svc");
    wait_until("first start", 5.0, || !svc.lines("starts").is_empty());
    svc.wait_stat("down\n");
    // runit's runsv sleeps here for a second and cannot hear this.
    let t0 = std::time::Instant::now();
    svc.control("d");
    wait_until("want down published", 0.5, || {
        svc.status().get(17) == Some(&b'd')
    });
    assert!(t0.elapsed().as_secs_f64() < 0.5);
    stays_false("restart after d during the throttle", 1.5, || {
        svc.lines("starts").len() > 1
    });
}

#[test]
fn x_stops_the_service_and_exits_0() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let mut r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_recorder(1);
    svc.control("x");
    let st = r.wait_exit(5.0);
    assert_eq!(st.code(), Some(0));
    assert_eq!(svc.lines("sigs"), ["TERM"]);
}

#[test]
fn sigterm_to_runsv_acts_like_x() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let mut r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_recorder(1);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    wait_until("service gone", 5.0, || !alive(pid));
    assert_eq!(svc.lines("sigs"), ["TERM"]);
}

#[test]
fn x_can_be_cancelled_by_a_later_d() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "trap '' TERM; exec sleep 1000");
    svc.script(
        "run",
        "trap 'sleep 0.5; exit 0' TERM; echo > ready; while :; do sleep 1 & wait $!; done",
    );
    let mut r = start_runsv(&runsv(), &sb, "svc");
    wait_until("traps set", 5.0, || svc.path("ready").exists());
    svc.control("xd");
    svc.wait_stat("down\n");
    stays_false("runsv exited although d followed x", 0.5, || !r.running());
}

#[test]
fn log_service_reads_the_service_output_across_restarts() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo started $$; exec sleep 1000");
    svc.script("log/run", "exec cat >> ../logged");
    let _r = start_runsv(&runsv(), &sb, "svc");
    let p1 = svc.wait_new_pid(None);
    let logpid = wait_for("log pid", 5.0, || svc.log_pid());
    wait_until("first line logged", 5.0, || svc.lines("logged").len() == 1);
    svc.control("k");
    let p2 = svc.wait_new_pid(Some(p1));
    wait_until("second line logged", 5.0, || svc.lines("logged").len() == 2);
    assert_eq!(
        svc.lines("logged"),
        [format!("started {p1}"), format!("started {p2}")]
    );
    assert_eq!(
        svc.log_pid(),
        Some(logpid),
        "the log service was not restarted"
    );
    assert_eq!(svc.log_stat(), "run\n");
}

#[test]
fn stderr_of_the_service_is_not_redirected_to_the_log() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo to-stderr >&2; echo to-stdout; exec sleep 1000");
    svc.script("log/run", "exec cat >> ../logged");
    let r = start_runsv(&runsv(), &sb, "svc");
    wait_until("stdout logged", 5.0, || {
        svc.lines("logged") == ["to-stdout"]
    });
    wait_until("stderr on runsv's stderr", 5.0, || {
        r.stderr().contains("to-stderr")
    });
}

#[test]
fn x_with_a_log_service_exits_after_the_log_sees_eof() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo starting; exec sleep 1000");
    svc.script("log/run", "exec cat > ../logged");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    wait_until("line logged", 5.0, || svc.lines("logged") == ["starting"]);
    let logpid = svc.log_pid().expect("log pid");
    svc.control("x");
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    assert!(!alive(logpid));
}

#[test]
fn log_pid_file_is_missing_while_log_down_until_started() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec cat > /dev/null");
    svc.file("log/down", "");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    wait_until("log stat", 5.0, || svc.log_stat() == "down\n");
    assert!(!svc.path("log/supervise/pid").exists());
    svc.log_control("u");
    wait_for("log pid", 5.0, || svc.log_pid());
}

#[test]
fn x_on_the_log_control_is_ignored() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec cat > /dev/null");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    let lp = wait_for("log pid", 5.0, || svc.log_pid());
    svc.log_control("x");
    stays_false("runsv exited on log x", 0.4, || !r.running());
    assert_eq!(svc.log_pid(), Some(lp));
    svc.log_control("d");
    wait_until("log down", 5.0, || svc.log_stat() == "down\n");
}

#[test]
fn control_t_override_output_goes_to_the_log_and_exit_1_still_sends_term() {
    // runit's own check: control/t prints "term" and exits 1.
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo starting; exec sleep 14");
    svc.script("control/t", "echo term; exit 1");
    svc.script("log/run", "exec cat > ../foo");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    let p1 = svc.wait_new_pid(None);
    svc.control("t");
    svc.wait_new_pid(Some(p1));
    svc.control("x");
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    assert_eq!(svc.lines("foo"), ["starting", "term", "starting", "term"]);
}

#[test]
fn control_i_exiting_0_suppresses_the_signal() {
    // runit's own check: control/i prints "no interrupt" and exits 0.
    let sb = Sandbox::new();
    let svc = sb.service(
        "svc",
        "echo starting; trap 'echo INT >> sigs' INT; while :; do sleep 1 & wait $!; done",
    );
    svc.script("control/i", "echo no interrupt; exit 0");
    svc.script("control/t", "echo term; exit 1");
    svc.script("log/run", "exec cat > ../foo");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_new_pid(None);
    wait_until("starting logged", 5.0, || svc.lines("foo") == ["starting"]);
    svc.control("i");
    wait_until("script output logged", 5.0, || svc.lines("foo").len() == 2);
    stays_false("SIGINT sent", 0.3, || svc.path("sigs").exists());
    svc.control("x");
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    assert_eq!(svc.lines("foo"), ["starting", "no interrupt", "term"]);
}

#[test]
fn control_u_runs_before_every_start() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo run >> order; exec sleep 1000");
    svc.script("control/u", "echo u >> order");
    let _r = start_runsv(&runsv(), &sb, "svc");
    wait_until("first cycle", 5.0, || svc.lines("order").len() == 2);
    svc.control("k");
    wait_until("two cycles", 5.0, || svc.lines("order").len() == 4);
    assert_eq!(svc.lines("order"), ["u", "run", "u", "run"]);
}

#[test]
fn control_h_exiting_0_replaces_hup_and_nonzero_lets_it_through() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    svc.script(
        "control/h",
        "echo h >> scripts; test -e pass-through && exit 1; exit 0",
    );
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_recorder(1);
    svc.control("h");
    wait_until("script ran", 5.0, || svc.lines("scripts").len() == 1);
    stays_false("HUP sent although handled", 0.3, || {
        svc.path("sigs").exists()
    });
    svc.file("pass-through", "");
    svc.control("h");
    wait_until("HUP sent", 5.0, || svc.lines("sigs") == ["HUP"]);
}

#[test]
fn non_executable_control_script_is_ignored() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    svc.file("control/h", "#!/bin/sh\necho ran >> scripts\nexit 0\n");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_recorder(1);
    svc.control("h");
    wait_until("HUP sent", 5.0, || svc.lines("sigs") == ["HUP"]);
    assert!(!svc.path("scripts").exists());
}

#[test]
fn a_slow_control_script_does_not_block_the_log_service() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("control/h", "exec sleep 3");
    svc.script("log/run", "exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_new_pid(None);
    let lp = wait_for("log pid", 5.0, || svc.log_pid());
    svc.control("h");
    svc.log_control("d");
    wait_until("log down while control/h runs", 1.5, || {
        svc.log_stat() == "down\n"
    });
    assert!(!alive(lp));
}

#[test]
fn supervise_as_dangling_symlinks_creates_the_targets() {
    // runit's own check: supervise -> foo, log/supervise -> bar.
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo starting; exec sleep 14");
    svc.script("control/t", "echo term; exit 1");
    svc.script("log/run", "exec cat > ../log.txt");
    std::os::unix::fs::symlink("foo", svc.path("supervise")).unwrap();
    std::os::unix::fs::symlink("bar", svc.path("log/supervise")).unwrap();
    let mut r = start_runsv(&runsv(), &sb, "svc");
    wait_until("foo/stat", 5.0, || svc.read("foo/stat") == "run\n");
    assert!(svc.path("log/bar/stat").exists());
    control_fifo(&svc.path("foo/control"), b"x");
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    assert_eq!(svc.lines("log.txt"), ["starting", "term"]);
}

#[test]
fn second_runsv_on_a_locked_directory_fails_with_temporary_failure() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    let out = run(sb.path(), &runsv(), &["svc"]);
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "runsv svc: fatal: unable to lock supervise/lock: temporary failure\n"
    );
}

#[test]
fn garbage_on_the_control_fifo_is_ignored() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    let mut r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_recorder(1);
    let mut junk: Vec<u8> = (0u8..=255)
        .filter(|b| !b"udoxtkpchaiq12".contains(b))
        .collect();
    junk.extend_from_slice(b"\n\n\xff\x00e");
    control_fifo(&svc.path("supervise/control"), &junk);
    // Once a real command after the junk is seen, the junk has been consumed.
    svc.control("p");
    svc.wait_stat("run, paused\n");
    svc.control("c");
    svc.wait_stat("run\n");
    assert_eq!(svc.pid(), Some(pid));
    assert!(alive(pid) && r.running());
    assert!(!svc.path("sigs").exists() || svc.lines("sigs") == ["CONT"]);
}

#[test]
fn service_dir_that_is_a_file_is_fatal() {
    let sb = Sandbox::new();
    fs::write(sb.path().join("svc"), "").unwrap();
    let out = run(sb.path(), &runsv(), &["svc"]);
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "runsv svc: fatal: unable to change to directory: not a directory\n"
    );
}

#[test]
fn control_that_is_not_a_fifo_is_fatal() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.file("supervise/control", "");
    let out = run(sb.path(), &runsv(), &["svc"]);
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "runsv svc: fatal: supervise/control exists but is not a fifo\n"
    );
}

#[test]
fn log_control_that_is_not_a_fifo_is_fatal_as_in_2_3_0() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec cat");
    svc.file("log/supervise/control", "");
    let out = run(sb.path(), &runsv(), &["svc"]);
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "runsv svc: fatal: log/supervise/control exists but is not a fifo\n"
    );
}

#[test]
fn log_that_is_a_file_warns_and_runs_without_a_log_service() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.file("log", "");
    let r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    wait_until("warning", 5.0, || {
        r.stderr() == "runsv svc: warning: ./log: not a directory.\n"
    });
}

#[test]
fn unwritable_supervise_is_fatal_for_an_unprivileged_runsv() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    fs::create_dir(svc.path("supervise")).unwrap();
    fs::set_permissions(sb.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(svc.path("supervise"), fs::Permissions::from_mode(0o555)).unwrap();
    // root ignores modes: run as nobody through setpriv.
    let out = run(
        sb.path(),
        std::path::Path::new("setpriv"),
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            runsv().to_str().unwrap(),
            "svc",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(111),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "runsv svc: fatal: unable to open supervise/lock: access denied\n"
    );
}

#[test]
fn every_descriptor_but_0_1_2_is_closed_in_the_service() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec sleep 1000");
    let _r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_new_pid(None);
    let logpid = wait_for("log pid", 5.0, || svc.log_pid());
    wait_until("both exec'd sleep", 5.0, || {
        [pid, logpid]
            .iter()
            .all(|p| fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default() == "sleep\n")
    });
    let fds = |p: u32| {
        let mut v: Vec<(u32, String)> = fs::read_dir(format!("/proc/{p}/fd"))
            .map(|d| {
                d.filter_map(|e| {
                    let e = e.ok()?;
                    let fd = e.file_name().to_str()?.parse().ok()?;
                    let target = fs::read_link(e.path()).ok()?.display().to_string();
                    Some((fd, target))
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for p in [pid, logpid] {
        // A leaked descriptor stays; give the exec a moment to settle.
        let clean = |v: &Vec<(u32, String)>| v.iter().map(|x| x.0).collect::<Vec<_>>() == [0, 1, 2];
        let settled = (0..50).any(|_| {
            let ok = clean(&fds(p));
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            ok
        });
        assert!(settled, "pid {p} holds {:?}", fds(p));
    }
}

#[test]
fn service_starts_with_default_sigpipe_and_an_empty_mask() {
    let sb = Sandbox::new();
    let svc = sb.service(
        "svc",
        "grep -E '^Sig(Blk|Ign)' /proc/$$/status > sigs; exec sleep 1000",
    );
    let _r = start_runsv(&runsv(), &sb, "svc");
    wait_until("status read", 5.0, || svc.lines("sigs").len() == 2);
    let text = svc.read("sigs");
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
    // SIGPIPE is bit 13 (0x1000); the sandbox's runsv inherits it default.
    let ign = text.lines().find(|l| l.starts_with("SigIgn")).unwrap();
    let mask = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(mask & 0x1000, 0, "{text}");
}

fn context_switches(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[test]
fn idle_runsv_never_wakes_up() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec sleep 1000");
    let r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("run\n");
    wait_for("log pid", 5.0, || svc.log_pid());
    // Let start-up settle, then count scheduler switches over an idle window.
    wait_until("settled", 5.0, || {
        let a = context_switches(r.pid);
        std::thread::sleep(std::time::Duration::from_millis(200));
        context_switches(r.pid) == a
    });
    let before = context_switches(r.pid);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(context_switches(r.pid), before, "runsv woke up while idle");
}

#[test]
fn sigterm_during_a_control_script_is_handled_after_it() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", SIGNAL_RECORDER);
    svc.script("control/h", "echo h >> scripts; sleep 0.5; exit 0");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_recorder(1);
    svc.control("h");
    wait_until("control/h running", 5.0, || svc.path("scripts").exists());
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
    // No HUP (control/h handled it), then the exit's TERM (and its CONT,
    // if the dying shell still runs that trap).
    let sigs = svc.lines("sigs");
    assert_eq!(sigs.first().map(String::as_str), Some("TERM"), "{sigs:?}");
    assert!(!sigs.iter().any(|s| s == "HUP"), "{sigs:?}");
}

/// Starts `prog args` with SIGCHLD and SIGTERM blocked, as a careless
/// parent might leave them.
fn spawn_with_blocked_signals(sb: &Sandbox, prog: &std::path::Path, args: &[&str]) -> Guarded {
    use std::os::unix::process::CommandExt;
    let errf = sb.path().join("blocked.stderr");
    let err = fs::File::create(&errf).unwrap();
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .current_dir(sb.path())
        .stdin(std::process::Stdio::null());
    cmd.stdout(err.try_clone().unwrap())
        .stderr(err)
        .process_group(0);
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    Guarded {
        child: Some(child),
        pid,
        stderr_path: errf,
    }
}

#[test]
fn inherited_blocked_signals_neither_deafen_runsv_nor_reach_the_service() {
    let sb = Sandbox::new();
    let svc = sb.service(
        "svc",
        "grep '^SigBlk' /proc/$$/status > blk; echo $$ >> pids; exec sleep 1000",
    );
    let mut r = spawn_with_blocked_signals(&sb, &runsv(), &["svc"]);
    // The pid is written after the mask: a `d` before it would kill the
    // shell first and leave one line fewer in `pids`.
    wait_until("service started", 5.0, || svc.lines("pids").len() == 1);
    let blk = svc.read("blk");
    let mask = u64::from_str_radix(blk.split_whitespace().nth(1).unwrap(), 16).unwrap();
    let chld_term = (1u64 << (libc::SIGCHLD - 1)) | (1u64 << (libc::SIGTERM - 1));
    assert_eq!(
        mask & chld_term,
        0,
        "service inherited a blocked SIGCHLD/SIGTERM: {blk}"
    );
    svc.control("d");
    svc.wait_stat("down\n");
    svc.control("u");
    wait_until("restarted", 5.0, || svc.lines("pids").len() == 2);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(5.0).code(), Some(0));
}

#[test]
fn term_hitting_a_just_forked_service_never_reaches_runsv() {
    // A TERM that lands between fork and exec must act on the child only.
    let sb = Sandbox::in_memory();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.file("down", "");
    let mut r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    for _ in 0..30 {
        svc.control("ut");
        svc.control("d");
        wait_until("down again", 5.0, || svc.stat() == "down\n");
        assert!(r.running(), "runsv exited: {}", r.stderr());
    }
}

#[test]
fn d_read_in_the_round_the_service_exits_prevents_the_restart() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo x >> starts; exec sleep 1.2");
    let r = start_runsv(&runsv(), &sb, "svc");
    let pid = svc.wait_new_pid(None);
    r.signal(libc::SIGSTOP);
    wait_until("service exited", 5.0, || !alive(pid));
    svc.control("d");
    r.signal(libc::SIGCONT);
    svc.wait_stat("down\n");
    stays_false("restarted", 0.5, || svc.lines("starts").len() > 1);
}

fn cpu_ticks(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_command_seen_with_an_expired_throttle_does_not_make_runsv_spin() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "echo x >> starts; exit 0");
    svc.script("control/u", "exec sleep 1");
    svc.file("down", "");
    let r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_stat("down\n");
    svc.control("o");
    wait_until("ran once", 5.0, || svc.lines("starts").len() == 1);
    svc.wait_stat("down\n"); // exited at once: a one-second throttle runs
                             // Let the throttle expire unseen, then hand runsv a `u` in the same round.
    r.signal(libc::SIGSTOP);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    svc.control("u");
    let before = cpu_ticks(r.pid);
    r.signal(libc::SIGCONT);
    std::thread::sleep(std::time::Duration::from_millis(900)); // control/u runs
    let used = cpu_ticks(r.pid) - before;
    assert!(
        used < 20,
        "runsv used {used} ticks of CPU while control/u ran"
    );
    wait_until("started again", 5.0, || svc.lines("starts").len() >= 2);
}

#[test]
fn unreadable_service_dir_is_fine_without_log_symlinks() {
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec sleep 1000");
    fs::set_permissions(sb.path(), fs::Permissions::from_mode(0o755)).unwrap();
    std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&svc.dir)
        .status()
        .unwrap();
    fs::set_permissions(&svc.dir, fs::Permissions::from_mode(0o300)).unwrap();
    let errf = sb.path().join("err");
    let _r = spawn_in(
        sb.path(),
        std::path::Path::new("setpriv"),
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            runsv().to_str().unwrap(),
            "svc",
        ],
        errf.clone(),
    );
    svc.wait_stat("run\n");
    wait_until("log runs", 5.0, || svc.log_stat() == "run\n");
    assert_eq!(fs::read_to_string(errf).unwrap(), "");
}

#[test]
fn long_directory_names_are_never_cut_from_messages() {
    let sb = Sandbox::new();
    let name = "s".repeat(200);
    let svc = sb.service(&format!("{name}/{name}/{name}"), "exec sleep 1000");
    svc.file("log", "");
    let dir = format!("{name}/{name}/{name}");
    let r = spawn_in(sb.path(), &runsv(), &[&dir], sb.path().join("err"));
    svc.wait_stat("run\n");
    let want = format!("runsv {dir}: warning: ./log: not a directory.\n");
    wait_until("warning", 5.0, || r.stderr() == want);
}

/// Runs the same set-up under the reference runsv and ours, in two
/// sandboxes with the same relative service name; returns both.
fn both(
    setup: impl Fn(&Sandbox) -> Service,
) -> Option<[(Sandbox, Service, std::path::PathBuf); 2]> {
    let reference = ref_runit("runsv")?;
    let mk = |bin: std::path::PathBuf| {
        let sb = Sandbox::new();
        let svc = setup(&sb);
        (sb, svc, bin)
    };
    Some([mk(reference), mk(runsv())])
}

#[test]
fn a_stat_that_cannot_be_renamed_still_gets_status_written_like_runit() {
    let Some(pair) = both(|sb| {
        let svc = sb.service("svc", "exec sleep 1000");
        fs::create_dir_all(svc.path("supervise/stat")).unwrap();
        svc
    }) else {
        return;
    };
    let mut errs = Vec::new();
    for (sb, svc, bin) in &pair {
        let r = start_runsv(bin, sb, "svc");
        wait_until("status written with a pid", 5.0, || {
            svc.status().len() == 20 && svc.status()[12..16] != [0, 0, 0, 0]
        });
        wait_until("warnings", 5.0, || r.stderr().lines().count() >= 2);
        errs.push(r.stderr());
    }
    assert_eq!(errs[0], errs[1]);
    assert!(errs[1].starts_with(
        "runsv svc: warning: unable to rename stat.new to supervise/stat: is a directory\n"
    ));
}

#[test]
fn a_pid_file_that_cannot_be_renamed_is_retried_and_skips_stat_like_runit() {
    let Some(pair) = both(|sb| {
        let svc = sb.service("svc", "exec sleep 1000");
        svc.file("down", "");
        fs::create_dir_all(svc.path("supervise/pid")).unwrap();
        svc
    }) else {
        return;
    };
    let mut seen = Vec::new();
    for (sb, svc, bin) in &pair {
        let r = start_runsv(bin, sb, "svc");
        wait_until("first warning", 5.0, || r.stderr().lines().count() == 1);
        svc.control("p");
        wait_until("second warning", 5.0, || r.stderr().lines().count() == 2);
        seen.push((
            r.stderr(),
            svc.path("supervise/stat").exists(),
            svc.path("supervise/status").exists(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(
        seen[1].0,
        "runsv svc: warning: unable to rename pid.new to supervise/pid: is a directory\n".repeat(2)
    );
}

#[test]
fn starts_after_the_log_pipe_closed_fail_like_runit() {
    // After x the pipe is closed; a later u finds no pipe to put on stdout.
    let Some(pair) = both(|sb| {
        let svc = sb.service("svc", "exec sleep 1000");
        svc.script("log/run", "cat >/dev/null; exec sleep 1000");
        svc
    }) else {
        return;
    };
    let msg =
        "runsv svc: fatal: unable to setup filedescriptor for ./run: file descriptor not open\n";
    for (sb, svc, bin) in &pair {
        let r = start_runsv(bin, sb, "svc");
        let pid = svc.wait_new_pid(None);
        // Ran long enough that the stop is not throttled.
        wait_until("ran a second", 5.0, || {
            svc.status().len() == 20 && {
                let secs = u64::from_be_bytes(svc.status()[0..8].try_into().unwrap())
                    - 0x4000_0000_0000_000A;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                now > secs + 1
            }
        });
        svc.control("x");
        wait_until("log told to exit", 5.0, || {
            svc.log_stat() == "run, want exit\n"
        });
        assert!(!alive(pid));
        svc.control("u");
        wait_until(&format!("{} says {msg:?}", bin.display()), 5.0, || {
            r.stderr().contains(msg)
        });
    }
}

#[test]
fn supervise_holds_no_new_files_once_runsv_is_idle() {
    // Updates swap `X.new` with `X` and remove the old version when idle:
    // an idle supervise/ looks exactly as runit leaves it.
    let sb = Sandbox::new();
    let svc = sb.service("svc", "exec sleep 1000");
    svc.script("log/run", "exec cat > /dev/null");
    let _r = start_runsv(&runsv(), &sb, "svc");
    svc.wait_new_pid(None);
    for cmd in ["d", "u", "p", "c", "d"] {
        svc.control(cmd);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    svc.wait_stat("down\n");
    let leftovers = || {
        ["supervise", "log/supervise"]
            .iter()
            .flat_map(|d| fs::read_dir(svc.path(d)).unwrap())
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".new"))
            .collect::<Vec<_>>()
    };
    wait_until("no .new files left", 5.0, || leftovers().is_empty());
    assert_eq!(svc.status().len(), 20);
    assert_eq!(svc.read("supervise/pid"), "");
}
