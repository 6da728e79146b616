//! `svlogd`: the rotating logger.
#![no_main]

runit_sys::c_main!(runit_rs::programs::svlogd::main);
