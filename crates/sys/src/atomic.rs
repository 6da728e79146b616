//! Atomic status updates: write `NAME.new` (0644, truncated) in the same
//! directory, then rename it over `NAME`. Readers never see a partial file.
//! Owns the mechanism; which failures a program reports, and how, is the
//! program's business (runsv ignores write errors on `pid` and `stat` but
//! not on `status`, as runit does).

use crate::errno::Errno;
use crate::fd::Fd;
use crate::fs::{rename, unlink};
use std::ffi::CStr;

/// Which step of an atomic write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomicError {
    Open(Errno),
    Write(Errno),
    PartialWrite,
    Rename(Errno),
}

/// What to do when writing the temporary file fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteErrors {
    /// Go on and rename what was written.
    Ignore,
    /// Stop: on an error remove the temporary file; on a short write keep it.
    Abort,
}

/// Writes `data` to `tmp`, then renames `tmp` to `dest`.
pub fn write_atomic(
    tmp: &CStr,
    dest: &CStr,
    data: &[u8],
    on_error: WriteErrors,
) -> Result<(), AtomicError> {
    let fd = Fd::open(
        tmp,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NDELAY,
        0o644,
    )
    .map_err(AtomicError::Open)?;
    if !data.is_empty() {
        let written = fd.write(data);
        drop(fd);
        if on_error == WriteErrors::Abort {
            match written {
                Err(e) => {
                    let _ = unlink(tmp);
                    return Err(AtomicError::Write(e));
                }
                Ok(n) if n < data.len() => return Err(AtomicError::PartialWrite),
                Ok(_) => {}
            }
        }
    } else {
        drop(fd);
    }
    rename(tmp, dest).map_err(AtomicError::Rename)
}
