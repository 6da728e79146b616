//! utmpset: marks a terminal line logged out in utmp, and with `-w` appends
//! a logout record to wtmp (SPEC §11). Reads and rewrites the glibc x86-64
//! on-disk records directly under a flock, as runit does (musl's utmpx
//! functions are stubs); the record layout lives in `runit_core::utmp`.

use runit_core::getopt::{Getopt, Opt};
use runit_core::utmp::{logout, matches, wtmp_logout, LINE_LEN, RECORD_LEN};
use runit_sys::msg::{line, line2};
use runit_sys::process::Args;
use runit_sys::{c, lock, Errno, Fd};
use std::ffi::CStr;

const EXIT_USAGE: i32 = 1;
const EXIT_FATAL: i32 = 111;
const VERSION: &str = "$Id: de23e3d8c1862543b59c77604efc86c4e63937ab $";
const UTMP: &CStr = c"/var/run/utmp";
const WTMP: &CStr = c"/var/log/wtmp";

pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"utmpset"[..], CStr::to_bytes);
    let prog = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let usage = || {
        line(&[b"usage: ", argv0, b" [-w] line\n"], None);
        EXIT_USAGE
    };
    let argv: Vec<&[u8]> = (1..args.len())
        .filter_map(|i| args.get(i))
        .map(CStr::to_bytes)
        .collect();
    let mut wtmp = false;
    let mut g = Getopt::new(&argv, b"wV");
    for opt in g.by_ref() {
        match opt {
            Ok(Opt::Flag(b'w')) => wtmp = true,
            Ok(Opt::Flag(b'V')) => {
                line(&[VERSION.as_bytes()], None);
                return usage();
            }
            Ok(_) => return usage(),
            Err(e) => {
                runit_sys::msg::option_error(prog, e);
                return usage();
            }
        }
    }
    let Some(&tty) = g.operands().first() else {
        return usage();
    };
    if tty.len() > LINE_LEN {
        return fatal(
            &[b"unable to logout line ", tty, b" in utmp: name too long"],
            None,
        );
    }
    let secs = now();
    if let Err(code) = logout_utmp(tty, secs) {
        return code;
    }
    if wtmp {
        if let Err(code) = append_wtmp(tty, secs) {
            return code;
        }
    }
    0
}

fn fatal(pieces: &[&[u8]], e: Option<Errno>) -> i32 {
    line2(&[b"utmpset: fatal: "], pieces, e);
    EXIT_FATAL
}

fn now() -> i32 {
    i32::try_from(runit_sys::clock::now_tai64n().unix_secs()).unwrap_or(i32::MAX)
}

fn logout_utmp(tty: &[u8], secs: i32) -> Result<(), i32> {
    let f = Fd::open(UTMP, c::O_RDWR, 0)
        .map_err(|e| fatal(&[b"unable to open ", UTMP.to_bytes()], Some(e)))?;
    lock::lock_exclusive(&f)
        .map_err(|e| fatal(&[b"unable to lock: ", UTMP.to_bytes()], Some(e)))?;
    let mut rec = [0u8; RECORD_LEN];
    let mut off = 0u64;
    loop {
        match f.read_at(&mut rec, off) {
            Ok(n) if n == RECORD_LEN => {}
            _ => break,
        }
        if matches(&rec, tty) {
            logout(&mut rec, secs);
            if f.write_at(&rec, off) == Ok(RECORD_LEN) {
                return Ok(());
            }
            break;
        }
        off += RECORD_LEN as u64;
    }
    line(
        &[
            b"utmpset: warning: unable to logout line ",
            tty,
            b" in utmp: no such entry",
        ],
        None,
    );
    Err(EXIT_FATAL)
}

fn append_wtmp(tty: &[u8], secs: i32) -> Result<(), i32> {
    let f = Fd::open(WTMP, c::O_WRONLY | c::O_APPEND | c::O_CREAT, 0o600)
        .map_err(|e| fatal(&[b"unable to open ", WTMP.to_bytes()], Some(e)))?;
    lock::lock_exclusive(&f).map_err(|e| fatal(&[b"unable to lock ", WTMP.to_bytes()], Some(e)))?;
    let size = f.size().unwrap_or(0);
    let rec = wtmp_logout(tty, secs);
    let err = match f.write(&rec) {
        Ok(n) if n == RECORD_LEN => return Ok(()),
        Ok(_) => Errno(c::ENOSPC),
        Err(e) => e,
    };
    let _ = f.truncate(size);
    line(
        &[
            b"utmpset: warning: unable to logout line ",
            tty,
            b" in wtmp",
        ],
        Some(err),
    );
    Err(EXIT_FATAL)
}
