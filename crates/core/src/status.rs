//! The 20-byte `supervise/status` record and the `supervise/stat` line.
//!
//! Layout (a superset of daemontools' 18 bytes): TAI64N stamp (12 bytes,
//! big-endian), pid (4 bytes, **little-endian**), paused flag, want byte
//! (`u`, or `d` for both down and exit), got-TERM flag, state (0 down, 1 run,
//! 2 finish). This module is the only encoder and decoder of both files.

use crate::tai64n::Tai64n;

/// Size of the runit status record.
pub const STATUS_LEN: usize = 20;

/// The process state of a supervised service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Down,
    Run,
    Finish,
}

impl State {
    pub fn code(self) -> u8 {
        match self {
            State::Down => 0,
            State::Run => 1,
            State::Finish => 2,
        }
    }

    pub fn from_code(c: u8) -> Option<State> {
        match c {
            0 => Some(State::Down),
            1 => Some(State::Run),
            2 => Some(State::Finish),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Down => "down",
            State::Run => "run",
            State::Finish => "finish",
        }
    }
}

/// What the supervisor wants the service to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Up,
    Down,
    Exit,
}

impl Want {
    /// The status byte: exit is written as `d`, as runit does.
    pub fn byte(self) -> u8 {
        match self {
            Want::Up => b'u',
            Want::Down | Want::Exit => b'd',
        }
    }
}

/// One status record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub stamp: Tai64n,
    pub pid: u32,
    pub paused: bool,
    /// The raw want byte (`u` or `d`); readers keep what they found.
    pub want: u8,
    pub got_term: bool,
    /// The raw state byte; see [`State::from_code`].
    pub state: u8,
}

impl Status {
    /// Encodes the 20-byte record.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        let (stamp, rest) = b.split_at_mut(12);
        stamp.copy_from_slice(&self.stamp.to_bytes());
        let (pid, flags) = rest.split_at_mut(4);
        pid.copy_from_slice(&self.pid.to_le_bytes());
        flags.copy_from_slice(&[
            u8::from(self.paused),
            self.want,
            u8::from(self.got_term),
            self.state,
        ]);
        b
    }

    /// Decodes a record; `None` unless exactly 20 bytes.
    pub fn decode(b: &[u8]) -> Option<Status> {
        let b: &[u8; STATUS_LEN] = b.try_into().ok()?;
        let (stamp, rest) = b.split_at(12);
        let (pid, flags) = rest.split_at(4);
        let stamp: &[u8; 12] = stamp.try_into().ok()?;
        let pid: [u8; 4] = pid.try_into().ok()?;
        let [paused, want, term, state] = <[u8; 4]>::try_from(flags).ok()?;
        Some(Status {
            stamp: Tai64n::from_bytes(stamp),
            pid: u32::from_le_bytes(pid),
            paused: paused != 0,
            want,
            got_term: term != 0,
            state,
        })
    }
}

/// Fixed-capacity text buffer for the `stat` line (no allocation).
#[derive(Clone, Copy)]
pub struct StatLine {
    buf: [u8; 40],
    len: usize,
}

impl StatLine {
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, s: &str) {
        for &b in s.as_bytes() {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }
}

/// The `stat` line: state, `, paused`, `, got TERM`, then (unless down)
/// `, want down` or `, want exit`, and a newline.
pub fn stat_line(state: State, paused: bool, got_term: bool, want: Want) -> StatLine {
    let mut l = StatLine {
        buf: [0; 40],
        len: 0,
    };
    l.push(state.name());
    if paused {
        l.push(", paused");
    }
    if got_term {
        l.push(", got TERM");
    }
    if state != State::Down {
        match want {
            Want::Down => l.push(", want down"),
            Want::Exit => l.push(", want exit"),
            Want::Up => {}
        }
    }
    l.push("\n");
    l
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

    #[test]
    fn encodes_the_example_record_from_the_spec() {
        let s = Status {
            stamp: Tai64n {
                secs: 0x4000_0000_6b02_8445,
                nanos: 0x2cb8_91fc,
            },
            pid: 11499,
            paused: false,
            want: b'u',
            got_term: false,
            state: 1,
        };
        let expect = [
            0x40, 0, 0, 0, 0x6b, 0x02, 0x84, 0x45, 0x2c, 0xb8, 0x91, 0xfc, 0xeb, 0x2c, 0, 0, 0,
            0x75, 0, 1,
        ];
        assert_eq!(s.encode(), expect);
        assert_eq!(Status::decode(&expect), Some(s));
    }

    #[test]
    fn decode_rejects_short_and_long_records() {
        assert_eq!(Status::decode(&[0u8; 18]), None);
        assert_eq!(Status::decode(&[0u8; 21]), None);
    }

    #[test]
    fn want_exit_is_written_as_d() {
        assert_eq!(Want::Exit.byte(), b'd');
    }

    #[test]
    fn stat_lines_match_runit() {
        let cases: &[(State, bool, bool, Want, &str)] = &[
            (State::Run, false, false, Want::Up, "run\n"),
            (State::Down, false, false, Want::Down, "down\n"),
            (State::Run, false, false, Want::Down, "run, want down\n"),
            (
                State::Run,
                true,
                false,
                Want::Down,
                "run, paused, want down\n",
            ),
            (
                State::Run,
                false,
                true,
                Want::Down,
                "run, got TERM, want down\n",
            ),
            (
                State::Finish,
                false,
                false,
                Want::Down,
                "finish, want down\n",
            ),
            (State::Down, true, false, Want::Up, "down, paused\n"),
            (State::Run, false, false, Want::Exit, "run, want exit\n"),
            (
                State::Finish,
                true,
                true,
                Want::Exit,
                "finish, paused, got TERM, want exit\n",
            ),
        ];
        for (st, p, t, w, text) in cases {
            assert_eq!(stat_line(*st, *p, *t, *w).as_bytes(), text.as_bytes());
        }
    }
}
