//! `a4mer import` on DeepMimic clips and on files of no known format.

use std::path::PathBuf;
use std::process::Command;

fn a4mer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
}

fn clip(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/deepmimic")
        .join(name)
}

#[test]
fn info_shows_the_clip_its_loop_and_the_built_in_map() {
    let out = a4mer()
        .arg("import")
        .arg(clip("humanoid3d_walk.txt"))
        .args(["--info", "--loop-wrap-to-s", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "30 Hz, 39 frames",
        "resampled to 30 Hz: 115 frames",
        "DeepMimic format (y up)",
        "wrap (cyclic); one pass 1.267 s, 3 pass(es) imported",
        "18 of 24 joints mapped",
        "left_foot       <- left_foot",
        "spine2          <- chest",
        "left_hand       <- -",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn to_bag_writes_a_looped_clip() {
    use a4mer_bag::BagReader;

    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("run");
    let out = a4mer()
        .arg("import")
        .arg(clip("humanoid3d_run.txt"))
        .args(["--loop-wrap-to-s", "3", "--to-bag"])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // Four 0.8 s passes: 97 frames at 30 Hz, the last at 3.2 s.
    assert!(
        text.contains("wrote 97 Skeleton3DArray messages (3.20 s at 30 Hz)"),
        "{text}"
    );
    let reader = BagReader::open(&bag).unwrap();
    let topic = reader.topic_index("/poses").unwrap();
    assert_eq!(reader.topics()[topic].message_count, Some(97));
}

#[test]
fn a_file_of_no_known_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not motion\n").unwrap();
    let out = a4mer().arg("import").arg(&notes).arg("--info").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("notes.txt") && err.contains("unknown motion data format"),
        "{err}"
    );
}
