//! The one integration-test binary: real runsv processes in temp dirs,
//! compared with runit 2.1.2 (reference/, fetched by scripts/get-reference)
//! and driven by runit's and daemontools' own clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sandbox;

mod chpst;
mod differential;
mod example;
mod interop;
mod runit;
mod runsv;
mod runsvdir;
mod sv;
mod svlogd;
mod vm;
