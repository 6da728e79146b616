//! runsvchdir: switches the `current` runlevel symlink (SPEC §10), in
//! `$RUNSVDIR` (2.3.0) or `/etc/runit/runsvdir`: `current.new -> DIR`,
//! `current` becomes `previous`, `current.new` becomes `current`.

use runit_sys::fs::{self, Kind};
use runit_sys::msg::{line, line2};
use runit_sys::process::Args;
use runit_sys::{c, Errno};
use std::ffi::{CStr, CString};

const EXIT_USAGE: i32 = 1;
const EXIT_FATAL: i32 = 111;
const WORKDIR: &str = "/etc/runit/runsvdir";

pub fn main(args: Args) -> i32 {
    let prog = args.get(0).map_or(&b"runsvchdir"[..], CStr::to_bytes);
    let Some(dir_c) = args.get(1) else {
        line(&[b"usage: ", prog, b" dir\n"], None);
        return EXIT_USAGE;
    };
    let dir = dir_c.to_bytes();
    let fatal = |pieces: &[&[u8]], e: Option<Errno>| {
        line2(&[prog, b": fatal: "], pieces, e);
        EXIT_FATAL
    };
    if dir.first() == Some(&b'.') {
        return fatal(&[dir, b": must not start with a dot."], None);
    }
    let workdir = std::env::var_os("RUNSVDIR").map_or_else(
        || WORKDIR.as_bytes().to_vec(),
        |v| {
            use std::os::unix::ffi::OsStringExt;
            v.into_vec()
        },
    );
    let Ok(cwork) = CString::new(workdir.clone()) else {
        return fatal(&[b"unable to chdir: ", &workdir], Some(Errno(c::ENOENT)));
    };
    if let Err(e) = fs::chdir(&cwork) {
        return fatal(&[b"unable to chdir: ", &workdir], Some(e));
    }
    let target = match fs::stat(dir_c) {
        Ok(m) => m,
        Err(Errno(c::ENOENT)) => return fatal(&[dir, b": file does not exist"], None),
        Err(e) => return fatal(&[b"unable to stat: ", dir], Some(e)),
    };
    if target.kind != Kind::Dir {
        // runit's message has no separator here.
        return fatal(&[dir, b"not a directory."], None);
    }
    let current = match fs::stat(c"current") {
        Ok(m) => m,
        Err(e) => return fatal(&[b"unable to stat: current"], Some(e)),
    };
    let out = |pieces: &[&[u8]]| {
        let text: Vec<u8> = pieces.concat();
        let _ = runit_sys::fd::write_raw(1, &text);
    };
    if (current.dev, current.ino) == (target.dev, target.ino) {
        out(&[b"runsvchdir: ", dir, b": current.\n"]);
        return 0;
    }
    match fs::unlink(c"current.new") {
        Ok(()) | Err(Errno(c::ENOENT)) => {}
        Err(e) => return fatal(&[b"unable to unlink: current.new"], Some(e)),
    }
    if let Err(e) = fs::symlink(dir_c, c"current.new") {
        return fatal(&[b"unable to create: current.new -> ", dir], Some(e));
    }
    match fs::unlink(c"previous") {
        Ok(()) | Err(Errno(c::ENOENT)) => {}
        Err(e) => return fatal(&[b"unable to unlink: previous"], Some(e)),
    }
    if let Err(e) = fs::rename(c"current", c"previous") {
        return fatal(&[b"unable to copy: current to previous"], Some(e));
    }
    if let Err(e) = fs::rename(c"current.new", c"current") {
        fatal(&[b"unable to move: current.new to current"], Some(e));
        if let Err(e) = fs::rename(c"previous", c"current") {
            fatal(&[b"unable to move previous back to current"], Some(e));
        }
        return EXIT_FATAL;
    }
    out(&[b"runsvchdir: ", dir, b": now current.\n"]);
    0
}
