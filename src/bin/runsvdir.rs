//! `runsvdir`: one runsv per service directory.
#![no_main]

runit_sys::c_main!(runit_rs::programs::runsvdir::main);
