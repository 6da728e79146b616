//! The README's first command: the example tree runs, restarts and obeys.

use crate::sandbox::*;
use std::path::Path;

#[test]
fn example_tree_tour_shows_restart_control_and_logging() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run_env(
        repo,
        &repo.join("scripts/run-example"),
        &["--tour"],
        &[(
            "BIN",
            ours("runsvdir")
                .parent()
                .and_then(Path::to_str)
                .expect("utf-8 path"),
        )],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let _ = &err;
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{err}"
    );
    assert!(text.contains("ok: down: clock: 0s, normally up"), "{text}");
    assert!(
        text.contains(": (pid ") && text.contains("s, normally down, want down"),
        "once: {text}"
    );
    assert!(
        text.contains("clock: started as pid"),
        "log collected: {text}"
    );
    // Service stderr goes to runsvdir's log, in its argv: the finish line
    // shows up there (or, scrolled, in part).
    assert!(text.contains("runsvdir -P"), "{text}");
    assert!(
        text.contains("run: hello: (pid "),
        "new service picked up: {text}"
    );
    assert!(
        text.ends_with("== runsvdir and every runsv have exited\n"),
        "{text}"
    );
}
