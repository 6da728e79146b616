//! Atomic status updates: write `NAME.new` (0644, truncated) in the same
//! directory, then rename it over `NAME`. Readers never see a partial file.

use crate::errno::Errno;
use crate::fd::Fd;
use crate::fs::{rename, unlink};
use std::ffi::CStr;

/// Which step of an atomic write failed (programs word each differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomicError {
    Open(Errno),
    Write(Errno),
    PartialWrite,
    Rename(Errno),
}

/// Writes `data` to `tmp`, then renames `tmp` to `dest`. On a write error
/// the temporary file is removed.
pub fn write_atomic(tmp: &CStr, dest: &CStr, data: &[u8]) -> Result<(), AtomicError> {
    let fd = Fd::open(tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NDELAY, 0o644)
        .map_err(AtomicError::Open)?;
    if !data.is_empty() {
        match fd.write(data) {
            Ok(n) if n == data.len() => {}
            Ok(_) => {
                drop(fd);
                let _ = unlink(tmp);
                return Err(AtomicError::PartialWrite);
            }
            Err(e) => {
                drop(fd);
                let _ = unlink(tmp);
                return Err(AtomicError::Write(e));
            }
        }
    }
    drop(fd);
    rename(tmp, dest).map_err(AtomicError::Rename)
}
