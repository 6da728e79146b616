//! runit's formats and rules with no I/O: everything here is pure data and
//! decisions, so it is unit-tested without processes, files or clocks.
//!
//! What lives here: the TAI64N stamp ([`tai64n`]), the 20-byte status record
//! and the `stat` line ([`status`]), the control bytes ([`control`]), the
//! names inside a service directory ([`layout`]), the supervisor's state
//! machine ([`supervise`]), the shared getopt and number parsing
//! ([`getopt`]) and sv's command table, wait conditions and status line
//! ([`sv`]). What does not: any syscall (see `runit-sys`).
#![forbid(unsafe_code)]

pub mod chpst;
pub mod control;
pub mod getopt;
pub mod layout;
pub mod status;
pub mod supervise;
pub mod sv;
pub mod svlogd;
pub mod tai64n;
pub mod utmp;
