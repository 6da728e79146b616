//! `chpst`: runs a program with changed process state (and envdir, envuidgid, pgrphack, setuidgid, setlock, softlimit by argv[0]).
#![no_main]

runit_sys::c_main!(runit_rs::programs::chpst::main);
