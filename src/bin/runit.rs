//! `runit`: PID 1: runs the three stages, reaps orphans, halts or reboots.
#![no_main]

runit_sys::c_main!(runit_rs::programs::runit::main);
