//! `sv`: the control and status client (an init script under any other name).
#![no_main]

runit_sys::c_main!(runit_rs::programs::sv::main);
