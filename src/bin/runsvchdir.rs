//! `runsvchdir`: switches the `current` runlevel link.
#![no_main]

runit_sys::c_main!(runit_rs::programs::runsvchdir::main);
