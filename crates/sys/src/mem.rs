//! Memory without Rust's allocator: byte search for hot loops (svlogd's
//! line splitting) and [`Table`], a fixed-length array in its own
//! anonymous mapping. A program that allocates only through [`Table`]
//! links none of std's allocation-failure and panic machinery (svlogd, like
//! runsv, stays a small static binary).

use crate::errno::Errno;
use core::ptr::NonNull;

/// `n` values of `T` in an anonymous private mapping (no mapping for an
/// empty table). Dereferences to a slice; unmapped on drop.
pub struct Table<T> {
    ptr: NonNull<T>,
    len: usize,
    /// Bytes mapped (0 when nothing is).
    mapped: usize,
}

fn map_bytes(bytes: usize) -> Result<*mut u8, Errno> {
    // SAFETY: a fresh anonymous private mapping; no existing memory involved.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(p.cast())
    }
}

impl<T> Table<T> {
    /// A table of `n` values made by `f(index)`.
    pub fn from_fn(n: usize, mut f: impl FnMut(usize) -> T) -> Result<Table<T>, Errno> {
        // A mapping is page-aligned, no more.
        const { assert!(core::mem::align_of::<T>() <= 4096) };
        let bytes = n
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(Errno(libc::ENOMEM))?;
        // Nothing to map for zero bytes (zero-sized values still get made).
        let base = if bytes == 0 {
            NonNull::<T>::dangling().as_ptr()
        } else {
            map_bytes(bytes)?.cast::<T>()
        };
        for i in 0..n {
            // SAFETY: i < n, inside the fresh mapping, which is page-aligned
            // (so aligned for T), or T is zero-sized and the dangling
            // pointer is valid for it; each slot is written exactly once.
            unsafe { base.add(i).write(f(i)) };
        }
        Ok(Table {
            // SAFETY: mmap never returns NULL on success; dangling is non-null.
            ptr: unsafe { NonNull::new_unchecked(base) },
            len: n,
            mapped: bytes,
        })
    }
}

impl<T: Copy> Table<T> {
    /// A table of `n` copies of `v`.
    pub fn filled(n: usize, v: T) -> Result<Table<T>, Errno> {
        Table::from_fn(n, |_| v)
    }

    /// Makes the table `n` long (new slots hold `v`), keeping the contents.
    pub fn resize(&mut self, n: usize, v: T) -> Result<(), Errno> {
        if n <= self.len {
            self.len = n;
            return Ok(());
        }
        let mut bigger = Table::filled(n, v)?;
        for (to, from) in bigger.iter_mut().zip(self.iter()) {
            *to = *from;
        }
        *self = bigger;
        Ok(())
    }
}

impl<T> core::ops::Deref for Table<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: ptr holds len initialised values (or is dangling with a
        // zero-byte extent), owned by self.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> core::ops::DerefMut for Table<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for deref, and &mut self makes the access unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for Table<T> {
    fn drop(&mut self) {
        // SAFETY: the len values are initialised and dropped once; the
        // mapping is ours and unmapped once. (A shortened Copy table holds
        // no values needing drop past len.)
        unsafe {
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            if self.mapped > 0 {
                libc::munmap(self.ptr.as_ptr().cast(), self.mapped);
            }
        }
    }
}

/// Index of the first `byte` in `hay`.
#[inline]
pub fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(byte));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word) ^ pattern;
        let found = v.wrapping_sub(LO) & !v & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| base + i)
}

/// Copies `n` bytes of `buf` from `from` down to `to` (`to <= from`; the
/// ranges may overlap). False, copying nothing, if a range is out of
/// bounds or `to > from`. For svlogd's in-place output: 16-byte moves, no
/// call per line, and no panic path (`copy_within` has one).
#[inline]
pub fn move_down(buf: &mut [u8], from: usize, to: usize, n: usize) -> bool {
    let fits = from.checked_add(n).is_some_and(|end| end <= buf.len());
    if to > from || !fits {
        return false;
    }
    let p = buf.as_mut_ptr();
    // SAFETY: [from, from+n) and [to, to+n) lie in buf (to <= from). Every
    // block is read before any later block is written, and a write at
    // `to + k` only reaches bytes below `from + k + 16`, so it never
    // clobbers source bytes not yet read; the tail block is read first.
    unsafe { copy_down_raw(p.add(from), p.add(to), n) };
    true
}

/// Copies `n` bytes of `buf` from `from` to `to`, in either direction (the
/// ranges may overlap). False, copying nothing, if a range is out of bounds.
pub fn move_bytes(buf: &mut [u8], from: usize, to: usize, n: usize) -> bool {
    if to <= from {
        return move_down(buf, from, to, n);
    }
    let fits = to.checked_add(n).is_some_and(|end| end <= buf.len());
    if !fits {
        return false;
    }
    let p = buf.as_mut_ptr();
    // SAFETY: from < to, so both ranges lie in buf; ptr::copy is memmove.
    unsafe { core::ptr::copy(p.add(from), p.add(to), n) };
    true
}

/// Copies `bytes` into `buf` at `at` (false, copying nothing, if they do
/// not fit). Small copies without a call to `memcpy`.
#[inline]
pub fn put_at(buf: &mut [u8], at: usize, bytes: &[u8]) -> bool {
    let fits = at
        .checked_add(bytes.len())
        .is_some_and(|end| end <= buf.len());
    if !fits {
        return false;
    }
    // SAFETY: the destination range lies in buf; `bytes` is a shared
    // borrow, so it cannot overlap the exclusively borrowed `buf`.
    unsafe { copy_down_raw(bytes.as_ptr(), buf.as_mut_ptr().add(at), bytes.len()) };
    true
}

/// Forward copy of `n` bytes from `src` to `dst`, for `dst <= src` or
/// disjoint ranges, in 16-byte blocks (8/4/1 below 16 bytes).
///
/// # Safety
/// Both ranges valid for `n` bytes; if they overlap, `dst <= src`.
#[inline(always)]
unsafe fn copy_down_raw(src: *const u8, dst: *mut u8, n: usize) {
    use core::ptr::{read_unaligned as rd, write_unaligned as wr};
    if n >= 16 {
        let tail = rd(src.add(n - 16).cast::<u128>());
        if n <= 32 {
            // No loop: one LLVM would turn into a call to memcpy for
            // disjoint ranges (svlogd's 26-byte stamps).
            let first = rd(src.cast::<u128>());
            wr(dst.cast::<u128>(), first);
            wr(dst.add(n - 16).cast::<u128>(), tail);
            return;
        }
        let mut k = 0;
        while k + 16 < n {
            wr(dst.add(k).cast::<u128>(), rd(src.add(k).cast::<u128>()));
            k += 16;
        }
        wr(dst.add(n - 16).cast::<u128>(), tail);
        return;
    }
    if n >= 8 {
        let tail = rd(src.add(n - 8).cast::<u64>());
        wr(dst.cast::<u64>(), rd(src.cast::<u64>()));
        wr(dst.add(n - 8).cast::<u64>(), tail);
        return;
    }
    let mut k = 0;
    while k < n {
        *dst.add(k) = *src.add(k);
        k += 1;
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
    use super::{move_bytes, move_down, put_at, Table};

    #[test]
    fn move_down_copies_overlapping_ranges_of_every_length_and_distance() {
        for n in 0..70 {
            for dist in 0..40 {
                for to in 0..3 {
                    let from = to + dist;
                    let mut buf: Vec<u8> = (0..200u8).collect();
                    let want: Vec<u8> = buf[from..from + n].to_vec();
                    let before = buf.clone();
                    assert!(move_down(&mut buf, from, to, n));
                    assert_eq!(&buf[to..to + n], &want[..], "n {n} dist {dist}");
                    assert_eq!(&buf[..to], &before[..to], "nothing below the target");
                    let end = (to + n).max(from + n);
                    assert_eq!(&buf[end..], &before[end..], "nothing above the ranges");
                }
            }
        }
    }

    #[test]
    fn move_down_and_put_at_refuse_what_does_not_fit() {
        let mut buf = [1u8; 32];
        assert!(!move_down(&mut buf, 20, 0, 13), "source past the end");
        assert!(!move_down(&mut buf, 0, 4, 4), "upwards");
        assert!(!move_down(&mut buf, usize::MAX, 0, 2), "overflow");
        assert!(!put_at(&mut buf, 30, b"abc"));
        assert!(!put_at(&mut buf, usize::MAX, b"a"));
        assert_eq!(buf, [1u8; 32], "nothing copied");
        assert!(put_at(&mut buf, 29, b"abc"));
        assert_eq!(&buf[28..], b"\x01abc");
    }

    #[test]
    fn move_bytes_moves_either_way_and_refuses_what_does_not_fit() {
        for (from, to, n) in [
            (10, 3, 20),
            (3, 10, 20),
            (0, 50, 50),
            (50, 0, 50),
            (7, 7, 9),
        ] {
            let mut buf: Vec<u8> = (0..100u8).collect();
            let want: Vec<u8> = buf[from..from + n].to_vec();
            assert!(move_bytes(&mut buf, from, to, n));
            assert_eq!(&buf[to..to + n], &want[..], "{from} -> {to}, {n} bytes");
        }
        let mut buf = [1u8; 16];
        assert!(!move_bytes(&mut buf, 0, 8, 9), "up, past the end");
        assert!(!move_bytes(&mut buf, 8, 0, 9), "down, from past the end");
        assert_eq!(buf, [1u8; 16]);
    }

    #[test]
    fn put_at_copies_every_length() {
        for n in 0..60 {
            let src: Vec<u8> = (100..100 + n as u8).collect();
            let mut buf = [0u8; 80];
            assert!(put_at(&mut buf, 7, &src));
            assert_eq!(&buf[7..7 + n], &src[..]);
            assert!(buf[..7].iter().chain(&buf[7 + n..]).all(|&b| b == 0));
        }
    }
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn from_fn_fills_each_slot_from_its_index() {
        let t = Table::from_fn(5000, |i| i as u64 * 3 + 1).unwrap();
        assert_eq!(t.len(), 5000);
        assert!(t.iter().enumerate().all(|(i, &v)| v == i as u64 * 3 + 1));
        assert!(t.mapped >= 5000 * 8, "the values live in a mapping");
    }

    #[test]
    fn filled_holds_n_copies_and_is_writable() {
        let mut t = Table::filled(70_000, 7u8).unwrap();
        assert_eq!(t.len(), 70_000);
        assert!(t.iter().all(|&b| b == 7));
        t[69_999] = 9;
        t[0] = 1;
        assert_eq!((t[0], t[1], t[69_998], t[69_999]), (1, 7, 7, 9));
    }

    #[test]
    fn resize_keeps_the_contents_and_fills_new_slots() {
        let mut t = Table::from_fn(100, |i| i as u32).unwrap();
        t.resize(10_000, 0xdead).unwrap();
        assert_eq!(t.len(), 10_000);
        assert!((0..100).all(|i| t[i] == i as u32), "old contents kept");
        assert!(t[100..].iter().all(|&v| v == 0xdead), "new slots filled");
        t[9_999] = 5;
        t.resize(50, 1).unwrap();
        assert_eq!(t.len(), 50);
        assert!(
            (0..50).all(|i| t[i] == i as u32),
            "shrinking keeps the front"
        );
        t.resize(60, 2).unwrap();
        assert_eq!(&t[48..], &[48, 49, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
        let mut e = Table::filled(0, 3u16).unwrap();
        e.resize(3, 4).unwrap();
        assert_eq!(&e[..], &[4, 4, 4], "an empty table grows");
    }

    #[test]
    fn an_empty_table_has_length_zero_and_no_mapping() {
        let t = Table::<u64>::from_fn(0, |_| panic!("no slot to fill")).unwrap();
        assert_eq!((t.len(), t.mapped), (0, 0));
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0);
        let f = Table::filled(0, 1u8).unwrap();
        assert_eq!((f.len(), f.mapped), (0, 0));
        // Zero-sized values take no bytes: no mapping either, but all n.
        let z = Table::from_fn(10, |_| ()).unwrap();
        assert_eq!((z.len(), z.mapped), (10, 0));
    }

    #[test]
    fn a_table_too_large_to_size_fails_with_enomem() {
        let r = Table::<u64>::from_fn(usize::MAX / 4, |_| 0);
        assert_eq!(r.err(), Some(crate::errno::Errno(libc::ENOMEM)));
    }

    struct Counted(Rc<Cell<usize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn dropping_a_table_drops_each_element_exactly_once() {
        let drops = Rc::new(Cell::new(0));
        let t = Table::from_fn(1000, |_| Counted(drops.clone())).unwrap();
        assert_eq!(drops.get(), 0, "building drops nothing");
        assert_eq!(Rc::strong_count(&drops), 1001);
        drop(t);
        assert_eq!(drops.get(), 1000);
        assert_eq!(Rc::strong_count(&drops), 1);
    }

    #[test]
    fn a_table_of_zero_sized_values_makes_and_drops_each_exactly_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static MADE: AtomicUsize = AtomicUsize::new(0);
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Z;
        impl Drop for Z {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let t = Table::from_fn(7, |_| {
            MADE.fetch_add(1, Ordering::SeqCst);
            Z
        })
        .unwrap();
        assert_eq!(t.len(), 7);
        assert_eq!(
            (MADE.load(Ordering::SeqCst), DROPS.load(Ordering::SeqCst)),
            (7, 0),
            "each slot made by f, none dropped yet"
        );
        drop(t);
        assert_eq!(DROPS.load(Ordering::SeqCst), 7);
    }

    #[test]
    fn finds_the_first_occurrence() {
        assert_eq!(super::find_byte(b"ab\ncd\n", b'\n'), Some(2));
        assert_eq!(super::find_byte(b"abc", b'\n'), None);
        assert_eq!(super::find_byte(b"", b'\n'), None);
        let long: Vec<u8> = (0..100u8)
            .map(|i| if i == 77 { b'\n' } else { b'a' + i % 20 })
            .collect();
        assert_eq!(super::find_byte(&long, b'\n'), Some(77));
        assert_eq!(super::find_byte(&[0x8a, 0x0a], b'\n'), Some(1));
        for n in 0..20 {
            let mut v = vec![0xffu8; 20];
            v[n] = b'\n';
            assert_eq!(super::find_byte(&v, b'\n'), Some(n));
        }
    }
}
