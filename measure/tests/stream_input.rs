//! The streaming input conditioner on real mocap delivered at producer rates.

// The BVH test helpers live with the importer they exercise.
#[path = "../../motion/tests/common/mod.rs"]
mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_runtime::stream::{Conditioner, ConditionerConfig};
use a4mer_runtime::{NUM_JOINTS, PoseFrame};

fn real_take() -> Vec<PoseFrame> {
    let path = &common::bundled_mocap()[1];
    import_bvh(path, &ImportOptions::default()).unwrap().frames
}

fn max_error(a: &PoseFrame, b: &PoseFrame) -> f64 {
    let errors = (0..NUM_JOINTS).filter(|&j| a.valid[j]).map(|j| {
        (0..3)
            .map(|c| (a.joints_in_world[j][c] - b.joints_in_world[j][c]).powi(2))
            .sum::<f32>()
            .sqrt()
    });
    compare::finite_max(&format!("joint errors at {}", a.stamp_ns), errors)
}

#[test]
fn real_30_hz_stream_passes_through_unchanged() {
    let take = real_take();
    let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
    let t0 = 1_700_000_000_000_000_000i64; // a wall-clock-like epoch stamp
    let mut out = Vec::new();
    for f in &take {
        let mut g = *f;
        g.stamp_ns += t0;
        out.extend(c.push(&g).unwrap().frames);
    }
    assert_eq!(out.len(), take.len());
    for (a, b) in out.iter().zip(&take) {
        assert_eq!(a.stamp_ns - t0, b.stamp_ns);
        assert_eq!(a.joints_in_world, b.joints_in_world);
        assert_eq!(a.valid, b.valid);
    }
}

#[test]
fn real_15_hz_stream_is_upsampled_close_to_the_real_30_hz_frames() {
    let take = real_take();
    let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
    let out: Vec<PoseFrame> = take.iter().step_by(2).flat_map(|f| c.push(f).unwrap().frames).collect();
    assert!(out.len() >= take.len() - 2, "{} of {}", out.len(), take.len());
    let mut worst = 0.0f64;
    let mut sum = 0.0f64;
    for (a, b) in out.iter().zip(&take) {
        assert_eq!(a.stamp_ns, b.stamp_ns);
        let e = max_error(a, b);
        worst = worst.max(e);
        sum += e;
    }
    let mean_worst_joint = sum / out.len() as f64;
    assert!(
        mean_worst_joint < 0.02,
        "mean per-frame worst-joint error {mean_worst_joint} m (max {worst})"
    );
}
