//! One module per program of the suite.

pub mod chpst;
pub mod runsv;
pub mod runsvdir;
pub mod sv;
