//! Refits onto a trained model (`a4mer train --anticipation-from`, `--interpolation-from`):
//! what each fits on, and that the result loads and scores as it says.
#![cfg(feature = "training")]

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `a4mer train --<what>-from <model>` on the bvhTools take that is not held out, into `out`.
fn refit(what: &str, model: &str, out: &str) -> serde_json::Value {
    let flag = format!("--{what}-from");
    a4mer(&[
        "train",
        "--data",
        "data/mocap",
        "--hold-out",
        "bvhtools_test2",
        &flag,
        model,
        "--out",
        out,
        "--json",
    ])
}

fn a4mer(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .current_dir(repo_root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
}

/// The anticipation prior's change model is fitted on the training recordings' last 20 %,
/// which the heads never trained on, and the refitted model publishes from the prior.
#[test]
fn the_change_model_is_fitted_on_frames_the_heads_never_saw() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("refit.a4m");
    let out = out.to_str().unwrap();
    let fit = refit("anticipation", "models/a4mer-small-int8.a4m", out);
    let f = &fit["anticipation_fit"];
    assert_eq!(f["calibrated_on_unseen_frames"], true, "{fit}");
    let calibration = f["calibration_samples"].as_u64().unwrap();
    // The last 20 % of the take: about a quarter as many samples as its first 80 % has frames.
    let frames = f["frames"].as_u64().unwrap();
    assert!(
        calibration > 0 && calibration * 2 < frames,
        "{calibration} calibration samples, {frames} training frames"
    );
    let eval = a4mer(&[
        "eval",
        "--data",
        "data/mocap/bvhtools_test2.bvh",
        "--split",
        "heldout",
        "--model",
        out,
        "--json",
    ]);
    let a = &eval["anticipation"];
    assert!(a["scored"].as_u64().unwrap() > 0, "{a}");
    assert!(a["brier_skill"].as_f64().is_some_and(f64::is_finite), "{a}");
}

/// `a4mer train --interpolation-from` calibrates a trained model's gap filling on its
/// training recordings; `eval --interpolation` then scores the calibrated fill, per
/// recording too, and never worse than the line on the recordings it was chosen on.
#[test]
fn a_model_calibrated_for_gaps_fills_no_worse_than_the_line_where_it_was_fitted() {
    let tmp = tempfile::tempdir().unwrap();
    let calibrated = tmp.path().join("calibrated.a4m");
    let out = calibrated.to_str().unwrap();
    let fit = refit("interpolation", "models/a4mer-small.a4m", out);
    let gaps = fit["interpolation"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 5, "{fit}");
    for g in gaps {
        for key in ["tangent_scale", "head_scale"] {
            let v = g[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{key} {v} in {g}");
        }
    }
    // Scored on the part it was chosen on, the calibrated fill cannot lose to the line,
    // which was one of its choices.
    let eval = a4mer(&[
        "eval",
        "--data",
        "data/mocap/bvhtools_test.bvh",
        "--split",
        "heldout",
        "--stride",
        "5",
        "--model",
        out,
        "--interpolation",
        "--json",
    ]);
    let report = &eval["interpolation"];
    assert!(
        report["calibration"].as_str().unwrap().starts_with("the model's"),
        "{report}"
    );
    assert_eq!(report["by_recording"].as_array().unwrap().len(), 1);
    for g in report["gaps"].as_array().unwrap() {
        let (line, model) = (g["linear_mm"].as_f64().unwrap(), g["model_mm"].as_f64().unwrap());
        assert!(
            model <= line * (1.0 + 1e-9),
            "gap {}: model {model} mm, line {line} mm",
            g["gap_ms"]
        );
    }
}
