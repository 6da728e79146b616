//! Diagnostics written the runit way: one line built from fixed pieces and
//! written with a single `write(2)` to stderr, with no allocation, so the
//! same code serves a forked child before exec.

use crate::errno::Errno;

/// Writes one diagnostic line: the pieces, then `": "` and runit's text for
/// `err` if given, then a newline, in a single `writev(2)` to stderr (no
/// buffer, no length limit, nothing allocated).
pub fn line(pieces: &[&[u8]], err: Option<Errno>) {
    lines_of(&[pieces], err)
}

/// [`line`] with the pieces given in two lists (a shared prefix and the
/// message), so callers never allocate to join them.
pub fn line2(head: &[&[u8]], pieces: &[&[u8]], err: Option<Errno>) {
    lines_of(&[head, pieces], err)
}

/// [`line`] with the pieces given in any number of lists, joined in order
/// (a program prefix, a `warning: ` tag, the message): the one place that
/// builds a diagnostic.
pub fn lines_of(lists: &[&[&[u8]]], err: Option<Errno>) {
    const MAX: usize = 16;
    let mut iov = [libc::iovec {
        iov_base: core::ptr::null_mut(),
        iov_len: 0,
    }; MAX];
    let tail: [&[u8]; 3] = match err {
        Some(e) => [b": ", e.text().as_bytes(), b"\n"],
        None => [b"", b"", b"\n"],
    };
    let mut n = 0;
    // The tail always fits: the first pieces get at most MAX - 3 slots.
    for piece in lists
        .iter()
        .flat_map(|l| l.iter())
        .take(MAX - 3)
        .chain(tail.iter())
    {
        if let Some(v) = iov.get_mut(n) {
            v.iov_base = piece.as_ptr() as *mut libc::c_void;
            v.iov_len = piece.len();
            n += 1;
        }
    }
    // SAFETY: the first n iovecs point into slices that outlive the call.
    unsafe { libc::writev(2, iov.as_ptr(), n as libc::c_int) };
}

/// getopt's diagnostic: `PROG: illegal option -- X` or `PROG: option
/// requires an argument -- X` (the caller prints its usage next).
pub fn option_error(prog: &[u8], e: runit_core::getopt::OptError) {
    let (text, ch) = e.text();
    line(&[prog, b": ", text.as_bytes(), &[ch]], None);
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
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
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
}
