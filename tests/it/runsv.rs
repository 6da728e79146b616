//! runsv integration tests: real processes, FIFOs and files.
use crate::sandbox::*;
