//! Byte search for hot loops (svlogd's line splitting): eight bytes at a
//! time with the classic "has a zero byte" test (musl's `memchr` costs
//! about three times as many instructions per byte).

/// Index of the first `byte` in `hay`.
#[inline]
pub fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(byte));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word) ^ pattern;
        let found = v.wrapping_sub(LO) & !v & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| base + i)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    #[test]
    fn finds_the_first_occurrence() {
        assert_eq!(super::find_byte(b"ab\ncd\n", b'\n'), Some(2));
        assert_eq!(super::find_byte(b"abc", b'\n'), None);
        assert_eq!(super::find_byte(b"", b'\n'), None);
        let long: Vec<u8> = (0..100u8)
            .map(|i| if i == 77 { b'\n' } else { b'a' + i % 20 })
            .collect();
        assert_eq!(super::find_byte(&long, b'\n'), Some(77));
        assert_eq!(super::find_byte(&[0x8a, 0x0a], b'\n'), Some(1));
        for n in 0..20 {
            let mut v = vec![0xffu8; 20];
            v[n] = b'\n';
            assert_eq!(super::find_byte(&v, b'\n'), Some(n));
        }
    }
}
