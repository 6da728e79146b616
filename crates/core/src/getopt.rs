//! The classic getopt that sv, svlogd, chpst, setlock, softlimit and
//! utmpset share (SPEC §2.4): no permutation, scanning stops at the first
//! non-option, a lone `-` is an operand, `--` ends options and is consumed,
//! options group (`-vw5`), arguments attach (`-w5`) or follow (`-w 5`).
//! Owns parsing only; each program prints its own usage text.

/// One parsed option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt<'a> {
    Flag(u8),
    Arg(u8, &'a [u8]),
}

/// A parse error; `PROG: illegal option -- X` / `option requires an argument -- X`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptError {
    Illegal(u8),
    MissingArg(u8),
}

impl OptError {
    /// The message runit's getopt prints after `PROG: `.
    pub fn text(&self) -> (&'static str, u8) {
        match *self {
            OptError::Illegal(c) => ("illegal option -- ", c),
            OptError::MissingArg(c) => ("option requires an argument -- ", c),
        }
    }
}

/// Iterates over the options of `args` (which excludes argv[0]).
/// `spec` lists the option letters, each followed by `:` if it takes an argument.
pub struct Getopt<'a, 's> {
    args: &'s [&'a [u8]],
    spec: &'s [u8],
    /// Index of the argument being scanned.
    idx: usize,
    /// Position inside a group of options.
    pos: usize,
    done: bool,
}

impl<'a, 's> Getopt<'a, 's> {
    pub fn new(args: &'s [&'a [u8]], spec: &'s [u8]) -> Self {
        Getopt {
            args,
            spec,
            idx: 0,
            pos: 0,
            done: false,
        }
    }

    /// The operands left after the options (valid once iteration ended).
    pub fn operands(&self) -> &'s [&'a [u8]] {
        self.args.get(self.idx..).unwrap_or(&[])
    }

    fn takes_arg(&self, c: u8) -> Option<bool> {
        let i = self.spec.iter().position(|&s| s == c && c != b':')?;
        Some(self.spec.get(i + 1) == Some(&b':'))
    }
}

impl<'a> Iterator for Getopt<'a, '_> {
    type Item = Result<Opt<'a>, OptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let arg: &'a [u8] = self.args.get(self.idx)?;
        if self.pos == 0 {
            match arg {
                [b'-', b'-'] => {
                    self.idx += 1;
                    self.done = true;
                    return None;
                }
                [b'-', _, ..] => self.pos = 1,
                _ => {
                    self.done = true;
                    return None;
                }
            }
        }
        let c = *arg.get(self.pos)?;
        self.pos += 1;
        let at_end = self.pos >= arg.len();
        match self.takes_arg(c) {
            None => {
                if at_end {
                    self.idx += 1;
                    self.pos = 0;
                }
                Some(Err(OptError::Illegal(c)))
            }
            Some(false) => {
                if at_end {
                    self.idx += 1;
                    self.pos = 0;
                }
                Some(Ok(Opt::Flag(c)))
            }
            Some(true) => {
                let value = if !at_end {
                    arg.get(self.pos..).unwrap_or(&[])
                } else {
                    self.idx += 1;
                    match self.args.get(self.idx) {
                        Some(v) => v,
                        None => {
                            self.pos = 0;
                            self.done = true;
                            return Some(Err(OptError::MissingArg(c)));
                        }
                    }
                };
                self.idx += 1;
                self.pos = 0;
                Some(Ok(Opt::Arg(c, value)))
            }
        }
    }
}

/// runit's unsigned decimal: the leading digits, junk after them ignored,
/// no digits = 0, saturating (SPEC §2.5).
pub fn scan_ulong(s: &[u8]) -> u64 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        })
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

    fn parse<'a>(
        args: &[&'a [u8]],
        spec: &[u8],
    ) -> (Vec<Result<Opt<'a>, OptError>>, Vec<&'a [u8]>) {
        let mut g = Getopt::new(args, spec);
        let opts: Vec<_> = g.by_ref().collect();
        (opts, g.operands().to_vec())
    }

    #[test]
    fn groups_attached_and_separate_arguments() {
        let (o, rest) = parse(&[b"-vw5", b"-w", b"7", b"status", b"x"], b"w:vV");
        assert_eq!(
            o,
            [
                Ok(Opt::Flag(b'v')),
                Ok(Opt::Arg(b'w', b"5")),
                Ok(Opt::Arg(b'w', b"7"))
            ]
        );
        assert_eq!(rest, [&b"status"[..], b"x"]);
    }

    #[test]
    fn scanning_stops_at_the_first_operand() {
        let (o, rest) = parse(&[b"start", b"foo", b"-w", b"3"], b"w:v");
        assert!(o.is_empty());
        assert_eq!(rest.len(), 4);
    }

    #[test]
    fn double_dash_is_consumed_and_lone_dash_is_an_operand() {
        let (o, rest) = parse(&[b"--", b"-v"], b"v");
        assert!(o.is_empty());
        assert_eq!(rest, [&b"-v"[..]]);
        let (o, rest) = parse(&[b"-", b"-v"], b"v");
        assert!(o.is_empty());
        assert_eq!(rest, [&b"-"[..], b"-v"]);
    }

    #[test]
    fn unknown_and_missing_arguments_are_errors() {
        let (o, _) = parse(&[b"-x"], b"w:v");
        assert_eq!(o, [Err(OptError::Illegal(b'x'))]);
        let (o, _) = parse(&[b"-w"], b"w:v");
        assert_eq!(o, [Err(OptError::MissingArg(b'w'))]);
    }

    #[test]
    fn numbers_stop_at_junk() {
        assert_eq!(scan_ulong(b"5x"), 5);
        assert_eq!(scan_ulong(b"abc"), 0);
        assert_eq!(scan_ulong(b""), 0);
        assert_eq!(scan_ulong(b"99999999999999999999999"), u64::MAX);
    }
}
