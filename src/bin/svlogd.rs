//! `svlogd`.
#![no_main]

// The C runtime calls this with its own argc/argv; nothing else can.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[no_mangle]
pub extern "C" fn main(argc: i32, argv: *const *const std::ffi::c_char) -> i32 {
    // SAFETY: the C runtime passes main a valid argv of argc strings.
    runit_rs::programs::svlogd::main(unsafe { runit_sys::process::Args::from_main(argc, argv) })
}
