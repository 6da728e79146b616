//! `runsv`: supervises one service and its log service.
#![no_main]

runit_sys::c_main!(runit_rs::programs::runsv::main);
