//! runsvdir: starts one runsv per service directory and keeps that set in
//! line with the directory (SPEC §5).
//!
//! Reads top to bottom: arguments, signals, the proctitle log, then the
//! loop: reap, scan when something changed, wait. runit polls the
//! directory every 5 s; we watch it with inotify (and the parents of the
//! symlink chain that runsvchdir switches), so a new service starts at
//! once and an idle runsvdir never wakes up. Polling every 5 s remains the
//! fallback when inotify is unavailable. A runsv that died is restarted,
//! but never sooner than a second after its last start, so a runsv that
//! fails at once cannot make us spin.

use runit_sys::event::{SelfPipe, Watch};
use runit_sys::fs::{self, Kind, ListError};
use runit_sys::inotify::{self, Inotify};
use runit_sys::msg::{fmt_i64, line2, lines_of};
use runit_sys::process::{self, path_candidates, Args, SpawnPlan};
use runit_sys::proctitle::ProcTitle;
use runit_sys::{c, clock, Errno, Fd};
use std::ffi::{CStr, CString};

const EXIT_USAGE: i32 = 1;
const EXIT_FATAL: i32 = 100;
const EXIT_HUP: i32 = 111;
/// runit's limit on tracked services.
const MAX_SERVICES: usize = 1000;
/// A runsv is restarted no sooner than this after its last start.
const RESTART_MS: u64 = 1000;
/// Polling interval when inotify is not available (runit's).
const POLL_MS: u64 = 5000;
/// The proctitle log gets a `.` this often (runit: 15 minutes).
const DOT_MS: u64 = 900_000;
/// How many symlinks of the directory's chain are watched.
const MAX_LINKS: usize = 16;
/// Set to `rescan` to make SIGALRM force a rescan (Debian's patch,
/// bug #933078). Unset, SIGALRM keeps its default action, as upstream.
const ALRM_ENV: &str = "RUNSVDIR_SIGALRM";

/// `runsvdir [-P] dir [log]`.
pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"runsvdir"[..], CStr::to_bytes);
    let usage = || {
        line2(&[b"usage: ", argv0, b" [-P] dir\n"], &[], None);
        EXIT_USAGE
    };
    let mut i = 1;
    let mut new_session = false;
    if let Some(a) = args.get(1).map(CStr::to_bytes) {
        match a {
            [b'-', b'P', ..] => {
                new_session = true;
                i = 2;
            }
            [b'-', b'-', ..] => i = 2,
            _ => {}
        }
    }
    let Some(dir) = args.get(i) else {
        return usage();
    };
    let log_arg = (args.len() > i + 1).then_some(i + 1);
    let alrm_rescan = std::env::var_os(ALRM_ENV).is_some_and(|v| v == "rescan");

    let p = [&b"runsvdir "[..], dir.to_bytes(), b": "];
    let mut signals = vec![c::SIGTERM, c::SIGHUP, c::SIGCHLD];
    if alrm_rescan {
        signals.push(c::SIGALRM);
    }
    let selfpipe = match SelfPipe::new(&signals) {
        Ok(s) => s,
        Err(e) => {
            line2(&p, &[b"fatal: unable to create selfpipe"], Some(e));
            return EXIT_FATAL;
        }
    };
    let log = log_arg.and_then(|li| setup_log(&p, &args, li));
    let curdir = match fs::open_cwd() {
        Ok(fd) => fd,
        Err(e) => {
            line2(&p, &[b"fatal: unable to open current directory"], Some(e));
            return EXIT_FATAL;
        }
    };
    let mut r = Runsvdir {
        p,
        dir,
        curdir,
        selfpipe,
        log,
        ino: Inotify::new().ok(),
        watches: Vec::new(),
        ident: None,
        polling: false,
        poll_at: None,
        services: Vec::new(),
        runsv: path_candidates(b"runsv"),
        reset: signals,
        new_session,
        scan_due: true,
        retry_at: None,
        next_dot: Some(clock::mono_ms()),
    };
    r.run(alrm_rescan)
}

/// The proctitle log: a pipe whose write end is our stderr.
struct Log {
    read: Fd,
    write: Fd,
    title: ProcTitle,
}

fn setup_log(p: &[&[u8]; 3], args: &Args, i: usize) -> Option<Log> {
    let disabled = || line2(p, &[b"warning: log service disabled."], None);
    let title = ProcTitle::new(args, i)?;
    if title.len() < 7 {
        line2(
            p,
            &[b"warning: log must have at least seven characters."],
            None,
        );
        disabled();
        return None;
    }
    let Ok((read, write)) = runit_sys::fd::pipe(true) else {
        line2(p, &[b"warning: unable to create pipe for log."], None);
        disabled();
        return None;
    };
    if runit_sys::fd::dup_onto(&write, 2).is_err() {
        line2(
            p,
            &[b"warning: unable to set filedescriptor for log."],
            None,
        );
        disabled();
        return None;
    }
    Some(Log { read, write, title })
}

/// One tracked service directory, identified by device and inode.
struct Service {
    dev: u64,
    ino: u64,
    pid: Option<u32>,
    started_ms: u64,
    present: bool,
}

struct Runsvdir {
    p: [&'static [u8]; 3],
    dir: &'static CStr,
    curdir: Fd,
    selfpipe: SelfPipe,
    log: Option<Log>,
    ino: Option<Inotify>,
    /// Watch descriptors: the directory and the parents of its symlinks.
    watches: Vec<i32>,
    /// (dev, ino, mtime) of the directory at the last scan.
    ident: Option<(u64, u64, i64)>,
    /// No inotify watch on the directory (no inotify, or no read access):
    /// poll it every 5 s as runit does, rescanning when it changed.
    polling: bool,
    poll_at: Option<u64>,
    services: Vec<Service>,
    runsv: Vec<CString>,
    reset: Vec<i32>,
    new_session: bool,
    scan_due: bool,
    /// The next scan owed to a deadline (a restart, a read error, polling).
    retry_at: Option<u64>,
    next_dot: Option<u64>,
}

impl Runsvdir {
    fn warn(&self, pieces: &[&[u8]], e: Option<Errno>) {
        lines_of(&[&self.p, &[b"warning: "], pieces], e);
    }

    fn run(&mut self, alrm_rescan: bool) -> i32 {
        loop {
            let now = clock::mono_ms();
            while let Some((pid, _)) = process::reap_one() {
                if let Some(s) = self.services.iter_mut().find(|s| s.pid == Some(pid)) {
                    s.pid = None;
                    let at = s.started_ms.saturating_add(RESTART_MS).max(now);
                    self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
                }
            }
            if self.retry_at.is_some_and(|t| now >= t) {
                self.retry_at = None;
                self.scan_due = true;
            }
            if self.polling && self.poll_at.is_none_or(|t| now >= t) {
                self.poll_at = Some(now.saturating_add(POLL_MS));
                let current = fs::stat(self.dir).ok().map(|m| (m.dev, m.ino, m.mtime));
                if current != self.ident {
                    self.scan_due = true;
                }
            }
            if self.scan_due || self.ident_changed() {
                self.scan_due = false;
                self.check(now);
            }
            if let Some(log) = &self.log {
                if self.next_dot.is_some_and(|t| now >= t) {
                    let _ = log.write.write(b".");
                    self.next_dot = Some(now.saturating_add(DOT_MS));
                }
            }

            let deadline = [
                self.retry_at,
                self.log.as_ref().and(self.next_dot),
                self.poll_at.filter(|_| self.polling),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = deadline.map(|d| d.saturating_sub(clock::mono_ms()));
            let mut w = [
                Watch {
                    fd: self.ino.as_ref().map_or(-1, Inotify::fd),
                    ready: false,
                },
                Watch {
                    fd: self.log.as_ref().map_or(-1, |l| l.read.raw()),
                    ready: false,
                },
            ];
            let _ = self.selfpipe.wait(&mut w, timeout);

            if let Some(log) = &mut self.log {
                let mut buf = [0u8; 1024];
                while let Ok(n) = log.read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.title.feed(buf.get(..n).unwrap_or(&[]));
                }
            }
            if let Some(ino) = &self.ino {
                if ino.drain(|_, _| true) {
                    self.scan_due = true;
                }
            }
            let (mut term, mut hup) = (false, false);
            self.selfpipe.drain(|sig| match sig {
                s if s == c::SIGTERM => term = true,
                s if s == c::SIGHUP => hup = true,
                s if s == c::SIGALRM && alrm_rescan => self.scan_due = true,
                _ => {}
            });
            if term {
                return 0;
            }
            if hup {
                for s in &self.services {
                    if let Some(pid) = s.pid {
                        let _ = process::kill(pid, c::SIGTERM);
                    }
                }
                return EXIT_HUP;
            }
        }
    }

    /// Did the directory (or what its path resolves to) change identity?
    fn ident_changed(&self) -> bool {
        match fs::stat(self.dir) {
            Ok(m) => self.ident.is_none_or(|(d, i, _)| (d, i) != (m.dev, m.ino)),
            Err(_) => false,
        }
    }

    /// runit's check: stat the directory, rescan, change back.
    fn check(&mut self, now: u64) {
        let meta = match fs::stat(self.dir) {
            Ok(m) => m,
            Err(e) => {
                self.warn(&[b"unable to stat ", self.dir.to_bytes()], Some(e));
                // Look again in 5 s (runit's cadence), or as soon as
                // something appears where the directory should be.
                self.watch_parent();
                self.poll_later(now, POLL_MS);
                return;
            }
        };
        let moved = self
            .ident
            .is_none_or(|(d, i, _)| (d, i) != (meta.dev, meta.ino));
        if let Err(e) = fs::chdir(self.dir) {
            self.warn(
                &[b"unable to change directory to ", self.dir.to_bytes()],
                Some(e),
            );
            self.poll_later(now, POLL_MS);
            return;
        }
        self.ident = Some((meta.dev, meta.ino, meta.mtime));
        if moved || self.watches.is_empty() {
            self.rewatch();
        }
        if self.polling {
            // runit's rule: a change later in the same second as the last
            // one would not move the mtime, so look again in a second.
            let now_secs = i64::try_from(clock::now_tai64n().unix_secs()).unwrap_or(i64::MAX);
            let after = if meta.mtime >= now_secs {
                RESTART_MS
            } else {
                POLL_MS
            };
            self.poll_at = Some(now.saturating_add(after));
        }
        self.scan(now);
        while let Err(e) = fs::fchdir(&self.curdir) {
            self.warn(&[b"unable to change directory, pausing"], Some(e));
            let _ = runit_sys::event::wait(&mut [], Some(POLL_MS));
        }
    }

    fn poll_later(&mut self, now: u64, after: u64) {
        let at = now.saturating_add(after);
        self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
    }

    /// While the directory is missing: watch where it would appear.
    fn watch_parent(&mut self) {
        let Some(ino) = &self.ino else { return };
        for wd in self.watches.drain(..) {
            ino.unwatch(wd);
        }
        let path = self.dir.to_bytes();
        let abs = if path.starts_with(b"/") {
            CString::new(path).unwrap_or_default()
        } else {
            absolute(&self.curdir, path)
        };
        if let Ok(parent) = CString::new(parent_of(abs.to_bytes())) {
            if let Ok(wd) = ino.watch(&parent, inotify::ENTRIES) {
                self.watches.push(wd);
            }
        }
        // Rewatch the directory itself once it is back.
        self.ident = None;
    }

    /// Watches the directory (we are in it) and the directories holding
    /// each symlink of its path's chain, so a switched link is noticed.
    fn rewatch(&mut self) {
        self.polling = true;
        let Some(ino) = &self.ino else { return };
        for wd in self.watches.drain(..) {
            ino.unwatch(wd);
        }
        // Watching needs read access to the directory; without it, poll.
        if let Ok(wd) = ino.watch(c".", inotify::ENTRIES) {
            self.watches.push(wd);
            self.polling = false;
        }
        let mut path: Vec<u8> = self.dir.to_bytes().to_vec();
        for _ in 0..MAX_LINKS {
            let Ok(cpath) = CString::new(path.clone()) else {
                break;
            };
            // Relative paths are relative to the original directory.
            let abs = if path.starts_with(b"/") {
                cpath.clone()
            } else {
                absolute(&self.curdir, &path)
            };
            if !fs::is_symlink(&abs) {
                break;
            }
            let parent = parent_of(abs.to_bytes());
            if let Ok(cp) = CString::new(parent.clone()) {
                if let Ok(wd) = ino.watch(&cp, inotify::ENTRIES) {
                    self.watches.push(wd);
                }
            }
            let mut buf = [0u8; 4096];
            let Ok(n) = fs::readlink(&abs, &mut buf) else {
                break;
            };
            let target = buf.get(..n).unwrap_or(&[]);
            path = if target.starts_with(b"/") {
                target.to_vec()
            } else {
                let mut p = parent;
                p.push(b'/');
                p.extend_from_slice(target);
                p
            };
        }
    }

    /// SPEC §5.4, in the directory.
    fn scan(&mut self, now: u64) {
        let names = match fs::list_dir(c".") {
            Ok(n) => n,
            Err(ListError::Open(e)) => {
                // As runit: nothing else happens until the directory changes.
                self.warn(
                    &[b"unable to open directory ", self.dir.to_bytes()],
                    Some(e),
                );
                return;
            }
            Err(ListError::Read(e)) => {
                self.warn(
                    &[b"unable to read directory ", self.dir.to_bytes()],
                    Some(e),
                );
                self.poll_later(now, RESTART_MS);
                return;
            }
        };
        for s in &mut self.services {
            s.present = false;
        }
        for name in &names {
            if name.first() == Some(&b'.') {
                continue;
            }
            let Ok(cname) = CString::new(name.clone()) else {
                continue;
            };
            let m = match fs::stat(&cname) {
                Ok(m) => m,
                Err(e) => {
                    self.warn(&[b"unable to stat ", name], Some(e));
                    continue;
                }
            };
            if m.kind != Kind::Dir {
                continue;
            }
            if let Some(idx) = self
                .services
                .iter()
                .position(|s| s.dev == m.dev && s.ino == m.ino)
            {
                let due = self.services.get_mut(idx).is_some_and(|s| {
                    s.present = true;
                    s.pid.is_none() && now >= s.started_ms.saturating_add(RESTART_MS)
                });
                if due {
                    self.start(idx, &cname, now);
                }
                continue;
            }
            if self.services.len() >= MAX_SERVICES {
                self.warn(
                    &[b"unable to start runsv ", name, b": too many services."],
                    None,
                );
                continue;
            }
            self.services.push(Service {
                dev: m.dev,
                ino: m.ino,
                pid: None,
                started_ms: now,
                present: true,
            });
            self.start(self.services.len() - 1, &cname, now);
        }
        // Gone: TERM its runsv and forget it (it is still reaped).
        for s in self.services.iter().filter(|s| !s.present) {
            if let Some(pid) = s.pid {
                let _ = process::kill(pid, c::SIGTERM);
            }
        }
        self.services.retain(|s| s.present);
    }

    /// SPEC §5.6: fork and exec `runsv NAME` in the directory.
    fn start(&mut self, idx: usize, name: &CStr, now: u64) {
        let argv = [c"runsv".as_ptr(), name.as_ptr(), core::ptr::null()];
        let prefix: [&[u8]; 4] = [
            self.p[0],
            self.p[1],
            self.p[2],
            b"fatal: unable to start runsv ",
        ];
        let plan = SpawnPlan {
            search: &self.runsv,
            setsid: self.new_session,
            reset_signals: &self.reset,
            msg_prefix: &prefix,
            on_exec_fail: name.to_bytes(),
            fail_code: EXIT_FATAL,
            ..SpawnPlan::new(c"runsv", &argv)
        };
        let result = process::spawn(&plan);
        let Some(s) = self.services.get_mut(idx) else {
            return;
        };
        s.started_ms = now;
        match result {
            Ok(pid) => s.pid = Some(pid),
            Err(e) => {
                self.warn(&[b"unable to fork for ", name.to_bytes()], Some(e));
                self.poll_later(now, RESTART_MS);
            }
        }
    }
}

/// `path` made absolute against the directory `base` (via /proc/self/fd).
fn absolute(base: &Fd, path: &[u8]) -> CString {
    let mut buf = [0u8; 4096];
    // "/proc/self/fd/N" without format!, whose error path can panic.
    let mut num = [0u8; 24];
    let len = fmt_i64(i64::from(base.raw()), &mut num);
    let link = [&b"/proc/self/fd/"[..], num.get(..len).unwrap_or(&[])].concat();
    let mut full = match CString::new(link)
        .ok()
        .and_then(|l| fs::readlink(&l, &mut buf).ok())
    {
        Some(n) => buf.get(..n).unwrap_or(&[]).to_vec(),
        None => b".".to_vec(),
    };
    full.push(b'/');
    full.extend_from_slice(path);
    CString::new(full).unwrap_or_default()
}

fn parent_of(path: &[u8]) -> Vec<u8> {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(end) => path.get(..=end).unwrap_or(path),
        None => return b"/".to_vec(),
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/".to_vec(),
        Some(i) => trimmed.get(..i).unwrap_or(b"/").to_vec(),
        None => b".".to_vec(),
    }
}
