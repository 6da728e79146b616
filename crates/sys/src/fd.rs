//! Owned file descriptors. Everything this crate opens is close-on-exec;
//! children get only what a spawn plan moves onto fds 0, 1 and 2.

use crate::errno::{cvt, cvt_retry, Errno};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// A descriptor closed on drop.
#[derive(Debug)]
pub struct Fd(RawFd);

impl Fd {
    /// Takes ownership of a raw descriptor.
    pub fn from_raw(fd: RawFd) -> Fd {
        Fd(fd)
    }

    pub fn raw(&self) -> RawFd {
        self.0
    }

    /// Opens `path` with `flags | O_CLOEXEC`, creating with `mode`.
    pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<Fd, Errno> {
        // SAFETY: path is a valid NUL-terminated string for the call.
        let fd = cvt_retry(|| unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
        Ok(Fd(fd))
    }

    /// Opens `path` relative to the directory `dir` (`openat(2)`), with
    /// `flags | O_CLOEXEC`, creating with `mode`.
    pub fn open_at(dir: &Fd, path: &CStr, flags: i32, mode: u32) -> Result<Fd, Errno> {
        // SAFETY: path is a valid NUL-terminated string for the call.
        let fd = cvt_retry(|| unsafe {
            libc::openat(dir.0, path.as_ptr(), flags | libc::O_CLOEXEC, mode)
        })?;
        Ok(Fd(fd))
    }

    /// One `read(2)`, retried on EINTR.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: buf is valid writable memory of buf.len() bytes.
        let n = cvt_retry(|| unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// One `write(2)`, retried on EINTR.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        write_raw(self.0, buf)
    }

    /// Closes now, reporting the error (drop ignores it).
    pub fn close(self) -> Result<(), Errno> {
        let fd = self.0;
        core::mem::forget(self);
        // SAFETY: we own fd and it is not used after this.
        cvt(unsafe { libc::close(fd) }).map(|_| ())
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; errors on close are not actionable here.
        unsafe { libc::close(self.0) };
    }
}

/// One `write(2)` on a raw descriptor, retried on EINTR.
pub fn write_raw(fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: buf is valid readable memory of buf.len() bytes.
    let n = cvt_retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A close-on-exec pipe: (read end, write end). `nonblock` applies to both.
pub fn pipe(nonblock: bool) -> Result<(Fd, Fd), Errno> {
    let mut fds = [0 as RawFd; 2];
    let flags = libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) })?;
    let [r, w] = fds;
    Ok((Fd(r), Fd(w)))
}

/// `dup2(fd, target)`: the copy at `target` is not close-on-exec.
pub fn dup_onto(fd: &Fd, target: RawFd) -> Result<(), Errno> {
    // SAFETY: plain syscall on descriptors.
    cvt(unsafe { libc::dup2(fd.raw(), target) }).map(|_| ())
}

/// Lets the descriptor survive exec (chpst's lock is held by the program).
pub fn keep_across_exec(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: F_SETFD on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd.raw(), libc::F_SETFD, 0) }).map(|_| ())
}

/// A borrowed byte slice laid out as a `struct iovec`, for [`writev`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Piece<'a> {
    base: *const u8,
    len: usize,
    life: core::marker::PhantomData<&'a [u8]>,
}

impl<'a> Piece<'a> {
    /// The empty piece (fills unused slots).
    pub const EMPTY: Piece<'static> = Piece {
        base: b"".as_ptr(),
        len: 0,
        life: core::marker::PhantomData,
    };

    pub fn new(bytes: &'a [u8]) -> Piece<'a> {
        Piece {
            base: bytes.as_ptr(),
            len: bytes.len(),
            life: core::marker::PhantomData,
        }
    }

    /// The bytes again, with their original lifetime.
    pub fn bytes(&self) -> &'a [u8] {
        // SAFETY: base and len came from a &'a [u8] in new().
        unsafe { core::slice::from_raw_parts(self.base, self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One `writev(2)` of `pieces` (at most IOV_MAX), retried on EINTR.
pub fn writev(fd: RawFd, pieces: &[Piece<'_>]) -> Result<usize, Errno> {
    let n = libc::c_int::try_from(pieces.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: Piece is laid out as struct iovec; the n pieces are readable
    // for the call.
    let w = cvt_retry(|| unsafe { libc::writev(fd, pieces.as_ptr().cast(), n) })?;
    Ok(usize::try_from(w).unwrap_or(0))
}

/// Reads a whole file into a [`Table`](crate::mem::Table) (no allocator).
pub fn read_file_table(path: &CStr) -> Result<crate::mem::Table<u8>, Errno> {
    let fd = Fd::open(path, libc::O_RDONLY, 0)?;
    let first = usize::try_from(fd.size()?).unwrap_or(0).saturating_add(1);
    let mut buf = crate::mem::Table::filled(first.max(64), 0u8)?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            let more = buf.len().saturating_mul(2);
            buf.resize(more, 0)?;
        }
        let n = fd.read(buf.get_mut(len..).unwrap_or(&mut []))?;
        if n == 0 {
            buf.resize(len, 0)?;
            return Ok(buf);
        }
        len += n;
    }
}

/// Reads a whole file (following symlinks).
pub fn read_file(path: &CStr) -> Result<Vec<u8>, Errno> {
    let fd = Fd::open(path, libc::O_RDONLY, 0)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = fd.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
}

impl Fd {
    /// `pread(2)` at `off`, retried on EINTR.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let off = libc::off_t::try_from(off).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: buf is valid writable memory of buf.len() bytes.
        let n =
            cvt_retry(|| unsafe { libc::pread(self.0, buf.as_mut_ptr().cast(), buf.len(), off) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// `pwrite(2)` at `off`, retried on EINTR.
    pub fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let off = libc::off_t::try_from(off).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: buf is valid readable memory of buf.len() bytes.
        let n = cvt_retry(|| unsafe { libc::pwrite(self.0, buf.as_ptr().cast(), buf.len(), off) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The file's size (`fstat`).
    pub fn size(&self) -> Result<u64, Errno> {
        // SAFETY: an all-zero stat is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: st is valid writable memory.
        cvt(unsafe { libc::fstat(self.0, &mut st) })?;
        Ok(u64::try_from(st.st_size).unwrap_or(0))
    }

    /// `ftruncate(2)`.
    pub fn truncate(&self, len: u64) -> Result<(), Errno> {
        let len = libc::off_t::try_from(len).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: plain syscall on a descriptor we own.
        cvt(unsafe { libc::ftruncate(self.0, len) }).map(|_| ())
    }
}

impl Fd {
    /// `fchmod(2)`.
    pub fn chmod(&self, mode: u32) -> Result<(), Errno> {
        // SAFETY: plain syscall on a descriptor we own.
        cvt(unsafe { libc::fchmod(self.0, mode) }).map(|_| ())
    }

    /// `fsync(2)`.
    pub fn sync(&self) -> Result<(), Errno> {
        // SAFETY: plain syscall on a descriptor we own.
        cvt_retry(|| unsafe { libc::fsync(self.0) }).map(|_| ())
    }
}

/// Puts a descriptor (svlogd's stdin) into non-blocking mode.
pub fn set_nonblock(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fcntl on a descriptor number; flags read then written back.
    unsafe {
        let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// `read(2)` on a raw descriptor (stdin), retried on EINTR.
pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: buf is valid writable memory of buf.len() bytes.
    let n = cvt_retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Asks for a larger pipe buffer on `fd` if it is a pipe (best effort):
/// fewer wake-ups of the writer and the reader per megabyte.
pub fn grow_pipe(fd: RawFd, bytes: i32) {
    // SAFETY: fcntl on a descriptor number; failure (not a pipe, limit) is ignored.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, bytes) };
}
