//! The OS behind one door: every syscall runit-rs makes goes through here,
//! and this is the only crate with `unsafe` (each block says why it holds).
//!
//! Owns: runit's errno texts ([`errno`]; messages carry the operation and path
//! as pieces, see [`msg`]), owned descriptors ([`fd`]), files, FIFOs and directories
//! ([`fs`]), flock locks ([`lock`]), atomic status writes ([`atomic`]),
//! clocks ([`clock`]), the self-pipe + poll event loop with signals
//! ([`event`]), fork/exec from a plan prepared before the fork and reaping
//! ([`process`]), single-write diagnostics ([`msg`]), allocator-free memory
//! ([`mem`]) and background threads for slow file chores ([`worker`]). Does not own any
//! program's decisions.

pub mod atomic;
pub mod clock;
pub mod creds;
pub mod errno;
pub mod event;
pub mod fd;
pub mod fs;
pub mod inotify;
pub mod lock;
pub mod mem;
pub mod msg;
pub mod net;
pub mod process;
pub mod proctitle;
pub mod worker;

pub use errno::Errno;
pub use fd::Fd;

/// The OS constants programs name (signal numbers, errno values, open
/// flags, mode bits); programs never call libc themselves.
pub mod c {
    pub use libc::{
        EAGAIN, ECHILD, EINTR, EINVAL, EISDIR, ENOENT, ENOSPC, ENXIO, O_APPEND, O_CREAT,
        O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SIGALRM, SIGCHLD, SIGCONT,
        SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGPWR, SIGQUIT, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2,
        S_IXUSR,
    };
}

/// The C `main` of an installed program: hands `argc`/`argv` to the
/// program's `main(Args) -> i32`. Binaries use `#![no_main]` with it, so
/// Rust's runtime start-up (which would ignore SIGPIPE for every child)
/// never runs.
#[macro_export]
macro_rules! c_main {
    ($main:path) => {
        // The C runtime calls this with its own argc/argv; nothing else can.
        #[allow(clippy::not_unsafe_ptr_arg_deref)]
        #[no_mangle]
        pub extern "C" fn main(argc: i32, argv: *const *const std::ffi::c_char) -> i32 {
            // SAFETY: the C runtime passes main a valid argv of argc strings.
            $main(unsafe { $crate::process::Args::from_main(argc, argv) })
        }
    };
}
