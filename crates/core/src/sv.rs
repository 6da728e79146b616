//! sv's rules without I/O: the command table (which word sends which bytes,
//! waits how, and what a timeout does), the wait conditions, and the status
//! line text (SPEC §7.3, §7.5, §7.6).

use crate::status::Status;

/// When sv waits after sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    Never,
    /// Only with `-v` or `-w`.
    WithV,
    Always,
}

/// A parsed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    /// Bytes written to `supervise/control`; empty for `status` and `check`.
    pub bytes: &'static [u8],
    /// The condition characters to wait for (the bytes, or `C` for check).
    pub conds: &'static [u8],
    pub wait: Wait,
    /// On timeout, print `kill: ` and send `k`.
    pub kill: bool,
    pub status: bool,
}

impl Action {
    const fn new(bytes: &'static [u8], wait: Wait, kill: bool) -> Action {
        Action {
            bytes,
            conds: bytes,
            wait,
            kill,
            status: false,
        }
    }

    /// Commands that send `x` treat "runsv not running" as success.
    pub fn is_exit(&self) -> bool {
        self.bytes.first() == Some(&b'x')
    }
}

/// Matches a command word (SPEC §7.3). `lsb`: sv runs as an init script.
pub fn parse_command(word: &[u8], lsb: bool) -> Option<Action> {
    use Wait::*;
    let exact: Option<Action> = match word {
        b"start" => Some(Action::new(b"u", Always, false)),
        b"stop" => Some(Action::new(b"d", Always, false)),
        b"reload" => Some(Action::new(b"h", Always, false)),
        b"restart" => Some(Action::new(b"tcu", Always, false)),
        b"shutdown" => Some(Action::new(b"x", Always, false)),
        b"try-restart" => Some(Action::new(b"tc", Always, false)),
        b"force-stop" => Some(Action::new(b"d", Always, true)),
        b"force-reload" => Some(Action::new(b"tc", Always, true)),
        b"force-restart" => Some(Action::new(b"tcu", Always, true)),
        b"force-shutdown" => Some(Action::new(b"x", Always, true)),
        b"check" => Some(Action {
            bytes: b"",
            conds: b"C",
            wait: Always,
            kill: false,
            status: false,
        }),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    let status = Action {
        bytes: b"",
        conds: b"",
        wait: Never,
        kill: false,
        status: true,
    };
    Some(match word.first()? {
        b's' if lsb && word != b"status" => return None,
        b's' => status,
        b'u' => Action::new(b"u", WithV, false),
        b'd' => Action::new(b"d", WithV, false),
        b'o' => Action::new(b"o", WithV, false),
        b'p' => Action::new(b"p", WithV, false),
        b'c' => Action::new(b"c", WithV, false),
        b'h' => Action::new(b"h", WithV, false),
        b'a' => Action::new(b"a", WithV, false),
        b'i' => Action::new(b"i", WithV, false),
        b'q' => Action::new(b"q", WithV, false),
        b'1' => Action::new(b"1", WithV, false),
        b'2' => Action::new(b"2", WithV, false),
        b't' => Action::new(b"t", WithV, false),
        b'k' => Action::new(b"k", WithV, false),
        b'x' | b'e' => Action::new(b"x", WithV, false),
        b'X' | b'E' => Action::new(b"x", Always, true),
        b'D' => Action::new(b"d", Always, true),
        b'T' => Action::new(b"tc", Always, true),
        _ => return None,
    })
}

/// Is the redundant first byte suppressed (SPEC §7.4 step 3)?
pub fn suppress_send(bytes: &[u8], st: &Status) -> bool {
    match bytes.first() {
        Some(b'u') => st.want == b'u',
        Some(b'd') => st.want == b'd' && st.got_term,
        _ => false,
    }
}

/// The status seen in one wait round.
pub struct Seen<'a> {
    pub st: &'a Status,
    /// sv's start time, TAI64 seconds.
    pub t0: u64,
}

/// Does condition `c` hold? `check` runs `./check` when the condition
/// needs it (lazily, and at most once per round by the caller's choice).
pub fn condition(c: u8, seen: &Seen<'_>, check: &mut dyn FnMut() -> bool) -> bool {
    let st = seen.st;
    let pid = st.pid;
    match c {
        b'u' => pid != 0 && st.state == 1 && check(),
        b'd' => pid == 0 && st.state == 0,
        // Not "down since before sv started", and not "running but wanted up".
        b'o' => {
            let stale_down = pid == 0 && st.stamp.secs < seen.t0;
            let wanted_up = pid != 0 && st.want != b'd';
            !stale_down && !wanted_up
        }
        b'p' => pid == 0 || st.paused,
        b'c' => pid == 0 || !st.paused,
        b't' | b'k' => {
            if pid == 0 && st.want == b'd' {
                return true;
            }
            st.stamp.secs >= seen.t0 && pid != 0 && !st.got_term && check()
        }
        b'x' => false,
        b'C' => {
            if st.want == b'd' {
                condition(b'd', seen, check)
            } else {
                condition(b'u', seen, check)
            }
        }
        _ => true,
    }
}

/// Appends one status part: `STATE NAME: [(pid N) ]Ns FLAGS` (no newline).
/// `now` is TAI64 seconds; `down` says whether the `down` file exists.
pub fn status_part(out: &mut Vec<u8>, name: &[u8], st: &Status, now: u64, down: bool) {
    let state: &[u8] = match st.state {
        0 => b"down: ",
        1 => b"run: ",
        2 => b"finish: ",
        _ => b"",
    };
    out.extend_from_slice(state);
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    let pid = st.pid;
    if st.state != 0 {
        // runit reads the pid as an int and prints it as unsigned long:
        // values of 2^31 and up come out sign-extended.
        let shown = i64::from(pid as i32) as u64;
        out.extend_from_slice(format!("(pid {shown}) ").as_bytes());
    }
    let secs = now.saturating_sub(st.stamp.secs);
    out.extend_from_slice(format!("{secs}s").as_bytes());
    if pid != 0 && down {
        out.extend_from_slice(b", normally down");
    }
    if pid == 0 && !down {
        out.extend_from_slice(b", normally up");
    }
    if pid != 0 && st.paused {
        out.extend_from_slice(b", paused");
    }
    if pid == 0 && st.want == b'u' {
        out.extend_from_slice(b", want up");
    }
    if pid != 0 && st.want == b'd' {
        out.extend_from_slice(b", want down");
    }
    if pid != 0 && st.got_term {
        out.extend_from_slice(b", got TERM");
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::tai64n::Tai64n;

    fn st(state: u8, pid: u32, want: u8, paused: bool, term: bool, secs: u64) -> Status {
        Status {
            stamp: Tai64n { secs, nanos: 500 },
            pid,
            paused,
            want,
            got_term: term,
            state,
        }
    }

    #[test]
    fn commands_match_by_first_letter_and_whole_words() {
        assert_eq!(parse_command(b"upxyz", false).unwrap().bytes, b"u");
        assert_eq!(parse_command(b"usr1", false).unwrap().bytes, b"u");
        assert_eq!(parse_command(b"1xyz", false).unwrap().bytes, b"1");
        assert_eq!(parse_command(b"terminate", false).unwrap().bytes, b"t");
        assert_eq!(parse_command(b"xyz", false).unwrap().bytes, b"x");
        assert!(parse_command(b"sxyz", false).unwrap().status);
        assert!(
            parse_command(b"sxyz", true).is_none(),
            "LSB status must be exact"
        );
        assert!(parse_command(b"status", true).unwrap().status);
        for bad in [&b"bogus"[..], b"reboot", b"force", b""] {
            assert!(parse_command(bad, false).is_none(), "{:?}", bad);
        }
        let fr = parse_command(b"force-restart", false).unwrap();
        assert_eq!(
            (fr.bytes, fr.wait, fr.kill),
            (&b"tcu"[..], Wait::Always, true)
        );
        let t = parse_command(b"T", false).unwrap();
        assert_eq!((t.bytes, t.kill), (&b"tc"[..], true));
        assert_eq!(parse_command(b"check", false).unwrap().conds, b"C");
        assert!(parse_command(b"E", false).unwrap().is_exit());
    }

    #[test]
    fn up_and_down_are_suppressed_only_when_redundant() {
        assert!(suppress_send(b"u", &st(1, 5, b'u', false, false, 0)));
        assert!(
            !suppress_send(b"d", &st(1, 5, b'd', false, false, 0)),
            "once: d is sent"
        );
        assert!(suppress_send(b"d", &st(1, 5, b'd', false, true, 0)));
        assert!(!suppress_send(b"tcu", &st(1, 5, b'u', false, false, 0)));
    }

    #[test]
    fn status_lines_match_runit_examples() {
        let mut v = Vec::new();
        status_part(
            &mut v,
            b"s1",
            &st(1, 11499, b'u', false, false, 95),
            100,
            false,
        );
        assert_eq!(v, b"run: s1: (pid 11499) 5s");
        v.clear();
        status_part(
            &mut v,
            b"./s1",
            &st(1, 11554, b'd', true, false, 100),
            100,
            false,
        );
        assert_eq!(v, b"run: ./s1: (pid 11554) 0s, paused, want down");
        v.clear();
        status_part(
            &mut v,
            b"./s3",
            &st(0, 0, b'u', false, false, 99),
            100,
            false,
        );
        assert_eq!(v, b"down: ./s3: 1s, normally up, want up");
        v.clear();
        status_part(
            &mut v,
            b"./s2",
            &st(1, 11609, b'd', false, true, 97),
            100,
            false,
        );
        assert_eq!(v, b"run: ./s2: (pid 11609) 3s, want down, got TERM");
        v.clear();
        status_part(
            &mut v,
            b"./s4",
            &st(0, 0, b'd', false, false, 100),
            100,
            true,
        );
        assert_eq!(v, b"down: ./s4: 0s");
        v.clear();
        status_part(&mut v, b"x", &st(1, 7, b'u', false, false, 200), 100, true);
        assert_eq!(v, b"run: x: (pid 7) 0s, normally down", "clamped at 0");
    }

    #[test]
    fn huge_pids_are_sign_extended_like_runit() {
        let mut v = Vec::new();
        status_part(
            &mut v,
            b"s",
            &st(1, 0x8000_0000, b'u', false, false, 0),
            0,
            false,
        );
        assert_eq!(v, b"run: s: (pid 18446744071562067968) 0s");
    }

    #[test]
    fn check_follows_the_wanted_state_as_in_2_3_0() {
        let t0 = 100;
        let mut pass = || true;
        let once = st(1, 5, b'd', false, false, 100);
        assert!(
            !condition(b'C', &Seen { st: &once, t0 }, &mut pass),
            "running but wanted down"
        );
        let down_want_up = st(0, 0, b'u', false, false, 100);
        assert!(!condition(
            b'C',
            &Seen {
                st: &down_want_up,
                t0
            },
            &mut pass
        ));
        let up = st(1, 5, b'u', false, false, 90);
        assert!(condition(b'C', &Seen { st: &up, t0 }, &mut pass));
        let mut fail = || false;
        assert!(!condition(b'C', &Seen { st: &up, t0 }, &mut fail));
    }

    #[test]
    fn term_waits_for_a_restart_at_or_after_t0() {
        let mut pass = || true;
        let old = st(1, 5, b'u', false, false, 99);
        assert!(!condition(b't', &Seen { st: &old, t0: 100 }, &mut pass));
        let new = st(1, 6, b'u', false, false, 100);
        assert!(condition(b't', &Seen { st: &new, t0: 100 }, &mut pass));
        let down = st(0, 0, b'd', false, false, 50);
        assert!(condition(b't', &Seen { st: &down, t0: 100 }, &mut pass));
        assert!(condition(b'h', &Seen { st: &down, t0: 100 }, &mut pass));
        assert!(!condition(b'x', &Seen { st: &new, t0: 100 }, &mut pass));
    }
}
