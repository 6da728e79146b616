//! The on-disk utmp/wtmp record of x86-64 glibc (384 bytes; musl's
//! in-memory `utmpx` is 400 bytes and does not match the files), and
//! utmpset's matching rule (SPEC §11).

/// Size of one record.
pub const RECORD_LEN: usize = 384;
/// `ut_type` of a logged-out entry.
pub const DEAD_PROCESS: i16 = 8;
/// Length of `ut_line`.
pub const LINE_LEN: usize = 32;

const TYPE: usize = 0;
const LINE: usize = 8;
const USER: usize = 44;
const USER_LEN: usize = 32;
const HOST: usize = 76;
const HOST_LEN: usize = 256;
const TV_SEC: usize = 340;

/// Does the record hold a logged-in `line` (non-empty user, line equal)?
/// 2.3.0: a line shorter than 32 bytes must match with its NUL; a
/// 32-byte line matches the whole field.
pub fn matches(rec: &[u8; RECORD_LEN], line: &[u8]) -> bool {
    if rec.get(USER).copied().unwrap_or(0) == 0 || line.len() > LINE_LEN {
        return false;
    }
    let field = rec.get(LINE..LINE + LINE_LEN).unwrap_or(&[]);
    match field.get(..line.len()) {
        Some(head) if head == line => line.len() == LINE_LEN || field.get(line.len()) == Some(&0),
        _ => false,
    }
}

/// Marks a record logged out: user and host zeroed, the seconds of its time
/// set (runit leaves the microseconds as they were), DEAD_PROCESS.
pub fn logout(rec: &mut [u8; RECORD_LEN], secs: i32) {
    for b in rec.iter_mut().skip(USER).take(USER_LEN) {
        *b = 0;
    }
    for b in rec.iter_mut().skip(HOST).take(HOST_LEN) {
        *b = 0;
    }
    put(rec, TYPE, &DEAD_PROCESS.to_ne_bytes());
    put(rec, TV_SEC, &secs.to_ne_bytes());
}

/// A fresh wtmp logout record for `line` (cut to 30 bytes if longer); only
/// the seconds of its time are set, as runit does.
pub fn wtmp_logout(line: &[u8], secs: i32) -> [u8; RECORD_LEN] {
    let mut rec = [0u8; RECORD_LEN];
    let line = if line.len() > LINE_LEN {
        line.get(..30).unwrap_or(line)
    } else {
        line
    };
    put(&mut rec, LINE, line);
    put(&mut rec, TYPE, &DEAD_PROCESS.to_ne_bytes());
    put(&mut rec, TV_SEC, &secs.to_ne_bytes());
    rec
}

fn put(rec: &mut [u8; RECORD_LEN], at: usize, bytes: &[u8]) {
    if let Some(dst) = rec.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
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

    fn rec(line: &[u8], user: &[u8]) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[0] = 7;
        r[LINE..LINE + line.len()].copy_from_slice(line);
        r[USER..USER + user.len()].copy_from_slice(user);
        r[HOST] = b'h';
        r
    }

    #[test]
    fn matching_is_exact_and_needs_a_user() {
        assert!(matches(&rec(b"tty9", b"bob"), b"tty9"));
        assert!(!matches(&rec(b"tty90", b"bob"), b"tty9"));
        assert!(!matches(&rec(b"tty9", b""), b"tty9"));
        let long = [b'x'; 32];
        assert!(
            matches(&rec(&long, b"bob"), &long),
            "2.3.0: 32-byte lines match"
        );
        assert!(!matches(&rec(&long, b"bob"), &[b'x'; 33]));
    }

    #[test]
    fn logout_clears_user_and_host_and_sets_dead_process() {
        let mut r = rec(b"tty9", b"bob");
        logout(&mut r, 1000);
        assert!(!matches(&r, b"tty9"));
        assert_eq!(i16::from_ne_bytes([r[0], r[1]]), DEAD_PROCESS);
        assert_eq!(r[HOST], 0);
        assert_eq!(&r[LINE..LINE + 4], b"tty9");
        let w = wtmp_logout(b"tty9", 1000);
        assert_eq!(
            i32::from_ne_bytes(w[TV_SEC..TV_SEC + 4].try_into().unwrap()),
            1000
        );
    }
}
