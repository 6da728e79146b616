//! Paths: directories, FIFOs, symlinks and file types, with runit's
//! semantics (modes go through the umask; EINTR is retried).

use crate::errno::{cvt, cvt_retry, Errno};
use crate::fd::Fd;
use std::ffi::CStr;

/// The kind of file at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Fifo,
    File,
    Symlink,
    Other,
}

/// What `stat(2)` tells us that runit looks at.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: Kind,
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
    /// Modification time, whole seconds.
    pub mtime: i64,
}

fn meta(st: &libc::stat) -> Meta {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFREG => Kind::File,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Other,
    };
    Meta {
        kind,
        mode: st.st_mode,
        dev: st.st_dev,
        ino: st.st_ino,
        mtime: st.st_mtime,
    }
}

/// `stat(2)`, following symlinks.
pub fn stat(path: &CStr) -> Result<Meta, Errno> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated, st is valid writable memory.
    cvt_retry(|| unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(meta(&st))
}

/// `mkdir(2)` with `mode` (through the umask).
pub fn mkdir(path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(|_| ())
}

/// `mkfifo(3)` with `mode` (through the umask).
pub fn mkfifo(path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::mkfifo(path.as_ptr(), mode) }).map(|_| ())
}

/// `readlink(2)` into `buf`; returns the length (may equal `buf.len()` when truncated).
pub fn readlink(path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: path is NUL-terminated; buf is valid for buf.len() bytes.
    let n = cvt(unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// `chdir(2)`.
pub fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::chdir(path.as_ptr()) }).map(|_| ())
}

/// `fchdir(2)`.
pub fn fchdir(dir: &Fd) -> Result<(), Errno> {
    // SAFETY: plain syscall on a descriptor we own.
    cvt(unsafe { libc::fchdir(dir.raw()) }).map(|_| ())
}

/// Opens the current directory (to come back to it with [`fchdir`]).
pub fn open_cwd() -> Result<Fd, Errno> {
    Fd::open(c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Can `path` be opened for reading? (runit's test for `finish`.)
pub fn readable(path: &CStr) -> bool {
    Fd::open(path, libc::O_RDONLY | libc::O_NONBLOCK, 0).is_ok()
}

/// `rename(2)`.
pub fn rename(from: &CStr, to: &CStr) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated.
    cvt(unsafe { libc::rename(from.as_ptr(), to.as_ptr()) }).map(|_| ())
}

/// `unlink(2)`.
pub fn unlink(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::unlink(path.as_ptr()) }).map(|_| ())
}

/// The process umask (read by setting and restoring it).
pub fn umask() -> u32 {
    // SAFETY: umask cannot fail; we restore the value at once.
    unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    }
}

/// `lstat(2)`: like [`stat`], but a symlink is described, not followed.
pub fn lstat(path: &CStr) -> Result<Meta, Errno> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated, st is valid writable memory.
    cvt_retry(|| unsafe { libc::lstat(path.as_ptr(), &mut st) })?;
    Ok(meta(&st))
}

/// Is `path` itself a symbolic link?
pub fn is_symlink(path: &CStr) -> bool {
    lstat(path).is_ok_and(|m| m.kind == Kind::Symlink)
}

/// Why [`list_dir`] or [`each_entry`] failed.
pub enum ListError {
    /// Opening the directory failed.
    Open(Errno),
    /// Reading it failed part-way.
    Read(Errno),
}

/// The entry names of a directory, in directory order (`.` and `..`
/// included).
pub fn list_dir(path: &CStr) -> Result<Vec<Vec<u8>>, ListError> {
    let dir = Fd::open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(ListError::Open)?;
    let mut names = Vec::new();
    entries(&dir, |n| names.push(n.to_vec()))?;
    Ok(names)
}

/// `renameat(2)` within the directory `dir`.
pub fn rename_at(dir: &Fd, from: &CStr, to: &CStr) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated.
    cvt(unsafe { libc::renameat(dir.raw(), from.as_ptr(), dir.raw(), to.as_ptr()) }).map(|_| ())
}

/// `unlinkat(2)` of a file in the directory `dir`.
pub fn unlink_at(dir: &Fd, path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::unlinkat(dir.raw(), path.as_ptr(), 0) }).map(|_| ())
}

/// `fstatat(2)` in the directory `dir`, following symlinks.
pub fn stat_at(dir: &Fd, path: &CStr) -> Result<Meta, Errno> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated, st is valid writable memory.
    cvt_retry(|| unsafe { libc::fstatat(dir.raw(), path.as_ptr(), &mut st, 0) })?;
    Ok(meta(&st))
}

/// `fchmodat(2)` in the directory `dir`.
pub fn chmod_at(dir: &Fd, path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::fchmodat(dir.raw(), path.as_ptr(), mode, 0) }).map(|_| ())
}

/// Calls `f` with each entry name of the directory `dir` (`.` and `..`
/// included, in directory order). Reads with getdents64 into a stack
/// buffer: nothing is allocated, not even by libc.
pub fn each_entry(dir: &Fd, f: impl FnMut(&[u8])) -> Result<(), ListError> {
    // A descriptor of its own: reading moves the directory's offset.
    let own =
        Fd::open_at(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(ListError::Open)?;
    entries(&own, f)
}

/// The getdents64 loop behind [`list_dir`] and [`each_entry`], from the
/// descriptor's current offset.
fn entries(own: &Fd, mut f: impl FnMut(&[u8])) -> Result<(), ListError> {
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: buf is writable for its length; the kernel fills it
        // with whole linux_dirent64 records.
        let n =
            unsafe { libc::syscall(libc::SYS_getdents64, own.raw(), buf.as_mut_ptr(), buf.len()) };
        let Ok(n) = usize::try_from(n) else {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(ListError::Read(e));
        };
        if n == 0 {
            return Ok(());
        }
        // Records: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
        let mut at = 0;
        while let Some(rec) = buf.get(at..n) {
            let len = match rec.get(16..18) {
                Some(&[lo, hi]) => usize::from(u16::from_ne_bytes([lo, hi])),
                _ => break,
            };
            if len == 0 {
                break;
            }
            let name = rec.get(19..len.min(rec.len())).unwrap_or(&[]);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            f(name.get(..end).unwrap_or(&[]));
            at += len;
        }
    }
}

/// `symlink(2)`: creates `link` pointing at `target` (stored as given).
pub fn symlink(target: &CStr, link: &CStr) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated.
    cvt(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(|_| ())
}

/// Is `path` itself a regular file (links not followed)?
pub fn is_regular(path: &CStr) -> bool {
    lstat(path).is_ok_and(|m| m.kind == Kind::File)
}

/// Atomically swaps two paths (`renameat2(RENAME_EXCHANGE)`).
pub fn exchange(a: &CStr, b: &CStr) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated; AT_FDCWD is always valid.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    } as i32)
    .map(|_| ())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::{each_entry, ListError};
    use crate::errno::Errno;
    use crate::fd::Fd;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    /// A fresh directory under the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "runit-sys-fs.{}.{tag}.{:?}",
                std::process::id(),
                std::time::SystemTime::now()
            ));
            std::fs::create_dir(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cpath(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).unwrap()
    }

    fn open_dir(p: &Path) -> Fd {
        Fd::open(&cpath(p), libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap()
    }

    /// Every name each_entry gives, sorted (duplicates kept).
    fn entries(dir: &Fd) -> Vec<Vec<u8>> {
        let mut names = Vec::new();
        if each_entry(dir, |n| names.push(n.to_vec())).is_err() {
            panic!("each_entry failed");
        }
        names.sort();
        names
    }

    fn with_dots(mut names: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        names.push(b".".to_vec());
        names.push(b"..".to_vec());
        names.sort();
        names
    }

    #[test]
    fn each_entry_lists_every_name_once_across_many_getdents_buffers() {
        let d = TempDir::new("many");
        // 27-character names (like svlogd's old files): 48-byte records,
        // so 300 of them need several 2 KB reads.
        let names: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("@{i:024x}.s").into_bytes())
            .collect();
        assert!(names.iter().all(|n| n.len() == 27));
        for n in &names {
            std::fs::write(d.0.join(std::ffi::OsStr::from_bytes(n)), b"").unwrap();
        }
        assert_eq!(entries(&open_dir(&d.0)), with_dots(names));
    }

    #[test]
    fn each_entry_lists_only_the_dots_in_an_empty_directory() {
        let d = TempDir::new("empty");
        assert_eq!(entries(&open_dir(&d.0)), with_dots(vec![]));
    }

    #[test]
    fn each_entry_gives_names_of_255_bytes_and_of_one_byte_whole() {
        let d = TempDir::new("lengths");
        let names: Vec<Vec<u8>> = vec![
            vec![b'x'; 255],
            b"y".to_vec(),
            vec![b'z'; 254],
            b"\xff\x01 name".to_vec(),
        ];
        for n in &names {
            std::fs::write(d.0.join(std::ffi::OsStr::from_bytes(n)), b"").unwrap();
        }
        assert_eq!(entries(&open_dir(&d.0)), with_dots(names));
    }

    #[test]
    fn each_entry_lists_the_same_descriptor_again_from_the_start() {
        let d = TempDir::new("twice");
        for i in 0..100 {
            std::fs::write(d.0.join(format!("file{i:03}")), b"").unwrap();
        }
        let dir = open_dir(&d.0);
        let first = entries(&dir);
        assert_eq!(first.len(), 102);
        assert_eq!(
            entries(&dir),
            first,
            "the descriptor's offset is not used up"
        );
    }

    #[test]
    fn each_entry_of_a_plain_file_fails_at_the_open() {
        let d = TempDir::new("plain");
        let f = d.0.join("plain");
        std::fs::write(&f, b"not a directory").unwrap();
        let fd = Fd::open(&cpath(&f), libc::O_RDONLY, 0).unwrap();
        let mut called = 0;
        match each_entry(&fd, |_| called += 1) {
            Err(ListError::Open(Errno(e))) => assert_eq!(e, libc::ENOTDIR),
            Err(ListError::Read(e)) => panic!("failed at the read, not the open: {e:?}"),
            Ok(()) => panic!("listed a plain file"),
        }
        assert_eq!(called, 0);
    }
}
