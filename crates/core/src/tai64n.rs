//! TAI64 / TAI64N time stamps exactly as runit and daemontools write them.
//!
//! The seconds label is `2^62 + 10 + unix_seconds` (a constant offset of 10,
//! no leap-second table), stored big-endian; the nanoseconds field is
//! `microseconds * 1000 + 500` because runit reads the clock with
//! `gettimeofday`. Owns encoding and decoding only; reading the clock is
//! `runit-sys`'s job.

/// `2^62 + 10`: the TAI64 label of the Unix epoch as runit computes it.
pub const TAI64_UNIX_EPOCH: u64 = 0x4000_0000_0000_000A;

/// A TAI64N instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Tai64n {
    pub secs: u64,
    pub nanos: u32,
}

impl Tai64n {
    /// The stamp runit writes for a `gettimeofday` reading.
    pub fn from_unix_micros(unix_secs: u64, micros: u32) -> Tai64n {
        Tai64n {
            secs: TAI64_UNIX_EPOCH.wrapping_add(unix_secs),
            nanos: micros.min(999_999) * 1000 + 500,
        }
    }

    /// Seconds since the Unix epoch (0 for labels before it).
    pub fn unix_secs(&self) -> u64 {
        self.secs.saturating_sub(TAI64_UNIX_EPOCH)
    }

    /// The 12-byte external form: 8 bytes of seconds, 4 of nanoseconds, big-endian.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        let (s, n) = out.split_at_mut(8);
        s.copy_from_slice(&self.secs.to_be_bytes());
        n.copy_from_slice(&self.nanos.to_be_bytes());
        out
    }

    /// Reads the 12-byte external form.
    pub fn from_bytes(b: &[u8; 12]) -> Tai64n {
        let mut s = [0u8; 8];
        let mut n = [0u8; 4];
        let (bs, bn) = b.split_at(8);
        s.copy_from_slice(bs);
        n.copy_from_slice(bn);
        Tai64n {
            secs: u64::from_be_bytes(s),
            nanos: u32::from_be_bytes(n),
        }
    }

    /// The text label svlogd uses: `@` and 24 lowercase hex digits.
    pub fn label(&self) -> [u8; 25] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'@'; 25];
        for (slot, byte) in out
            .iter_mut()
            .skip(1)
            .zip(self.to_bytes().iter().flat_map(|b| [b >> 4, b & 15]))
        {
            *slot = HEX.get(usize::from(byte)).copied().unwrap_or(b'0');
        }
        out
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
    fn label_matches_runit_for_a_known_second() {
        // svlogd -t printed @400000006b028727305da144 (CRATES.md); the
        // seconds part is 2^62 + 10 + 0x6b02871d.
        let t = Tai64n {
            secs: TAI64_UNIX_EPOCH + 0x6b02_871d,
            nanos: 0x305d_a144,
        };
        assert_eq!(&t.label()[..], b"@400000006b028727305da144");
    }

    #[test]
    fn nanoseconds_always_end_in_500() {
        let t = Tai64n::from_unix_micros(1_700_000_000, 123_456);
        assert_eq!(t.nanos, 123_456_500);
        assert_eq!(t.unix_secs(), 1_700_000_000);
    }

    #[test]
    fn bytes_round_trip() {
        let t = Tai64n::from_unix_micros(0x6b02_8445 - 10, 747_000);
        assert_eq!(Tai64n::from_bytes(&t.to_bytes()), t);
        assert_eq!(&t.to_bytes()[..8], &[0x40, 0, 0, 0, 0x6b, 0x02, 0x84, 0x45]);
    }
}
