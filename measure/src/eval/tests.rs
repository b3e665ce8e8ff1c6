use super::*;
use a4mer_motion::bvh::{ImportInfo, Motion, Units, UpAxis};
use a4mer_runtime::{JointMap, Skeleton, frame_period_ns};

fn motion(frames: Vec<PoseFrame>) -> Motion {
    Motion {
        source: "synthetic".into(),
        frames,
        info: ImportInfo {
            source_frames: 0,
            source_fps: 30.0,
            duration_s: 0.0,
            units: Units::Metres,
            units_detected: false,
            up_axis: UpAxis::Z,
            up_axis_basis: "flag",
            skeleton_height_m: 0.0,
            skeleton: Skeleton::smpl24(),
            joint_map: JointMap::identity(),
        },
    }
}

/// x(t) = A (1 − e^(−t/τ₀)): from any origin the displacement over h is exactly
/// v τ₀ (1 − e^(−h/τ₀)), the damped baseline with τ = τ₀, which the fit must find.
#[test]
fn the_damping_fit_finds_the_time_constant_of_an_exponential_approach() {
    let (amplitude_m, tau0_s) = (5.0f64, 0.8f64);
    let frames: Vec<PoseFrame> = (0..600)
        .map(|k| {
            let t = k as f64 / 30.0;
            let x = (amplitude_m * (1.0 - (-t / tau0_s).exp())) as f32;
            let mut joints = [[0.0f32; 3]; NUM_JOINTS];
            joints[0] = [x, 0.0, 1.0];
            let mut valid = [false; NUM_JOINTS];
            valid[0] = true;
            PoseFrame::new(frame_period_ns(k), joints, valid)
        })
        .collect();
    let fitted = fit_damping_tau(
        &[Scored {
            observed: &frames,
            truth: &frames,
        }],
        1,
    )
    .unwrap();
    assert!((0.68..=0.95).contains(&fitted), "fitted {fitted} s for {tau0_s} s");
    // On it, the damped baseline beats both trivial ones at every horizon.
    let r = evaluate(&[motion(frames)], Split::All, 1, None).unwrap();
    let t = &r.mpjpe_mm;
    for h in 0..HORIZONS_MS.len() {
        let best_trivial = t.best_trivial_baseline_world()[h];
        assert!(t.damped_velocity.world[h] < best_trivial, "horizon {h}: {t:?}");
        assert_eq!(t.best_baseline_world()[h], t.damped_velocity.world[h]);
    }
}

#[test]
fn a_long_time_constant_is_constant_velocity_and_a_short_one_holds_the_pose() {
    let frames: Vec<PoseFrame> = (0..3)
        .map(|k| {
            let mut joints = [[0.0f32; 3]; NUM_JOINTS];
            joints[0] = [0.1 * k as f32, 0.0, 1.0];
            PoseFrame::new(frame_period_ns(k), joints, [true; NUM_JOINTS])
        })
        .collect();
    let cv = ConstantVelocity.forecast(&frames);
    let slow = DampedVelocity { tau_s: 1e4 }.forecast(&frames);
    let fast = DampedVelocity { tau_s: 1e-4 }.forecast(&frames);
    for k in [0, 10, 29] {
        assert!((slow[k][0][0] - cv[k][0][0]).abs() < 1e-3, "step {k}");
        assert!((fast[k][0][0] - 0.2).abs() < 1e-3, "step {k}: {}", fast[k][0][0]);
    }
}

#[test]
fn horizon_steps() {
    let steps: Vec<usize> = HORIZONS_MS.iter().map(|ms| horizon_step(*ms)).collect();
    assert_eq!(steps, vec![2, 5, 11, 17, 29]);
}

/// 90 frames, one window (origin 59). Pelvis moves with constant acceleration along
/// x, x = a t² / 2, so both baselines have closed-form errors; joint 1 sits 1 m above
/// the pelvis and the remaining joints are invalid.
#[test]
fn baselines_match_hand_computation_on_a_tiny_sequence() {
    let a = 2.0f64; // m/s²
    let frames: Vec<PoseFrame> = (0..90)
        .map(|k| {
            let t = k as f64 / 30.0;
            let x = (0.5 * a * t * t) as f32;
            let mut joints = [[0.0f32; 3]; NUM_JOINTS];
            joints[0] = [x, 0.0, 1.0];
            joints[1] = [x, 0.0, 2.0];
            let mut valid = [false; NUM_JOINTS];
            valid[0] = true;
            valid[1] = true;
            PoseFrame::new(frame_period_ns(k), joints, valid)
        })
        .collect();
    let report = evaluate(&[motion(frames)], Split::All, 1, None).unwrap();
    assert_eq!(report.windows, 1);
    assert_eq!(report.joints, 2);
    let x = |k: usize| 0.5 * a * (k as f64 / 30.0).powi(2);
    for (h, ms) in HORIZONS_MS.iter().enumerate() {
        let k = 59 + horizon_step(*ms) + 1;
        let s = (horizon_step(*ms) + 1) as f64;
        let zero_mm = (x(k) - x(59)) * 1000.0;
        let cv_mm = (x(k) - (x(59) + s * (x(59) - x(58)))) * 1000.0;
        let got = &report.mpjpe_mm;
        assert!((got.zero_velocity.world[h] - zero_mm).abs() < 0.05, "{ms} ms zero");
        assert!((got.constant_velocity.world[h] - cv_mm).abs() < 0.05, "{ms} ms cv");
        // Rigid translation: no pelvis-relative error at all.
        assert!(got.zero_velocity.pelvis_relative[h].abs() < 1e-3);
        assert!(got.constant_velocity.pelvis_relative[h].abs() < 1e-3);
    }
    // Zero velocity at 1 s: x(89) - x(59) = (89² - 59²) / 900 m.
    assert!((report.mpjpe_mm.zero_velocity.world[4] - 4933.3).abs() < 0.5);
}

#[test]
fn a_model_is_scored_on_the_same_windows() {
    struct Oracle(Vec<PoseFrame>);
    impl Forecaster for Oracle {
        fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
            let t = self
                .0
                .iter()
                .position(|f| f.stamp_ns == observed.last().unwrap().stamp_ns)
                .unwrap();
            std::array::from_fn(|k| self.0[t + 1 + k].joints_in_world)
        }
    }
    let frames: Vec<PoseFrame> = (0..120)
        .map(|k| {
            let mut joints = [[0.0f32; 3]; NUM_JOINTS];
            joints[0] = [(k as f32 * 0.1).sin(), 0.0, 1.0];
            PoseFrame::new(frame_period_ns(k), joints, [true; NUM_JOINTS])
        })
        .collect();
    let mut oracle = Oracle(frames.clone());
    let report = evaluate(&[motion(frames)], Split::All, 3, Some(&mut oracle)).unwrap();
    let model = report.mpjpe_mm.model.unwrap();
    assert!(model.world.iter().all(|e| *e < 1e-6));
    assert!(report.mpjpe_mm.zero_velocity.world[4] > 10.0);
    assert_eq!(report.windows, (59..90).step_by(3).count());
}

#[test]
fn short_recordings_give_a_named_error() {
    let frames = vec![PoseFrame::new(0, [[0.0; 3]; NUM_JOINTS], [true; NUM_JOINTS]); 80];
    let e = evaluate(&[motion(frames)], Split::Heldout, 1, None).unwrap_err();
    assert!(e.to_string().contains("shorter than 90 frames"), "{e}");
}

#[test]
fn split_is_80_20_and_disjoint() {
    let frames: Vec<PoseFrame> = (0..100)
        .map(|k| PoseFrame::new(k, [[0.0; 3]; NUM_JOINTS], [true; NUM_JOINTS]))
        .collect();
    assert_eq!(Split::Train.frames(&frames).len(), 80);
    assert_eq!(Split::Heldout.frames(&frames)[0].stamp_ns, 80);
}
