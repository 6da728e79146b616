//! Names inside a service directory, in one place for runsv, sv and runsvdir.
//!
//! runsv works with relative paths after `chdir(dir)`; the log service's
//! files carry the `log/` prefix, which is also how runit spells them in
//! messages (`unable to open log/supervise/lock`).

pub const RUN: &str = "./run";
pub const FINISH: &str = "finish";
pub const FINISH_PROG: &str = "./finish";
pub const DOWN: &str = "down";
pub const CHECK: &str = "check";
pub const LOG_DIR: &str = "log";
pub const LOG_DOWN: &str = "log/down";
pub const SUPERVISE: &str = "supervise";
pub const LOG_SUPERVISE: &str = "log/supervise";

/// Which of the two services a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Main,
    Log,
}

impl Which {
    /// The prefix runit puts before `supervise/...` for this service.
    pub fn prefix(self) -> &'static str {
        match self {
            Which::Main => "",
            Which::Log => "log/",
        }
    }

    /// `supervise` or `log/supervise`.
    pub fn supervise(self) -> &'static str {
        match self {
            Which::Main => SUPERVISE,
            Which::Log => LOG_SUPERVISE,
        }
    }
}

/// Files inside `supervise/`.
pub const LOCK: &str = "lock";
pub const CONTROL: &str = "control";
pub const OK: &str = "ok";
pub const STATUS: &str = "status";
pub const STAT: &str = "stat";
pub const PID: &str = "pid";

/// `control/X`, the override script for command byte `c`.
pub fn control_script(c: u8) -> [u8; 9] {
    let mut p = *b"control/?";
    if let Some(last) = p.last_mut() {
        *last = c;
    }
    p
}
