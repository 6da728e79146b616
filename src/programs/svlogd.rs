//! svlogd: the rotating logger (SPEC §8).
//!
//! Reads top to bottom: options, the log directories (lock, config, an
//! unclean `current` turned into `@….u`), then the loop: wait for input or
//! a signal, split lines, and for each line and directory select, copy to
//! stderr and UDP, and append to `current`, rotating by size exactly where
//! runit would. The rules (config, patterns, stamps) live in
//! `runit_core::svlogd`.
//!
//! Unlike runit, which writes each line with its own write(2), lines are
//! gathered per directory and written with one writev(2) per input chunk
//! (a line is never held back: every chunk is flushed before svlogd waits
//! again). The gathered pieces point into the input buffer, the stamp and
//! the config's prefix: nothing is copied in user space and nothing goes
//! through Rust's allocator (memory comes from [`Table`] mappings), so the
//! binary links none of std's panic machinery. No accepted line is lost: a
//! last line without newline at end of input, and the line being completed
//! when TERM arrives, are written with a newline appended (runit drops
//! both; COMPAT.md).

use runit_core::getopt::{scan_ulong, Getopt, Opt};
use runit_core::svlogd::{parse_config, select, stamp, Config, ConfigWarning, Span};
use runit_core::tai64n::Tai64n;
use runit_sys::event::{self, SelfPipe, Watch};
use runit_sys::fd::{self, Piece};
use runit_sys::fs;
use runit_sys::mem::{find_byte, move_bytes, move_down, put_at, Table};
use runit_sys::msg::{fmt_i64, line, line2};
use runit_sys::net::UdpError;
use runit_sys::process::{self, Args, SpawnPlan};
use runit_sys::worker::Worker;
use runit_sys::{c, clock, lock, Errno, Fd};
use std::ffi::CStr;
use std::os::fd::RawFd;

const EXIT_FATAL: i32 = 111;
const VERSION: &str = "$Id: 75895b2a099dd6ab02e9bcf480ae86011f9fc234 $";
const PAUSE_MS: u64 = 3000;
/// The input buffer: a partial line (shorter than `-l`) and the next read.
/// With the config texts and [`GAP`]: 40 KB, ten pages.
const INPUT: usize = 31 * 1024;
/// Pieces gathered per writev: two per line (stamp+prefix, line).
const IOV: usize = 768;
/// Reads between two looks at the signals (512 KB).
const READS: usize = 16;
/// runit never sleeps longer than this while waiting for input.
const MAX_WAIT_MS: u64 = 2744 * 1000;
/// `@` + 24 hex digits + `.` + suffix: the names of rotated files.
const OLD_LEN: usize = 27;
/// `@` + 24 hex digits: a rotated file's name without its suffix.
const STEM: usize = 25;

fn warn(pieces: &[&[u8]], e: Option<Errno>) {
    line2(&[b"svlogd: warning: "], pieces, e);
}

fn pause(pieces: &[&[u8]], e: Option<Errno>) {
    line2(&[b"svlogd: pausing: "], pieces, e);
    let _ = event::wait(&mut [], Some(PAUSE_MS));
}

fn info(verbose: bool, pieces: &[&[u8]]) {
    if verbose {
        line2(&[b"svlogd: info: "], pieces, None);
    }
}

/// runit's words when memory runs out at start-up.
fn fatal_no_memory() -> i32 {
    line(&[b"svlogd: fatal: out of memory."], None);
    EXIT_FATAL
}

pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"svlogd"[..], CStr::to_bytes);
    let prog = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let usage = || {
        line(
            &[
                b"usage: ",
                argv0,
                b" [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n",
            ],
            None,
        );
        EXIT_FATAL
    };
    let Ok(argv) = Table::from_fn(args.len().saturating_sub(1), |i| {
        args.get(i + 1).map_or(&b""[..], CStr::to_bytes)
    }) else {
        return fatal_no_memory();
    };
    let mut o = Options {
        stamp: 0,
        repl: None,
        extra: b"",
        len: 1000,
        verbose: false,
    };
    let mut buflen = 1024usize;
    let mut g = Getopt::new(&argv, b"R:r:l:b:tvV");
    for opt in g.by_ref() {
        match opt {
            Ok(Opt::Arg(b'r', v)) => match v {
                [ch] => o.repl = Some(*ch),
                _ => return usage(),
            },
            Ok(Opt::Arg(b'R', v)) => {
                o.extra = v;
                if o.repl.is_none() {
                    o.repl = Some(b'_');
                }
            }
            Ok(Opt::Arg(b'l', v)) => {
                o.len = usize::try_from(scan_ulong(v)).unwrap_or(usize::MAX);
                if o.len == 0 {
                    o.len = 1000;
                }
            }
            Ok(Opt::Arg(b'b', v)) => {
                buflen = usize::try_from(scan_ulong(v)).unwrap_or(usize::MAX);
                if buflen == 0 {
                    buflen = 1024;
                }
            }
            Ok(Opt::Flag(b't')) => o.stamp = (o.stamp + 1).min(3),
            Ok(Opt::Flag(b'v')) => o.verbose = true,
            Ok(Opt::Flag(b'V')) => {
                line(&[VERSION.as_bytes()], None);
                return usage();
            }
            Ok(_) => return usage(),
            Err(e) => {
                runit_sys::msg::option_error(prog, e);
                return usage();
            }
        }
    }
    let names = g.operands().len();
    if names == 0 || buflen <= o.len {
        return usage();
    }
    drop(argv);
    // The operands are the last `names` arguments.
    let first = args.len() - names;
    let Ok(dirs) = Table::from_fn(names, |k| Dir::new(args.get(first + k).unwrap_or(c""))) else {
        return fatal_no_memory();
    };
    // The config texts, the gap (GAP), a partial line (< len bytes), the next read.
    let size = INPUT.max(o.len.saturating_add(4096)).saturating_add(GAP);
    let Ok(buf) = Table::filled(size, 0u8) else {
        return fatal_no_memory();
    };
    let start = match fs::open_cwd() {
        Ok(fd) => fd,
        Err(e) => {
            line(
                &[b"svlogd: fatal: unable to open current working directory"],
                Some(e),
            );
            return EXIT_FATAL;
        }
    };
    let _ = fd::set_nonblock(0);
    // A 256 KB pipe lets the writer run ahead while we write a chunk out.
    // (Bigger buffers count against a user's pipe-user-pages limit, which
    // hundreds of loggers run by one non-root user would exhaust.)
    fd::grow_pipe(0, 256 << 10);
    let selfpipe = match SelfPipe::new(&[c::SIGTERM, c::SIGCHLD, c::SIGALRM, c::SIGHUP]) {
        Ok(p) => p,
        Err(e) => {
            line(&[b"svlogd: fatal: unable to create selfpipe"], Some(e));
            return EXIT_FATAL;
        }
    };
    let mut s = Svlogd {
        o,
        start,
        selfpipe,
        dirs,
        input: Input {
            buf,
            base: 0,
            carry: 0,
            carry_ts: [0; 32],
            carry_ts_len: 0,
            streaming: false,
        },
        bg: Bg::NotYet,
    };
    if !s.open_all() {
        line(&[b"svlogd: fatal: no functional log directories."], None);
        return EXIT_FATAL;
    }
    s.run()
}

struct Options {
    stamp: u8,
    repl: Option<u8>,
    extra: &'static [u8],
    len: usize,
    verbose: bool,
}

/// A config file's text while it is read; a processor command is copied
/// to its end with a NUL (for exec). Packed into [`Input::buf`] after.
type Text = Option<Table<u8>>;

/// One log directory.
struct Dir {
    name: &'static CStr,
    fd: Option<Fd>,
    lock: Option<Fd>,
    current: Option<Fd>,
    /// Bytes written to `current`.
    size: u64,
    /// Bytes gathered for `current` and not yet written, in `nq` pieces.
    queued: u64,
    nq: usize,
    cfg: Config,
    /// Where its config text is in [`Input::buf`] (the spans in `cfg` are
    /// relative to that text).
    text: Span,
    /// Monotonic ms of the next time-based rotation.
    deadline: Option<u64>,
    /// Running processor: pid and the `@X` stem it works on.
    processor: Option<(u32, [u8; STEM])>,
    /// The long line being streamed (see [`Input::streaming`]) goes here.
    streaming: bool,
}

impl Dir {
    fn new(name: &'static CStr) -> Dir {
        Dir {
            name,
            fd: None,
            lock: None,
            current: None,
            size: 0,
            queued: 0,
            nq: 0,
            cfg: Config::default(),
            text: Span::default(),
            deadline: None,
            processor: None,
            streaming: false,
        }
    }

    fn usable(&self) -> bool {
        self.current.is_some()
    }

    /// Usable and taking every line to its file alone: no patterns, no UDP.
    fn plain(&self) -> bool {
        self.usable() && !self.cfg.has_patterns && self.cfg.udp.is_none() && !self.cfg.udp_only
    }

    fn name(&self) -> &'static [u8] {
        self.name.to_bytes()
    }

    /// The size below which a record ending there needs no rotation
    /// check: the soft point `s - len` (or `s` itself when it is smaller
    /// than `len`); none without size rotation.
    fn rotation_point(&self, len: usize) -> u64 {
        match self.cfg.size {
            0 => u64::MAX,
            s => s.checked_sub(len as u64).unwrap_or(s),
        }
    }
}

/// The input buffer and the state of the line that spans chunks. The
/// directories' config texts sit in front of the input (so they cost no
/// mapping of their own, and prefixes can be gathered with the lines),
/// then a gap of [`GAP`] bytes where [`chunk_in_place`] builds its output.
struct Input {
    buf: Table<u8>,
    /// Where the input starts: the config texts and the gap come before.
    base: usize,
    /// Bytes at `base`: a partial line shorter than `-l`.
    carry: usize,
    /// The stamp of the carried line (taken at its first byte).
    carry_ts: [u8; 32],
    carry_ts_len: usize,
    /// A line reached `-l` characters without a newline: its head went out
    /// (runit decides on the first `len` characters) and the rest up to
    /// the newline follows into the directories that took it.
    streaming: bool,
}

impl Input {
    fn in_line(&self) -> bool {
        self.carry > 0 || self.streaming
    }
}

struct Svlogd {
    o: Options,
    start: Fd,
    selfpipe: SelfPipe,
    dirs: Table<Dir>,
    input: Input,
    bg: Bg,
}

/// A fresh `@<tai64n>.SUFFIX` name (NUL-terminated) that does not exist
/// yet in `dir`.
fn fresh_name(dir: &Fd, suffix: u8) -> [u8; OLD_LEN + 1] {
    loop {
        let t: Tai64n = clock::now_tai64n();
        let mut name = [0u8; OLD_LEN + 1];
        for (slot, b) in name.iter_mut().zip(t.label().iter().chain(&[b'.', suffix])) {
            *slot = *b;
        }
        if fs::stat_at(dir, as_cstr(&name)).is_err() {
            return name;
        }
        let _ = event::wait(&mut [], Some(1));
    }
}

/// A NUL-terminated buffer as a C string (empty if it holds no NUL).
fn as_cstr(b: &[u8]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

/// `STEM` + `suffix` (`.u`, `.t`, `.s`), NUL-terminated.
fn stem_name(stem: &[u8; STEM], suffix: &[u8; 2]) -> [u8; OLD_LEN + 1] {
    let mut name = [0u8; OLD_LEN + 1];
    for (slot, b) in name.iter_mut().zip(stem.iter().chain(suffix)) {
        *slot = *b;
    }
    name
}

impl Svlogd {
    fn leave(&self) {
        while let Err(e) = fs::fchdir(&self.start) {
            pause(&[b"unable to change to initial working directory"], Some(e));
        }
    }

    /// Opens every directory (SPEC §8.2); true if at least one is usable.
    /// Out of memory on the way: runit's pause, then try again.
    fn open_all(&mut self) -> bool {
        let mut texts = loop {
            match Table::from_fn(self.dirs.len(), |_| None) {
                Ok(t) => break t,
                Err(_) => pause(&[b"out of memory."], None),
            }
        };
        for (i, text) in texts.iter_mut().enumerate() {
            self.open_dir(i, text);
        }
        self.leave();
        while self.pack_texts(&texts).is_err() {
            pause(&[b"out of memory."], None);
        }
        self.dirs.iter().any(Dir::usable)
    }

    /// Puts the config texts at the front of the input buffer (moving a
    /// partial line behind them) and points each directory at its text.
    fn pack_texts(&mut self, texts: &[Text]) -> Result<(), Errno> {
        let lens = || texts.iter().map(|t| t.as_ref().map_or(0, |t| t.len()));
        // The texts, then the gap for the in-place output, then the input.
        let base: usize = lens().sum::<usize>() + GAP;
        let input = &mut self.input;
        let need = base.saturating_add(self.o.len).saturating_add(4096);
        if input.buf.len() < need {
            input.buf.resize(need.max(INPUT + GAP), 0)?;
        }
        move_bytes(&mut input.buf, input.base, base, input.carry);
        input.base = base;
        let mut at = 0;
        for ((d, t), len) in self.dirs.iter_mut().zip(texts).zip(lens()) {
            d.text = Span { start: at, len };
            if let Some(t) = t {
                put_at(&mut input.buf, at, t);
            }
            at += len;
        }
        Ok(())
    }

    /// Opens one directory, inside it (the caller comes back with leave);
    /// its config text goes to `text`.
    fn open_dir(&mut self, i: usize, text: &mut Text) {
        let verbose = self.o.verbose;
        self.leave();
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let name = d.name();
        // Without O_DIRECTORY: a plain file fails at the fchdir, as in runit.
        let dfd = match Fd::open(d.name, c::O_RDONLY, 0) {
            Ok(f) => f,
            Err(e) => return warn(&[b"unable to open log directory: ", name], Some(e)),
        };
        if let Err(e) = fs::fchdir(&dfd) {
            // runit closes the (still nameless) directory first, and says so.
            info(verbose, &[b"close: "]);
            return warn(&[b"unable to change directory: ", name], Some(e));
        }
        let l = match lock::open_lockfile(c"lock")
            .and_then(|l| lock::lock_exclusive_nb(&l).map(|()| l))
        {
            Ok(l) => l,
            Err(e) => {
                info(verbose, &[b"close: "]);
                return warn(&[b"unable to lock directory: ", name], Some(e));
            }
        };
        d.cfg = Config::default();
        *text = None;
        match fd::read_file_table(c"config") {
            Ok(t) => {
                info(verbose, &[b"read: ", name, b"/config"]);
                let cfg = parse_config(&t, |w| match w {
                    ConfigWarning::Address(rest) => {
                        warn(&[b"unable to scan ip address: ", rest], None)
                    }
                    ConfigWarning::Port(rest) => {
                        warn(&[b"unable to scan port number: ", rest], None)
                    }
                });
                d.cfg = cfg;
                *text = Some(t);
                if let Err(e) = nul_terminate_processor(&mut d.cfg, text) {
                    d.cfg.processor = None;
                    warn(&[b"unable to read config: ", name], Some(e));
                }
            }
            Err(Errno(c::ENOENT)) => {}
            Err(e) => warn(&[b"unable to read config: ", name], Some(e)),
        }
        d.deadline = (d.cfg.time > 0)
            .then(|| clock::mono_ms().saturating_add(d.cfg.time.saturating_mul(1000)));
        d.fd = Some(dfd);
        d.lock = Some(l);
        let mut fresh = true;
        match fs::stat(c"current") {
            Ok(m) => {
                let size = Fd::open(c"current", c::O_RDONLY, 0)
                    .and_then(|f| f.size())
                    .unwrap_or(0);
                if size > 0 && m.mode & 0o100 == 0 {
                    if let Some(dfd) = &d.fd {
                        let u = fresh_name(dfd, b'u');
                        while let Err(e) = fs::rename(c"current", as_cstr(&u)) {
                            pause(&[b"unable to rename current: ", name], Some(e));
                        }
                        prune(dfd, d.cfg.num, name, &u, verbose);
                    }
                } else {
                    fresh = false;
                }
            }
            Err(Errno(c::ENOENT)) => {}
            Err(e) => {
                d.fd = None;
                d.lock = None;
                return warn(&[b"unable to stat current: ", name], Some(e));
            }
        }
        let cur = loop {
            match Fd::open(
                c"current",
                c::O_WRONLY | c::O_APPEND | c::O_CREAT | c::O_NONBLOCK,
                0o644,
            ) {
                Ok(f) => break f,
                Err(e) => pause(&[b"unable to open current: ", name], Some(e)),
            }
        };
        let _ = cur.chmod(0o644);
        d.size = cur.size().unwrap_or(0);
        d.queued = 0;
        d.nq = 0;
        // `streaming` stays: a long line's rest follows its head into the
        // reopened file (HUP in mid-line, as runit does).
        info(
            verbose,
            &[
                if fresh { &b"new: "[..] } else { b"append: " },
                name,
                b"/current",
            ],
        );
        d.current = Some(cur);
    }

    fn run(&mut self) -> i32 {
        let mut ending = false;
        let mut next_look = 0u64;
        loop {
            self.rotate_expired();
            let now = clock::mono_ms();
            let timeout = self
                .dirs
                .iter()
                .filter(|d| d.usable())
                .filter_map(|d| d.deadline)
                .min()
                .map_or(MAX_WAIT_MS, |t| t.saturating_sub(now).min(MAX_WAIT_MS));
            let mut w = [
                Watch {
                    fd: 0,
                    ready: false,
                },
                Watch {
                    fd: self.selfpipe.fd(),
                    ready: false,
                },
            ];
            let _ = self.selfpipe.wait(&mut w, Some(timeout));
            let [input, signalled] = w;
            let (mut term, mut hup, mut alrm, mut chld) = (false, false, false, false);
            let mut note = |sig| match sig {
                s if s == c::SIGTERM => term = true,
                s if s == c::SIGHUP => hup = true,
                s if s == c::SIGALRM => alrm = true,
                s if s == c::SIGCHLD => chld = true,
                _ => {}
            };
            // A signal caught during this wait shows up at the next one.
            if signalled.ready {
                self.selfpipe.drain(&mut note);
            }
            // Input ready at once: ppoll delivered no pending signal. Look
            // for them at most every 10 ms (a syscall each time).
            let now = clock::mono_ms();
            if input.ready && now >= next_look {
                self.selfpipe.take_pending(&mut note);
                next_look = now.saturating_add(10);
            }
            let v = self.o.verbose;
            if chld {
                info(v, &[b"sigchild received."]);
                self.reap_processors();
            }
            if hup {
                info(v, &[b"sighangup received."]);
                self.close_all(false);
                if !self.open_all() {
                    line(&[b"svlogd: fatal: no functional log directories."], None);
                    return EXIT_FATAL;
                }
            }
            if alrm {
                info(v, &[b"sigalarm received."]);
                for i in 0..self.dirs.len() {
                    self.rotate_now(i);
                }
            }
            if term {
                info(v, &[b"sigterm received."]);
                ending = true;
            }
            // Read what is there (after TERM: only to finish the line), at
            // most READS chunks: signals are looked at between rounds, so
            // TERM, HUP and ALRM work under a never-ending stream too.
            for _ in 0..READS {
                let input = &mut self.input;
                let room = input
                    .buf
                    .get_mut(input.base + input.carry..)
                    .unwrap_or(&mut []);
                let want = room.len();
                match fd::read_raw(0, room) {
                    Ok(0) => {
                        ending = true;
                        break;
                    }
                    Ok(n) => {
                        self.chunk(n);
                        if ending && !self.input.in_line() {
                            break;
                        }
                        if n < want && !ending {
                            break;
                        }
                    }
                    Err(Errno(c::EAGAIN)) | Err(Errno(c::EINTR)) => break,
                    Err(e) => {
                        warn(&[b"unable to read standard input"], Some(e));
                        ending = true;
                        break;
                    }
                }
            }
            if ending {
                // runit drops an unfinished line; we end it with a newline.
                self.finish_line();
                self.close_all(true);
                return 0;
            }
        }
    }

    /// Handles `n` bytes just read behind the carried partial line: every
    /// complete line goes out (written before this returns); a new partial
    /// line moves to the front of the buffer.
    fn chunk(&mut self, n: usize) {
        let t = clock::now_tai64n();
        let mut ts = [0u8; 32];
        let ts_len = stamp(self.o.stamp, t.unix_secs(), t.nanos, &mut ts);
        let Svlogd {
            o, dirs, input, bg, ..
        } = self;
        let base = input.base;
        let total = input.carry + n;
        let carried = input.carry > 0;
        if let Some(r) = o.repl {
            let data = input.buf.get_mut(base..base + total).unwrap_or(&mut []);
            replace_heads(data, input.streaming, o.len, r, o.extra);
        }
        let ts_now = ts.get(..ts_len).unwrap_or(&[]);
        let tail = match in_place_head(dirs, &input.buf, ts_now) {
            Some(head) => chunk_in_place(o, dirs, input, bg, ts_now, &head, total),
            None => chunk_gathered(o, dirs, input, bg, ts_now, total, 0),
        };
        match tail {
            Some(p) => {
                if !(p == 0 && carried) {
                    input.carry_ts = ts;
                    input.carry_ts_len = ts_len;
                }
                move_down(&mut input.buf, base + p, base, total - p);
                input.carry = total - p;
            }
            None => input.carry = 0,
        }
    }

    /// At the end: the carried line, or the rest of a streamed one, gets
    /// its newline and goes out.
    #[inline(never)]
    fn finish_line(&mut self) {
        let Svlogd {
            o, dirs, input, bg, ..
        } = self;
        {
            let (texts, data) = texts_and_data(&input.buf, input.base, input.carry);
            let ts = input.carry_ts.get(..input.carry_ts_len).unwrap_or(&[]);
            let mut slots = [Piece::EMPTY; FEW];
            let mut out = Out::new(&mut slots, dirs.len(), bg);
            if input.streaming {
                continue_streamed(o, dirs, texts, &mut out, b"\n", true);
            } else if input.carry > 0 {
                dispatch(o, dirs, texts, &mut out, ts, data, Ending::Added);
            }
            flush_all(dirs, &mut out);
        }
        input.carry = 0;
        input.streaming = false;
    }

    /// Rotates every directory whose time deadline has passed.
    fn rotate_expired(&mut self) {
        let now = clock::mono_ms();
        for i in 0..self.dirs.len() {
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            if !d.usable() || d.deadline.is_none_or(|t| now < t) {
                continue;
            }
            d.deadline = Some(now.saturating_add(d.cfg.time.saturating_mul(1000)));
            self.rotate_now(i);
        }
    }

    /// Rotation outside a chunk (ALRM, time): nothing is gathered then.
    fn rotate_now(&mut self, i: usize) {
        if let Some(d) = self.dirs.get_mut(i) {
            let text = d.text.of(&self.input.buf);
            rotate(d, text, self.o.verbose, &mut self.bg);
        }
    }

    fn reap_processors(&mut self) {
        while let Some((pid, ws)) = process::reap_one() {
            let v = self.o.verbose;
            for d in self.dirs.iter_mut() {
                if d.processor.is_some_and(|p| p.0 == pid) {
                    let text = d.text.of(&self.input.buf);
                    processor_done(d, text, ws, v);
                }
            }
        }
    }

    /// Fsync and mode 0744 on `current`, release the lock. At exit a
    /// running processor is waited for; on HUP it is forgotten, as runit
    /// does (its `.u` stays and its `.t` goes at the next rotation).
    fn close_all(&mut self, wait: bool) {
        self.bg.wait_idle();
        for i in 0..self.dirs.len() {
            let v = self.o.verbose;
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            if wait {
                wait_processor(d, d.text.of(&self.input.buf), v);
            }
            if d.fd.is_none() {
                continue;
            }
            if let Some(cur) = d.current.take() {
                while let Err(e) = cur.sync() {
                    pause(&[b"unable to fsync current logfile: ", d.name()], Some(e));
                }
                while let Err(e) = cur.chmod(0o744) {
                    pause(&[b"unable to set mode of current: ", d.name()], Some(e));
                }
                drop(cur);
            }
            info(v, &[b"close: ", d.name()]);
            d.lock = None;
            d.fd = None;
            d.processor = None;
        }
    }
}

/// How the text given to [`dispatch`] ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// With its newline (kept in the same piece).
    InLine,
    /// Without one; a newline is added (end of input, TERM).
    Added,
    /// The line is `len` characters or longer and goes on: the rest
    /// follows through [`continue_streamed`].
    Later,
}

/// One line to every directory: `text` is the line (its first `len`
/// characters already replaced) as `ending` says. Selection sees the
/// first `len` characters; stderr and UDP get those plus `...` when cut;
/// the log gets everything.
fn dispatch<'b>(
    o: &Options,
    dirs: &mut [Dir],
    texts: &'b [u8],
    out: &mut Out<'_, 'b>,
    ts: &'b [u8],
    text: &'b [u8],
    ending: Ending,
) {
    let raw = match ending {
        Ending::InLine => text.get(..text.len().saturating_sub(1)).unwrap_or(text),
        Ending::Added | Ending::Later => text,
    };
    let end: &'static [u8] = if ending == Ending::Added { b"\n" } else { b"" };
    let cut = raw.len().min(o.len);
    let head = raw.get(..cut).unwrap_or(raw);
    // A line of exactly `len` characters also gets the dots (runit).
    let dots: &'static [u8] = if raw.len() >= o.len { b"..." } else { b"" };
    let complete = ending != Ending::Later;
    for (i, d) in dirs.iter_mut().enumerate() {
        if !d.usable() {
            continue;
        }
        let cfg_text: &'b [u8] = d.text.of(texts);
        let (log, err) = if d.cfg.has_patterns {
            select(&d.cfg, cfg_text, head)
        } else {
            (b'+', b'E')
        };
        let prefix = d.cfg.prefix.of(cfg_text);
        // What stderr and UDP get: the first `len` characters.
        let line = [ts, prefix, head, dots, b"\n"].map(Piece::new);
        if err == b'e' {
            let _ = fd::writev(2, &line);
        }
        if log != b'+' {
            continue;
        }
        if let Some(u) = d.cfg.udp {
            match runit_sys::net::send_udp(u.addr, u.port, &line) {
                Err(UdpError::Socket(_)) => emit(
                    o,
                    d,
                    cfg_text,
                    out,
                    i,
                    &[
                        b"warning: no udp socket available: ",
                        ts,
                        prefix,
                        head,
                        b"\n",
                    ],
                    true,
                ),
                Err(UdpError::Send) => emit(
                    o,
                    d,
                    cfg_text,
                    out,
                    i,
                    &[
                        b"warning: failure sending through udp: ",
                        ts,
                        prefix,
                        head,
                        dots,
                        b"\n",
                    ],
                    true,
                ),
                Ok(()) => {}
            }
        }
        if !d.cfg.udp_only {
            emit(o, d, cfg_text, out, i, &[ts, prefix, text, end], complete);
            d.streaming = !complete;
        }
    }
}

/// Room in front of the input where [`chunk_in_place`] builds its output:
/// it is written out whenever the stamps and prefixes added fill it, once
/// per read for lines of 90 bytes or more with `-tt` (26-byte stamps).
const GAP: usize = 9 * 1024;
/// The longest stamp and prefix built in place.
const HEAD_MAX: usize = 256;
/// Pieces gathered for the few lines [`chunk_in_place`] hands on.
const FEW: usize = 16;

/// The stamp and prefix that start every line of a chunk written in place.
#[derive(Clone, Copy)]
struct Head {
    bytes: [u8; HEAD_MAX],
    len: usize,
}

/// The head of the in-place path when it applies: one directory taking
/// every line to its file (no patterns, no UDP), a stamp and prefix that
/// fit in [`HEAD_MAX`].
fn in_place_head(dirs: &[Dir], buf: &[u8], ts: &[u8]) -> Option<Head> {
    let [d] = dirs else { return None };
    if !d.plain() {
        return None;
    }
    let prefix = d.cfg.prefix.of(d.text.of(buf));
    let mut head = Head {
        bytes: [0; HEAD_MAX],
        len: ts.len() + prefix.len(),
    };
    let fits = put_at(&mut head.bytes, 0, ts) && put_at(&mut head.bytes, ts.len(), prefix);
    fits.then_some(head)
}

/// The config texts in front of the input buffer, and its first `len`
/// bytes of input (from `base`).
fn texts_and_data(buf: &[u8], base: usize, len: usize) -> (&[u8], &[u8]) {
    let (texts, data) = buf.split_at_checked(base).unwrap_or((&[], &[]));
    (texts, data.get(..len).unwrap_or(&[]))
}

/// What [`general_step`] did.
enum Step {
    /// A line went out; the next starts here.
    Next(usize),
    /// A partial line shorter than `len` starts here: carry it.
    Tail(usize),
    /// Nothing is left of the chunk (or a long line is being streamed).
    Done,
}

/// One line at `pos` through [`dispatch`], whatever it is: carried, long,
/// at a rotation point, or for several directories.
#[allow(clippy::too_many_arguments)]
fn general_step<'b>(
    o: &Options,
    dirs: &mut [Dir],
    texts: &'b [u8],
    out: &mut Out<'_, 'b>,
    data: &'b [u8],
    pos: usize,
    stamp: &'b [u8],
    streaming: &mut bool,
) -> Step {
    let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) else {
        return Step::Done;
    };
    match find_byte(rest, b'\n') {
        Some(nl) => {
            let whole = rest.get(..=nl).unwrap_or(rest);
            dispatch(o, dirs, texts, out, stamp, whole, Ending::InLine);
            Step::Next(pos + nl + 1)
        }
        None if rest.len() >= o.len => {
            dispatch(o, dirs, texts, out, stamp, rest, Ending::Later);
            *streaming = true;
            Step::Done
        }
        None => Step::Tail(pos),
    }
}

/// The rest of a streamed long line at the start of a chunk: up to its
/// newline (where it ends) or all of `data`. Returns the bytes it took.
fn stream_rest<'b>(
    o: &Options,
    dirs: &mut [Dir],
    texts: &[u8],
    out: &mut Out<'_, 'b>,
    data: &'b [u8],
    streaming: &mut bool,
) -> usize {
    let (piece, end) = match find_byte(data, b'\n') {
        Some(nl) => (data.get(..=nl).unwrap_or(data), true),
        None => (data, false),
    };
    continue_streamed(o, dirs, texts, out, piece, end);
    *streaming = !end;
    piece.len()
}

/// [`Svlogd::chunk`] in general, from `start`: every line's pieces are
/// gathered (for each directory its own) and written with one writev per
/// directory. Returns where a partial line to carry starts. (Not inlined: its pieces,
/// 12 KB of stack, are touched only when this path runs.)
#[inline(never)]
fn chunk_gathered(
    o: &Options,
    dirs: &mut [Dir],
    input: &mut Input,
    bg: &mut Bg,
    ts: &[u8],
    total: usize,
    start: usize,
) -> Option<usize> {
    let carried = input.carry > 0;
    let Input {
        buf,
        base,
        streaming,
        carry_ts,
        carry_ts_len,
        ..
    } = input;
    let (texts, data) = texts_and_data(buf, *base, total);
    let carry_stamp = carry_ts.get(..*carry_ts_len).unwrap_or(&[]);
    let mut slots = [Piece::EMPTY; IOV];
    let mut out = Out::new(&mut slots, dirs.len(), bg);
    let mut pos = start;
    if *streaming && pos == 0 {
        pos = stream_rest(o, dirs, texts, &mut out, data, streaming);
    }
    let tail = loop {
        if !(pos == 0 && carried) {
            pos = plain_lines(o, dirs, texts, &mut out, ts, data, pos);
        }
        let stamp = if pos == 0 && carried { carry_stamp } else { ts };
        match general_step(o, dirs, texts, &mut out, data, pos, stamp, streaming) {
            Step::Next(p) => pos = p,
            Step::Tail(p) => break Some(p),
            Step::Done => break None,
        }
    };
    flush_all(dirs, &mut out);
    tail
}

/// [`Svlogd::chunk`] for the common case (see [`in_place_head`]): runs of
/// plain lines are built in the gap in front of the input, head then line
/// moved down, and go out as one contiguous write (the kernel copies one
/// buffer instead of two pieces a line); the other lines take the general
/// path one at a time. Returns where a partial line to carry starts.
#[inline(never)]
fn chunk_in_place(
    o: &Options,
    dirs: &mut [Dir],
    input: &mut Input,
    bg: &mut Bg,
    ts: &[u8],
    head: &Head,
    total: usize,
) -> Option<usize> {
    let carried = input.carry > 0;
    let Input {
        buf,
        base,
        streaming,
        carry_ts,
        carry_ts_len,
        ..
    } = input;
    let base = *base;
    let carry_stamp = carry_ts.get(..*carry_ts_len).unwrap_or(&[]);
    // The carried line keeps the stamp of its first byte (as long as the
    // current one: the stamp level is fixed).
    let carry_head = (carried && carry_stamp.len() == ts.len()).then(|| {
        let mut h = *head;
        put_at(&mut h.bytes, 0, carry_stamp);
        h
    });
    let heads = Heads {
        all: head.bytes.get(..head.len).unwrap_or(&[]),
        first: carry_head
            .as_ref()
            .map(|h| h.bytes.get(..h.len).unwrap_or(&[])),
    };
    let mut pos = 0;
    if *streaming {
        let (texts, data) = texts_and_data(buf, base, total);
        let mut slots = [Piece::EMPTY; FEW];
        let mut out = Out::new(&mut slots, dirs.len(), bg);
        pos = stream_rest(o, dirs, texts, &mut out, data, streaming);
        flush_all(dirs, &mut out);
    }
    loop {
        if !(pos == 0 && carried && heads.first.is_none()) {
            if let Some(d) = dirs.first_mut() {
                pos = in_place_lines(buf, o, d, bg, &heads, base, total, pos);
            }
        }
        // Long lines (`len` characters or more) are gathered with the rest
        // of the chunk: one writev for a run of them, not one each.
        let (_, data) = texts_and_data(buf, base, total);
        let rest = data.get(pos..).unwrap_or(&[]);
        if find_byte(rest, b'\n').unwrap_or(rest.len()) >= o.len {
            break;
        }
        let step = {
            let (texts, data) = texts_and_data(buf, base, total);
            let stamp = if pos == 0 && carried { carry_stamp } else { ts };
            let mut slots = [Piece::EMPTY; FEW];
            let mut out = Out::new(&mut slots, dirs.len(), bg);
            let step = general_step(o, dirs, texts, &mut out, data, pos, stamp, streaming);
            flush_all(dirs, &mut out);
            step
        };
        match step {
            Step::Next(p) => pos = p,
            Step::Tail(p) => return Some(p),
            Step::Done => return None,
        }
    }
    chunk_gathered(o, dirs, input, bg, ts, total, pos)
}

/// The heads of a chunk's lines: the carried line (at 0) may have its own.
struct Heads<'h> {
    all: &'h [u8],
    first: Option<&'h [u8]>,
}

/// The lines [`plain_lines`] would take, from `pos`, built in place: each
/// as its head + line at the write cursor in the gap below `base` (the
/// line moved down over input already used), written out when the gap is
/// used up and at the end. Without heads the lines are written from where
/// they are. Returns where the general path must go on.
#[allow(clippy::too_many_arguments)]
fn in_place_lines(
    buf: &mut [u8],
    o: &Options,
    d: &mut Dir,
    bg: &mut Bg,
    heads: &Heads<'_>,
    base: usize,
    total: usize,
    mut pos: usize,
) -> usize {
    let Some(gap) = base.checked_sub(GAP) else {
        return pos;
    };
    if !d.usable() {
        return pos;
    }
    let limit = d.rotation_point(o.len);
    let start = pos;
    let mut w = gap;
    loop {
        let p = base + pos;
        let Some(nl) = buf.get(p..base + total).and_then(|r| find_byte(r, b'\n')) else {
            break;
        };
        let l = nl + 1;
        let head = match heads.first {
            Some(h) if pos == 0 => h,
            _ => heads.all,
        };
        let f = head.len();
        let pending = if heads.all.is_empty() {
            pos - start
        } else {
            w - gap
        };
        if nl >= o.len || d.size + (pending + f + l) as u64 >= limit {
            break;
        }
        if !heads.all.is_empty() {
            if w + f > p {
                write_out(d, buf, gap, w, bg);
                w = gap;
            }
            put_at(buf, w, head);
            move_down(buf, p, w + f, l);
            w += f + l;
        }
        pos += l;
    }
    if heads.all.is_empty() {
        write_out(d, buf, base + start, base + pos, bg);
    } else {
        write_out(d, buf, gap, w, bg);
    }
    pos
}

/// Writes `buf[from..to]` to the directory's `current` (nothing if empty).
fn write_out(d: &mut Dir, buf: &[u8], from: usize, to: usize, bg: &mut Bg) {
    if let Some(bytes) = buf.get(from..to).filter(|b| !b.is_empty()) {
        write_all(d, &[Piece::new(bytes)], bg);
    }
}

/// The common case at full speed, without [`dispatch`]'s per-line work:
/// one directory taking every line to its file (no patterns, no UDP),
/// lines shorter than `len`, none ending near a rotation point, free
/// slots. Gathers complete lines of `data` from `pos` while that holds;
/// returns where the general path must go on.
fn plain_lines<'b>(
    o: &Options,
    dirs: &mut [Dir],
    texts: &'b [u8],
    out: &mut Out<'_, 'b>,
    ts: &'b [u8],
    data: &'b [u8],
    mut pos: usize,
) -> usize {
    let [d] = dirs else { return pos };
    if !d.plain() {
        return pos;
    }
    let prefix = d.cfg.prefix.of(d.text.of(texts));
    let head = if prefix.is_empty() { 1 } else { 2 };
    let limit = d.rotation_point(o.len);
    let fixed = (ts.len() + prefix.len()) as u64;
    while let Some(rest) = data.get(pos..) {
        let Some(nl) = find_byte(rest, b'\n') else {
            break;
        };
        let whole = rest.get(..=nl).unwrap_or(rest);
        if nl >= o.len
            || d.size + d.queued + fixed + whole.len() as u64 >= limit
            || out.room(d.nq) < head + 1
        {
            break;
        }
        for p in [ts, prefix, whole] {
            if !p.is_empty() && out.put(0, d.nq, p) {
                d.nq += 1;
            }
        }
        d.queued += fixed + whole.len() as u64;
        pos += nl + 1;
    }
    pos
}

/// More of a streamed long line (`end`: it finishes with this piece) to
/// the directories that took its head.
fn continue_streamed<'b>(
    o: &Options,
    dirs: &mut [Dir],
    texts: &[u8],
    out: &mut Out<'_, 'b>,
    piece: &'b [u8],
    end: bool,
) {
    for (i, d) in dirs.iter_mut().enumerate() {
        if d.streaming && d.usable() {
            let text = d.text.of(texts);
            emit(o, d, text, out, i, &[piece], end);
        }
        if end {
            d.streaming = false;
        }
    }
}

/// Appends one record, given in pieces, to directory `i` (`d`): rotating
/// by size exactly where runit's per-line writes would (before any byte
/// that would pass `s`; after a record that ends within `len` of it).
fn emit<'b>(
    o: &Options,
    d: &mut Dir,
    text: &[u8],
    out: &mut Out<'_, 'b>,
    i: usize,
    pieces: &[&'b [u8]],
    record_end: bool,
) {
    let s = d.cfg.size;
    // Fast path: the record ends before any rotation point, and its
    // pieces fit in the directory's free slots.
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let below = d.size + d.queued + (total as u64) < d.rotation_point(o.len);
    if below && d.usable() && out.room(d.nq) >= pieces.len() {
        for &p in pieces.iter().filter(|p| !p.is_empty()) {
            if out.put(i, d.nq, p) {
                d.nq += 1;
            }
        }
        d.queued += total as u64;
        return;
    }
    for &piece in pieces {
        let mut p = piece;
        while !p.is_empty() {
            if !d.usable() {
                return;
            }
            let v = d.size + d.queued;
            if s > 0 && v >= s {
                flush(d, out, i);
                rotate(d, text, o.verbose, out.bg);
                continue;
            }
            let room = if s > 0 {
                usize::try_from(s - v).unwrap_or(usize::MAX)
            } else {
                usize::MAX
            };
            let (now, later) = p.split_at_checked(room).unwrap_or((p, &[]));
            if out.full(d.nq) {
                flush(d, out, i);
            }
            if out.put(i, d.nq, now) {
                d.nq += 1;
                d.queued += now.len() as u64;
            } else {
                // No slots of its own (more directories than slots).
                write_all(d, &[Piece::new(now)], out.bg);
            }
            p = later;
        }
    }
    let v = d.size + d.queued;
    let soft = s.checked_sub(o.len as u64);
    if record_end && s > 0 && soft.is_some_and(|soft| v >= soft) {
        flush(d, out, i);
        rotate(d, text, o.verbose, out.bg);
    }
}

fn flush_all(dirs: &mut [Dir], out: &mut Out<'_, '_>) {
    for (i, d) in dirs.iter_mut().enumerate() {
        flush(d, out, i);
    }
}

/// Writes a directory's gathered pieces, never losing them (SPEC §8.10).
fn flush(d: &mut Dir, out: &mut Out<'_, '_>, i: usize) {
    if d.nq == 0 {
        return;
    }
    let nq = d.nq;
    d.nq = 0;
    d.queued = 0;
    let start = i * out.per;
    let pieces = out.slots.get(start..start + nq.min(out.per)).unwrap_or(&[]);
    write_all(d, pieces, out.bg);
}

/// SPEC §8.7: only a non-empty `current` is rotated. Nothing of this
/// directory is gathered when this runs; `text` is its config text.
///
/// Without a processor, the waiting half goes to the worker thread: the
/// old `current` is renamed to `@X.u` (runit's name for a file that may be
/// incomplete), a new `current` is opened at once, and the worker fsyncs
/// the old file, sets mode 0744, renames it to `@X.s` and prunes, while
/// input keeps flowing. A file named `.s` is thus always complete on disk,
/// as with runit; the next rotation, a full disk, HUP and exit wait for
/// the worker first.
fn rotate(d: &mut Dir, text: &[u8], verbose: bool, bg: &mut Bg) {
    if d.size == 0 || !d.usable() {
        return;
    }
    bg.wait_idle();
    if d.cfg.processor.is_none() {
        if let Some(workers) = bg.get() {
            return rotate_in_background(d, verbose, workers);
        }
    }
    wait_processor(d, text, verbose);
    let Some(dfd) = &d.fd else { return };
    let name = d.name();
    let suffix = if d.cfg.processor.is_some() {
        b'u'
    } else {
        b's'
    };
    let new = fresh_name(dfd, suffix);
    if let Some(cur) = d.current.take() {
        while let Err(e) = cur.sync() {
            pause(&[b"unable to fsync current logfile: ", name], Some(e));
        }
        while let Err(e) = cur.chmod(0o744) {
            pause(&[b"unable to set mode of current: ", name], Some(e));
        }
        drop(cur);
    }
    while let Err(e) = fs::rename_at(dfd, c"current", as_cstr(&new)) {
        pause(&[b"unable to rename current: ", name], Some(e));
    }
    say_renamed(d, &new, verbose);
    open_new_current(d);
    let Some(dfd) = &d.fd else { return };
    prune(dfd, d.cfg.num, name, &new, verbose);
    if suffix == b'u' {
        let mut stem = [0u8; STEM];
        for (slot, b) in stem.iter_mut().zip(new.iter()) {
            *slot = *b;
        }
        start_processor(d, text, stem, verbose);
    }
}

/// The main thread's half of a rotation without processor (see [`rotate`]).
fn rotate_in_background(d: &mut Dir, verbose: bool, bg: Workers<'_>) {
    let Some(dfd) = &d.fd else { return };
    let name = d.name();
    // Both names of this rotation must be free.
    let stem = loop {
        let s = fresh_name(dfd, b's');
        let mut stem = [0u8; STEM];
        for (slot, b) in stem.iter_mut().zip(s.iter()) {
            *slot = *b;
        }
        if fs::stat_at(dfd, as_cstr(&stem_name(&stem, b".u"))).is_err() {
            break stem;
        }
    };
    let (u, s) = (stem_name(&stem, b".u"), stem_name(&stem, b".s"));
    let Some(old) = d.current.take() else { return };
    while let Err(e) = fs::rename_at(dfd, c"current", as_cstr(&u)) {
        pause(&[b"unable to rename current: ", name], Some(e));
    }
    say_renamed(d, &s, verbose);
    let prune = Prune {
        dir: dfd.raw(),
        stem,
        num: d.cfg.num,
        verbose,
        name,
    };
    let job = Finish {
        dir: dfd.raw(),
        old: old.raw(),
        stem,
        prune: bg.prune.is_none().then_some(prune),
        name,
    };
    open_new_current(d);
    // The worker owns the old descriptor from here on.
    core::mem::forget(old);
    if bg.finish.send(job).is_err() {
        finish_rotation(job);
    }
    // Pruning waits on the disk too (an unlink may wait for a discard):
    // in a thread of its own it overlaps the fsync.
    if let Some(w) = bg.prune {
        if w.send(prune).is_err() {
            prune_job(prune);
        }
    }
}

/// What the finishing thread does for [`rotate_in_background`].
#[derive(Clone, Copy)]
struct Finish {
    /// The log directory (owned by the main thread, which waits for the
    /// workers before closing it).
    dir: RawFd,
    /// The old `current`, now `@STEM.u` (owned by the job).
    old: RawFd,
    stem: [u8; STEM],
    /// Pruning too, when no thread of its own could be made for it.
    prune: Option<Prune>,
    name: &'static [u8],
}

/// What the pruning thread does for [`rotate_in_background`]: prune the
/// directory, keeping `@STEM` (which may be `.u` or `.s` meanwhile).
#[derive(Clone, Copy)]
struct Prune {
    dir: RawFd,
    stem: [u8; STEM],
    num: u64,
    verbose: bool,
    name: &'static [u8],
}

/// The finishing half of a rotation: fsync, mode 0744, `.u` to `.s`.
fn finish_rotation(job: Finish) {
    let old = Fd::from_raw(job.old);
    let dir = core::mem::ManuallyDrop::new(Fd::from_raw(job.dir));
    let name = job.name;
    while let Err(e) = old.sync() {
        pause(&[b"unable to fsync current logfile: ", name], Some(e));
    }
    while let Err(e) = old.chmod(0o744) {
        pause(&[b"unable to set mode of current: ", name], Some(e));
    }
    drop(old);
    let s = stem_name(&job.stem, b".s");
    let u = stem_name(&job.stem, b".u");
    while let Err(e) = fs::rename_at(&dir, as_cstr(&u), as_cstr(&s)) {
        pause(&[b"unable to rename current: ", name], Some(e));
    }
    if let Some(p) = job.prune {
        prune_job(p);
    }
}

fn prune_job(job: Prune) {
    let dir = core::mem::ManuallyDrop::new(Fd::from_raw(job.dir));
    let keep = stem_name(&job.stem, b".s");
    prune(&dir, job.num, job.name, &keep, job.verbose);
}

/// The rotation workers, started at the first rotation that can use them.
enum Bg {
    NotYet,
    Running {
        finish: Worker<Finish>,
        /// None if its thread could not be made: `finish` prunes then.
        prune: Option<Worker<Prune>>,
    },
    /// No thread could be made: rotations stay in the main thread.
    Unavailable,
}

/// The running workers, borrowed for one rotation.
struct Workers<'w> {
    finish: &'w mut Worker<Finish>,
    prune: Option<&'w mut Worker<Prune>>,
}

impl Bg {
    fn get(&mut self) -> Option<Workers<'_>> {
        if let Bg::NotYet = self {
            *self = match Worker::start(finish_rotation) {
                Ok(finish) => Bg::Running {
                    finish,
                    prune: Worker::start(prune_job).ok(),
                },
                Err(_) => Bg::Unavailable,
            };
        }
        match self {
            Bg::Running { finish, prune } => Some(Workers {
                finish,
                prune: prune.as_mut(),
            }),
            _ => None,
        }
    }

    /// Waits until both workers are done with every job sent.
    fn wait_idle(&mut self) {
        if let Bg::Running { finish, prune } = self {
            finish.wait_idle();
            if let Some(p) = prune {
                p.wait_idle();
            }
        }
    }
}

/// `-v`: `rename: DIR/current NEW SIZE`.
fn say_renamed(d: &Dir, new: &[u8; OLD_LEN + 1], verbose: bool) {
    let mut size = [0u8; 24];
    let size_len = fmt_i64(i64::try_from(d.size).unwrap_or(i64::MAX), &mut size);
    info(
        verbose,
        &[
            b"rename: ",
            d.name(),
            b"/current ",
            as_cstr(new).to_bytes(),
            b" ",
            size.get(..size_len).unwrap_or(&[]),
        ],
    );
}

/// A new, empty `current` after a rotation (pausing until it can be made).
fn open_new_current(d: &mut Dir) {
    let Some(dfd) = &d.fd else { return };
    let cur = loop {
        match Fd::open_at(
            dfd,
            c"current",
            c::O_WRONLY | c::O_APPEND | c::O_CREAT | c::O_TRUNC | c::O_NONBLOCK,
            0o644,
        ) {
            Ok(f) => break f,
            Err(e) => pause(&[b"unable to create new current: ", d.name()], Some(e)),
        }
    };
    while let Err(e) = cur.chmod(0o644) {
        pause(&[b"unable to set mode of current: ", d.name()], Some(e));
    }
    d.current = Some(cur);
    d.size = 0;
}

/// Blocks until the directory's processor has succeeded.
fn wait_processor(d: &mut Dir, text: &[u8], verbose: bool) {
    while let Some((pid, _)) = d.processor {
        match process::wait_pid(pid) {
            Ok(ws) => processor_done(d, text, ws, verbose),
            Err(e) => {
                pause(&[b"error waiting for processor: ", d.name()], Some(e));
                if e.0 == c::ECHILD {
                    d.processor = None;
                }
            }
        }
    }
}

/// A processor ended: success moves `.t` to `.s`, failure restarts it.
fn processor_done(d: &mut Dir, text: &[u8], ws: i32, verbose: bool) {
    let Some((_, stem)) = d.processor.take() else {
        return;
    };
    let name = d.name();
    let (u, t, s) = (
        stem_name(&stem, b".u"),
        stem_name(&stem, b".t"),
        stem_name(&stem, b".s"),
    );
    let (u, t, s) = (as_cstr(&u), as_cstr(&t), as_cstr(&s));
    // Only the exit code counts: killed by a signal is success (runit).
    if (ws >> 8) & 0xff != 0 {
        warn(&[b"processor failed, restart: ", name], None);
        if let Some(dfd) = &d.fd {
            let _ = fs::unlink_at(dfd, t);
        }
        return start_processor(d, text, stem, verbose);
    }
    let Some(dfd) = &d.fd else { return };
    while let Err(e) = fs::rename_at(dfd, t, s) {
        pause(&[b"unable to rename processed: ", name], Some(e));
    }
    while let Err(e) = fs::chmod_at(dfd, s, 0o744) {
        pause(&[b"unable to set mode of processed: ", name], Some(e));
    }
    if fs::unlink_at(dfd, u).is_err() {
        warn(&[b"unable to unlink: ", name, b"/", u.to_bytes()], None);
    }
    while let Err(e) = fs::rename_at(dfd, c"newstate", c"state") {
        pause(&[b"unable to rename state: ", name], Some(e));
    }
    info(verbose, &[b"processed: ", name, b"/", s.to_bytes()]);
}

/// Moves the processor command to the end of the text with a NUL after
/// it, so it can be exec'd as it is.
fn nul_terminate_processor(cfg: &mut Config, text: &mut Text) -> Result<(), Errno> {
    let (Some(p), Some(t)) = (cfg.processor, text.as_mut()) else {
        return Ok(());
    };
    let at = t.len();
    t.resize(at + p.len + 1, 0)?;
    move_bytes(t, p.start, at, p.len);
    cfg.processor = Some(Span {
        start: at,
        len: p.len,
    });
    Ok(())
}

/// Replaces, in place, the characters `-r`/`-R` name in the first `len`
/// characters of every line in `data` (not in the rest of a streamed
/// line). Doing it twice changes nothing, so a carried line may be
/// replaced again.
fn replace_heads(data: &mut [u8], streaming: bool, len: usize, r: u8, extra: &[u8]) {
    let mut pos = 0;
    if streaming {
        pos = find_byte(data, b'\n').map_or(data.len(), |nl| nl + 1);
    }
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        let line_len = find_byte(rest, b'\n').unwrap_or(rest.len());
        let head_end = pos + line_len.min(len);
        for b in data.get_mut(pos..head_end).unwrap_or(&mut []) {
            if !(32..=126).contains(b) || extra.contains(b) {
                *b = r;
            }
        }
        pos += line_len + 1;
    }
}

/// Writes `pieces` to the directory's `current` completely, pausing and
/// retrying on errors (SPEC §8.10; full disk with N < n deletes old files).
fn write_all(d: &mut Dir, pieces: &[Piece<'_>], bg: &mut Bg) {
    let mut first = 0;
    let mut head: Option<Piece<'_>> = None;
    while first < pieces.len() {
        let Some(cur) = &d.current else { return };
        // The first piece may be partly written already (`head`).
        let res = match head {
            Some(h) => fd::writev(cur.raw(), &[h]),
            None => fd::writev(cur.raw(), pieces.get(first..).unwrap_or(&[])),
        };
        match res {
            Ok(mut n) => {
                d.size += n as u64;
                if let Some(h) = head.take() {
                    if n < h.len() {
                        head = Some(Piece::new(h.bytes().get(n..).unwrap_or(&[])));
                        continue;
                    }
                    n -= h.len();
                    first += 1;
                }
                while let Some(p) = pieces.get(first) {
                    if n < p.len() {
                        if n > 0 {
                            head = Some(Piece::new(p.bytes().get(n..).unwrap_or(&[])));
                        }
                        break;
                    }
                    n -= p.len();
                    first += 1;
                }
            }
            Err(Errno(c::ENOSPC)) if d.cfg.min < d.cfg.num => {
                bg.wait_idle();
                if !delete_for_space(d) {
                    pause(
                        &[b"unable to write to current: ", d.name()],
                        Some(Errno(c::ENOSPC)),
                    );
                }
            }
            Err(e) => pause(&[b"unable to write to current: ", d.name()], Some(e)),
        }
    }
}

/// Puts a rotated file's name into a NUL-terminated buffer.
fn copy_name(to: &mut [u8; OLD_LEN + 1], name: &[u8]) {
    put_at(to, 0, name);
}

/// The oldest-first scan of a directory's rotated files (`@` + 26).
fn is_old(name: &[u8]) -> bool {
    name.first() == Some(&b'@') && name.len() == OLD_LEN
}

/// Disk full with N < n: delete the oldest `@` file if more than N.
#[inline(never)]
fn delete_for_space(d: &Dir) -> bool {
    let Some(dfd) = &d.fd else { return false };
    loop {
        let mut count = 0u64;
        let mut oldest = [0u8; OLD_LEN + 1];
        let listed = fs::each_entry(dfd, |n| {
            if is_old(n) {
                count += 1;
                if oldest[0] == 0 || n < oldest.get(..OLD_LEN).unwrap_or(&[]) {
                    copy_name(&mut oldest, n);
                }
            }
        });
        match listed {
            Ok(()) => {}
            Err(fs::ListError::Open(e)) => {
                pause(
                    &[
                        b"unable to open directory, want remove old logfile: ",
                        d.name(),
                    ],
                    Some(e),
                );
                continue;
            }
            Err(fs::ListError::Read(e)) => {
                warn(
                    &[
                        b"unable to read directory, want remove old logfile: ",
                        d.name(),
                    ],
                    Some(e),
                );
                return false;
            }
        }
        if count <= d.cfg.min {
            return false;
        }
        let oldest = as_cstr(&oldest);
        warn(
            &[
                b"out of disk space, delete: ",
                d.name(),
                b"/",
                oldest.to_bytes(),
            ],
            None,
        );
        return match fs::unlink_at(dfd, oldest) {
            Ok(()) => true,
            Err(e) => {
                warn(&[b"unable to unlink oldest logfile: ", d.name()], Some(e));
                false
            }
        };
    }
}

/// SPEC §8.7 step 4, in the directory `dfd`: delete processor leftovers,
/// and the oldest old file if there are more than `num` (never `keep`, the
/// file this rotation made). `keep` counts once by its stem, whatever its
/// suffix: the finishing thread may rename it `.u` to `.s` meanwhile, and a
/// directory listing taken during a rename may show both names or neither.
fn prune(dfd: &Fd, num: u64, name: &[u8], keep: &[u8; OLD_LEN + 1], verbose: bool) {
    let keep = keep.get(..STEM).unwrap_or(&[]);
    let (mut count, mut oldest) = (1u64, [0u8; OLD_LEN + 1]);
    let listed = loop {
        let listed = fs::each_entry(dfd, |n| {
            if !is_old(n) {
                return;
            }
            if n.last() == Some(&b't') {
                let mut t = [0u8; OLD_LEN + 1];
                copy_name(&mut t, n);
                if let Err(e) = fs::unlink_at(dfd, as_cstr(&t)) {
                    warn(&[b"unable to unlink processor leftover: ", n], Some(e));
                }
                return;
            }
            if n.get(..STEM) == Some(keep) {
                return;
            }
            count += 1;
            if oldest[0] == 0 || n < oldest.get(..OLD_LEN).unwrap_or(&[]) {
                copy_name(&mut oldest, n);
            }
        });
        match listed {
            Err(fs::ListError::Open(e)) => {
                pause(&[b"unable to open directory, want rotate: ", name], Some(e));
                (count, oldest) = (1, [0; OLD_LEN + 1]);
            }
            other => break other,
        }
    };
    if let Err(fs::ListError::Open(e)) | Err(fs::ListError::Read(e)) = listed {
        return warn(&[b"unable to read directory: ", name], Some(e));
    }
    if num > 0 && count > num && oldest[0] != 0 {
        let o = as_cstr(&oldest);
        info(verbose, &[b"delete: ", name, b"/", o.to_bytes()]);
        if let Err(e) = fs::unlink_at(dfd, o) {
            warn(&[b"unable to unlink oldest logfile: ", name], Some(e));
        }
    }
}

/// Starts `/bin/sh -c CMD` on `@X.u` in the directory (SPEC §8.8).
fn start_processor(d: &mut Dir, text: &[u8], stem: [u8; STEM], verbose: bool) {
    let Some(p) = d.cfg.processor else {
        return;
    };
    let name = d.name();
    if d.processor.is_some() {
        return warn(&[b"processor already running: ", name], None);
    }
    let Some(dfd) = &d.fd else { return };
    let Some(cmd) = text
        .get(p.start..=p.start + p.len)
        .and_then(|b| CStr::from_bytes_until_nul(b).ok())
    else {
        return;
    };
    let (input, output) = (stem_name(&stem, b".u"), stem_name(&stem, b".t"));
    let (input, output) = (as_cstr(&input), as_cstr(&output));
    let argv = [
        c"/bin/sh".as_ptr(),
        c"-c".as_ptr(),
        cmd.as_ptr(),
        core::ptr::null(),
    ];
    let files = [
        (
            0,
            input,
            c::O_RDONLY,
            0,
            &b"unable to open input for processor: "[..],
        ),
        (
            1,
            output,
            c::O_WRONLY | c::O_CREAT | c::O_TRUNC,
            0o644,
            &b"unable to open output for processor: "[..],
        ),
        // An empty `state` is made first if there is none (runit).
        (
            4,
            c"state",
            c::O_WRONLY | c::O_APPEND | c::O_CREAT,
            0o644,
            &b"unable to create empty state for processor: "[..],
        ),
        (
            4,
            c"state",
            c::O_RDONLY,
            0,
            &b"unable to open state for processor: "[..],
        ),
        (
            5,
            c"newstate",
            c::O_WRONLY | c::O_CREAT | c::O_TRUNC,
            0o644,
            &b"unable to open newstate for processor: "[..],
        ),
    ];
    let announce: [&[u8]; 4] = [b"svlogd: info: processing: ", name, b"/", input.to_bytes()];
    let plan = SpawnPlan {
        fchdir: Some(dfd.raw()),
        announce: if verbose { &announce } else { &[] },
        open_files: &files,
        reset_signals: &[c::SIGTERM, c::SIGALRM, c::SIGHUP, c::SIGCHLD],
        msg_prefix: &[b"svlogd: fatal: "],
        msg_suffix: &[name],
        on_chdir_fail: b"unable to change directory, want processor: ",
        on_dup_fail: b"unable to move filedescriptor for processor: ",
        on_exec_fail: b"unable to run processor: ",
        fail_code: EXIT_FATAL,
        ..SpawnPlan::new(c"/bin/sh", &argv)
    };
    let pid = loop {
        match process::spawn(&plan) {
            Ok(pid) => break pid,
            Err(e) => pause(&[b"unable to fork for processor: ", name], Some(e)),
        }
    };
    d.processor = Some((pid, stem));
}

/// The gathered pieces of one input chunk: an array on the caller's stack
/// (borrowed, so it exists once), split evenly between the directories
/// (each flushes its share when it fills).
struct Out<'s, 'b> {
    slots: &'s mut [Piece<'b>],
    per: usize,
    /// Rotations in the middle of a chunk hand their slow half here.
    bg: &'s mut Bg,
}

impl<'s, 'b> Out<'s, 'b> {
    fn new(slots: &'s mut [Piece<'b>], dirs: usize, bg: &'s mut Bg) -> Out<'s, 'b> {
        let per = slots.len() / dirs.max(1);
        Out { slots, per, bg }
    }

    /// A directory with `nq` pieces gathered has no free slot left.
    fn full(&self, nq: usize) -> bool {
        self.per > 0 && nq >= self.per
    }

    /// Free slots of a directory with `nq` pieces gathered.
    fn room(&self, nq: usize) -> usize {
        self.per.saturating_sub(nq)
    }

    /// Puts a piece in directory `i`'s slot `k`; false if it has none.
    fn put(&mut self, i: usize, k: usize, bytes: &'b [u8]) -> bool {
        if k >= self.per {
            return false;
        }
        match self.slots.get_mut(i * self.per + k) {
            Some(slot) => {
                *slot = Piece::new(bytes);
                true
            }
            None => false,
        }
    }
}
