//! chpst's rules without I/O (SPEC §9): the personality of an argv[0],
//! user and group specifications, `/etc/passwd` and `/etc/group` lines,
//! environment-directory values, and the strict numbers of its options.

/// What a program called by this name does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    Chpst,
    Setuidgid,
    Envuidgid,
    Envdir,
    Pgrphack,
    Setlock,
    Softlimit,
}

/// The personality and the name used in usage messages: the basename of
/// argv[0] with one leading `d` removed.
pub fn personality(argv0: &[u8]) -> (Personality, &[u8]) {
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let name = base.strip_prefix(b"d").unwrap_or(base);
    let p = match name {
        b"setuidgid" => Personality::Setuidgid,
        b"envuidgid" => Personality::Envuidgid,
        b"envdir" => Personality::Envdir,
        b"pgrphack" => Personality::Pgrphack,
        b"setlock" => Personality::Setlock,
        b"softlimit" => Personality::Softlimit,
        _ => Personality::Chpst,
    };
    (p, name)
}

/// A parsed `-u`/`-U` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account<'a> {
    /// `:uid:gid[:gid...]`, no lookups.
    Numeric { uid: u32, gids: Vec<u32> },
    /// `user[:group...]`: look the names up.
    Names {
        user: &'a [u8],
        groups: Vec<&'a [u8]>,
    },
}

/// runit reads at most this many groups.
pub const MAX_GROUPS: usize = 60;

/// runit's `invalid uid/gids`: a malformed `:uid:gid` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidIds;

/// Parses the extended form.
pub fn parse_account(spec: &[u8]) -> Result<Account<'_>, InvalidIds> {
    let Some(numeric) = spec.strip_prefix(b":") else {
        let mut parts = spec.split(|&b| b == b':');
        let user = parts.next().unwrap_or(&[]);
        let groups: Vec<&[u8]> = parts.take(MAX_GROUPS).collect();
        return Ok(Account::Names { user, groups });
    };
    let mut fields = numeric.split(|&b| b == b':');
    let uid_field = fields.next().unwrap_or(&[]);
    // Empty fields count as 0 (runit's quirk), the uid's too.
    let uid = if uid_field.is_empty() {
        0
    } else {
        digits(uid_field).ok_or(InvalidIds)?
    };
    let mut gids = Vec::new();
    let mut any = false;
    for g in fields.take(MAX_GROUPS) {
        any = true;
        // An empty gid field counts as 0 (runit's quirk).
        gids.push(if g.is_empty() {
            0
        } else {
            digits(g).ok_or(InvalidIds)?
        });
    }
    if !any {
        return Err(InvalidIds);
    }
    Ok(Account::Numeric { uid, gids })
}

/// Digits only, fitting in a u32.
fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A limit option's value: digits only, an empty value being 0 (`None`
/// is a usage error).
pub fn limit_value(s: &[u8]) -> Option<u64> {
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// `-n`'s value: an optional sign and digits (none at all is 0).
pub fn nice_value(s: &[u8]) -> Option<i32> {
    let (neg, rest) = match s.first() {
        Some(b'-') => (true, s.get(1..).unwrap_or(&[])),
        Some(b'+') => (false, s.get(1..).unwrap_or(&[])),
        _ => (false, s),
    };
    let v = i32::try_from(limit_value(rest)?.min(i32::MAX as u64)).ok()?;
    Some(if neg { -v } else { v })
}

/// `(uid, gid)` of `name` in an `/etc/passwd` text.
pub fn passwd_lookup(text: &[u8], name: &[u8]) -> Option<(u32, u32)> {
    text.split(|&b| b == b'\n').find_map(|l| {
        let mut f = l.split(|&b| b == b':');
        if f.next()? != name || name.is_empty() {
            return None;
        }
        let _pw = f.next()?;
        Some((digits(f.next()?)?, digits(f.next()?)?))
    })
}

/// The gid of group `name` in an `/etc/group` text.
pub fn group_lookup(text: &[u8], name: &[u8]) -> Option<u32> {
    text.split(|&b| b == b'\n').find_map(|l| {
        let mut f = l.split(|&b| b == b':');
        if f.next()? != name || name.is_empty() {
            return None;
        }
        let _pw = f.next()?;
        digits(f.next()?)
    })
}

/// The value an envdir file sets: `None` for an empty file (unset),
/// else its first line without trailing blanks, NULs turned to newlines.
pub fn envdir_value(content: &[u8]) -> Option<Vec<u8>> {
    if content.is_empty() {
        return None;
    }
    let first = content.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let end = first
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    Some(
        first
            .iter()
            .take(end)
            .map(|&b| if b == 0 { b'\n' } else { b })
            .collect(),
    )
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
    fn personality_strips_one_leading_d() {
        assert_eq!(
            personality(b"/usr/bin/envdir"),
            (Personality::Envdir, &b"envdir"[..])
        );
        assert_eq!(
            personality(b"denvdir"),
            (Personality::Envdir, &b"envdir"[..])
        );
        assert_eq!(personality(b"dchpst"), (Personality::Chpst, &b"chpst"[..]));
        assert_eq!(personality(b"ddenvdir").0, Personality::Chpst);
        assert_eq!(personality(b"setlock").0, Personality::Setlock);
    }

    #[test]
    fn numeric_accounts_follow_runits_quirks() {
        assert_eq!(
            parse_account(b":77:88:99"),
            Ok(Account::Numeric {
                uid: 77,
                gids: vec![88, 99]
            })
        );
        assert_eq!(
            parse_account(b":1234:"),
            Ok(Account::Numeric {
                uid: 1234,
                gids: vec![0]
            })
        );
        assert_eq!(parse_account(b":1234"), Err(InvalidIds));
        assert_eq!(parse_account(b":12:3x"), Err(InvalidIds));
        assert_eq!(parse_account(b":x:3"), Err(InvalidIds));
        assert_eq!(
            parse_account(b"::5"),
            Ok(Account::Numeric {
                uid: 0,
                gids: vec![5]
            })
        );
    }

    #[test]
    fn named_accounts_split_on_colons() {
        assert_eq!(
            parse_account(b"nobody:adm:daemon"),
            Ok(Account::Names {
                user: b"nobody",
                groups: vec![b"adm", b"daemon"]
            })
        );
        assert_eq!(
            parse_account(b"nobody"),
            Ok(Account::Names {
                user: b"nobody",
                groups: vec![]
            })
        );
    }

    #[test]
    fn strict_numbers() {
        assert_eq!(limit_value(b"5000"), Some(5000));
        assert_eq!(limit_value(b"5x"), None);
        assert_eq!(limit_value(b"="), None);
        assert_eq!(
            limit_value(b""),
            Some(0),
            "runit reads an empty number as 0"
        );
        assert_eq!(nice_value(b"-2"), Some(-2));
        assert_eq!(nice_value(b"+5"), Some(5));
        assert_eq!(nice_value(b"5x"), None);
        assert_eq!(nice_value(b"-"), Some(0));
    }

    #[test]
    fn passwd_and_group_lines() {
        let pw =
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
        assert_eq!(passwd_lookup(pw, b"nobody"), Some((65534, 65534)));
        assert_eq!(passwd_lookup(pw, b"nob"), None);
        let gr = b"root:x:0:\nadm:x:4:syslog\n";
        assert_eq!(group_lookup(gr, b"adm"), Some(4));
        assert_eq!(group_lookup(gr, b"x"), None);
    }

    #[test]
    fn envdir_values_follow_runit() {
        assert_eq!(envdir_value(b""), None);
        assert_eq!(envdir_value(b"\nfoo\n"), Some(b"".to_vec()));
        assert_eq!(
            envdir_value(b"value  \t\nsecond\n"),
            Some(b"value".to_vec())
        );
        assert_eq!(envdir_value(b"a\0b\n"), Some(b"a\nb".to_vec()));
        assert_eq!(envdir_value(b"1"), Some(b"1".to_vec()));
    }
}
