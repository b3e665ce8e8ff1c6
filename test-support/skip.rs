//! A test that cannot run here says so where CI lists it.
//!
//! The test harness counts a test that returns early as passed, and its printed reason is
//! captured with the output of passing tests. So each skip also appends one line,
//! `SKIP <test>: <reason>`, to the file `A4MER_SKIP_LOG` names; `.ci/run` sets it and
//! prints the list at the end, so what did not run is in the log beside what passed.
//!
//! Included with `#[path]` (see `compare.rs` beside it for why not a crate).

#![allow(dead_code)]

use std::io::Write;

/// The variable naming the file skips are appended to.
pub const SKIP_LOG_VAR: &str = "A4MER_SKIP_LOG";

/// Records that `test` did not run here and why. Call it, then return from the test.
///
/// # Panics
/// When the log is named but cannot be written: a skip CI cannot list is a silent pass.
pub fn skip(test: &str, reason: &str) {
    // One line, whatever the reason holds, so the list stays one skip per line.
    let line = format!(
        "SKIP {test}: {}",
        reason.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    println!("{line}");
    let Some(path) = std::env::var_os(SKIP_LOG_VAR).filter(|p| !p.is_empty()) else {
        return;
    };
    // O_APPEND: test binaries running at once each add whole lines.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        panic!("{SKIP_LOG_VAR}={}: {e}", std::path::Path::new(&path).display());
    }
}
