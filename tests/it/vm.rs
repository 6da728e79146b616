//! The VM boot test (tests/vm/README.md): Debian 12's kernel and an
//! initramfs of busybox and our static release binaries, booted by qemu
//! (TCG) with runit as PID 1, checked from the serial console by
//! tests/vm/boot-test. It needs the release build
//! (`cargo build --release --target x86_64-unknown-linux-musl`, which
//! scripts/test runs first) and qemu-system-x86_64. Without either the
//! test is skipped, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const PROGRAMS: [&str; 8] = [
    "runit",
    "runit-init",
    "runsvdir",
    "runsv",
    "sv",
    "chpst",
    "runsvchdir",
    "utmpset",
];

fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Skips (returns false) when a precondition is missing, except under
/// `CI=true`, where it fails.
fn need(ok: bool, what: &str) -> bool {
    if !ok {
        if in_ci() {
            panic!("{what} (required under CI=true)");
        }
        eprintln!("skipping: {what}");
    }
    ok
}

fn on_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(name).is_file())
}

fn mtime(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

/// The newest file under `dir` (for a staleness warning only).
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut best = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        let t = if p.is_dir() { newest(&p) } else { mtime(&p) };
        best = best.max(t);
    }
    best
}

#[test]
fn vm_boot_runs_three_stages_services_and_powers_off() {
    let top = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let release = top.join("target/x86_64-unknown-linux-musl/release");
    let qemu = std::env::var("QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into());
    if !need(
        on_path(&qemu) || Path::new(&qemu).is_file(),
        &format!("{qemu} not installed (apt-get install --no-install-recommends qemu-system-x86)"),
    ) {
        return;
    }
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .copied()
        .filter(|p| !release.join(p).is_file())
        .collect();
    if !need(
        missing.is_empty(),
        &format!(
            "release binaries {missing:?} missing in {}: run cargo build --release --target x86_64-unknown-linux-musl",
            release.display()
        ),
    ) {
        return;
    }
    let built = PROGRAMS
        .iter()
        .filter_map(|p| mtime(&release.join(p)))
        .min();
    let sources = [top.join("src"), top.join("crates")]
        .iter()
        .filter_map(|d| newest(d))
        .max();
    if let (Some(b), Some(s)) = (built, sources) {
        if s > b {
            eprintln!(
                "note: the release binaries are older than the sources; the VM boots the old build"
            );
        }
    }

    let out = Command::new("sh")
        .arg(top.join("tests/vm/boot-test"))
        .current_dir(&top)
        .output()
        .expect("run tests/vm/boot-test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The timings, shown with --nocapture (and on failure).
    println!("{stdout}");
    if out.status.code() == Some(77) {
        need(
            false,
            &format!("tests/vm/boot-test cannot run here: {}", stderr.trim()),
        );
        return;
    }
    assert!(
        out.status.success(),
        "tests/vm/boot-test failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
