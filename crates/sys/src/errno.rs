//! OS errors as runit words them. runit never uses `strerror()`: it has its
//! own table (SPEC §2.2), and every message users see must use it.

use core::fmt;

/// An `errno` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// runit's text for this error (`file does not exist`, ...).
    pub fn text(self) -> &'static str {
        use libc::*;
        match self.0 {
            0 => "no error",
            EINTR => "interrupted system call",
            ENOMEM => "out of memory",
            ENOENT => "file does not exist",
            ETXTBSY => "text busy",
            EIO => "input/output error",
            EEXIST => "file already exists",
            ETIMEDOUT => "timed out",
            EINPROGRESS => "operation in progress",
            EAGAIN => "temporary failure",
            EPIPE => "broken pipe",
            EPERM => "permission denied",
            EACCES => "access denied",
            ENXIO => "device not configured",
            EPROTO => "protocol error",
            EISDIR => "is a directory",
            ECONNREFUSED => "connection refused",
            ENOTDIR => "not a directory",
            ESRCH => "no such process",
            E2BIG => "argument list too long",
            ENOEXEC => "exec format error",
            EBADF => "file descriptor not open",
            ECHILD => "no child processes",
            EDEADLK => "operation would cause deadlock",
            EFAULT => "bad address",
            ENOTBLK => "not a block device",
            EBUSY => "device busy",
            EXDEV => "cross-device link",
            ENODEV => "device does not support operation",
            EINVAL => "invalid argument",
            ENFILE => "system cannot open more files",
            EMFILE => "process cannot open more files",
            ENOTTY => "not a tty",
            EFBIG => "file too big",
            ENOSPC => "out of disk space",
            ESPIPE => "unseekable descriptor",
            EROFS => "read-only file system",
            EMLINK => "too many links",
            EDOM => "input out of range",
            ERANGE => "output out of range",
            EALREADY => "operation already in progress",
            ENOTSOCK => "not a socket",
            EDESTADDRREQ => "destination address required",
            EMSGSIZE => "message too long",
            EPROTOTYPE => "incorrect protocol type",
            ENOPROTOOPT => "protocol not available",
            EPROTONOSUPPORT => "protocol not supported",
            ESOCKTNOSUPPORT => "socket type not supported",
            EOPNOTSUPP => "operation not supported",
            EPFNOSUPPORT => "protocol family not supported",
            EAFNOSUPPORT => "address family not supported",
            EADDRINUSE => "address already used",
            EADDRNOTAVAIL => "address not available",
            ENETDOWN => "network down",
            ENETUNREACH => "network unreachable",
            ENETRESET => "network reset",
            ECONNABORTED => "connection aborted",
            ECONNRESET => "connection reset",
            ENOBUFS => "out of buffer space",
            EISCONN => "already connected",
            ENOTCONN => "not connected",
            ESHUTDOWN => "socket shut down",
            ETOOMANYREFS => "too many references",
            ELOOP => "symbolic link loop",
            ENAMETOOLONG => "file name too long",
            EHOSTDOWN => "host down",
            EHOSTUNREACH => "host unreachable",
            ENOTEMPTY => "directory not empty",
            EUSERS => "too many users",
            EDQUOT => "disk quota exceeded",
            ESTALE => "stale NFS file handle",
            EREMOTE => "too many levels of remote in path",
            ENOLCK => "no locks available",
            ENOSYS => "system call not available",
            ENOSTR => "not a stream device",
            ETIME => "timer expired",
            ENOSR => "out of stream resources",
            ENOMSG => "no message of desired type",
            EBADMSG => "bad message type",
            EIDRM => "identifier removed",
            ENONET => "machine not on network",
            ENOLINK => "link severed",
            EADV => "advertise error",
            ESRMNT => "srmount error",
            ECOMM => "communication error",
            EMULTIHOP => "multihop attempted",
            EREMCHG => "remote address changed",
            _ => "unknown error",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// `Ok(v)` unless `v == -1`, in which case the current errno.
pub fn cvt<T: PartialEq + From<i8>>(v: T) -> Result<T, Errno> {
    if v == T::from(-1) {
        Err(Errno::last())
    } else {
        Ok(v)
    }
}

/// Like [`cvt`], retrying while the call fails with EINTR.
pub fn cvt_retry<T: PartialEq + From<i8>>(mut f: impl FnMut() -> T) -> Result<T, Errno> {
    loop {
        match cvt(f()) {
            Err(Errno(libc::EINTR)) => continue,
            other => return other,
        }
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
    fn common_texts_are_runits() {
        assert_eq!(Errno(libc::ENOENT).text(), "file does not exist");
        assert_eq!(Errno(libc::EAGAIN).text(), "temporary failure");
        assert_eq!(Errno(libc::ENXIO).text(), "device not configured");
        assert_eq!(Errno(libc::EACCES).text(), "access denied");
        assert_eq!(Errno(9999).text(), "unknown error");
    }
}
