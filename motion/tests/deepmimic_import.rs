//! DeepMimic import on the bundled clips (`data/deepmimic`), format dispatch and bad input.

mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::path::{Path, PathBuf};

use a4mer_motion::deepmimic::{DeepMimicError, LoopMode, import_deepmimic, import_deepmimic_str};
use a4mer_motion::{
    DataError, Format, ImportOptions, collect_motion_files, detect_format, import_any, load_motions, min_mapped_joints,
    require_window,
};
use a4mer_runtime::skeleton::SMPL24_PARENTS;
use a4mer_runtime::{PoseFrame, SMPL24};

fn clips_dir() -> PathBuf {
    common::repo_root().join("data/deepmimic")
}

fn all_clips() -> Vec<PathBuf> {
    let mut v = collect_motion_files(&[clips_dir(), clips_dir().join("walker")]).unwrap();
    v.sort();
    v
}

fn joint(name: &str) -> usize {
    SMPL24.iter().position(|n| *n == name).unwrap()
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f64 {
    (0..3).map(|k| ((a[k] - b[k]) as f64).powi(2)).sum::<f64>().sqrt()
}

/// Every SMPL bone (child, parent) with both ends mapped.
fn bones(frame: &PoseFrame) -> Vec<(usize, usize)> {
    (0..24)
        .filter_map(|c| SMPL24_PARENTS[c].map(|p| (c, p)))
        .filter(|&(c, p)| frame.valid[c] && frame.valid[p])
        .collect()
}

#[test]
fn bundled_clips_are_all_found_and_import_with_18_joints() {
    let clips = all_clips();
    assert_eq!(clips.len(), 20, "{clips:?}");
    for p in &clips {
        assert_eq!(detect_format(p).unwrap(), Format::DeepMimic, "{}", p.display());
        let d = import_deepmimic(p, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let m = &d.motion;
        assert_eq!(m.info.joint_map.mapped_count(), 18, "{}", p.display());
        assert!(m.frames.len() >= 24, "{}: {} frames", p.display(), m.frames.len());
        // Resampled length follows the clip's own timing: one frame per 1/30 s.
        let expected = (d.clip_duration_s * 30.0 + 1e-6).floor() as usize + 1;
        assert_eq!(m.frames.len(), expected, "{}", p.display());
        for name in [
            "left_collar",
            "right_collar",
            "spine1",
            "spine3",
            "left_hand",
            "right_hand",
        ] {
            assert!(
                m.frames.iter().all(|f| !f.valid[joint(name)]),
                "{name} must stay unmapped"
            );
        }
    }
}

#[test]
fn bone_lengths_are_constant_and_match_the_urdf() {
    // URDF joint origins × 0.25, the scale pybullet loads the humanoid at.
    let expected = [
        ("left_knee", 0.421546),
        ("left_ankle", 0.40987),
        ("right_elbow", 0.274788),
        ("left_wrist", 0.258947),
        ("right_hip", 0.084887),
        ("spine2", 0.236151),
        ("neck", 0.223894),
    ];
    let mut worst_spread_m: f64 = 0.0;
    for p in all_clips() {
        let m = import_deepmimic(&p, &ImportOptions::default()).unwrap().motion;
        for (c, par) in bones(&m.frames[0]) {
            let lens: Vec<f64> = m
                .frames
                .iter()
                .map(|f| dist(f.joints_in_world[c], f.joints_in_world[par]))
                .collect();
            let (lo, hi) = compare::finite_range(
                &format!("{}: bone {} lengths", p.display(), SMPL24[c]),
                lens.iter().copied(),
            );
            // Exact at source frames. Resampling interpolates positions, so between frames a
            // turning bone is shortened by its chord: under 1 % for clips recorded near
            // 30 Hz, under 25 % in the others. backflip (16 Hz, a whole-body flip) shortens
            // the wrist's bone by 39 % between its frames: resampling it would need the
            // rotations interpolated, not the positions, so it is only checked at 50 %.
            let resampled = (m.info.source_fps - 30.0).abs() > 0.5;
            let flip = p.ends_with("humanoid3d_backflip.txt");
            let tolerance = match (resampled, flip) {
                (_, true) => 0.5,
                (true, false) => 0.25,
                (false, false) => 0.01,
            };
            assert!(
                hi - lo < tolerance * hi,
                "{}: bone {} spread {:.4} m of {hi:.3}",
                p.display(),
                SMPL24[c],
                hi - lo
            );
            worst_spread_m = worst_spread_m.max(hi - lo);
            if let Some((_, len)) = expected.iter().find(|(n, _)| *n == SMPL24[c]) {
                assert!(
                    (hi - len).abs() < 1e-4,
                    "{}: {} is {hi}, URDF says {len}",
                    p.display(),
                    SMPL24[c]
                );
            }
        }
    }
    eprintln!(
        "largest bone-length spread over all clips: {:.2} mm",
        worst_spread_m * 1e3
    );
    // A 30 Hz clip passes through unresampled: bones are rigid to float precision.
    let walk = import_deepmimic(&clips_dir().join("humanoid3d_walk.txt"), &ImportOptions::default())
        .unwrap()
        .motion;
    for (c, p) in bones(&walk.frames[0]) {
        let l0 = dist(walk.frames[0].joints_in_world[c], walk.frames[0].joints_in_world[p]);
        for f in &walk.frames {
            assert!((dist(f.joints_in_world[c], f.joints_in_world[p]) - l0).abs() < 1e-4);
        }
    }
}

#[test]
fn walk_is_upright_on_the_ground_the_right_height_and_left_is_left() {
    for name in ["humanoid3d_walk.txt", "humanoid3d_run.txt", "walker/0walk_forward.txt"] {
        let m = import_deepmimic(&clips_dir().join(name), &ImportOptions::default())
            .unwrap()
            .motion;
        let z = |f: &PoseFrame, j: &str| f.joints_in_world[joint(j)][2];
        let first = m.frames[0].joints_in_world[0];
        let last = m.frames[m.frames.len() - 1].joints_in_world[0];
        let travel = [last[0] - first[0], last[1] - first[1]];
        let norm = (travel[0] * travel[0] + travel[1] * travel[1]).sqrt();
        assert!(norm > 0.8, "{name}: walked {norm} m");
        let fwd = [travel[0] / norm, travel[1] / norm];
        // DeepMimic characters walk along their +x, which becomes REP-103 forward.
        assert!(fwd[0] > 0.95, "{name}: travel direction {fwd:?}");
        let left_dir = [-fwd[1], fwd[0]];
        let mut lowest_sole = f32::MAX;
        let (mut ahead_sum, mut ahead_n) = (0.0f32, 0usize);
        for (k, f) in m.frames.iter().enumerate() {
            assert!(
                z(f, "head") > z(f, "neck") && z(f, "neck") > z(f, "spine2"),
                "{name} frame {k}"
            );
            assert!(
                z(f, "spine2") > z(f, "pelvis") && z(f, "pelvis") > z(f, "left_knee"),
                "{name} frame {k}"
            );
            // In a run the swinging heel comes up behind, above the knee.
            if !name.contains("run") {
                assert!(
                    z(f, "left_knee") > z(f, "left_ankle") && z(f, "right_knee") > z(f, "right_ankle"),
                    "{name} frame {k}"
                );
            }
            let hips = {
                let (l, r) = (
                    f.joints_in_world[joint("left_hip")],
                    f.joints_in_world[joint("right_hip")],
                );
                [l[0] - r[0], l[1] - r[1]]
            };
            let lateral = hips[0] * left_dir[0] + hips[1] * left_dir[1];
            assert!(
                lateral > 0.1,
                "{name} frame {k}: left hip {lateral} m left of the right hip"
            );
            for side in ["left", "right"] {
                let (a, t) = (
                    f.joints_in_world[joint(&format!("{side}_ankle"))],
                    f.joints_in_world[joint(&format!("{side}_foot"))],
                );
                lowest_sole = lowest_sole.min(t[2]);
                // Toes ahead of the ankle in a walk, except briefly at push-off, when the
                // foot points down steeply (measured: 2.5 cm behind). In a run the trailing
                // foot points back behind the kicked-up heel (10 cm behind), so there only
                // the average is checked.
                let ahead = (t[0] - a[0]) * fwd[0] + (t[1] - a[1]) * fwd[1];
                assert!(
                    name.contains("run") || ahead > -0.05,
                    "{name} frame {k}: {side} foot {ahead} m ahead of its ankle"
                );
                ahead_sum += ahead;
                ahead_n += 1;
            }
        }
        // The sole point is rigid: a running foot striking heel-first puts it 4.9 cm
        // into the ground at the worst frame.
        assert!(lowest_sole.abs() < 0.06, "{name}: lowest sole at {lowest_sole} m");
        let mean_ahead = ahead_sum / ahead_n.max(1) as f32;
        assert!(
            mean_ahead > 0.05,
            "{name}: toes {mean_ahead} m ahead of the ankles on average"
        );
        let f0 = &m.frames[0];
        let height = z(f0, "head") - lowest_sole;
        // Head-sphere centre; the top of the head is 0.1 m higher.
        assert!(
            (1.35..1.7).contains(&height),
            "{name}: head centre {height} m above the sole"
        );
        assert!(
            (1.5..1.6).contains(&m.info.skeleton_height_m),
            "{}",
            m.info.skeleton_height_m
        );
    }
}

#[test]
fn wrap_clips_loop_to_length_and_stay_continuous() {
    let path = clips_dir().join("humanoid3d_walk.txt");
    let once = import_deepmimic(&path, &ImportOptions::default()).unwrap();
    assert_eq!(once.loop_mode, LoopMode::Wrap);
    assert_eq!(once.cycles, 1);
    let e = require_window(&once.motion, 91).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("humanoid3d_walk.txt") && msg.contains("91 frames") && msg.contains("--loop-wrap-to-s"),
        "{msg}"
    );

    let options = ImportOptions {
        loop_wrap_to_s: Some(3.0),
        ..Default::default()
    };
    let looped = import_deepmimic(&path, &options).unwrap();
    assert_eq!(looped.cycles, 3);
    let frames = &looped.motion.frames;
    assert!(frames.len() >= 91, "{}", frames.len());
    require_window(&looped.motion, 91).unwrap();
    // The first pass is unchanged by looping, up to its last frame: past that the next
    // pass's first frame, not the clip's last, is the neighbour.
    let first_pass = &once.motion.frames[..once.motion.frames.len() - 1];
    for (a, b) in first_pass.iter().zip(frames) {
        assert_eq!(a.joints_in_world, b.joints_in_world);
    }
    // The root keeps walking forward across the seams instead of jumping back.
    let steps: Vec<f64> = frames
        .windows(2)
        .map(|w| dist(w[0].joints_in_world[0], w[1].joints_in_world[0]))
        .collect();
    let max_step = compare::finite_max("pelvis steps", steps.iter().copied());
    assert!(max_step < 0.06, "pelvis moved {max_step} m in one frame");
    let travel = frames[frames.len() - 1].joints_in_world[0][0] - frames[0].joints_in_world[0][0];
    let one_pass = once.motion.frames[once.motion.frames.len() - 1].joints_in_world[0][0];
    assert!(
        (travel / one_pass - 3.0).abs() < 0.1,
        "3 passes walked {travel} m, one {one_pass} m"
    );

    // A clip played once is never looped, and stays too short for a window.
    let kick = clips_dir().join("humanoid3d_kick.txt");
    let k = import_deepmimic(&kick, &options).unwrap();
    assert_eq!((k.loop_mode, k.cycles), (LoopMode::None, 1));
    let msg = require_window(&k.motion, 91).unwrap_err().to_string();
    assert!(
        msg.contains("humanoid3d_kick.txt") && msg.contains("a \"none\" clip cannot"),
        "{msg}"
    );
}

fn clip_text(frames: &[Vec<f64>], loop_mode: &str) -> String {
    serde_json::json!({ "Loop": loop_mode, "Frames": frames }).to_string()
}

fn standing_frame(dt: f64) -> Vec<f64> {
    let mut v = vec![dt, 0.0, 0.9, 0.0];
    let unit = [1.0, 0.0, 0.0, 0.0];
    // root, chest, neck, r hip, r knee, r ankle, r shoulder, r elbow, then the left side.
    for dof in [4, 4, 4, 4, 1, 4, 4, 1, 4, 1, 4, 4, 1] {
        if dof == 4 {
            v.extend(unit);
        } else {
            v.push(0.0);
        }
    }
    v
}

fn import_err(text: &str) -> DeepMimicError {
    import_deepmimic_str(text, Path::new("clips/bad_clip.txt"), &ImportOptions::default()).unwrap_err()
}

#[test]
fn a_synthetic_standing_pose_is_the_urdf_rest_pose() {
    let text = clip_text(&[standing_frame(1.0 / 30.0), standing_frame(0.0)], "none");
    let m = import_deepmimic_str(&text, Path::new("rest.txt"), &ImportOptions::default())
        .unwrap()
        .motion;
    assert_eq!(m.frames.len(), 2);
    let p = |n: &str| m.frames[0].joints_in_world[joint(n)];
    // DeepMimic's +z (the character's right) becomes REP-103 −y.
    assert!((p("left_hip")[1] - 0.084887).abs() < 1e-6 && (p("right_hip")[1] + 0.084887).abs() < 1e-6);
    assert!((p("left_shoulder")[1] - 0.18311).abs() < 1e-6);
    assert!((p("neck")[2] - (0.9 + 0.236151 + 0.223894)).abs() < 1e-5);
    assert!((p("left_ankle")[2] - (0.9 - 0.421546 - 0.40987)).abs() < 1e-5);
    assert!((p("left_foot")[0] - 0.12).abs() < 1e-6, "toes point forward (+x)");
}

#[test]
fn bad_clips_give_errors_naming_the_file_frame_and_field() {
    let ok = standing_frame(1.0 / 30.0);
    let named = |e: &DeepMimicError| {
        let msg = e.to_string();
        assert!(msg.contains("clips/bad_clip.txt"), "{msg}");
        msg
    };

    let e = import_err("{\"Loop\": \"wrap\", \"Frames\": [[0.03, 1");
    assert!(matches!(e, DeepMimicError::Json { .. }), "{e:?}");
    assert!(named(&e).contains("line 1"));

    let e = import_err("{\"Loop\": \"wrap\"}");
    assert!(named(&e).contains("Frames"), "{e}");

    let mut short = ok.clone();
    short.pop();
    let e = import_err(&clip_text(&[ok.clone(), short, ok.clone()], "wrap"));
    assert!(
        matches!(
            e,
            DeepMimicError::WrongValueCount {
                frame: 1,
                found: 43,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(named(&e).contains("frame 1"));

    // JSON has no NaN or infinity: out-of-range and bare NaN are refused by the parser.
    let text = clip_text(&[ok.clone(), ok.clone()], "wrap").replacen("0.9", "1e999", 1);
    let e = import_err(&text);
    assert!(
        matches!(e, DeepMimicError::Json { .. }) && named(&e).contains("column"),
        "{e:?}"
    );
    let text = clip_text(&[ok.clone(), ok.clone()], "wrap").replacen("0.9", "NaN", 1);
    assert!(matches!(import_err(&text), DeepMimicError::Json { .. }));

    for dt in [0.0, -0.03, 2.0] {
        let e = import_err(&clip_text(&[ok.clone(), standing_frame(dt), ok.clone()], "wrap"));
        assert!(
            matches!(e, DeepMimicError::BadFrameTime { frame: 1, .. }),
            "dt {dt}: {e:?}"
        );
        assert!(named(&e).contains("frame 1, dt"));
    }
    let e = import_err(&clip_text(&[ok.clone(), standing_frame(-1.0)], "wrap"));
    assert!(matches!(e, DeepMimicError::BadFrameTime { frame: 1, .. }), "{e:?}");

    let e = import_err(&clip_text(std::slice::from_ref(&ok), "wrap"));
    assert!(matches!(e, DeepMimicError::TooFewFrames { found: 1, .. }), "{e:?}");
    named(&e);

    let mut zero = ok.clone();
    zero[21..25].copy_from_slice(&[0.0; 4]);
    let e = import_err(&clip_text(&[ok.clone(), zero], "wrap"));
    assert!(
        matches!(
            e,
            DeepMimicError::BadQuaternion {
                frame: 1,
                field: "right_ankle",
                ..
            }
        ),
        "{e:?}"
    );
    named(&e);

    let e = import_err(&clip_text(&[ok.clone(), ok.clone()], "bounce"));
    assert!(
        matches!(e, DeepMimicError::BadLoop { .. }) && named(&e).contains("bounce"),
        "{e:?}"
    );

    let e = import_deepmimic(Path::new("/nonexistent/clip.txt"), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/clip.txt"), "{e}");
}

const TWO_JOINT_BVH: &str = "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n JOINT Head\n {\n  OFFSET 0 60 0\n  End Site\n  {\n   OFFSET 0 10 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.0333333\n0 90 0\n0 90 1\n";

#[test]
fn directories_are_scanned_for_both_formats_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(common::bundled_mocap()[1].clone(), d.join("b_take.bvh")).unwrap();
    std::fs::copy(clips_dir().join("humanoid3d_walk.txt"), d.join("a_walk.txt")).unwrap();
    std::fs::copy(clips_dir().join("humanoid3d_run.txt"), d.join("c_run.json")).unwrap();
    std::fs::write(d.join("notes.txt"), "recorded on a Tuesday\n").unwrap();
    std::fs::write(d.join("README.md"), "# clips\n").unwrap();
    let found = collect_motion_files(&[d.to_path_buf()]).unwrap();
    let names: Vec<_> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a_walk.txt", "b_take.bvh", "c_run.json"]);
    let motions = load_motions(&[d.to_path_buf()], &ImportOptions::default()).unwrap();
    assert_eq!(motions.len(), 3);
    assert_eq!(motions[1].info.joint_map.mapped_count(), 22);
    assert_eq!(motions[2].info.skeleton.name, "deepmimic_humanoid3d");

    // Named explicitly, a file of no known format is an error naming it.
    let e = load_motions(&[d.join("notes.txt")], &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::UnknownFormat { .. }), "{e:?}");
    assert!(
        e.to_string().contains("notes.txt") && e.to_string().contains("recorded on"),
        "{e}"
    );

    // A rig that maps too few joints imports for inspection but not for use.
    std::fs::write(d.join("tiny.bvh"), TWO_JOINT_BVH).unwrap();
    let m = import_any(&d.join("tiny.bvh"), &ImportOptions::default()).unwrap();
    assert_eq!(m.info.joint_map.mapped_count(), 2);
    let e = load_motions(&[d.to_path_buf()], &ImportOptions::default()).unwrap_err();
    match &e {
        DataError::TooFewJoints {
            path,
            mapped: 2,
            required,
            missing,
        } => {
            assert!(path.ends_with("tiny.bvh"));
            assert_eq!(*required, min_mapped_joints());
            // 22 of the 24 named, the two mapped not.
            assert_eq!(missing.split(", ").count(), 22, "{missing}");
            let names: Vec<&str> = missing.split(", ").collect();
            assert!(names.contains(&"left_knee"), "{missing}");
            assert!(!names.contains(&"head") && !names.contains(&"pelvis"), "{missing}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("tiny.bvh"), "{e}");

    // A broken clip among good ones stops the load and is named.
    std::fs::write(d.join("d_broken.txt"), "{\"Loop\": \"wrap\", \"Frames\": [[0.03]]}").unwrap();
    std::fs::remove_file(d.join("tiny.bvh")).unwrap();
    let e = load_motions(&[d.to_path_buf()], &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("d_broken.txt"), "{e}");
}
