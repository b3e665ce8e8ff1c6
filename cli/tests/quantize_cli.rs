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

/// A rosbag2 bag is calibration data like a BVH file: `a4mer import --to-bag` writes real
/// mocap as a Skeleton3DArray bag, and `a4mer quantize --calib <bag> --json` uses it.
#[test]
fn a_bag_calibrates_and_json_is_one_report_object() {
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("take2");
    let o = a4mer()
        .current_dir(repo())
        .args(["import", "data/mocap/bvhtools_test2.bvh", "--to-bag"])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("int8.a4m");
    let o = a4mer()
        .current_dir(repo())
        .args(["quantize", "--json", "--calib"])
        .arg(&bag)
        .arg("--out")
        .arg(&out)
        .args([
            "--eval-data",
            "data/mocap/bvhtools_test2.bvh",
            "--stride",
            "30",
            "--bench-frames",
            "300",
            "--bench-rounds",
            "1",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "size_ratio",
        "mpjpe_drift_pct_world",
        "mpjpe_drift_pct_pelvis_relative",
        "motif_agreement",
        "p99_ratio",
        "targets",
    ] {
        assert!(v.get(key).is_some(), "no {key} in {stdout}");
    }
    assert_eq!(v["f32"]["mpjpe_world_mm"].as_array().unwrap().len(), 5);
    assert!(v["int8"]["int8_layers"].as_u64().unwrap() >= 10);
    assert_eq!(
        v["int8"]["size_bytes"].as_u64().unwrap(),
        std::fs::metadata(&out).unwrap().len()
    );
    // The calibration frames are the bag's training split: 80 % of 3945 frames.
    let calib = v["calibration_frames"].as_u64().unwrap();
    assert!((3100..=3160).contains(&calib), "{calib}");
}

#[test]
fn a_corrupt_bag_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("broken.mcap");
    std::fs::write(&bag, b"\x89MCAP0\r\n garbage that is not an mcap file").unwrap();
    let out = dir.path().join("int8.a4m");
    let o = a4mer()
        .current_dir(repo())
        .args(["quantize", "--calib"])
        .arg(&bag)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("calibration bag") && err.contains("broken.mcap"), "{err}");
    assert!(!out.exists());
}

/// The shipped int8 artifact, scored by `a4mer eval` (which runs an int8 model through the
/// engine, where its int8 kernels are), stays within 2 % of the f32 model scored the same
/// way, at every horizon, on the held-out split: the accuracy int8 may cost for its size
/// and speed.
#[test]
fn shipped_int8_model_tracks_f32_on_heldout_through_eval() {
    let eval = |model: &str, engine: bool| -> serde_json::Value {
        let mut cmd = a4mer();
        cmd.current_dir(repo()).args([
            "eval",
            "--json",
            "--split",
            "heldout",
            "--data",
            "data/mocap",
            "--model",
            model,
        ]);
        if engine {
            cmd.arg("--engine");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{model}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let f32 = eval("models/a4mer-small.a4m", true);
    let int8 = eval("models/a4mer-small-int8.a4m", false);
    assert_eq!(f32["windows"], int8["windows"]);
    for frame in ["world", "pelvis_relative"] {
        let row = |v: &serde_json::Value| -> Vec<f64> {
            v["mpjpe_mm"]["model"][frame]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (a, b) = (row(&f32), row(&int8));
        assert_eq!(a.len(), 5);
        for (x, y) in a.iter().zip(&b) {
            assert!(y <= &(x * 1.02), "{frame}: f32 {x} mm, int8 {y} mm");
            assert!(
                x != y,
                "{frame}: int8 gave exactly the f32 number {x}: not running int8?"
            );
        }
        println!("{frame} MPJPE (mm) f32 {a:?} int8 {b:?}");
    }
}
