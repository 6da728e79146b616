//! svlogd's rules without I/O (SPEC §8): the `config` file, runit's own
//! pattern matching, and the `-t`/`-tt`/`-ttt` time stamp texts.

use crate::getopt::scan_ulong;
use crate::tai64n::Tai64n;

/// A stretch of the config text (a processor command, a prefix).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub len: usize,
}

impl Span {
    /// The bytes of this span in `text` (empty if out of range).
    pub fn of<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        text.get(self.start..self.start.saturating_add(self.len))
            .unwrap_or(&[])
    }
}

/// A UDP destination (IPv4 address bytes and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    pub addr: [u8; 4],
    pub port: u16,
}

/// A directory's configuration, defaults as in runit. Texts (processor,
/// prefix, patterns) stay in the config file's text, which the caller
/// keeps: nothing here allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub size: u64,
    pub num: u64,
    pub min: u64,
    pub time: u64,
    pub processor: Option<Span>,
    pub udp: Option<Udp>,
    pub udp_only: bool,
    pub prefix: Span,
    /// Whether any `+ - e E` line exists.
    pub has_patterns: bool,
    /// The length of the text runit reads lines from (see [`parse_config`]).
    pub usable: usize,
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
            prefix: Span::default(),
            has_patterns: false,
            usable: 0,
        }
    }
}

impl Config {
    /// The `+ - e E` lines of `text`, in order: (kind, pattern).
    pub fn patterns<'t>(&self, text: &'t [u8]) -> impl Iterator<Item = (u8, &'t [u8])> {
        let usable = if self.has_patterns {
            text.get(..self.usable).unwrap_or(&[])
        } else {
            &[]
        };
        usable
            .split(|&b| b == b'\n')
            .filter_map(|line| match line.split_first() {
                Some((&k @ (b'+' | b'-' | b'e' | b'E'), rest)) => Some((k, rest)),
                _ => None,
            })
    }
}

/// A warning from a config line (`unable to scan ...: REST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigWarning<'t> {
    Address(&'t [u8]),
    Port(&'t [u8]),
}

/// Parses a config file's text; reports each warning to `warn`.
pub fn parse_config<'t>(text: &'t [u8], mut warn: impl FnMut(ConfigWarning<'t>)) -> Config {
    let mut c = Config::default();
    // runit's loop stops one byte before the end: a one-character final
    // line without a newline is ignored.
    let usable = match text.iter().rposition(|&b| b == b'\n') {
        Some(nl) if text.len() - nl - 1 == 1 => text.get(..=nl).unwrap_or(text),
        None if text.len() == 1 => &[],
        _ => text,
    };
    c.usable = usable.len();
    let mut at = 0usize;
    for line in usable.split(|&b| b == b'\n') {
        let line_start = at;
        at += line.len() + 1;
        let Some((&d, rest)) = line.split_first() else {
            continue;
        };
        let span = Span {
            start: line_start + 1,
            len: rest.len(),
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
            b'!' if !rest.is_empty() => c.processor = Some(span),
            b'u' | b'U' => {
                if d == b'U' {
                    c.udp_only = true;
                }
                match parse_udp(rest) {
                    Ok(u) => c.udp = Some(u),
                    Err(w) => warn(w),
                }
            }
            b'p' if !rest.is_empty() => c.prefix = span,
            b'+' | b'-' | b'e' | b'E' => c.has_patterns = true,
            _ => {}
        }
    }
    c
}

fn parse_udp(rest: &[u8]) -> Result<Udp, ConfigWarning<'_>> {
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
            return Err(ConfigWarning::Address(rest));
        }
        *slot = (scan_ulong(rest.get(i..).unwrap_or(&[])) & 0xff) as u8;
        i += digits;
        if k < 3 {
            if rest.get(i) != Some(&b'.') {
                return Err(ConfigWarning::Address(rest));
            }
            i += 1;
        }
    }
    let mut port = 514u16;
    if rest.get(i) == Some(&b':') {
        let p = rest.get(i + 1..).unwrap_or(&[]);
        let v = scan_ulong(p);
        if v == 0 {
            return Err(ConfigWarning::Port(p));
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

/// The log and stderr selections for a line: (`+` or `-`, `e` or `E`),
/// from the `+ - e E` lines of `cfg` in its config `text`.
pub fn select(cfg: &Config, text: &[u8], line: &[u8]) -> (u8, u8) {
    let (mut log, mut err) = (b'+', b'E');
    for (kind, pattern) in cfg.patterns(text) {
        if pattern_match(pattern, line) {
            match kind {
                b'+' | b'-' => log = kind,
                _ => err = kind,
            }
        }
    }
    (log, err)
}

/// The time stamp text for level 1 (`-t`), 2 (`-tt`) or 3 (`-ttt`),
/// including the trailing space, written to the front of `out`; returns
/// its length (0 for level 0).
pub fn stamp(level: u8, unix_secs: u64, nanos: u32, out: &mut [u8; 32]) -> usize {
    let mut n = 0usize;
    let mut push = |b: u8| {
        if let Some(slot) = out.get_mut(n) {
            *slot = b;
            n += 1;
        }
    };
    match level {
        0 => {}
        1 => {
            let t = Tai64n::from_unix_micros(unix_secs, nanos / 1000);
            for b in t.label() {
                push(b);
            }
            push(b' ');
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
            // Powers of ten by table: a computed divisor would bring in a
            // division-by-zero panic path.
            const POW10: [u64; 5] = [10_000, 1_000, 100, 10, 1];
            for (v, width, after) in fields {
                let skip = POW10.len().saturating_sub(width as usize);
                for p in POW10.iter().skip(skip) {
                    push(b'0' + (v.checked_div(*p).unwrap_or(0) % 10) as u8);
                }
                push(after);
            }
        }
    }
    n
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
        let text = b"-*\n+a+bc\ne*x\n";
        let cfg = parse_config(text, |_| {});
        assert_eq!(select(&cfg, text, b"abc"), (b'+', b'E'));
        assert_eq!(select(&cfg, text, b"aaabc"), (b'-', b'E'));
        assert_eq!(select(&cfg, text, b"aax"), (b'-', b'e'));
    }

    #[test]
    fn config_lines_are_taken_literally() {
        let text = b"s100k\nn5\nN2\nt2m\n!gzip\npPFX: \n# c\n+a*\nu1.2.3.4:99\n";
        let mut w = Vec::new();
        let c = parse_config(text, |x| w.push(x));
        assert_eq!(c.size, 102_400);
        assert_eq!((c.num, c.min, c.time), (5, 2, 120));
        assert_eq!(c.processor.map(|p| p.of(text)), Some(&b"gzip"[..]));
        assert_eq!(c.prefix.of(text), b"PFX: ");
        assert_eq!(c.patterns(text).collect::<Vec<_>>(), [(b'+', &b"a*"[..])]);
        assert_eq!(
            c.udp,
            Some(Udp {
                addr: [1, 2, 3, 4],
                port: 99
            })
        );
        assert!(w.is_empty());
        let mut w = Vec::new();
        let c = parse_config(b"Ubogus\n", |x| w.push(x));
        assert!(c.udp_only && c.udp.is_none());
        assert_eq!(w, [ConfigWarning::Address(b"bogus")]);
        let c = parse_config(b"t5d\ns0\n", |_| {});
        assert_eq!((c.time, c.size), (5, 0));
        // A one-character last line without a newline is not read (runit).
        let c = parse_config(b"n3\n+", |_| {});
        assert!(!c.has_patterns && c.num == 3);
    }

    #[test]
    fn stamps_have_runits_shapes() {
        let mut v = [0u8; 32];
        let n = stamp(2, 0x6b02_84f8 - 10, 251_790_000, &mut v);
        assert_eq!(&v[..n], b"2026-11-22_06:00:14.25179 ");
        let n = stamp(3, 0x6b02_84f8 - 10, 257_170_000, &mut v);
        assert_eq!(&v[..n], b"2026-11-22T06:00:14.25717 ");
        let n = stamp(1, 0x6b02_84f8 - 10, 0x0ed9_8574, &mut v);
        assert_eq!(n, 26);
        assert!(v.starts_with(b"@400000006b0284f8"));
        assert_eq!(stamp(0, 1, 2, &mut v), 0);
    }
}
