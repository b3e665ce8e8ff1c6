//! `a4mer quantize` bad inputs through the binary: each a clear error, no output file.

use std::path::PathBuf;
use std::process::Command;

fn a4mer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn an_unparsable_calibration_file_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.bvh");
    std::fs::write(&bad, "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 zero 0\n").unwrap();
    let out = dir.path().join("int8.a4m");
    let o = a4mer()
        .current_dir(repo())
        .args(["quantize", "--calib"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.bvh") && err.contains("does not parse"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_missing_calibration_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int8.a4m");
    let o = a4mer()
        .current_dir(repo())
        .args(["quantize", "--calib", "no/such/take.bvh", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no/such/take.bvh"), "{err}");
    assert!(!out.exists());
}
