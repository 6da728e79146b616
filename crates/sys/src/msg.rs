//! Diagnostics written the runit way: one line built from fixed pieces and
//! written with a single `write(2)` to stderr, with no allocation, so the
//! same code serves a forked child before exec.

use crate::errno::Errno;
use crate::fd::write_raw;

const CAP: usize = 1024;

/// A message under construction; pieces past the capacity are cut.
pub struct Msg {
    buf: [u8; CAP],
    len: usize,
}

impl Default for Msg {
    fn default() -> Self {
        Msg::new()
    }
}

impl Msg {
    pub const fn new() -> Msg {
        Msg { buf: [0; CAP], len: 0 }
    }

    /// Appends bytes.
    pub fn b(mut self, bytes: &[u8]) -> Msg {
        self.push(bytes);
        self
    }

    /// Appends a string.
    pub fn s(self, s: &str) -> Msg {
        self.b(s.as_bytes())
    }

    /// Appends `": "` and runit's text for the error.
    pub fn err(self, e: Errno) -> Msg {
        self.s(": ").s(e.text())
    }

    /// Appends a signed decimal number.
    pub fn num(self, n: i64) -> Msg {
        let mut digits = [0u8; 24];
        let len = fmt_i64(n, &mut digits);
        self.b(digits.get(..len).unwrap_or(&[]))
    }

    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Adds the newline and writes the whole line to stderr at once.
    pub fn line(mut self) {
        self.push(b"\n");
        let _ = write_raw(2, self.as_bytes());
    }
}

/// Formats `n` in decimal into `out`, returning the length used.
pub fn fmt_i64(n: i64, out: &mut [u8; 24]) -> usize {
    let mut tmp = [0u8; 24];
    let mut i = 0;
    let mut v = n.unsigned_abs();
    loop {
        if let Some(slot) = tmp.get_mut(i) {
            *slot = b'0' + (v % 10) as u8;
        }
        i += 1;
        v /= 10;
        if v == 0 || i >= 20 {
            break;
        }
    }
    let mut len = 0;
    if n < 0 {
        if let Some(slot) = out.get_mut(0) {
            *slot = b'-';
        }
        len = 1;
    }
    for j in (0..i).rev() {
        if let (Some(slot), Some(d)) = (out.get_mut(len), tmp.get(j)) {
            *slot = *d;
        }
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_in_decimal() {
        for n in [0i64, 7, -1, 15, 123456, -987654321, i64::MIN + 1] {
            let mut b = [0u8; 24];
            let len = fmt_i64(n, &mut b);
            assert_eq!(std::str::from_utf8(&b[..len]).unwrap(), n.to_string());
        }
    }

    #[test]
    fn message_pieces_join_with_runits_error_text() {
        let m = Msg::new().s("runsv x: fatal: unable to open supervise/lock").err(Errno(libc::EACCES));
        assert_eq!(m.as_bytes(), b"runsv x: fatal: unable to open supervise/lock: access denied");
    }
}
