//! Clocks: the wall clock as runit reads it (`gettimeofday`, for TAI64N
//! stamps) and a monotonic clock in milliseconds for deadlines, so a clock
//! step never stretches or skips a throttle.

use runit_core::tai64n::Tai64n;

/// Now, as the TAI64N stamp runit would write.
pub fn now_tai64n() -> Tai64n {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: tv is valid writable memory; a null timezone is allowed.
    unsafe { libc::gettimeofday(&mut tv, core::ptr::null_mut()) };
    Tai64n::from_unix_micros(
        u64::try_from(tv.tv_sec).unwrap_or(0),
        u32::try_from(tv.tv_usec).unwrap_or(0),
    )
}

/// Monotonic milliseconds since an arbitrary origin.
pub fn mono_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid writable memory.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let s = u64::try_from(ts.tv_sec).unwrap_or(0);
    let ns = u64::try_from(ts.tv_nsec).unwrap_or(0);
    s.saturating_mul(1000).saturating_add(ns / 1_000_000)
}
