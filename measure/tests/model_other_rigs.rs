//! The shipped model on a rig with joints its training data never had (hands, as a rig
//! with finger joints maps them): those joints must not disturb the forecast of the others,
//! and they move with their nearest trained ancestor.

// The BVH test helpers live with the importer they exercise.
#[path = "../../motion/tests/common/mod.rs"]
mod common;

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_runtime::{PoseFrame, SMPL24};

fn joint(name: &str) -> usize {
    SMPL24.iter().position(|n| *n == name).unwrap()
}

#[test]
fn joints_unseen_in_training_are_masked_and_follow_their_parent() {
    let path = common::repo_root().join("models/a4mer-small.a4m");
    let (model, _) = load_model(&path, &inference_device()).unwrap();
    let trained = model.norm.trained_joints();
    assert!(!trained[joint("left_hand")] && !trained[joint("right_hand")]);
    assert_eq!(trained.iter().filter(|t| **t).count(), 22);

    let take = import_bvh(&common::bundled_mocap()[1], &ImportOptions::default())
        .unwrap()
        .frames;
    let window: Vec<PoseFrame> = take[1000..1060].to_vec();
    // The same window from a rig that has hands: 8 cm beyond each wrist, valid.
    let with_hands: Vec<PoseFrame> = window
        .iter()
        .map(|f| {
            let mut g = *f;
            for (wrist, elbow, hand) in [
                ("left_wrist", "left_elbow", "left_hand"),
                ("right_wrist", "right_elbow", "right_hand"),
            ] {
                let (w, e) = (g.joints_in_world[joint(wrist)], g.joints_in_world[joint(elbow)]);
                let d: [f32; 3] = std::array::from_fn(|c| w[c] - e[c]);
                let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-6);
                g.joints_in_world[joint(hand)] = std::array::from_fn(|c| w[c] + 0.08 * d[c] / n);
                g.valid[joint(hand)] = true;
            }
            g
        })
        .collect();
    let plain = model.forecast(&window).unwrap();
    let rigged = model.forecast(&with_hands).unwrap();
    for (a, b) in plain.steps.iter().zip(&rigged.steps) {
        for j in (0..24).filter(|&j| trained[j]) {
            assert_eq!(
                a.joints_in_world[j], b.joints_in_world[j],
                "trained joint {} changed",
                SMPL24[j]
            );
        }
    }
    // Hands keep their offset from the wrist over the whole horizon.
    let last = with_hands.last().unwrap();
    for step in &rigged.steps {
        for (wrist, hand) in [("left_wrist", "left_hand"), ("right_wrist", "right_hand")] {
            let (w, h) = (joint(wrist), joint(hand));
            for c in 0..3 {
                let now = step.joints_in_world[h][c] - step.joints_in_world[w][c];
                let then = last.joints_in_world[h][c] - last.joints_in_world[w][c];
                assert!((now - then).abs() < 1e-5, "{hand} drifted from {wrist}");
            }
        }
    }
}
