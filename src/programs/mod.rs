//! One module per program of the suite.

pub mod chpst;
pub mod runit;
pub mod runit_init;
pub mod runsv;
pub mod runsvchdir;
pub mod runsvdir;
pub mod sv;
pub mod svlogd;
pub mod utmpset;
