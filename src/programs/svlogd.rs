//! svlogd: the rotating logger (SPEC §8).
//!
//! Reads top to bottom: options, the log directories (lock, config, an
//! unclean `current` turned into `@….u`), then the loop: wait for input or
//! a signal, split lines, and for each directory select, copy to stderr and
//! UDP, and append to `current`, rotating by size exactly where runit
//! would. The rules (config, patterns, stamps) live in
//! `runit_core::svlogd`.
//!
//! Unlike runit, which writes each line with its own write(2), lines are
//! gathered per directory and written once per input chunk (a line is
//! never held back: every chunk is flushed before svlogd waits again), and
//! no accepted line is lost: a last line without newline at end of input,
//! and the line being completed when TERM arrives, are written with a
//! newline appended (runit drops both; COMPAT.md).

use runit_core::getopt::{scan_ulong, Getopt, Opt};
use runit_core::svlogd::{parse_config, select, stamp, Config, ConfigWarning};
use runit_core::tai64n::Tai64n;
use runit_sys::creds;
use runit_sys::event::{self, SelfPipe, Watch};
use runit_sys::fs;
use runit_sys::msg::{fmt_i64, line, line2};
use runit_sys::net::UdpError;
use runit_sys::process::{self, Args, SpawnPlan};
use runit_sys::{c, clock, fd, lock, Errno, Fd};
use std::ffi::{CStr, CString};

const EXIT_FATAL: i32 = 111;
const VERSION: &str = "$Id: 75895b2a099dd6ab02e9bcf480ae86011f9fc234 $";
const PAUSE_MS: u64 = 3000;
/// Input is read in chunks of at least this size, whatever `-b` says.
const CHUNK: usize = 32 * 1024;
/// runit never sleeps longer than this while waiting for input.
const MAX_WAIT_MS: u64 = 2744 * 1000;

fn warn(pieces: &[&[u8]], e: Option<Errno>) {
    line2(&[b"svlogd: warning: "], pieces, e);
}

fn pause(pieces: &[&[u8]], e: Option<Errno>) {
    line2(&[b"svlogd: pausing: "], pieces, e);
    let _ = event::wait(&mut [], Some(PAUSE_MS));
}

fn cstr(b: &[u8]) -> CString {
    CString::new(b).unwrap_or_default()
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
    let argv: Vec<&'static [u8]> = (1..args.len())
        .filter_map(|i| args.get(i))
        .map(CStr::to_bytes)
        .collect();
    let mut o = Options {
        stamp: 0,
        repl: None,
        extra: Vec::new(),
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
                o.extra = v.to_vec();
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
    let names = g.operands();
    if names.is_empty() || buflen <= o.len {
        return usage();
    }
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
        dirs: names.iter().map(|n| Dir::new(n)).collect(),
        scratch: Vec::new(),
        carry_ts: Vec::new(),
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
    extra: Vec<u8>,
    len: usize,
    verbose: bool,
}

/// One log directory.
struct Dir {
    name: Vec<u8>,
    fd: Option<Fd>,
    lock: Option<Fd>,
    current: Option<Fd>,
    /// Bytes in `current` (written) and not yet written.
    size: u64,
    pending: Vec<u8>,
    cfg: Config,
    /// Monotonic ms of the next time-based rotation.
    deadline: Option<u64>,
    /// Running processor: pid and the `@X` stem it works on.
    processor: Option<(u32, Vec<u8>)>,
}

impl Dir {
    fn new(name: &[u8]) -> Dir {
        Dir {
            name: name.to_vec(),
            fd: None,
            lock: None,
            current: None,
            size: 0,
            pending: Vec::new(),
            cfg: Config::default(),
            deadline: None,
            processor: None,
        }
    }

    fn usable(&self) -> bool {
        self.current.is_some()
    }
}

struct Svlogd {
    o: Options,
    start: Fd,
    selfpipe: SelfPipe,
    dirs: Vec<Dir>,
    /// Reused buffer for the replaced characters of a line.
    scratch: Vec<u8>,
    /// The stamp of the partial line carried over to the next chunk.
    carry_ts: Vec<u8>,
}

fn info(verbose: bool, pieces: &[&[u8]]) {
    if verbose {
        line2(&[b"svlogd: info: "], pieces, None);
    }
}

/// A fresh `@<tai64n>.SUFFIX` name that does not exist yet (in the cwd).
fn fresh_name(suffix: u8) -> Vec<u8> {
    loop {
        let t: Tai64n = clock::now_tai64n();
        let mut name = t.label().to_vec();
        name.push(b'.');
        name.push(suffix);
        if fs::stat(&cstr(&name)).is_err() {
            return name;
        }
        let _ = event::wait(&mut [], Some(1));
    }
}

impl Svlogd {
    /// Enters a directory (its fd); false if it has none.
    fn enter(&self, i: usize) -> bool {
        self.dirs
            .get(i)
            .and_then(|d| d.fd.as_ref())
            .is_some_and(|f| fs::fchdir(f).is_ok())
    }

    fn leave(&self) {
        while let Err(e) = fs::fchdir(&self.start) {
            pause(&[b"unable to change to initial working directory"], Some(e));
        }
    }

    /// Opens every directory (SPEC §8.2); true if at least one is usable.
    fn open_all(&mut self) -> bool {
        for i in 0..self.dirs.len() {
            self.open_dir(i);
        }
        self.leave();
        self.dirs.iter().any(Dir::usable)
    }

    fn open_dir(&mut self, i: usize) {
        let verbose = self.o.verbose;
        self.leave();
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let name = d.name.clone();
        // Without O_DIRECTORY: a plain file fails at the fchdir, as in runit.
        let dfd = match Fd::open(&cstr(&name), c::O_RDONLY, 0) {
            Ok(f) => f,
            Err(e) => return warn(&[b"unable to open log directory: ", &name], Some(e)),
        };
        if let Err(e) = fs::fchdir(&dfd) {
            // runit closes the (still nameless) directory first, and says so.
            info(verbose, &[b"close: "]);
            return warn(&[b"unable to change directory: ", &name], Some(e));
        }
        let l = match lock::open_lockfile(c"lock")
            .and_then(|l| lock::lock_exclusive_nb(&l).map(|()| l))
        {
            Ok(l) => l,
            Err(e) => {
                info(verbose, &[b"close: "]);
                return warn(&[b"unable to lock directory: ", &name], Some(e));
            }
        };
        d.cfg = Config::default();
        match fd::read_file(c"config") {
            Ok(text) => {
                info(verbose, &[b"read: ", &name, b"/config"]);
                let (cfg, warnings) = parse_config(&text);
                for w in warnings {
                    match w {
                        ConfigWarning::Address(rest) => {
                            warn(&[b"unable to scan ip address: ", &rest], None)
                        }
                        ConfigWarning::Port(rest) => {
                            warn(&[b"unable to scan port number: ", &rest], None)
                        }
                    }
                }
                d.cfg = cfg;
            }
            Err(Errno(c::ENOENT)) => {}
            Err(e) => warn(&[b"unable to read config: ", &name], Some(e)),
        }
        d.deadline = (d.cfg.time > 0)
            .then(|| clock::mono_ms().saturating_add(d.cfg.time.saturating_mul(1000)));
        let mut fresh = true;
        match fs::stat(c"current") {
            Ok(m) => {
                let size = Fd::open(c"current", c::O_RDONLY, 0)
                    .and_then(|f| f.size())
                    .unwrap_or(0);
                if size > 0 && m.mode & 0o100 == 0 {
                    let u = fresh_name(b'u');
                    while let Err(e) = fs::rename(c"current", &cstr(&u)) {
                        pause(&[b"unable to rename current: ", &name], Some(e));
                    }
                    d.fd = Some(dfd);
                    d.lock = Some(l);
                    prune(d, Some(&u), verbose);
                    let (Some(dfd), Some(l)) = (d.fd.take(), d.lock.take()) else {
                        return;
                    };
                    return self.finish_open(i, dfd, l, true);
                }
                fresh = false;
            }
            Err(Errno(c::ENOENT)) => {}
            Err(e) => return warn(&[b"unable to stat current: ", &name], Some(e)),
        }
        self.finish_open(i, dfd, l, fresh)
    }

    fn finish_open(&mut self, i: usize, dfd: Fd, l: Fd, fresh: bool) {
        let verbose = self.o.verbose;
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let name = d.name.clone();
        let cur = loop {
            match Fd::open(
                c"current",
                c::O_WRONLY | c::O_APPEND | c::O_CREAT | c::O_NONBLOCK,
                0o644,
            ) {
                Ok(f) => break f,
                Err(e) => pause(&[b"unable to open current: ", &name], Some(e)),
            }
        };
        let _ = creds::chmod(c"current", 0o644);
        d.size = cur.size().unwrap_or(0);
        info(
            verbose,
            &[
                if fresh { &b"new: "[..] } else { b"append: " },
                &name,
                b"/current",
            ],
        );
        d.current = Some(cur);
        d.fd = Some(dfd);
        d.lock = Some(l);
    }

    fn run(&mut self) -> i32 {
        let mut carry: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; CHUNK.max(self.o.len + 1)];
        let mut ending = false;
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
            let mut w = [Watch {
                fd: 0,
                ready: false,
            }];
            let _ = self.selfpipe.wait(&mut w, Some(timeout));
            let (mut term, mut hup, mut alrm, mut chld) = (false, false, false, false);
            self.selfpipe.drain(|sig| match sig {
                s if s == c::SIGTERM => term = true,
                s if s == c::SIGHUP => hup = true,
                s if s == c::SIGALRM => alrm = true,
                s if s == c::SIGCHLD => chld = true,
                _ => {}
            });
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
                    self.rotate(i);
                }
                self.leave();
            }
            if term {
                info(v, &[b"sigterm received."]);
                ending = true;
            }
            // Read what is there (after TERM: only to finish the line).
            loop {
                match fd::read_raw(0, &mut buf) {
                    Ok(0) => {
                        ending = true;
                        break;
                    }
                    Ok(n) => {
                        let data = buf.get(..n).unwrap_or(&[]);
                        self.take(&mut carry, data);
                        // One write per chunk and directory: memory stays
                        // bounded and no line waits behind the next read.
                        self.flush_all();
                        if ending && carry.is_empty() {
                            break;
                        }
                        if n < buf.len() && !ending {
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
                if !carry.is_empty() {
                    // runit drops this partial line; we keep it.
                    carry.push(b'\n');
                    let rest = core::mem::take(&mut carry);
                    self.take(&mut carry, &rest);
                }
                self.flush_all();
                self.close_all(true);
                return 0;
            }
            self.flush_all();
        }
    }

    /// Splits `data` (after `carry`) into lines and dispatches each. A
    /// line's stamp is taken when its first byte is read, as runit does:
    /// the chunk's read time, or for a line begun in an earlier chunk the
    /// stamp kept with `carry`.
    fn take(&mut self, carry: &mut Vec<u8>, data: &[u8]) {
        let t = clock::now_tai64n();
        let (secs, nanos) = (t.unix_secs(), t.nanos);
        let mut ts = Vec::new();
        stamp(self.o.stamp, secs, nanos, &mut ts);
        let mut rest = data;
        while let Some(nl) = runit_sys::mem::find_byte(rest, b'\n') {
            let (head, tail) = rest.split_at(nl);
            rest = tail.get(1..).unwrap_or(&[]);
            if carry.is_empty() {
                self.line(&ts, head);
            } else {
                carry.extend_from_slice(head);
                let whole = core::mem::take(carry);
                let first = core::mem::take(&mut self.carry_ts);
                self.line(&first, &whole);
            }
        }
        if carry.is_empty() && !rest.is_empty() {
            self.carry_ts = ts;
        }
        carry.extend_from_slice(rest);
    }

    /// One complete line (without its newline) to every directory.
    fn line(&mut self, ts: &[u8], raw: &[u8]) {
        let len = self.o.len;
        let cut = raw.len().min(len);
        let head = raw.get(..cut).unwrap_or(raw);
        let beyond = raw.get(cut..).unwrap_or(&[]);
        // A line of exactly `len` characters also gets the dots (runit).
        let dots: &[u8] = if raw.len() >= len { b"..." } else { b"" };
        // Replacement goes into a reused buffer: no allocation per line.
        let mut scratch = core::mem::take(&mut self.scratch);
        let shown: &[u8] = match self.o.repl {
            Some(r) => {
                scratch.clear();
                scratch.extend(head.iter().map(|&b| {
                    if !(32..=126).contains(&b) || self.o.extra.contains(&b) {
                        r
                    } else {
                        b
                    }
                }));
                &scratch
            }
            None => head,
        };
        for i in 0..self.dirs.len() {
            let Some(d) = self.dirs.get(i) else { continue };
            if !d.usable() {
                continue;
            }
            let (log, err) = if d.cfg.patterns.is_empty() {
                (b'+', b'E')
            } else {
                select(&d.cfg.patterns, shown)
            };
            if err == b'e' {
                let _ = fd::write_raw(2, &[ts, &d.cfg.prefix, shown, dots, b"\n"].concat());
            }
            if log != b'+' {
                continue;
            }
            if let Some(u) = d.cfg.udp {
                let datagram = [ts, &d.cfg.prefix, shown, dots, b"\n"].concat();
                let sent = runit_sys::net::send_udp(u.addr, u.port, &datagram);
                let prefix = d.cfg.prefix.clone();
                match sent {
                    Err(UdpError::Socket(_)) => self.emit(
                        i,
                        &[
                            b"warning: no udp socket available: ",
                            ts,
                            &prefix,
                            shown,
                            b"\n",
                        ],
                    ),
                    Err(UdpError::Send) => {
                        self.emit(i, &[b"warning: failure sending through udp: ", &datagram])
                    }
                    Ok(()) => {}
                }
            }
            let Some(d) = self.dirs.get(i) else { continue };
            if !d.cfg.udp_only {
                // Borrowed out and back: emit needs the whole of self.
                let prefix = self
                    .dirs
                    .get_mut(i)
                    .map(|d| core::mem::take(&mut d.cfg.prefix))
                    .unwrap_or_default();
                self.emit(i, &[ts, &prefix, shown, beyond, b"\n"]);
                if let Some(d) = self.dirs.get_mut(i) {
                    d.cfg.prefix = prefix;
                }
            }
        }
        self.scratch = scratch;
    }

    /// Appends one record (given in pieces) to a directory.
    fn emit(&mut self, i: usize, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = self.o.len as u64;
        if let Some(d) = self.dirs.get_mut(i) {
            let s = d.cfg.size;
            let after = d.size + (d.pending.len() + total) as u64;
            // Fast path: no rotation can fall inside or right after it.
            if s == 0 || (after < s && s.checked_sub(len).is_none_or(|soft| after < soft)) {
                d.pending.reserve(total);
                for p in parts.iter().filter(|p| !p.is_empty()) {
                    d.pending.extend_from_slice(p);
                }
                return;
            }
        }
        let record = parts.concat();
        self.emit_record(i, &record);
    }

    /// Appends one record to a directory, rotating by size exactly where
    /// runit's per-line writes would.
    fn emit_record(&mut self, i: usize, mut r: &[u8]) {
        let len = self.o.len as u64;
        while !r.is_empty() {
            let Some(d) = self.dirs.get_mut(i) else {
                return;
            };
            let s = d.cfg.size;
            let vsize = d.size + d.pending.len() as u64;
            if s > 0 && vsize >= s {
                self.rotate(i);
                self.leave();
                continue;
            }
            let room = if s > 0 {
                usize::try_from(s - vsize).unwrap_or(usize::MAX)
            } else {
                usize::MAX
            };
            let take = r.len().min(room);
            let (piece, after) = r.split_at(take);
            d.pending.extend_from_slice(piece);
            r = after;
            let vsize = d.size + d.pending.len() as u64;
            let soft = s.checked_sub(len);
            if s > 0 && piece.last() == Some(&b'\n') && soft.is_some_and(|soft| vsize >= soft) {
                self.rotate(i);
                self.leave();
            }
        }
    }

    /// Writes every directory's pending bytes (no chdir on this hot path).
    fn flush_all(&mut self) {
        for i in 0..self.dirs.len() {
            self.flush(i);
        }
    }

    /// Writes a directory's pending bytes, never losing them (SPEC §8.10).
    fn flush(&mut self, i: usize) {
        loop {
            let Some(d) = self.dirs.get_mut(i) else {
                return;
            };
            if d.pending.is_empty() {
                return;
            }
            let Some(cur) = &d.current else { return };
            match cur.write(&d.pending) {
                Ok(n) => {
                    d.size += n as u64;
                    d.pending.drain(..n.min(d.pending.len()));
                }
                Err(Errno(c::ENOSPC)) if d.cfg.min < d.cfg.num => {
                    let name = d.name.clone();
                    let freed = self.enter(i) && self.delete_for_space(i);
                    self.leave();
                    if !freed {
                        pause(
                            &[b"unable to write to current: ", &name],
                            Some(Errno(c::ENOSPC)),
                        );
                    }
                }
                Err(e) => {
                    let name = d.name.clone();
                    pause(&[b"unable to write to current: ", &name], Some(e));
                }
            }
        }
    }

    /// Disk full with N < n: delete the oldest `@` file if more than N.
    fn delete_for_space(&mut self, i: usize) -> bool {
        let Some(d) = self.dirs.get(i) else {
            return false;
        };
        let Ok(names) = fs::list_dir(c".") else {
            return false;
        };
        let olds: Vec<&Vec<u8>> = names
            .iter()
            .filter(|n| n.first() == Some(&b'@') && n.len() == 27)
            .collect();
        if olds.len() as u64 <= d.cfg.min {
            return false;
        }
        let Some(oldest) = olds.iter().min() else {
            return false;
        };
        warn(
            &[b"out of disk space, delete: ", &d.name, b"/", oldest],
            None,
        );
        fs::unlink(&cstr(oldest)).is_ok()
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
            self.rotate(i);
        }
        self.leave();
    }

    /// SPEC §8.7: only a non-empty `current` is rotated.
    fn rotate(&mut self, i: usize) {
        let verbose = self.o.verbose;
        self.flush(i);
        if !self.enter(i) {
            return;
        }
        if self.dirs.get(i).is_some_and(|d| d.size == 0) {
            return;
        }
        self.wait_processor(i);
        let _ = self.enter(i);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let name = d.name.clone();
        let suffix = if d.cfg.processor.is_some() {
            b'u'
        } else {
            b's'
        };
        let new = fresh_name(suffix);
        if let Some(cur) = d.current.take() {
            while let Err(e) = cur.sync() {
                pause(&[b"unable to fsync current logfile: ", &name], Some(e));
            }
            drop(cur);
        }
        while let Err(e) = creds::chmod(c"current", 0o744) {
            pause(&[b"unable to set mode of current: ", &name], Some(e));
        }
        while let Err(e) = fs::rename(c"current", &cstr(&new)) {
            pause(&[b"unable to rename current: ", &name], Some(e));
        }
        let mut size = [0u8; 24];
        let size_len = fmt_i64(i64::try_from(d.size).unwrap_or(i64::MAX), &mut size);
        info(
            verbose,
            &[
                b"rename: ",
                &name,
                b"/current ",
                &new,
                b" ",
                size.get(..size_len).unwrap_or(&[]),
            ],
        );
        let cur = loop {
            match Fd::open(
                c"current",
                c::O_WRONLY | c::O_APPEND | c::O_CREAT | c::O_TRUNC | c::O_NONBLOCK,
                0o644,
            ) {
                Ok(f) => break f,
                Err(e) => pause(&[b"unable to create new current: ", &name], Some(e)),
            }
        };
        let _ = creds::chmod(c"current", 0o644);
        d.current = Some(cur);
        d.size = 0;
        prune(d, Some(&new), verbose);
        if suffix == b'u' {
            let stem = new.get(..25).unwrap_or(&new).to_vec();
            self.start_processor(i, stem);
        }
    }

    /// Starts `/bin/sh -c CMD` on `@X.u` (SPEC §8.8); we are in the directory.
    fn start_processor(&mut self, i: usize, stem: Vec<u8>) {
        let verbose = self.o.verbose;
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let Some(cmd) = d.cfg.processor.clone() else {
            return;
        };
        if d.processor.is_some() {
            return warn(&[b"processor already running: ", &d.name], None);
        }
        if fs::stat(c"state").is_err() {
            let _ = Fd::open(c"state", c::O_WRONLY | c::O_CREAT | c::O_NONBLOCK, 0o644);
        }
        let input = cstr(&[&stem[..], b".u"].concat());
        let output = cstr(&[&stem[..], b".t"].concat());
        let ccmd = cstr(&cmd);
        let argv = [
            c"/bin/sh".as_ptr(),
            c"-c".as_ptr(),
            ccmd.as_ptr(),
            core::ptr::null(),
        ];
        let prefix: [&[u8]; 1] = [b"svlogd: fatal: "];
        let name = d.name.clone();
        let msgs = [
            [&b"unable to open input for processor: "[..], &name].concat(),
            [&b"unable to open output for processor: "[..], &name].concat(),
            [&b"unable to open state for processor: "[..], &name].concat(),
            [&b"unable to open newstate for processor: "[..], &name].concat(),
            [&b"unable to move filedescriptor for processor: "[..], &name].concat(),
            [&b"unable to run processor: "[..], &name].concat(),
        ];
        let [m_in, m_out, m_state, m_new, m_dup, m_run] = &msgs;
        let files = [
            (0, input.as_c_str(), c::O_RDONLY, 0, &m_in[..]),
            (
                1,
                output.as_c_str(),
                c::O_WRONLY | c::O_CREAT | c::O_TRUNC,
                0o644,
                &m_out[..],
            ),
            (4, c"state", c::O_RDONLY, 0, &m_state[..]),
            (
                5,
                c"newstate",
                c::O_WRONLY | c::O_CREAT | c::O_TRUNC,
                0o644,
                &m_new[..],
            ),
        ];
        let announce: Vec<&[u8]> = if verbose {
            vec![
                b"svlogd: info: processing: ",
                &name,
                b"/",
                &input.as_bytes(),
            ]
        } else {
            Vec::new()
        };
        let plan = SpawnPlan {
            announce: &announce,
            open_files: &files,
            reset_signals: &[c::SIGTERM, c::SIGALRM, c::SIGHUP, c::SIGCHLD],
            msg_prefix: &prefix,
            on_dup_fail: m_dup,
            on_exec_fail: m_run,
            fail_code: EXIT_FATAL,
            ..SpawnPlan::new(c"/bin/sh", &argv)
        };
        let pid = loop {
            match process::spawn(&plan) {
                Ok(pid) => break pid,
                Err(e) => pause(&[b"unable to fork for processor: ", &name], Some(e)),
            }
        };
        if let Some(d) = self.dirs.get_mut(i) {
            d.processor = Some((pid, stem));
        }
    }

    /// Blocks until this directory's processor has succeeded.
    fn wait_processor(&mut self, i: usize) {
        while let Some((pid, _)) = self.dirs.get(i).and_then(|d| d.processor.clone()) {
            match process::wait_pid(pid) {
                Ok(ws) => self.processor_done(i, ws),
                Err(e) => {
                    let name = self.dirs.get(i).map(|d| d.name.clone()).unwrap_or_default();
                    pause(&[b"error waiting for processor: ", &name], Some(e));
                    if e.0 == c::ECHILD {
                        if let Some(d) = self.dirs.get_mut(i) {
                            d.processor = None;
                        }
                    }
                }
            }
        }
    }

    fn reap_processors(&mut self) {
        while let Some((pid, ws)) = process::reap_one() {
            if let Some(i) = self
                .dirs
                .iter()
                .position(|d| d.processor.as_ref().is_some_and(|p| p.0 == pid))
            {
                self.processor_done(i, ws);
            }
        }
        self.leave();
    }

    /// A processor ended: success moves `.t` to `.s`, failure restarts it.
    fn processor_done(&mut self, i: usize, ws: i32) {
        let verbose = self.o.verbose;
        let _ = self.enter(i);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let Some((_, stem)) = d.processor.take() else {
            return;
        };
        let name = d.name.clone();
        let file = |suffix: &[u8]| cstr(&[&stem[..], suffix].concat());
        // Only the exit code counts: killed by a signal is success (runit).
        if (ws >> 8) & 0xff != 0 {
            warn(&[b"processor failed, restart: ", &name], None);
            let _ = fs::unlink(&file(b".t"));
            return self.start_processor(i, stem);
        }
        while let Err(e) = fs::rename(&file(b".t"), &file(b".s")) {
            pause(&[b"unable to rename processed: ", &name], Some(e));
        }
        while let Err(e) = creds::chmod(&file(b".s"), 0o744) {
            pause(&[b"unable to set mode of processed: ", &name], Some(e));
        }
        if fs::unlink(&file(b".u")).is_err() {
            warn(
                &[b"unable to unlink: ", &name, b"/", file(b".u").as_bytes()],
                None,
            );
        }
        while let Err(e) = fs::rename(c"newstate", c"state") {
            pause(&[b"unable to rename state: ", &name], Some(e));
        }
        info(
            verbose,
            &[b"processed: ", &name, b"/", file(b".s").as_bytes()],
        );
    }

    /// Flush, fsync, mode 0744 on `current`, release the lock. At exit a
    /// running processor is waited for; on HUP it is forgotten, as runit
    /// does (its `.u` stays and its `.t` goes at the next rotation).
    fn close_all(&mut self, wait: bool) {
        for i in 0..self.dirs.len() {
            self.flush(i);
            if wait {
                self.wait_processor(i);
            }
            if !self.enter(i) {
                continue;
            }
            let v = self.o.verbose;
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            if let Some(cur) = d.current.take() {
                let _ = cur.sync();
                drop(cur);
                let _ = creds::chmod(c"current", 0o744);
            }
            info(v, &[b"close: ", &d.name]);
            d.lock = None;
            d.fd = None;
            d.processor = None;
        }
        self.leave();
    }
}

/// SPEC §8.7 step 4, in the directory: delete processor leftovers, and the
/// oldest old file if there are more than n (never `keep`, the file this
/// rotation just made).
fn prune(d: &Dir, keep: Option<&[u8]>, verbose: bool) {
    let names = match fs::list_dir(c".") {
        Ok(n) => n,
        Err(fs::ListError::Open(e)) | Err(fs::ListError::Read(e)) => {
            return warn(&[b"unable to read directory: ", &d.name], Some(e));
        }
    };
    let mut count = 0u64;
    let mut oldest: Option<&Vec<u8>> = None;
    for n in names
        .iter()
        .filter(|n| n.first() == Some(&b'@') && n.len() == 27)
    {
        if n.last() == Some(&b't') {
            if let Err(e) = fs::unlink(&cstr(n)) {
                warn(&[b"unable to unlink processor leftover: ", n], Some(e));
            }
            continue;
        }
        count += 1;
        if Some(n.as_slice()) != keep && oldest.is_none_or(|o| n < o) {
            oldest = Some(n);
        }
    }
    if d.cfg.num > 0 && count > d.cfg.num {
        if let Some(o) = oldest {
            info(verbose, &[b"delete: ", &d.name, b"/", o]);
            if let Err(e) = fs::unlink(&cstr(o)) {
                warn(&[b"unable to unlink oldest logfile: ", &d.name], Some(e));
            }
        }
    }
}
