//! chpst and its personalities envdir, envuidgid, pgrphack, setuidgid,
//! setlock and softlimit (SPEC §9): parse into a [`Plan`], then apply it
//! in runit's fixed order and exec. The rules (personality by argv[0],
//! account specs, envdir values, strict numbers) live in
//! `runit_core::chpst`. Users and groups come from `/etc/passwd` and
//! `/etc/group` read directly (inside the new root after `-/`), so the
//! static build never loads NSS modules; LDAP, sssd or systemd-userdb
//! accounts are therefore not seen.
//!
//! Privileges drop in the safe order: setgroups (exactly the groups
//! named, or the user's primary group alone), setgid, setuid; any failure
//! exits 111 before exec, so nothing runs with partial privileges.

use runit_core::chpst::{
    envdir_value, group_lookup, limit_value, nice_value, parse_account, passwd_lookup, personality,
    Account, Personality,
};
use runit_core::getopt::{Getopt, Opt};
use runit_sys::creds::{self, LimitError, Resource};
use runit_sys::fs::{self, ListError};
use runit_sys::msg::{line, line2};
use runit_sys::process::{self, path_candidates, Args};
use runit_sys::{c, fd, lock, Errno};
use std::ffi::{c_char, CStr, CString};

const EXIT_USAGE: i32 = 100;
const EXIT_FATAL: i32 = 111;
const VERSION: &str = "$Id: e46a05449578fd7b8ee604f3ea6e81cd77d7d6f8 $";
const CHPST_USAGE: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog";
const SOFTLIMIT_USAGE: &str = " [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child";

pub fn main(args: Args) -> i32 {
    let argv0 = args.get(0).map_or(&b"chpst"[..], CStr::to_bytes);
    let (who, prog) = personality(argv0);
    // getopt's diagnostics name the program as invoked; usage, the stripped name.
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let argv: Vec<&'static [u8]> = (1..args.len())
        .filter_map(|i| args.get(i))
        .map(CStr::to_bytes)
        .collect();
    let plan = match who {
        Personality::Chpst => parse_chpst(prog, base, &argv),
        Personality::Setuidgid | Personality::Envuidgid => {
            let (Some(&account), Some(rest)) =
                (argv.first(), argv.get(1..).filter(|r| !r.is_empty()))
            else {
                return usage(prog, " account child");
            };
            let mut p = Plan::new(rest);
            if who == Personality::Setuidgid {
                p.account = Some((account, false));
            } else {
                p.env_account = Some((account, false));
            }
            Ok(p)
        }
        Personality::Envdir => {
            let (Some(&dir), Some(rest)) = (argv.first(), argv.get(1..).filter(|r| !r.is_empty()))
            else {
                return usage(prog, " dir child");
            };
            let mut p = Plan::new(rest);
            p.envdir = Some((dir, true));
            Ok(p)
        }
        Personality::Pgrphack => {
            if argv.is_empty() {
                return usage(prog, " child");
            }
            let mut p = Plan::new(&argv);
            p.setsid = true;
            Ok(p)
        }
        Personality::Setlock => parse_setlock(prog, base, &argv),
        Personality::Softlimit => parse_softlimit(prog, base, &argv),
    };
    match plan {
        Ok(plan) => plan.run(),
        Err(code) => code,
    }
}

fn usage(prog: &[u8], synopsis: &str) -> i32 {
    line(&[b"usage: ", prog, synopsis.as_bytes(), b"\n"], None);
    EXIT_USAGE
}

fn fatal(pieces: &[&[u8]], e: Option<Errno>) -> i32 {
    line2(&[b"chpst: fatal: "], pieces, e);
    EXIT_FATAL
}

/// Limits to set: `Some(None)` is "soft = hard" (softlimit's `=`).
#[derive(Default, Clone, Copy)]
struct Limits {
    data: Option<Option<u64>>,
    stack: Option<Option<u64>>,
    memlock: Option<Option<u64>>,
    r#as: Option<Option<u64>>,
    nofile: Option<Option<u64>>,
    nproc: Option<Option<u64>>,
    fsize: Option<Option<u64>>,
    core: Option<Option<u64>>,
    rss: Option<Option<u64>>,
    cpu: Option<Option<u64>>,
}

impl Limits {
    fn all_memory(&mut self, v: Option<u64>) {
        self.data = Some(v);
        self.stack = Some(v);
        self.memlock = Some(v);
        self.r#as = Some(v);
    }

    /// In runit's order of application.
    fn in_order(&self) -> [(Resource, Option<Option<u64>>); 10] {
        [
            (Resource::Data, self.data),
            (Resource::Stack, self.stack),
            (Resource::Memlock, self.memlock),
            (Resource::As, self.r#as),
            (Resource::Nofile, self.nofile),
            (Resource::Nproc, self.nproc),
            (Resource::Fsize, self.fsize),
            (Resource::Core, self.core),
            (Resource::Rss, self.rss),
            (Resource::Cpu, self.cpu),
        ]
    }
}

/// Everything chpst will change, applied in runit's order by [`Plan::run`].
struct Plan<'a> {
    setsid: bool,
    /// The directory, and whether a subdirectory in it is fatal (envdir).
    envdir: Option<(&'a [u8], bool)>,
    root: Option<&'a [u8]>,
    pwd: Option<&'a [u8]>,
    nice: Option<i32>,
    /// The account for UID/GID, and whether it is the extended form.
    env_account: Option<(&'a [u8], bool)>,
    account: Option<(&'a [u8], bool)>,
    /// The lock file and whether to wait for it.
    lock: Option<(&'a [u8], bool)>,
    /// setlock -x: lock and exec failures exit 0 silently.
    quiet_failures: bool,
    close: [bool; 3],
    limits: Limits,
    argv0: Option<&'a [u8]>,
    verbose: bool,
    program: &'a [&'a [u8]],
}

impl<'a> Plan<'a> {
    fn new(program: &'a [&'a [u8]]) -> Plan<'a> {
        Plan {
            setsid: false,
            envdir: None,
            root: None,
            pwd: None,
            nice: None,
            env_account: None,
            account: None,
            lock: None,
            quiet_failures: false,
            close: [false; 3],
            limits: Limits::default(),
            argv0: None,
            verbose: false,
            program,
        }
    }
}

fn parse_chpst<'a>(prog: &[u8], base: &[u8], argv: &'a [&'a [u8]]) -> Result<Plan<'a>, i32> {
    let usage = || usage(prog, CHPST_USAGE);
    let mut p = Plan::new(&[]);
    let mut g = Getopt::new(argv, b"u:U:b:e:m:d:o:p:f:c:r:t:/:C:n:l:L:vVP012");
    for opt in g.by_ref() {
        let num = |v: &[u8]| limit_value(v).ok_or_else(usage);
        match opt {
            Ok(Opt::Arg(b'u', v)) => p.account = Some((v, true)),
            Ok(Opt::Arg(b'U', v)) => p.env_account = Some((v, true)),
            Ok(Opt::Arg(b'b', v)) => p.argv0 = Some(v),
            Ok(Opt::Arg(b'e', v)) => p.envdir = Some((v, false)),
            Ok(Opt::Arg(b'/', v)) => p.root = Some(v),
            Ok(Opt::Arg(b'C', v)) => p.pwd = Some(v),
            Ok(Opt::Arg(b'n', v)) => p.nice = Some(nice_value(v).ok_or_else(usage)?),
            Ok(Opt::Arg(l @ (b'l' | b'L'), v)) => {
                if p.lock.is_some() {
                    return Err(usage());
                }
                p.lock = Some((v, l == b'l'));
            }
            Ok(Opt::Arg(b'm', v)) => p.limits.all_memory(Some(num(v)?)),
            Ok(Opt::Arg(b'd', v)) => p.limits.data = Some(Some(num(v)?)),
            Ok(Opt::Arg(b'o', v)) => p.limits.nofile = Some(Some(num(v)?)),
            Ok(Opt::Arg(b'p', v)) => p.limits.nproc = Some(Some(num(v)?)),
            Ok(Opt::Arg(b'f', v)) => p.limits.fsize = Some(Some(num(v)?)),
            Ok(Opt::Arg(b'c', v)) => p.limits.core = Some(Some(num(v)?)),
            Ok(Opt::Arg(b'r', v)) => p.limits.rss = Some(Some(num(v)?)),
            Ok(Opt::Arg(b't', v)) => p.limits.cpu = Some(Some(num(v)?)),
            Ok(Opt::Flag(b'v')) => p.verbose = true,
            Ok(Opt::Flag(b'P')) => p.setsid = true,
            Ok(Opt::Flag(d @ (b'0' | b'1' | b'2'))) => {
                if let Some(slot) = p.close.get_mut(usize::from(d - b'0')) {
                    *slot = true;
                }
            }
            Ok(Opt::Flag(b'V')) => {
                line(&[VERSION.as_bytes()], None);
                return Err(usage());
            }
            Ok(_) => return Err(usage()),
            Err(e) => {
                runit_sys::msg::option_error(base, e);
                return Err(usage());
            }
        }
    }
    p.program = g.operands();
    if p.program.is_empty() {
        return Err(usage());
    }
    Ok(p)
}

fn parse_setlock<'a>(prog: &[u8], base: &[u8], argv: &'a [&'a [u8]]) -> Result<Plan<'a>, i32> {
    let usage = || usage(prog, " [ -nNxX ] file program [ arg ... ]");
    let (mut wait, mut quiet) = (false, false);
    let mut g = Getopt::new(argv, b"nNxX");
    for opt in g.by_ref() {
        match opt {
            Ok(Opt::Flag(b'n')) => wait = true,
            Ok(Opt::Flag(b'N')) => wait = false,
            Ok(Opt::Flag(b'x')) => quiet = true,
            Ok(Opt::Flag(b'X')) => quiet = false,
            Ok(_) => return Err(usage()),
            Err(e) => {
                runit_sys::msg::option_error(base, e);
                return Err(usage());
            }
        }
    }
    let (Some(&file), Some(rest)) = (
        g.operands().first(),
        g.operands().get(1..).filter(|r| !r.is_empty()),
    ) else {
        return Err(usage());
    };
    let mut p = Plan::new(rest);
    p.lock = Some((file, wait));
    p.quiet_failures = quiet;
    Ok(p)
}

fn parse_softlimit<'a>(prog: &[u8], base: &[u8], argv: &'a [&'a [u8]]) -> Result<Plan<'a>, i32> {
    let mut p = Plan::new(&[]);
    let mut g = Getopt::new(argv, b"a:c:d:f:l:m:o:p:r:s:t:");
    for opt in g.by_ref() {
        let value = |v: &[u8]| -> Result<Option<u64>, i32> {
            if v == b"=" {
                return Ok(None);
            }
            // runit's quirk: a bad value prints chpst's usage as softlimit.
            limit_value(v)
                .map(Some)
                .ok_or_else(|| usage(prog, CHPST_USAGE))
        };
        match opt {
            Ok(Opt::Arg(b'a', v)) => p.limits.r#as = Some(value(v)?),
            Ok(Opt::Arg(b'c', v)) => p.limits.core = Some(value(v)?),
            Ok(Opt::Arg(b'd', v)) => p.limits.data = Some(value(v)?),
            Ok(Opt::Arg(b'f', v)) => p.limits.fsize = Some(value(v)?),
            Ok(Opt::Arg(b'l', v)) => p.limits.memlock = Some(value(v)?),
            Ok(Opt::Arg(b'm', v)) => p.limits.all_memory(value(v)?),
            Ok(Opt::Arg(b'o', v)) => p.limits.nofile = Some(value(v)?),
            Ok(Opt::Arg(b'p', v)) => p.limits.nproc = Some(value(v)?),
            Ok(Opt::Arg(b'r', v)) => p.limits.rss = Some(value(v)?),
            Ok(Opt::Arg(b's', v)) => p.limits.stack = Some(value(v)?),
            Ok(Opt::Arg(b't', v)) => p.limits.cpu = Some(value(v)?),
            Ok(_) => return Err(usage(prog, SOFTLIMIT_USAGE)),
            Err(e) => {
                runit_sys::msg::option_error(base, e);
                return Err(usage(prog, SOFTLIMIT_USAGE));
            }
        }
    }
    p.program = g.operands();
    if p.program.is_empty() {
        return Err(usage(prog, SOFTLIMIT_USAGE));
    }
    Ok(p)
}

/// The environment passed to the program: the process's, then changes.
struct Env {
    vars: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Env {
    fn current() -> Env {
        use std::os::unix::ffi::OsStringExt;
        Env {
            vars: std::env::vars_os()
                .map(|(k, v)| (k.into_vec(), v.into_vec()))
                .collect(),
        }
    }

    fn set(&mut self, k: &[u8], v: Vec<u8>) {
        self.unset(k);
        self.vars.push((k.to_vec(), v));
    }

    fn unset(&mut self, k: &[u8]) {
        self.vars.retain(|(name, _)| name != k);
    }

    fn entries(&self) -> Vec<CString> {
        self.vars
            .iter()
            .filter_map(|(k, v)| {
                let mut e = k.clone();
                e.push(b'=');
                e.extend_from_slice(v);
                CString::new(e).ok()
            })
            .collect()
    }
}

fn cstring(b: &[u8]) -> CString {
    CString::new(b).unwrap_or_default()
}

impl Plan<'_> {
    /// Applies every change in runit's order and execs; returns the exit
    /// code only when something failed.
    fn run(self) -> i32 {
        match self.apply() {
            Ok(never) => match never {},
            Err(code) => code,
        }
    }

    fn apply(&self) -> Result<std::convert::Infallible, i32> {
        if self.setsid {
            let _ = creds::setsid();
        }
        let mut env = Env::current();
        if let Some((dir, strict)) = self.envdir {
            self.read_envdir(dir, strict, &mut env)?;
        }
        if let Some(root) = self.root {
            fs::chdir(&cstring(root))
                .map_err(|e| fatal(&[b"unable to change directory: ", root], Some(e)))?;
            creds::chroot(c".")
                .map_err(|e| fatal(&[b"unable to change root directory"], Some(e)))?;
        }
        if let Some(pwd) = self.pwd {
            fs::chdir(&cstring(pwd))
                .map_err(|e| fatal(&[b"unable to change directory: ", pwd], Some(e)))?;
        }
        if let Some(inc) = self.nice.filter(|&n| n != 0) {
            creds::nice(inc).map_err(|e| fatal(&[b"unable to set nice level"], Some(e)))?;
        }
        if let Some((spec, extended)) = self.env_account {
            let (uid, gids) = lookup(spec, extended)?;
            env.set(
                b"GID",
                gids.first().copied().unwrap_or(0).to_string().into_bytes(),
            );
            env.set(b"UID", uid.to_string().into_bytes());
        }
        if let Some((spec, extended)) = self.account {
            let (uid, gids) = lookup(spec, extended)?;
            creds::setgroups(&gids).map_err(|e| fatal(&[b"unable to setgroups"], Some(e)))?;
            creds::setgid(gids.first().copied().unwrap_or(0))
                .map_err(|e| fatal(&[b"unable to setgid"], Some(e)))?;
            creds::setuid(uid).map_err(|e| fatal(&[b"unable to setuid"], Some(e)))?;
        }
        if let Some((file, wait)) = self.lock {
            self.take_lock(file, wait)?;
        }
        for (i, what) in [&b"stdin"[..], b"stdout", b"stderr"].iter().enumerate() {
            if self.close.get(i) == Some(&true) {
                creds::close_fd(i as i32)
                    .map_err(|e| fatal(&[b"unable to close ", what], Some(e)))?;
            }
        }
        for (res, value) in self.limits.in_order() {
            if let Some(v) = value {
                creds::soft_limit(res, v).map_err(|e| match e {
                    LimitError::Get(e) => fatal(&[b"unable to getrlimit()"], Some(e)),
                    LimitError::Set(e) => fatal(&[b"unable to setrlimit()"], Some(e)),
                })?;
            }
        }
        self.exec(&env)
    }

    fn take_lock(&self, file: &[u8], wait: bool) -> Result<(), i32> {
        let l = match lock::open_lockfile(&cstring(file)) {
            Ok(l) => l,
            Err(e) => {
                if self.quiet_failures {
                    return Err(0);
                }
                return Err(fatal(&[b"unable to open lock: ", file], Some(e)));
            }
        };
        let locked = if wait {
            lock::lock_exclusive(&l)
        } else {
            lock::lock_exclusive_nb(&l)
        };
        if let Err(e) = locked {
            if self.quiet_failures {
                return Err(0);
            }
            return Err(fatal(&[b"unable to lock: ", file], Some(e)));
        }
        // The program holds the lock for its whole life.
        let _ = fd::keep_across_exec(&l);
        std::mem::forget(l);
        Ok(())
    }

    fn exec(&self, env: &Env) -> Result<std::convert::Infallible, i32> {
        let Some(&name) = self.program.first() else {
            return Err(EXIT_USAGE);
        };
        let args: Vec<CString> = self.program.iter().map(|a| cstring(a)).collect();
        let shown = self.argv0.unwrap_or(name);
        let argv0 = cstring(shown);
        let mut argv: Vec<*const c_char> = Vec::with_capacity(args.len() + 1);
        argv.push(argv0.as_ptr());
        argv.extend(args.iter().skip(1).map(|a| a.as_ptr()));
        argv.push(core::ptr::null());
        let entries = env.entries();
        let mut envp: Vec<*const c_char> = entries.iter().map(|e| e.as_ptr()).collect();
        envp.push(core::ptr::null());
        let e = process::exec(&path_candidates(name), &argv, &envp);
        if self.quiet_failures {
            return Err(0);
        }
        Err(fatal(&[b"unable to run: ", shown], Some(e)))
    }

    /// SPEC §9.4. `strict`: a subdirectory is fatal (envdir personality).
    fn read_envdir(&self, dir: &[u8], strict: bool, env: &mut Env) -> Result<(), i32> {
        let start = fs::open_cwd()
            .map_err(|e| fatal(&[b"unable to open current working directory"], Some(e)))?;
        fs::chdir(&cstring(dir))
            .map_err(|e| fatal(&[b"unable to switch to directory: ", dir], Some(e)))?;
        let names = fs::list_dir(c".").map_err(|e| match e {
            ListError::Open(e) => fatal(&[b"unable to open directory: ", dir], Some(e)),
            ListError::Read(e) => fatal(&[b"unable to read directory: ", dir], Some(e)),
        })?;
        for name in names.iter().filter(|n| n.first() != Some(&b'.')) {
            match fd::read_file(&cstring(name)) {
                Ok(content) => match envdir_value(&content) {
                    None => env.unset(name),
                    Some(v) => env.set(name, v),
                },
                Err(e @ Errno(c::EISDIR)) if !strict => {
                    if self.verbose {
                        line(
                            &[b"chpst: warning: unable to read ", dir, b"/", name],
                            Some(e),
                        );
                    }
                }
                Err(e) => return Err(fatal(&[b"unable to read ", dir, b"/", name], Some(e))),
            }
        }
        fs::fchdir(&start)
            .map_err(|e| fatal(&[b"unable to switch to starting directory"], Some(e)))?;
        Ok(())
    }
}

/// Resolves an account: `(uid, groups)`; the first group is the gid.
fn lookup(spec: &[u8], extended: bool) -> Result<(u32, Vec<u32>), i32> {
    if !extended {
        let pw = read_db(c"/etc/passwd", b"unable to get password file entry")?;
        let (uid, gid) =
            passwd_lookup(&pw, spec).ok_or_else(|| fatal(&[b"unknown account: ", spec], None))?;
        return Ok((uid, vec![gid]));
    }
    let invalid = || fatal(&[b"invalid uid/gids: ", spec.get(1..).unwrap_or(&[])], None);
    match parse_account(spec).map_err(|_| invalid())? {
        Account::Numeric { uid, gids } => Ok((uid, gids)),
        Account::Names { user, groups } => {
            let unknown = || fatal(&[b"unknown user/group: ", spec], None);
            let pw = read_db(c"/etc/passwd", b"unable to get password/group file entry")?;
            let (uid, gid) = passwd_lookup(&pw, user).ok_or_else(unknown)?;
            if groups.is_empty() {
                return Ok((uid, vec![gid]));
            }
            let gr = read_db(c"/etc/group", b"unable to get password/group file entry")?;
            let gids = groups
                .iter()
                .map(|g| group_lookup(&gr, g).ok_or_else(unknown))
                .collect::<Result<Vec<u32>, i32>>()?;
            Ok((uid, gids))
        }
    }
}

/// Reads an account database; a missing file is an empty one.
fn read_db(path: &CStr, what: &[u8]) -> Result<Vec<u8>, i32> {
    match fd::read_file(path) {
        Ok(v) => Ok(v),
        Err(Errno(c::ENOENT)) => Ok(Vec::new()),
        Err(e) => Err(fatal(&[what], Some(e))),
    }
}
