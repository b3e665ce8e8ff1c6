//! How `a4mer` ends when something goes wrong outside it: a missing input file, a reader
//! that stops reading its output.

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn a4mer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_missing_file_is_reported_once_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bvh");
    let out = a4mer().arg("eval").arg("--data").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The OS's own wording, as std prints it: "No such file or directory (os error 2)".
    let os_message = std::fs::File::open(&missing).unwrap_err().to_string();
    assert_eq!(stderr.matches(&os_message).count(), 1, "{stderr}");
    assert_eq!(stderr.matches("(os error").count(), 1, "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A subcommand that prints a line per atom (about 250 on this take).
fn motifs() -> Command {
    let mut c = a4mer();
    c.arg("motifs")
        .arg("--model")
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--data")
        .arg(repo().join("data/mocap/bvhtools_test2.bvh"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn assert_quiet_success(child: std::process::Child) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn a_reader_that_closes_before_the_first_line_ends_the_command_quietly() {
    let mut child = motifs().spawn().unwrap();
    // No reader at all: the very first write fails with EPIPE, whatever the timing.
    drop(child.stdout.take());
    assert_quiet_success(child);
}

#[test]
fn a_foundation_that_is_not_a_model_is_refused_before_training_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("notes.a4m");
    std::fs::write(&not_a_model, b"not an artifact").unwrap();
    let out = a4mer()
        .arg("train")
        .arg("--data")
        .arg(repo().join("data/mocap/bvhtools_test2.bvh"))
        .arg("--encoders-from")
        .arg(&not_a_model)
        .arg("--out")
        .arg(dir.path().join("mine.a4m"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&not_a_model.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("mine.a4m").exists());
    // The ablation's switch means nothing without a foundation.
    let out = a4mer()
        .args(["train", "--data", "x.bvh", "--out", "y.a4m", "--random-encoders"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--encoders-from"));
}

#[test]
fn training_whose_held_out_evaluation_cannot_run_stops_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let clip = repo().join("data/deepmimic/humanoid3d_walk.txt");
    let out = a4mer()
        .arg("train")
        .arg("--data")
        .arg(&clip)
        .arg("--out")
        .arg(dir.path().join("m.a4m"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--no-eval") && stderr.contains("humanoid3d_walk.txt"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Refused up front: no training epoch ran (each writes the checkpoint).
    assert!(!dir.path().join("m.a4m.ckpt").exists());
    assert!(!dir.path().join("m.a4m").exists());
}
