//! One module per program of the suite.

pub mod chpst;
pub mod runsv;
pub mod runsvchdir;
pub mod runsvdir;
pub mod sv;
pub mod utmpset;
