//! `runit-init`: what the kernel starts as init; otherwise `0` halts and `6` reboots.
#![no_main]

runit_sys::c_main!(runit_rs::programs::runit_init::main);
