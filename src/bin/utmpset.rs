//! `utmpset`: marks a terminal line logged out in utmp (and wtmp).
#![no_main]

runit_sys::c_main!(runit_rs::programs::utmpset::main);
