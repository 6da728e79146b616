//! runsvdir's log in its own argv (SPEC §5.5): bytes are written into the
//! memory of one argument, so `ps` and `/proc/PID/cmdline` show them. The
//! argument keeps its length and its first 5 characters; each new non-NUL
//! byte shifts the rest left by one and goes in the last place.

use crate::process::Args;

/// The argv memory of one argument.
pub struct ProcTitle {
    ptr: *mut u8,
    len: usize,
}

impl ProcTitle {
    /// Takes argument `i` of the process (as passed to the C `main`).
    pub fn new(args: &Args, i: usize) -> Option<ProcTitle> {
        let arg = args.get(i)?;
        Some(ProcTitle {
            ptr: arg.as_ptr() as *mut u8,
            len: arg.to_bytes().len(),
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Feeds bytes read from the log pipe into the argument.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.len <= 5 {
            return;
        }
        // SAFETY: ptr..ptr+len is the argument's own argv memory, which the
        // C runtime gave this process for its lifetime; nothing else holds
        // a Rust reference to it (Args hands out CStr views only while
        // parsing, before this is used), and the terminating NUL is kept.
        let arg = unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) };
        for &b in bytes.iter().filter(|&&b| b != 0) {
            if let Some(tail) = arg.get_mut(5..) {
                tail.rotate_left(1);
                if let Some(last) = tail.last_mut() {
                    *last = b;
                }
            }
        }
    }
}
