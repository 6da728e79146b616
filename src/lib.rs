//! runit-rs: the programs of the runit suite. Each program's logic lives in
//! `programs/<name>.rs` and reads top to bottom like its C twin; the shared
//! mechanisms live in `runit-core` (formats and rules) and `runit-sys`
//! (every syscall). `src/bin/<name>.rs` is a C `main` shim per installed
//! name, so Rust's runtime start-up (which would ignore SIGPIPE for every
//! child) never runs.

pub mod programs;
