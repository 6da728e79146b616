//! The runsv state machine: one supervisor holding the main service and an
//! optional log service, driven by events, acting through [`Effects`].
//!
//! Owns every decision runsv makes (what a control byte does in each state,
//! when `./run`, `./finish` and `control/X` scripts start, the restart
//! throttle, the exit logic, runit's `k` and pid-file quirks). It owns no
//! I/O: the program feeds it [`Event`]s from its poll loop and carries out
//! the effects, so every transition is unit-tested with a recording fake.
//!
//! Where runit blocks (the one-second throttle, the five-second fork retry,
//! waiting for a `control/X` script), this machine records a deadline or a
//! pending step instead and keeps answering events. A control script only
//! holds up *its own* service's later commands and exit handling, which
//! keeps runit's ordering for that service.

use crate::control::Command;
use crate::layout::Which;
use crate::status::{stat_line, StatLine, State, Status, Want};
use crate::tai64n::Tai64n;

/// How long a service must have run for an immediate restart (runit: 1 s).
pub const THROTTLE_MS: u64 = 1000;
/// Back-off after a failed fork (runit: 5 s).
pub const FORK_RETRY_MS: u64 = 5000;

/// Signals the machine sends; the program maps them to numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Stop,
    Cont,
    Hup,
    Alrm,
    Int,
    Quit,
    Usr1,
    Usr2,
}

/// What to exec for the main or log service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// `./run` (in `log/` for the log service).
    Run,
    /// `./finish A1 A2`: exit code or -1, and the low byte of the wait status.
    Finish { code: i32, low: i32 },
}

/// The two arguments runit passes to `./finish` for a raw wait status.
pub fn finish_args(wait_status: i32) -> (i32, i32) {
    let exited = wait_status & 0x7f == 0;
    let code = if exited {
        (wait_status >> 8) & 0xff
    } else {
        -1
    };
    (code, wait_status & 0xff)
}

/// runit's "handled" test for a control script: exit code 0, which includes
/// death by a signal (its exit-code byte is 0).
pub fn script_handled(wait_status: i32) -> bool {
    (wait_status >> 8) & 0xff == 0
}

/// Everything the machine asks of the outside world.
pub trait Effects {
    /// Wall-clock stamp for the status file and a monotonic clock in ms.
    fn now(&mut self) -> (Tai64n, u64);
    /// Forks and execs; `None` if the fork failed (the effect has warned).
    fn spawn(&mut self, which: Which, program: Program) -> Option<u32>;
    /// Sends a signal to one pid (never 0).
    fn signal(&mut self, pid: u32, sig: Signal);
    /// Is `control/<letter>` an owner-executable file? (Warns on odd errors.)
    fn has_script(&mut self, letter: u8) -> bool;
    /// Starts `control/<letter>`; `None` if it could not be started (not handled).
    fn run_script(&mut self, letter: u8) -> Option<u32>;
    /// Can `finish` be opened for reading?
    fn finish_readable(&mut self) -> bool;
    /// Writes `pid` (only when `pid_file` is `Some`: the pid to write, 0 for
    /// an empty file), then `stat`, then `status`. Returns whether the pid
    /// file was written (a failed pid write is retried on the next publish).
    fn publish(
        &mut self,
        which: Which,
        status: &Status,
        stat: &StatLine,
        pid_file: Option<u32>,
    ) -> bool;
    /// Closes runsv's copies of both ends of the log pipe.
    fn close_log_pipe(&mut self);
}

/// Inputs to the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A byte read from `supervise/control` or `log/supervise/control`.
    Control(Which, u8),
    /// A child was reaped with this raw wait status.
    Reaped(u32, i32),
    /// runsv got SIGTERM: same as `x` to the main service.
    Terminate,
    /// Time passed; deadlines may have expired.
    Tick,
}

/// One deferred piece of work for a service, run in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Run `control/<c>`; its verdict feeds the next `*UnlessHandled`.
    Script(u8),
    /// Send the signal unless the last script handled the command.
    SignalUnlessHandled(Signal),
    /// Stop step 1: TERM and the got-TERM flag unless control/t handled it.
    TermUnlessHandled,
    /// Send a signal to the current process, if any.
    Signal(Signal),
    /// `p`/`c`: set or clear the paused flag and publish.
    SetPaused(bool),
    /// `k`: force state down without publishing.
    ForceDown,
    /// Fork `./run` or `./finish` (by state), retrying after a failed fork.
    Fork,
}

const QUEUE: usize = 12;

/// A small fixed ring of steps (no allocation in the supervisor).
#[derive(Clone, Copy, Debug)]
struct Steps {
    buf: [Option<Step>; QUEUE],
    head: usize,
    len: usize,
}

impl Steps {
    const fn new() -> Steps {
        Steps {
            buf: [None; QUEUE],
            head: 0,
            len: 0,
        }
    }
    fn front(&self) -> Option<Step> {
        if self.len == 0 {
            return None;
        }
        self.buf.get(self.head).copied().flatten()
    }
    fn pop(&mut self) {
        if self.len > 0 {
            if let Some(slot) = self.buf.get_mut(self.head) {
                *slot = None;
            }
            self.head = (self.head + 1) % QUEUE;
            self.len -= 1;
        }
    }
    fn push(&mut self, s: Step) {
        // A command adds at most 8 steps and commands are only taken while
        // the queue is empty, so this never drops in practice.
        if self.len < QUEUE {
            if let Some(slot) = self.buf.get_mut((self.head + self.len) % QUEUE) {
                *slot = Some(s);
                self.len += 1;
            }
        }
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One supervised service (main or log).
#[derive(Clone, Copy, Debug)]
pub struct Service {
    pub which: Which,
    pub state: State,
    pub want: Want,
    pub pid: u32,
    pub paused: bool,
    pub got_term: bool,
    pub stamp: Tai64n,
    /// Last raw wait status of `./run` (feeds `./finish`).
    pub wait_status: i32,
    /// Monotonic ms of the last start of `./run` (the throttle's basis).
    started_ms: u64,
    /// No start before this monotonic ms (the restart throttle).
    throttle_until: Option<u64>,
    /// No fork retry before this monotonic ms.
    fork_retry_at: Option<u64>,
    /// `u`/`o` arrived while throttled: start once the throttle ends.
    start_pending: bool,
    steps: Steps,
    /// The running `control/X` script, 0 if none.
    script_pid: u32,
    /// Verdict of the last script.
    handled: bool,
    /// An exit of `pid` reaped while a script held the service.
    deferred_exit: Option<(u32, i32)>,
}

impl Service {
    fn new(which: Which, want: Want, stamp: Tai64n, mono: u64) -> Service {
        Service {
            which,
            state: State::Down,
            want,
            pid: 0,
            paused: false,
            got_term: false,
            stamp,
            wait_status: 0,
            started_ms: mono,
            throttle_until: None,
            fork_retry_at: None,
            start_pending: false,
            steps: Steps::new(),
            script_pid: 0,
            handled: false,
            deferred_exit: None,
        }
    }

    /// Busy services take no commands: a script or a step is pending.
    pub fn busy(&self) -> bool {
        self.script_pid != 0 || !self.steps.is_empty()
    }

    /// The pid to signal: none once its exit has been reaped.
    fn live_pid(&self) -> u32 {
        match self.deferred_exit {
            Some((p, _)) if p == self.pid => 0,
            _ => self.pid,
        }
    }

    fn status(&self) -> Status {
        Status {
            stamp: self.stamp,
            pid: self.pid,
            paused: self.paused,
            want: self.want.byte(),
            got_term: self.got_term,
            state: self.state.code(),
        }
    }

    fn gate_open(&self, mono: u64) -> bool {
        self.throttle_until.is_none_or(|t| mono >= t)
    }

    /// Steps that stop the running process (runit's `stopservice`).
    fn push_stop(&mut self) {
        if self.pid != 0 {
            self.steps.push(Step::Script(b't'));
            self.steps.push(Step::TermUnlessHandled);
        }
        match self.want {
            Want::Down => {
                self.steps.push(Step::Signal(Signal::Cont));
                self.steps.push(Step::Script(b'd'));
            }
            Want::Exit => {
                self.steps.push(Step::Signal(Signal::Cont));
                self.steps.push(Step::Script(b'x'));
            }
            Want::Up => {}
        }
    }

    /// Steps that start `./run` now (runit's `startservice` from down).
    fn push_start(&mut self, mono: u64) {
        if !self.gate_open(mono) {
            self.start_pending = true;
            return;
        }
        self.throttle_until = None;
        self.push_fork();
    }

    /// runit's `startservice`: control/u (not for finish), then a stop of a
    /// process left over by `k`, then the fork.
    fn push_fork(&mut self) {
        if self.state != State::Finish {
            self.steps.push(Step::Script(b'u'));
        }
        if self.pid != 0 {
            self.push_stop();
        }
        self.steps.push(Step::Fork);
    }

    fn push_signal(&mut self, letter: u8, sig: Signal) {
        self.steps.push(Step::Script(letter));
        self.steps.push(Step::SignalUnlessHandled(sig));
    }
}

/// What the program must do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// runsv is done: exit 0.
    Exit,
}

/// runsv's whole state: the main service, the optional log service, and
/// the shared "pid changed" flag (runit's quirk, see [`Supervisor::publish`]).
///
/// Status writes are coalesced: consecutive publishes of the same service
/// within one pass become one write of the final state (runit's `d` writes
/// "run, want down" and then "run, got TERM, want down" a microsecond
/// later; we write the second only). A publish is flushed before the other
/// service's, before a control script runs, before `k` forces the state,
/// before the log pipe is closed, and at the end of every pass, so every
/// state an observer could act on is still written, in runit's order.
#[derive(Clone, Copy, Debug)]
pub struct Supervisor {
    pub main: Service,
    pub log: Option<Service>,
    pid_changed: bool,
    /// A publish not yet written, with the pid flag it took when made.
    dirty: Option<(Which, bool)>,
}

impl Supervisor {
    /// The initial state; `main_down`/`log_down` say whether `down` files exist.
    /// `log_down` is `None` without a log service.
    pub fn new(main_down: bool, log_down: Option<bool>, stamp: Tai64n, mono: u64) -> Supervisor {
        let want = |down: bool| if down { Want::Down } else { Want::Up };
        Supervisor {
            main: Service::new(Which::Main, want(main_down), stamp, mono),
            log: log_down.map(|d| Service::new(Which::Log, want(d), stamp, mono)),
            pid_changed: true,
            dirty: None,
        }
    }

    /// Writes one service's status files (runsv's start-up steps 9 and 10).
    pub fn publish_status(&mut self, which: Which, fx: &mut impl Effects) {
        self.publish(which, fx);
        self.flush(fx);
    }

    fn svc(&mut self, which: Which) -> Option<&mut Service> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Log => self.log.as_mut(),
        }
    }

    /// runit's `update_status`: the pid file only when a pid changed since
    /// the last write of *either* service (one shared flag), then stat and
    /// status.
    fn publish(&mut self, which: Which, fx: &mut impl Effects) {
        let earlier = match self.dirty {
            Some((w, _)) if w != which => {
                self.flush(fx);
                false
            }
            Some((_, flag)) => flag,
            None => false,
        };
        // runit's write would take the flag now; the deferred one does too.
        let flag = core::mem::replace(&mut self.pid_changed, false);
        self.dirty = Some((which, flag || earlier));
    }

    /// Writes the pending publish, if any.
    fn flush(&mut self, fx: &mut impl Effects) {
        let Some((which, pid_flag)) = self.dirty.take() else {
            return;
        };
        let Some(s) = self.svc(which) else { return };
        let status = s.status();
        let stat = stat_line(s.state, s.paused, s.got_term, s.want);
        let pid = if pid_flag { Some(s.pid) } else { None };
        if !fx.publish(which, &status, &stat, pid) && pid_flag {
            // The pid file was not written: retry it with the next write.
            self.pid_changed = true;
        }
    }

    /// Should the program read the next byte from this service's FIFO?
    pub fn accepts_control(&self, which: Which) -> bool {
        match which {
            Which::Main => !self.main.busy(),
            Which::Log => self.log.is_some_and(|l| !l.busy()),
        }
    }

    /// The earliest monotonic ms at which a [`Event::Tick`] has work to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let mut best: Option<u64> = None;
        let mut consider = |t: Option<u64>| {
            if let Some(t) = t {
                best = Some(best.map_or(t, |b: u64| b.min(t)));
            }
        };
        for s in core::iter::once(&self.main).chain(self.log.iter()) {
            consider(s.throttle_until);
            if s.steps.front() == Some(Step::Fork) {
                consider(s.fork_retry_at);
            }
        }
        best
    }

    /// Feeds one event, then starts whatever is due; says whether to exit.
    pub fn handle(&mut self, ev: Event, fx: &mut impl Effects) -> Outcome {
        self.feed(ev, fx);
        self.pump(fx)
    }

    /// Takes one event without starting anything yet. The program feeds a
    /// whole loop round (reaps, then one control byte per FIFO, then
    /// SIGTERM) and calls [`Supervisor::pump`] once, so that, as in runit,
    /// a `d` read in the round a service exits prevents its restart.
    pub fn feed(&mut self, ev: Event, fx: &mut impl Effects) {
        match ev {
            Event::Control(which, byte) => {
                if let Some(cmd) = Command::from_byte(byte) {
                    self.command(which, cmd, fx);
                }
            }
            Event::Terminate => self.command(Which::Main, Command::Exit, fx),
            Event::Reaped(pid, ws) => self.reaped(pid, ws, fx),
            Event::Tick => {}
        }
    }

    fn command(&mut self, which: Which, cmd: Command, fx: &mut impl Effects) {
        let (_, mono) = fx.now();
        let Some(s) = self.svc(which) else { return };
        let running = s.state == State::Run;
        let publish = match cmd {
            Command::Up => {
                s.want = Want::Up;
                if s.state == State::Down {
                    s.push_start(mono);
                }
                true
            }
            Command::Once => {
                s.want = Want::Down;
                if s.state == State::Down {
                    s.push_start(mono);
                }
                true
            }
            Command::Down => {
                s.want = Want::Down;
                s.start_pending = false;
                if running {
                    s.push_stop();
                }
                true
            }
            Command::Exit => {
                if which == Which::Log {
                    return;
                }
                s.want = Want::Exit;
                s.start_pending = false;
                if running {
                    s.push_stop();
                }
                true
            }
            Command::Term => {
                if running {
                    s.push_stop();
                }
                false
            }
            Command::Kill => {
                if running {
                    s.push_signal(b'k', Signal::Kill);
                }
                s.steps.push(Step::ForceDown);
                false
            }
            Command::Pause => {
                if running {
                    s.push_signal(b'p', Signal::Stop);
                }
                s.steps.push(Step::SetPaused(true));
                false
            }
            Command::Cont => {
                if running {
                    s.push_signal(b'c', Signal::Cont);
                }
                s.steps.push(Step::SetPaused(false));
                false
            }
            Command::Hup
            | Command::Alarm
            | Command::Interrupt
            | Command::Quit
            | Command::Usr1
            | Command::Usr2 => {
                if running {
                    let sig = match cmd {
                        Command::Hup => Signal::Hup,
                        Command::Alarm => Signal::Alrm,
                        Command::Interrupt => Signal::Int,
                        Command::Quit => Signal::Quit,
                        Command::Usr1 => Signal::Usr1,
                        _ => Signal::Usr2,
                    };
                    s.push_signal(cmd.byte(), sig);
                }
                false
            }
        };
        if publish {
            // runit writes the new want before acting on it; the queued
            // steps run afterwards, in `pump`.
            self.publish(which, fx);
        }
    }

    fn reaped(&mut self, pid: u32, ws: i32, fx: &mut impl Effects) {
        if pid == 0 {
            return;
        }
        for which in [Which::Main, Which::Log] {
            let Some(s) = self.svc(which) else { continue };
            if s.script_pid == pid {
                s.script_pid = 0;
                s.handled = script_handled(ws);
                return;
            }
            if s.pid == pid {
                if s.busy() {
                    s.deferred_exit = Some((pid, ws));
                } else {
                    self.exited(which, ws, fx);
                }
                return;
            }
        }
    }

    /// The current process of a service ended (runit's reap branch).
    fn exited(&mut self, which: Which, ws: i32, fx: &mut impl Effects) {
        let finish =
            which == Which::Main && self.main.state != State::Finish && fx.finish_readable();
        let (stamp, mono) = fx.now();
        self.pid_changed = true;
        let Some(s) = self.svc(which) else { return };
        s.pid = 0;
        s.wait_status = ws;
        s.got_term = false;
        if finish {
            s.state = State::Finish;
        } else {
            s.state = State::Down;
            s.stamp = stamp;
            if mono < s.started_ms.saturating_add(THROTTLE_MS) {
                // runit sleeps one full second here; we keep a deadline.
                s.throttle_until = Some(mono.saturating_add(THROTTLE_MS));
            }
        }
        self.publish(which, fx);
    }

    /// Runs due steps and starts, then applies the exit logic.
    pub fn pump(&mut self, fx: &mut impl Effects) -> Outcome {
        let (_, mono) = fx.now();
        for s in core::iter::once(&mut self.main).chain(self.log.as_mut()) {
            if s.throttle_until.is_some_and(|t| mono >= t) {
                s.throttle_until = None;
            }
        }
        // A bounded number of rounds: each round either makes progress or stops.
        for _ in 0..64 {
            let mut progressed = false;
            for which in [Which::Log, Which::Main] {
                progressed |= self.advance(which, fx);
            }
            if !progressed {
                break;
            }
        }
        let out = self.exit_logic(fx);
        self.flush(fx);
        out
    }

    /// One unit of progress for a service; `true` if anything happened.
    fn advance(&mut self, which: Which, fx: &mut impl Effects) -> bool {
        let (_, mono) = fx.now();
        let Some(s) = self.svc(which) else {
            return false;
        };
        if s.script_pid != 0 {
            return false;
        }
        if let Some(step) = s.steps.front() {
            return self.step(which, step, mono, fx);
        }
        // Idle: a deferred exit, an expired throttle, or a due start.
        if let Some((pid, ws)) = s.deferred_exit.take() {
            if pid == s.pid {
                self.exited(which, ws, fx);
            }
            return true;
        }
        if !s.gate_open(mono) || s.pid != 0 {
            return false;
        }
        let due = s.want == Want::Up || s.state == State::Finish || s.start_pending;
        if !due {
            return false;
        }
        s.start_pending = false;
        s.push_fork();
        true
    }

    fn step(&mut self, which: Which, step: Step, mono: u64, fx: &mut impl Effects) -> bool {
        let Some(s) = self.svc(which) else {
            return false;
        };
        match step {
            Step::Script(letter) => {
                s.steps.pop();
                s.handled = false;
                if which == Which::Main && fx.has_script(letter) {
                    // The script sees (and may read) the state before it.
                    self.flush(fx);
                    if let Some(pid) = fx.run_script(letter) {
                        if let Some(s) = self.svc(which) {
                            s.script_pid = pid;
                        }
                    }
                }
            }
            Step::SignalUnlessHandled(sig) => {
                s.steps.pop();
                let pid = s.live_pid();
                if !s.handled && pid != 0 {
                    fx.signal(pid, sig);
                }
            }
            Step::TermUnlessHandled => {
                s.steps.pop();
                let pid = s.live_pid();
                if !s.handled && pid != 0 {
                    fx.signal(pid, Signal::Term);
                    s.got_term = true;
                    self.publish(which, fx);
                }
            }
            Step::Signal(sig) => {
                s.steps.pop();
                let pid = s.live_pid();
                if pid != 0 {
                    fx.signal(pid, sig);
                }
            }
            Step::SetPaused(p) => {
                s.steps.pop();
                s.paused = p;
                self.publish(which, fx);
            }
            Step::ForceDown => {
                s.steps.pop();
                // `k` forces down without a write: flush what came before.
                self.flush(fx);
                if let Some(s) = self.svc(which) {
                    s.state = State::Down;
                }
            }
            Step::Fork => {
                if s.fork_retry_at.is_some_and(|t| mono < t) {
                    return false;
                }
                let program = if s.state == State::Finish {
                    let (code, low) = finish_args(s.wait_status);
                    Program::Finish { code, low }
                } else {
                    Program::Run
                };
                let Some(pid) = fx.spawn(which, program) else {
                    s.fork_retry_at = Some(mono.saturating_add(FORK_RETRY_MS));
                    return false;
                };
                s.steps.pop();
                s.fork_retry_at = None;
                if s.state != State::Finish {
                    let (stamp, mono) = fx.now();
                    s.stamp = stamp;
                    s.started_ms = mono;
                    s.state = State::Run;
                }
                s.pid = pid;
                s.paused = false;
                s.got_term = false;
                self.pid_changed = true;
                self.publish(which, fx);
            }
        }
        true
    }

    /// runit's exit check: want exit and down ends runsv once the log
    /// service has no process; the log service is told through EOF.
    fn exit_logic(&mut self, fx: &mut impl Effects) -> Outcome {
        let m = &self.main;
        if m.want != Want::Exit || m.state != State::Down || m.busy() {
            return Outcome::Continue;
        }
        let Some(log) = self.log.as_mut() else {
            return Outcome::Exit;
        };
        if log.pid == 0 && !log.busy() {
            return Outcome::Exit;
        }
        if log.want != Want::Exit {
            log.want = Want::Exit;
            self.publish(Which::Log, fx);
            self.flush(fx);
            fx.close_log_pipe();
        }
        Outcome::Continue
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    //! Transitions checked against a recording fake: no process is spawned.
    use super::*;

    #[derive(Default)]
    struct Fake {
        mono: u64,
        next_pid: u32,
        finish: bool,
        /// Letters whose control script exists (it is "started").
        scripts: Vec<u8>,
        fork_fails: bool,
        log: Vec<String>,
        stats: Vec<(Which, String, Option<u32>)>,
    }

    impl Effects for Fake {
        fn now(&mut self) -> (Tai64n, u64) {
            (Tai64n::from_unix_micros(self.mono / 1000, 0), self.mono)
        }
        fn spawn(&mut self, which: Which, program: Program) -> Option<u32> {
            if self.fork_fails {
                self.log.push("fork failed".into());
                return None;
            }
            self.next_pid += 1;
            self.log
                .push(format!("spawn {which:?} {program:?} = {}", self.next_pid));
            Some(self.next_pid)
        }
        fn signal(&mut self, pid: u32, sig: Signal) {
            self.log.push(format!("kill {pid} {sig:?}"));
        }
        fn has_script(&mut self, letter: u8) -> bool {
            self.scripts.contains(&letter)
        }
        fn run_script(&mut self, letter: u8) -> Option<u32> {
            self.next_pid += 1;
            self.log
                .push(format!("script {} = {}", letter as char, self.next_pid));
            Some(self.next_pid)
        }
        fn finish_readable(&mut self) -> bool {
            self.finish
        }
        fn publish(
            &mut self,
            which: Which,
            _s: &Status,
            stat: &StatLine,
            pid: Option<u32>,
        ) -> bool {
            let text = String::from_utf8_lossy(stat.as_bytes())
                .trim_end()
                .to_string();
            self.stats.push((which, text, pid));
            true
        }
        fn close_log_pipe(&mut self) {
            self.log.push("close log pipe".into());
        }
    }

    fn started(fx: &mut Fake, log: Option<bool>) -> Supervisor {
        let mut s = Supervisor::new(false, log, Tai64n::default(), 0);
        s.publish_status(Which::Main, fx);
        if log.is_some() {
            s.publish_status(Which::Log, fx);
        }
        assert_eq!(s.handle(Event::Tick, fx), Outcome::Continue);
        s
    }

    fn last_stat(fx: &Fake) -> &str {
        fx.stats.last().map(|s| s.1.as_str()).unwrap_or("")
    }

    #[test]
    fn start_runs_log_first_then_main_and_writes_pids() {
        let mut fx = Fake::default();
        let s = started(&mut fx, Some(false));
        assert_eq!(fx.log, ["spawn Log Run = 1", "spawn Main Run = 2"]);
        assert_eq!(s.main.pid, 2);
        // Start-up: main writes an empty pid file, log skips it (shared flag).
        assert_eq!(fx.stats[0], (Which::Main, "down".into(), Some(0)));
        assert_eq!(fx.stats[1], (Which::Log, "down".into(), None));
        assert_eq!(fx.stats[2], (Which::Log, "run".into(), Some(1)));
    }

    #[test]
    fn d_sends_term_then_cont_and_exit_runs_finish_with_signal_args() {
        let mut fx = Fake {
            finish: true,
            ..Fake::default()
        };
        let mut s = started(&mut fx, None);
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'd'), &mut fx);
        assert_eq!(fx.log, ["kill 1 Term", "kill 1 Cont"]);
        assert_eq!(last_stat(&fx), "run, got TERM, want down");
        s.handle(Event::Reaped(1, 15), &mut fx);
        assert_eq!(s.main.state, State::Finish);
        assert_eq!(
            fx.log.last().map(String::as_str),
            Some("spawn Main Finish { code: -1, low: 15 } = 2")
        );
        fx.mono = 5000;
        s.handle(Event::Reaped(2, 0), &mut fx);
        assert_eq!(s.main.state, State::Down);
        assert_eq!(last_stat(&fx), "down");
        assert_eq!(s.main.pid, 0);
    }

    #[test]
    fn t_sends_term_without_cont() {
        let mut fx = Fake::default();
        let mut s = started(&mut fx, None);
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b't'), &mut fx);
        assert_eq!(fx.log, ["kill 1 Term"]);
    }

    #[test]
    fn quick_exit_is_throttled_by_a_deadline_not_a_sleep() {
        let mut fx = Fake::default();
        let mut s = started(&mut fx, None);
        fx.mono = 200;
        s.handle(Event::Reaped(1, 0), &mut fx);
        assert_eq!(s.next_deadline(), Some(1200));
        fx.mono = 900;
        s.handle(Event::Tick, &mut fx);
        assert_eq!(s.main.pid, 0, "not restarted before the deadline");
        // A command during the throttle is taken at once.
        s.handle(Event::Control(Which::Main, b'd'), &mut fx);
        assert_eq!(s.main.want, Want::Down);
        fx.mono = 1300;
        s.handle(Event::Tick, &mut fx);
        assert_eq!(s.main.pid, 0, "d during the throttle cancels the restart");
    }

    #[test]
    fn long_running_service_restarts_at_once() {
        let mut fx = Fake::default();
        let mut s = started(&mut fx, None);
        fx.mono = 5000;
        s.handle(Event::Reaped(1, 9), &mut fx);
        assert_eq!(s.main.pid, 2);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn k_forces_down_without_publishing_and_finish_runs_twice_when_k_hits_finish() {
        let mut fx = Fake {
            finish: true,
            ..Fake::default()
        };
        let mut s = started(&mut fx, None);
        s.handle(Event::Control(Which::Main, b'd'), &mut fx);
        s.handle(Event::Reaped(1, 15), &mut fx);
        assert_eq!(s.main.state, State::Finish);
        let published = fx.stats.len();
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'k'), &mut fx);
        assert!(fx.log.is_empty(), "no signal to finish: {:?}", fx.log);
        assert_eq!(s.main.state, State::Down);
        assert_eq!(fx.stats.len(), published, "k writes no status");
        s.handle(Event::Reaped(2, 0), &mut fx);
        assert_eq!(fx.log, ["spawn Main Finish { code: 0, low: 0 } = 3"]);
    }

    #[test]
    fn control_script_verdict_decides_the_signal() {
        let mut fx = Fake {
            scripts: vec![b'h'],
            ..Fake::default()
        };
        let mut s = started(&mut fx, None);
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'h'), &mut fx);
        assert_eq!(fx.log, ["script h = 2"]);
        assert!(
            !s.accepts_control(Which::Main),
            "busy while the script runs"
        );
        s.handle(Event::Reaped(2, 1 << 8), &mut fx);
        assert_eq!(
            fx.log.last().map(String::as_str),
            Some("kill 1 Hup"),
            "exit 1: not handled"
        );
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'h'), &mut fx);
        s.handle(Event::Reaped(3, 0), &mut fx);
        assert_eq!(fx.log, ["script h = 3"], "exit 0: handled, no HUP");
        // Killed by a signal counts as handled too.
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'h'), &mut fx);
        s.handle(Event::Reaped(4, 9), &mut fx);
        assert_eq!(fx.log, ["script h = 4"]);
    }

    #[test]
    fn service_exit_during_a_control_script_waits_for_the_script() {
        let mut fx = Fake {
            scripts: vec![b't'],
            ..Fake::default()
        };
        let mut s = started(&mut fx, None);
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'd'), &mut fx);
        assert_eq!(fx.log, ["script t = 2"]);
        s.handle(Event::Reaped(1, 15), &mut fx);
        assert_eq!(
            s.main.state,
            State::Run,
            "exit deferred while control/t runs"
        );
        s.handle(Event::Reaped(2, 0), &mut fx);
        assert_eq!(s.main.state, State::Down);
        assert!(
            !fx.log.iter().any(|l| l.starts_with("kill")),
            "no signal to a reaped pid: {:?}",
            fx.log
        );
    }

    #[test]
    fn control_u_runs_before_every_start_of_run() {
        let mut fx = Fake {
            scripts: vec![b'u'],
            ..Fake::default()
        };
        let mut s = Supervisor::new(false, None, Tai64n::default(), 0);
        s.handle(Event::Tick, &mut fx);
        assert_eq!(fx.log, ["script u = 1"]);
        s.handle(Event::Reaped(1, 1 << 8), &mut fx);
        assert_eq!(
            fx.log.last().map(String::as_str),
            Some("spawn Main Run = 2")
        );
    }

    #[test]
    fn x_exits_at_once_without_log_and_after_log_eof_with_one() {
        let mut fx = Fake::default();
        let mut s = Supervisor::new(true, None, Tai64n::default(), 0);
        assert_eq!(
            s.handle(Event::Control(Which::Main, b'x'), &mut fx),
            Outcome::Exit
        );

        let mut fx = Fake::default();
        let mut s = started(&mut fx, Some(false));
        assert_eq!(
            s.handle(Event::Control(Which::Main, b'x'), &mut fx),
            Outcome::Continue
        );
        fx.mono = 3000;
        assert_eq!(s.handle(Event::Reaped(2, 15), &mut fx), Outcome::Continue);
        assert_eq!(fx.log.last().map(String::as_str), Some("close log pipe"));
        assert_eq!(last_stat(&fx), "run, want exit");
        assert_eq!(s.handle(Event::Reaped(1, 0), &mut fx), Outcome::Exit);
    }

    #[test]
    fn x_is_ignored_on_the_log_service_and_cancelled_by_d() {
        let mut fx = Fake::default();
        let mut s = started(&mut fx, Some(false));
        s.handle(Event::Control(Which::Log, b'x'), &mut fx);
        assert_eq!(s.log.map(|l| l.want), Some(Want::Up));
        s.handle(Event::Control(Which::Main, b'x'), &mut fx);
        s.handle(Event::Control(Which::Main, b'd'), &mut fx);
        fx.mono = 3000;
        assert_eq!(s.handle(Event::Reaped(2, 15), &mut fx), Outcome::Continue);
        assert_eq!(s.main.want, Want::Down);
    }

    #[test]
    fn failed_fork_is_retried_after_five_seconds() {
        let mut fx = Fake {
            fork_fails: true,
            ..Fake::default()
        };
        let mut s = Supervisor::new(false, None, Tai64n::default(), 0);
        s.handle(Event::Tick, &mut fx);
        assert_eq!(s.next_deadline(), Some(FORK_RETRY_MS));
        fx.fork_fails = false;
        fx.mono = 4999;
        s.handle(Event::Tick, &mut fx);
        assert_eq!(s.main.pid, 0);
        fx.mono = 5000;
        s.handle(Event::Tick, &mut fx);
        assert_eq!(s.main.pid, 1);
    }

    #[test]
    fn pause_flag_shows_even_when_down_and_clears_on_start() {
        let mut fx = Fake::default();
        let mut s = Supervisor::new(true, None, Tai64n::default(), 0);
        s.handle(Event::Control(Which::Main, b'p'), &mut fx);
        assert_eq!(last_stat(&fx), "down, paused");
        assert!(fx.log.is_empty(), "nothing to stop");
        s.handle(Event::Control(Which::Main, b'u'), &mut fx);
        assert_eq!(last_stat(&fx), "run");
    }

    #[test]
    fn u_after_a_handled_k_runs_control_u_before_stopping_the_leftover() {
        let mut fx = Fake {
            scripts: vec![b'k', b'u', b't'],
            ..Fake::default()
        };
        let mut s = Supervisor::new(false, None, Tai64n::default(), 0);
        s.handle(Event::Tick, &mut fx); // control/u = 1, then run = 2
        s.handle(Event::Reaped(1, 0), &mut fx);
        assert_eq!(s.main.pid, 2);
        fx.log.clear();
        s.handle(Event::Control(Which::Main, b'k'), &mut fx);
        s.handle(Event::Reaped(3, 0), &mut fx); // control/k handled it: no KILL
        assert_eq!(s.main.state, State::Down);
        s.handle(Event::Control(Which::Main, b'u'), &mut fx);
        s.handle(Event::Reaped(4, 0), &mut fx); // control/u
        s.handle(Event::Reaped(5, 1 << 8), &mut fx); // control/t, not handled
        assert_eq!(
            fx.log,
            [
                "script k = 3",
                "script u = 4",
                "script t = 5",
                "kill 2 Term",
                "spawn Main Run = 6"
            ]
        );
    }

    #[test]
    fn finish_args_follow_the_raw_wait_status() {
        assert_eq!(finish_args(3 << 8), (3, 0));
        assert_eq!(finish_args(9), (-1, 9));
        assert_eq!(finish_args(15), (-1, 15));
        assert_eq!(finish_args(0x80 | 6), (-1, 0x86), "core dump bit kept");
        assert_eq!(finish_args(111 << 8), (111, 0));
    }
}
