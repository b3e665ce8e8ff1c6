//! `a4mer import <bag> --fill-gaps`: a camera bag with dropped frames repaired, every gap
//! listed with what was done, the repaired bag readable again.

use std::path::PathBuf;
use std::process::Command;

use a4mer_bag::{BagReader, write_people_frames};
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_runtime::PoseFrame;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_bag_with_dropped_frames_is_repaired_and_every_gap_listed() {
    let take = import_bvh(
        &repo_root().join("data/mocap/bvhtools_test2.bvh"),
        &ImportOptions::default(),
    )
    .unwrap()
    .frames;
    let t0 = 1_700_000_000_000_000_000i64;
    // Person 1 loses 3 frames, then 12; person 2 (the same motion 2 m aside) loses 40.
    let shift = |f: &PoseFrame, dx: f32| PoseFrame {
        stamp_ns: t0 + f.stamp_ns,
        joints_in_world: f.joints_in_world.map(|p| [p[0] + dx, p[1], p[2]]),
        valid: f.valid,
    };
    let one: Vec<PoseFrame> = take[..300]
        .iter()
        .enumerate()
        .filter(|(i, _)| !((101..104).contains(i) || (201..213).contains(i)))
        .map(|(_, f)| shift(f, 0.0))
        .collect();
    let two: Vec<PoseFrame> = take[..300]
        .iter()
        .enumerate()
        .filter(|(i, _)| !(150..190).contains(i))
        .map(|(_, f)| shift(f, 2.0))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("camera");
    write_people_frames(&input, "/people", "camera", &[(1, &one), (2, &two)]).unwrap();
    let output = tmp.path().join("repaired");
    let out = Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .arg("import")
        .arg(&input)
        .args(["--fill-gaps", "--json", "--model"])
        .arg(repo_root().join("models/a4mer-small.a4m"))
        .arg("--to-bag")
        .arg(&output)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let people = v["people"].as_array().unwrap();
    let gaps = |i: usize| -> Vec<(u64, String)> {
        people[i]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["frames"].as_u64().unwrap(), g["method"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(gaps(0), vec![(3, "linear".into()), (12, "interpolation_head".into())]);
    assert_eq!(gaps(1), vec![(40, "not_filled".into())]);
    assert_eq!(people[0]["frames_out"], 300);
    assert_eq!(people[1]["frames_out"], 260);
    // The repaired bag reads back, and repairing it again finds only the gap left open.
    assert!(BagReader::open(&output).unwrap().messages().all(|m| m.is_ok()));
    let again = Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .arg("import")
        .arg(&output)
        .args(["--fill-gaps", "--json", "--model"])
        .arg(repo_root().join("models/a4mer-small.a4m"))
        .arg("--to-bag")
        .arg(tmp.path().join("again"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["people"][0]["gaps"], serde_json::json!([]));
    assert_eq!(v["people"][1]["gaps"].as_array().unwrap().len(), 1);

    // A motion file has no gaps to fill: a clear refusal naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .arg("import")
        .arg(repo_root().join("data/mocap/bvhtools_test2.bvh"))
        .args(["--fill-gaps", "--model"])
        .arg(repo_root().join("models/a4mer-small.a4m"))
        .arg("--to-bag")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bvhtools_test2.bvh") && err.contains("bag"), "{err}");
}
