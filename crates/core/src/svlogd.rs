//! svlogd's rules without I/O (SPEC §8): the `config` file, runit's own
//! pattern matching, and the `-t`/`-tt`/`-ttt` time stamp texts.

use crate::getopt::scan_ulong;
use crate::tai64n::Tai64n;

/// One `+ - e E` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub kind: u8,
    pub pattern: Vec<u8>,
}

/// A UDP destination (IPv4 address bytes and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    pub addr: [u8; 4],
    pub port: u16,
}

/// A directory's configuration, defaults as in runit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub size: u64,
    pub num: u64,
    pub min: u64,
    pub time: u64,
    pub processor: Option<Vec<u8>>,
    pub udp: Option<Udp>,
    pub udp_only: bool,
    pub prefix: Vec<u8>,
    pub patterns: Vec<Pattern>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            size: 1_000_000,
            num: 10,
            min: 10,
            time: 0,
            processor: None,
            udp: None,
            udp_only: false,
            prefix: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

/// A warning from a config line (`unable to scan ...: REST`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWarning {
    Address(Vec<u8>),
    Port(Vec<u8>),
}

/// Parses a config file's text; returns the config and its warnings.
pub fn parse_config(text: &[u8]) -> (Config, Vec<ConfigWarning>) {
    let mut c = Config::default();
    let mut warnings = Vec::new();
    // runit's loop stops one byte before the end: a one-character final
    // line without a newline is ignored.
    let usable = match text.iter().rposition(|&b| b == b'\n') {
        // A final line of one character without a newline is dropped.
        Some(nl) if text.len() - nl - 1 == 1 => text.get(..=nl).unwrap_or(text),
        None if text.len() == 1 => &[],
        _ => text,
    };
    for line in usable.split(|&b| b == b'\n') {
        let Some((&d, rest)) = line.split_first() else {
            continue;
        };
        match d {
            b's' => {
                let n = scan_ulong(rest);
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                c.size = match rest.get(digits) {
                    Some(b'k') => n.saturating_mul(1024),
                    Some(b'm') => n.saturating_mul(1_048_576),
                    _ => n,
                };
            }
            b'n' => c.num = scan_ulong(rest),
            b'N' => c.min = scan_ulong(rest),
            b't' => {
                let n = scan_ulong(rest);
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                c.time = match rest.get(digits) {
                    Some(b'm') => n.saturating_mul(60),
                    Some(b'h') => n.saturating_mul(3600),
                    _ => n,
                };
            }
            b'!' if !rest.is_empty() => c.processor = Some(rest.to_vec()),
            b'u' | b'U' => {
                if d == b'U' {
                    c.udp_only = true;
                }
                match parse_udp(rest) {
                    Ok(u) => c.udp = Some(u),
                    Err(w) => warnings.push(w),
                }
            }
            b'p' if !rest.is_empty() => c.prefix = rest.to_vec(),
            b'+' | b'-' | b'e' | b'E' => c.patterns.push(Pattern {
                kind: d,
                pattern: rest.to_vec(),
            }),
            _ => {}
        }
    }
    (c, warnings)
}

fn parse_udp(rest: &[u8]) -> Result<Udp, ConfigWarning> {
    let mut addr = [0u8; 4];
    let mut i = 0;
    for (k, slot) in addr.iter_mut().enumerate() {
        let digits = rest
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(ConfigWarning::Address(rest.to_vec()));
        }
        *slot = (scan_ulong(rest.get(i..).unwrap_or(&[])) & 0xff) as u8;
        i += digits;
        if k < 3 {
            if rest.get(i) != Some(&b'.') {
                return Err(ConfigWarning::Address(rest.to_vec()));
            }
            i += 1;
        }
    }
    let mut port = 514u16;
    if rest.get(i) == Some(&b':') {
        let p = rest.get(i + 1..).unwrap_or(&[]);
        let v = scan_ulong(p);
        if v == 0 {
            return Err(ConfigWarning::Port(p.to_vec()));
        }
        port = (v & 0xffff) as u16;
    }
    Ok(Udp { addr, port })
}

/// runit's matcher: anchored, left to right, no backtracking (SPEC §8.5).
pub fn pattern_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    loop {
        let Some(&pc) = p.get(pi) else {
            return si == s.len();
        };
        match pc {
            b'*' => {
                let Some(&c) = p.get(pi + 1) else { return true };
                match s
                    .get(si..)
                    .and_then(|rest| rest.iter().position(|&b| b == c))
                {
                    Some(off) => {
                        si += off;
                        pi += 1;
                    }
                    None => return false,
                }
            }
            b'+' => {
                let Some(&c) = p.get(pi + 1) else {
                    return si == s.len();
                };
                if s.get(si) != Some(&c) {
                    return false;
                }
                while s.get(si) == Some(&c) {
                    si += 1;
                }
                if si >= s.len() {
                    // runit's quirk: input used up while consuming counts as a match.
                    return true;
                }
                pi += 2;
            }
            _ => {
                if s.get(si) != Some(&pc) {
                    return false;
                }
                si += 1;
                pi += 1;
            }
        }
    }
}

/// The log and stderr selections for a line: (`+` or `-`, `e` or `E`).
pub fn select(patterns: &[Pattern], line: &[u8]) -> (u8, u8) {
    let (mut log, mut err) = (b'+', b'E');
    for p in patterns {
        if pattern_match(&p.pattern, line) {
            match p.kind {
                b'+' | b'-' => log = p.kind,
                _ => err = p.kind,
            }
        }
    }
    (log, err)
}

/// The time stamp text for level 1 (`-t`), 2 (`-tt`) or 3 (`-ttt`),
/// including the trailing space; empty for 0.
pub fn stamp(level: u8, unix_secs: u64, nanos: u32, out: &mut Vec<u8>) {
    match level {
        0 => {}
        1 => {
            let t = Tai64n::from_unix_micros(unix_secs, nanos / 1000);
            out.extend_from_slice(&t.label());
            out.push(b' ');
        }
        _ => {
            let days = unix_secs / 86_400;
            let sod = unix_secs % 86_400;
            let (y, m, d) = civil(days);
            let sep = if level == 2 { b'_' } else { b'T' };
            // Digits by hand: this runs for every input chunk, and keeping
            // core::fmt out of the hot path keeps svlogd's touched text small.
            let fields: [(u64, u32, u8); 7] = [
                (y, 4, b'-'),
                (m, 2, b'-'),
                (d, 2, sep),
                (sod / 3600, 2, b':'),
                (sod / 60 % 60, 2, b':'),
                (sod % 60, 2, b'.'),
                (u64::from(nanos / 10_000), 5, b' '),
            ];
            for (v, width, after) in fields {
                for k in (0..width).rev() {
                    out.push(b'0' + ((v / 10u64.pow(k)) % 10) as u8);
                }
                out.push(after);
            }
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
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
    fn patterns_follow_runits_examples() {
        assert!(!pattern_match(b"*err*", b"some err here"));
        assert!(pattern_match(b"+a+bc", b"ab"));
        assert!(pattern_match(b"+a+bc", b"abb"));
        assert!(!pattern_match(b"+a+bc", b"abbd"));
        assert!(pattern_match(b"x*y", b"xqqy"));
        assert!(pattern_match(b"x*y", b"xy"));
        assert!(!pattern_match(b"x*y", b"xqyqy"));
        assert!(pattern_match(b"*z", b"qz"));
        assert!(!pattern_match(b"*z", b"zzz"));
        assert!(pattern_match(b"", b""));
        assert!(!pattern_match(b"", b"x"));
        assert!(pattern_match(b"*", b"anything"));
        let pats = vec![
            Pattern {
                kind: b'-',
                pattern: b"*".to_vec(),
            },
            Pattern {
                kind: b'+',
                pattern: b"a+bc".to_vec(),
            },
        ];
        assert_eq!(select(&pats, b"abc").0, b'+');
        assert_eq!(select(&pats, b"aaabc").0, b'-');
    }

    #[test]
    fn config_lines_are_taken_literally() {
        let (c, w) = parse_config(b"s100k\nn5\nN2\nt2m\n!gzip\npPFX: \n# c\n+a*\nu1.2.3.4:99\n");
        assert_eq!(c.size, 102_400);
        assert_eq!((c.num, c.min, c.time), (5, 2, 120));
        assert_eq!(c.processor.as_deref(), Some(&b"gzip"[..]));
        assert_eq!(c.prefix, b"PFX: ");
        assert_eq!(c.patterns.len(), 1);
        assert_eq!(
            c.udp,
            Some(Udp {
                addr: [1, 2, 3, 4],
                port: 99
            })
        );
        assert!(w.is_empty());
        let (c, w) = parse_config(b"Ubogus\n");
        assert!(c.udp_only && c.udp.is_none());
        assert_eq!(w, [ConfigWarning::Address(b"bogus".to_vec())]);
        let (c, _) = parse_config(b"t5d\ns0\n");
        assert_eq!((c.time, c.size), (5, 0));
    }

    #[test]
    fn stamps_have_runits_shapes() {
        let mut v = Vec::new();
        stamp(2, 0x6b02_84f8 - 10, 251_790_000, &mut v);
        assert_eq!(v, b"2026-11-22_06:00:14.25179 ");
        v.clear();
        stamp(3, 0x6b02_84f8 - 10, 257_170_000, &mut v);
        assert_eq!(v, b"2026-11-22T06:00:14.25717 ");
        v.clear();
        stamp(1, 0x6b02_84f8 - 10, 0x0ed9_8574, &mut v);
        assert_eq!(v.len(), 26);
        assert!(v.starts_with(b"@400000006b0284f8"));
    }
}
