//! runit-init: what the kernel starts as init (SPEC §4). As PID 1 it
//! becomes `/sbin/runit`; otherwise `0` asks runit to halt and `6` to
//! reboot, through the stopit and reboot files and a SIGCONT to PID 1.

use super::runit::{REBOOT, STOPIT};
use runit_sys::creds;
use runit_sys::msg::line;
use runit_sys::process::{self, Args};
use runit_sys::{c, Errno, Fd};
use std::ffi::{c_char, CStr, CString};

const VERSION: &str = "$Id: f075d98bf7dd17c893021f9572cbb970cdad8dcf $";

pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"init"[..], CStr::to_bytes);
    if creds::getpid() == 1 {
        let argv: [*const c_char; 2] = [c"runit".as_ptr(), core::ptr::null()];
        let envp: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                use std::os::unix::ffi::OsStrExt;
                let mut e = k.as_bytes().to_vec();
                e.push(b'=');
                e.extend_from_slice(v.as_bytes());
                CString::new(e).ok()
            })
            .collect();
        let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|e| e.as_ptr()).collect();
        envp_ptrs.push(core::ptr::null());
        let e = process::exec(&[c"/sbin/runit".into()], &argv, &envp_ptrs);
        line(&[b"init: fatal: unable to start runit"], Some(e));
        return 111;
    }
    let usage = || {
        line(&[b"usage: ", argv0, b" 0|6\n"], None);
        0
    };
    let arg = args.get(1).map(CStr::to_bytes).unwrap_or(b"");
    let stopit = CString::new(STOPIT).unwrap_or_default();
    let reboot = CString::new(REBOOT).unwrap_or_default();
    let result = match arg.first() {
        Some(b'0') => request(&stopit, &reboot, false),
        Some(b'6') => request(&stopit, &reboot, true),
        Some(b'-') if arg.get(1) == Some(&b'V') => {
            line(&[VERSION.as_bytes(), b"\n"], None);
            return usage();
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => 0,
        Err((what, path, e)) => {
            line(
                &[
                    b"init: fatal: unable to ",
                    what.as_bytes(),
                    b" ",
                    path.to_bytes(),
                ],
                Some(e),
            );
            111
        }
    }
}

type Failure<'a> = (&'static str, &'a CStr, Errno);

/// Makes the stopit file (and for a reboot the reboot file) executable,
/// or takes the reboot file's x bit away, then wakes runit with SIGCONT.
fn request<'a>(stopit: &'a CStr, reboot: &'a CStr, restart: bool) -> Result<(), Failure<'a>> {
    touch(stopit)?;
    creds::chmod(stopit, 0o100).map_err(|e| ("chmod", stopit, e))?;
    if restart {
        touch(reboot)?;
        creds::chmod(reboot, 0o100).map_err(|e| ("chmod", reboot, e))?;
    } else {
        match creds::chmod(reboot, 0) {
            Ok(()) | Err(Errno(c::ENOENT)) => {}
            Err(e) => return Err(("chmod", reboot, e)),
        }
    }
    let _ = process::kill(1, c::SIGCONT);
    Ok(())
}

fn touch(path: &CStr) -> Result<(), Failure<'_>> {
    Fd::open(path, c::O_WRONLY | c::O_CREAT | c::O_TRUNC, 0o644)
        .map(drop)
        .map_err(|e| ("create", path, e))
}
