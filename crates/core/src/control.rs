//! The one-byte commands written to `supervise/control`, shared by runsv
//! (which reads them) and sv (which writes them). Also used by daemontools'
//! `svc`, so the bytes are fixed forever.

/// A command byte that runsv understands. Every other byte is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Up,
    Down,
    Once,
    Exit,
    Term,
    Kill,
    Pause,
    Cont,
    Hup,
    Alarm,
    Interrupt,
    Quit,
    Usr1,
    Usr2,
}

impl Command {
    /// Decodes a control byte; `None` for bytes runsv ignores (including `e` and newline).
    pub fn from_byte(b: u8) -> Option<Command> {
        Some(match b {
            b'u' => Command::Up,
            b'd' => Command::Down,
            b'o' => Command::Once,
            b'x' => Command::Exit,
            b't' => Command::Term,
            b'k' => Command::Kill,
            b'p' => Command::Pause,
            b'c' => Command::Cont,
            b'h' => Command::Hup,
            b'a' => Command::Alarm,
            b'i' => Command::Interrupt,
            b'q' => Command::Quit,
            b'1' => Command::Usr1,
            b'2' => Command::Usr2,
            _ => return None,
        })
    }

    /// The byte on the wire, which is also the name of its `control/` script.
    pub fn byte(self) -> u8 {
        match self {
            Command::Up => b'u',
            Command::Down => b'd',
            Command::Once => b'o',
            Command::Exit => b'x',
            Command::Term => b't',
            Command::Kill => b'k',
            Command::Pause => b'p',
            Command::Cont => b'c',
            Command::Hup => b'h',
            Command::Alarm => b'a',
            Command::Interrupt => b'i',
            Command::Quit => b'q',
            Command::Usr1 => b'1',
            Command::Usr2 => b'2',
        }
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

    #[test]
    fn every_command_byte_round_trips_and_e_is_ignored() {
        for b in b"udoxtkpchaiq12" {
            let c = Command::from_byte(*b);
            assert_eq!(c.map(Command::byte), Some(*b));
        }
        for b in [b'e', b'\n', 0u8, 0xff, b'U', b'X'] {
            assert_eq!(Command::from_byte(b), None);
        }
    }
}
