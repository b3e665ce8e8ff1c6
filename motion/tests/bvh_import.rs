//! BVH import on real recordings, on those recordings re-exported as other rigs would
//! write them, on synthetic files with hand-derived geometry, and on malformed files.

mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::path::Path;

use a4mer_motion::bvh::{BvhError, ImportOptions, Motion, Units, UpAxis, import_bvh, import_bvh_str, parse_bvh};
use a4mer_runtime::{NUM_JOINTS, PoseFrame, SMPL24};
use common::*;

fn joint(name: &str) -> usize {
    SMPL24.iter().position(|n| *n == name).unwrap()
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn max_joint_error(a: &[PoseFrame], b: &[PoseFrame]) -> f32 {
    assert_eq!(a.len(), b.len(), "frame counts differ");
    let mut worst = 0.0f64;
    for (fa, fb) in a.iter().zip(b) {
        assert_eq!(fa.valid, fb.valid);
        assert_eq!(fa.stamp_ns, fb.stamp_ns);
        let errors = (0..NUM_JOINTS)
            .filter(|&j| fa.valid[j])
            .map(|j| dist(fa.joints_in_world[j], fb.joints_in_world[j]));
        worst = worst.max(compare::finite_max(&format!("joint errors at {}", fa.stamp_ns), errors));
    }
    worst as f32
}

fn import_text(text: &str, name: &str, options: &ImportOptions) -> Motion {
    import_bvh_str(text, Path::new(name), options).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn real_recordings_import_with_detected_units_axes_and_rigid_bones() {
    let files = bundled_mocap();
    assert_eq!(files.len(), 2, "bundled mocap missing: {files:?}");
    for path in files {
        let m = import_bvh(&path, &ImportOptions::default()).unwrap();
        let name = path.display();
        assert_eq!(m.info.units, Units::Centimetres, "{name}");
        assert_eq!(m.info.up_axis, UpAxis::Y, "{name}");
        assert_eq!(m.info.source_fps, 30.0);
        assert_eq!(m.frames.len(), m.info.source_frames);
        assert!(
            (1.4..2.0).contains(&m.info.skeleton_height_m),
            "{name}: {}",
            m.info.skeleton_height_m
        );
        assert_eq!(m.info.joint_map.mapped_count(), 22);
        assert!(m.frames.iter().all(|f| f.valid_count() == 22));

        // Rigid bones: FK keeps every bone length constant through the take.
        for (a, b) in [
            ("left_knee", "left_ankle"),
            ("right_hip", "right_knee"),
            ("left_shoulder", "left_elbow"),
        ] {
            let lens: Vec<f32> = m
                .frames
                .iter()
                .map(|f| dist(f.joints_in_world[joint(a)], f.joints_in_world[joint(b)]))
                .collect();
            let (lo, hi) = compare::finite_range(&format!("{name}: {a}-{b} lengths"), lens.iter().copied());
            assert!(hi - lo < 1e-4, "{name}: {a}-{b} varies {lo}..{hi}");
            assert!((0.2..0.6).contains(&lo), "{name}: {a}-{b} is {lo} m");
        }
        // REP-103: z up. The head is above the ankles, the pelvis at hip height.
        let upright = m
            .frames
            .iter()
            .filter(|f| f.joints_in_world[joint("head")][2] > f.joints_in_world[joint("left_ankle")][2] + 0.5)
            .count();
        assert!(
            upright * 100 > m.frames.len() * 99,
            "{name}: only {upright} upright frames"
        );
        let mut pelvis_z: Vec<f32> = m.frames.iter().map(|f| f.joints_in_world[0][2]).collect();
        pelvis_z.sort_by(f32::total_cmp);
        let median = pelvis_z[pelvis_z.len() / 2];
        let feet = m.frames.iter().map(|f| f.joints_in_world[joint("left_foot")][2]);
        let floor = compare::finite_range(&format!("{name}: left foot heights"), feet).0 as f32;
        assert!(
            (0.7..1.2).contains(&(median - floor)),
            "{name}: pelvis {median} m above floor {floor}"
        );
    }
}

#[test]
fn real_recording_round_trips_through_the_writer() {
    let path = &bundled_mocap()[1];
    let text = std::fs::read_to_string(path).unwrap();
    let original = parse_bvh(&text, path).unwrap();
    let written = write_bvh(&original);
    let reparsed = parse_bvh(&written, path).unwrap();
    assert_eq!(reparsed.nodes.len(), original.nodes.len());
    assert_eq!(reparsed.num_channels, original.num_channels);
    assert_eq!(reparsed.num_frames(), original.num_frames());
    let a = import_text(&text, "a.bvh", &ImportOptions::default());
    let b = import_text(&written, "b.bvh", &ImportOptions::default());
    assert!(max_joint_error(&a.frames, &b.frames) < 1e-5);
}

fn biped_name(s: &str) -> String {
    let side = |rest: &str, side: &str| -> String {
        let part = match rest {
            "UpLeg" => "Thigh",
            "Leg" => "Calf",
            "Foot" => "Foot",
            "Toe" => "Toe0",
            "Shoulder" => "Clavicle",
            "Arm" => "UpperArm",
            "ForeArm" => "Forearm",
            "Hand" => "Hand",
            other => other,
        };
        format!("Bip01 {side} {part}")
    };
    if let Some(rest) = s.strip_prefix("Left") {
        side(rest, "L")
    } else if let Some(rest) = s.strip_prefix("Right") {
        side(rest, "R")
    } else if s == "Hips" {
        "Bip01 Pelvis".into()
    } else {
        format!("Bip01 {s}")
    }
}

/// The real take, re-exported the way other tools write BVH, must import to the same
/// canonical motion without any flag.
#[test]
fn real_motion_reexported_as_other_rigs_imports_to_the_same_canonical_motion() {
    let path = &bundled_mocap()[1];
    let text = std::fs::read_to_string(path).unwrap();
    let original = truncate(&parse_bvh(&text, path).unwrap(), 600);
    let reference = import_text(&write_bvh(&original), "reference.bvh", &ImportOptions::default());
    // Source Y-up coordinates (x, y, z) → the same numbers REP-103 uses: (z, x, y).
    let y_to_z_up = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];

    let mut cases: Vec<(String, Rig)> = Vec::new();
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        cases.push((
            format!("order {order:?}"),
            Rig {
                order,
                ..Rig::identity()
            },
        ));
    }
    cases.push((
        "Blender: mixamorig names, metres, Z-up, XYZ, translation channels on every joint".into(),
        Rig {
            order: [0, 1, 2],
            scale: 0.01,
            world: y_to_z_up,
            translation_channels: true,
            rename: |s| format!("mixamorig:{s}"),
        },
    ));
    cases.push((
        "3ds Max Biped names, millimetres, YXZ".into(),
        Rig {
            order: [1, 0, 2],
            scale: 10.0,
            rename: biped_name,
            ..Rig::identity()
        },
    ));
    for (what, rig) in cases {
        let rigged = write_bvh(&re_rig(&original, &rig));
        let m = import_text(&rigged, "rigged.bvh", &ImportOptions::default());
        assert_eq!(m.info.joint_map.mapped_count(), 22, "{what}");
        let err = max_joint_error(&reference.frames, &m.frames);
        assert!(err < 2e-3, "{what}: canonical motion differs by {err} m");
    }
}

/// A 15 Hz take (every other frame) is resampled to 30 Hz: the kept frames are exact,
/// the interpolated ones close to what the 30 Hz recording really has.
#[test]
fn real_motion_at_15_hz_resamples_to_30_hz() {
    let path = &bundled_mocap()[1];
    let text = std::fs::read_to_string(path).unwrap();
    let original = truncate(&parse_bvh(&text, path).unwrap(), 901);
    let reference = import_text(&write_bvh(&original), "30hz.bvh", &ImportOptions::default());
    let m = import_text(
        &write_bvh(&decimate(&original, 2)),
        "15hz.bvh",
        &ImportOptions::default(),
    );
    assert_eq!(m.info.source_fps, 15.0);
    assert_eq!(m.frames.len(), reference.frames.len());
    let even: Vec<PoseFrame> = m.frames.iter().step_by(2).copied().collect();
    let even_ref: Vec<PoseFrame> = reference.frames.iter().step_by(2).copied().collect();
    assert!(max_joint_error(&even, &even_ref) < 1e-5);
    let mut sum = 0.0;
    let mut n = 0;
    for (a, b) in m.frames.iter().zip(&reference.frames).skip(1).step_by(2) {
        for j in (0..NUM_JOINTS).filter(|&j| a.valid[j]) {
            sum += dist(a.joints_in_world[j], b.joints_in_world[j]);
            n += 1;
        }
    }
    let mean = sum / n as f32;
    assert!(mean < 0.01, "interpolated frames are {mean} m off on average");
}

/// A two-joint file: root at (10, 20, 30) rotated 90° about its first two channel axes,
/// child at OFFSET (1, 2, 3).
fn two_joint_bvh(order: &str, scale: f64, child_translation_channels: bool) -> String {
    let s = |v: f64| v * scale;
    let (child_offset, child_channels, child_values) = if child_translation_channels {
        // The channels hold the full local translation; OFFSET must be ignored.
        (
            (s(9.0), s(9.0), s(9.0)),
            format!("CHANNELS 6 Xposition Yposition Zposition {order}"),
            format!("{} {} {} 0 0 0", s(1.0), s(2.0), s(3.0)),
        )
    } else {
        (
            (s(1.0), s(2.0), s(3.0)),
            format!("CHANNELS 3 {order}"),
            "0 0 0".to_string(),
        )
    };
    format!(
        "HIERARCHY\nROOT Root\n{{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition {order}\n  JOINT Child\n  {{\n    OFFSET {} {} {}\n    {child_channels}\n    End Site\n    {{\n      OFFSET 0 0 {}\n    }}\n  }}\n}}\nMOTION\nFrames: 1\nFrame Time: 0.0333333\n{} {} {} 90 90 0 {child_values}\n",
        child_offset.0,
        child_offset.1,
        child_offset.2,
        s(1.0),
        s(10.0),
        s(20.0),
        s(30.0),
    )
}

#[test]
fn fk_matches_hand_derived_rotations_in_every_channel_order() {
    // R = R_a(90°) R_b(90°) applied to (1, 2, 3), worked by hand with
    // Rx: (x,y,z)→(x,−z,y), Ry: (x,y,z)→(z,y,−x), Rz: (x,y,z)→(−y,x,z).
    let cases = [
        ("Xrotation Yrotation Zrotation", [3.0, 1.0, 2.0]),
        ("Xrotation Zrotation Yrotation", [-2.0, -3.0, 1.0]),
        ("Yrotation Xrotation Zrotation", [2.0, -3.0, -1.0]),
        ("Yrotation Zrotation Xrotation", [3.0, 1.0, 2.0]),
        ("Zrotation Xrotation Yrotation", [3.0, 1.0, 2.0]),
        ("Zrotation Yrotation Xrotation", [-2.0, 3.0, -1.0]),
    ];
    for (order, rotated) in cases {
        for (scale, units) in [(1.0, "m"), (100.0, "cm")] {
            for translation_channels in [false, true] {
                let text = two_joint_bvh(order, scale, translation_channels);
                let bvh = parse_bvh(&text, Path::new("two.bvh")).unwrap();
                let mut pos = vec![[0.0f64; 3]; bvh.nodes.len()];
                bvh.forward_kinematics(0, &mut pos);
                let want = [10.0 + rotated[0], 20.0 + rotated[1], 30.0 + rotated[2]].map(|v| v * scale);
                for k in 0..3 {
                    assert!(
                        (pos[1][k] - want[k]).abs() < 1e-9 * scale.max(1.0),
                        "{order} {units} translation channels {translation_channels}: child {:?} want {want:?}",
                        pos[1]
                    );
                }
                // The End Site hangs off the child, which has no rotation of its own.
                let end_dir = [pos[2][0] - pos[1][0], pos[2][1] - pos[1][1], pos[2][2] - pos[1][2]];
                let unit_z_rotated = {
                    let t = two_joint_bvh(order, 1.0, false).replace("OFFSET 1 2 3", "OFFSET 0 0 1");
                    let b = parse_bvh(&t, Path::new("t.bvh")).unwrap();
                    let mut p = vec![[0.0f64; 3]; b.nodes.len()];
                    b.forward_kinematics(0, &mut p);
                    [p[1][0] - 10.0, p[1][1] - 20.0, p[1][2] - 30.0]
                };
                for k in 0..3 {
                    assert!((end_dir[k] - unit_z_rotated[k] * scale).abs() < 1e-9 * scale.max(1.0));
                }
            }
        }
    }
}

/// A standing figure: pelvis 1 m up, legs of 0.9 m, torso+head 0.7 m, in source axes
/// (hips 0.1 m to each side) with `up` the vertical. Walks 1 m/s forward for `frames` frames at `fps`.
fn standing_figure(unit_per_m: f64, up_axis: usize, fps: f64, frames: usize) -> String {
    let v = |along: usize, m: f64| {
        let mut o = [0.0; 3];
        o[along] = m * unit_per_m;
        format!("{} {} {}", o[0], o[1], o[2])
    };
    let fwd = (up_axis + 2) % 3; // any horizontal axis
    let side = (up_axis + 1) % 3;
    let side_off = |m: f64| {
        let mut o = [0.0; 3];
        o[side] = m * unit_per_m;
        format!("{} {} {}", o[0], o[1], o[2])
    };
    let mut s = String::from(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n",
    );
    for (name, off) in [("Left", 0.1), ("Right", -0.1)] {
        s += &format!(
            " JOINT {name}UpLeg\n {{\n  OFFSET {}\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  JOINT {name}Leg\n  {{\n   OFFSET {}\n   CHANNELS 3 Zrotation Xrotation Yrotation\n   JOINT {name}Foot\n   {{\n    OFFSET {}\n    CHANNELS 3 Zrotation Xrotation Yrotation\n    End Site\n    {{\n     OFFSET {}\n    }}\n   }}\n  }}\n }}\n",
            side_off(off),
            v(up_axis, -0.45),
            v(up_axis, -0.45),
            v(fwd, 0.15)
        );
    }
    s += &format!(
        " JOINT Spine\n {{\n  OFFSET {}\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  JOINT Neck\n  {{\n   OFFSET {}\n   CHANNELS 3 Zrotation Xrotation Yrotation\n   JOINT Head\n   {{\n    OFFSET {}\n    CHANNELS 3 Zrotation Xrotation Yrotation\n    End Site\n    {{\n     OFFSET {}\n    }}\n   }}\n  }}\n }}\n}}\n",
        v(up_axis, 0.2),
        v(up_axis, 0.35),
        v(up_axis, 0.15),
        v(up_axis, 0.1)
    );
    s += &format!("MOTION\nFrames: {frames}\nFrame Time: {}\n", 1.0 / fps);
    for f in 0..frames {
        let mut root = [0.0; 3];
        root[up_axis] = 1.0 * unit_per_m;
        root[fwd] = f as f64 / fps * unit_per_m;
        s += &format!("{} {} {} 0 0 0", root[0], root[1], root[2]);
        s += &" 0 0 0".repeat(9);
        s.push('\n');
    }
    s
}

#[test]
fn detects_units_and_up_axis_of_a_synthetic_figure() {
    for (unit_per_m, units) in [
        (1.0, Units::Metres),
        (100.0, Units::Centimetres),
        (1000.0, Units::Millimetres),
    ] {
        for (up_axis, up) in [(1, UpAxis::Y), (2, UpAxis::Z)] {
            let m = import_text(
                &standing_figure(unit_per_m, up_axis, 30.0, 10),
                "fig.bvh",
                &ImportOptions::default(),
            );
            assert_eq!(
                (m.info.units, m.info.up_axis),
                (units, up),
                "{unit_per_m} units/m, up {up_axis}"
            );
            assert!(
                (m.info.skeleton_height_m - 1.7).abs() < 1e-6,
                "{}",
                m.info.skeleton_height_m
            );
            let f = &m.frames[0];
            assert!(
                (f.joints_in_world[0][2] - 1.0).abs() < 1e-6,
                "pelvis 1 m up: {:?}",
                f.joints_in_world[0]
            );
            assert!((f.joints_in_world[joint("left_ankle")][2] - 0.1).abs() < 1e-6);
            assert!((f.joints_in_world[joint("head")][2] - 1.7).abs() < 1e-6);
        }
    }
    // Flags override detection: the same centimetre file read as metres is 100× larger.
    let forced = import_text(
        &standing_figure(100.0, 1, 30.0, 2),
        "fig.bvh",
        &ImportOptions {
            units: Some(Units::Metres),
            up_axis: Some(UpAxis::Y),
            ..Default::default()
        },
    );
    assert!((forced.frames[0].joints_in_world[0][2] - 100.0).abs() < 1e-3);
    assert_eq!(forced.info.up_axis_basis, "flag");
}

#[test]
fn resamples_120_60_and_24_hz_to_30_hz() {
    for fps in [120.0, 60.0, 24.0] {
        let frames = (fps * 2.0) as usize + 1; // 2 s
        let m = import_text(
            &standing_figure(100.0, 1, fps, frames),
            "fig.bvh",
            &ImportOptions::default(),
        );
        assert_eq!(m.info.source_fps, fps);
        assert_eq!(m.frames.len(), 61, "{fps} Hz");
        for (k, f) in m.frames.iter().enumerate() {
            // Walking 1 m/s horizontally.
            let [x, y, _] = f.joints_in_world[0];
            let walked = (x * x + y * y).sqrt();
            assert!(
                (walked - k as f32 / 30.0).abs() < 1e-5,
                "{fps} Hz frame {k}: walked {walked}"
            );
            assert_eq!(f.stamp_ns, a4mer_runtime::frame_period_ns(k as u64));
        }
    }
}

#[test]
fn explicit_joint_map_file_overrides_heuristics() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.toml");
    std::fs::write(&map, "[joints]\npelvis = \"Hips\"\nhead = \"Neck\"\n").unwrap();
    let m = import_text(
        &standing_figure(100.0, 1, 30.0, 2),
        "fig.bvh",
        &ImportOptions {
            joint_map: Some(map.clone()),
            ..Default::default()
        },
    );
    assert_eq!(m.info.joint_map.mapped_count(), 2);
    assert_eq!(m.frames[0].valid_count(), 2);
    assert!((m.frames[0].joints_in_world[joint("head")][2] - 1.55).abs() < 1e-6);

    std::fs::write(&map, "[joints]\npelvis = \"Pelvis\"\n").unwrap();
    let e = import_bvh_str(
        &standing_figure(100.0, 1, 30.0, 2),
        Path::new("fig.bvh"),
        &ImportOptions {
            joint_map: Some(map.clone()),
            ..Default::default()
        },
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("fig.bvh") && msg.contains("map.toml") && msg.contains("\"Pelvis\""),
        "{msg}"
    );
}

fn err(text: &str) -> BvhError {
    match parse_bvh(text, Path::new("bad.bvh")) {
        Ok(_) => panic!("accepted malformed file:\n{text}"),
        Err(e) => e,
    }
}

const HEADER: &str = "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n  End Site\n  {\n    OFFSET 0 1 0\n  }\n}\nMOTION\n";

#[test]
fn malformed_files_name_file_and_line() {
    // Lines: HEADER is 11 lines; `Frames:` is line 12, `Frame Time:` 13, data from 14.
    let e = err(&format!(
        "{HEADER}Frames: 3\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0 0 0 0\n"
    ));
    assert!(
        matches!(
            e,
            BvhError::TruncatedMotion {
                line: 15,
                declared: 3,
                found: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("bad.bvh:15: motion block truncated"), "{e}");

    let e = err(&format!(
        "{HEADER}Frames: 3\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0 0 0\n0 0 0 0 0 0\n"
    ));
    assert!(
        matches!(
            e,
            BvhError::ChannelCountMismatch {
                line: 15,
                expected: 6,
                found: 5,
                ..
            }
        ),
        "{e:?}"
    );

    // Cut inside the last frame.
    let e = err(&format!(
        "{HEADER}Frames: 3\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0 0 0 0\n0 0 0"
    ));
    assert!(
        matches!(
            e,
            BvhError::TruncatedMotion {
                line: 16,
                declared: 3,
                found: 2,
                ..
            }
        ),
        "{e:?}"
    );

    let e = err(&format!(
        "{HEADER}Frames: 2\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0 nan 0 0\n"
    ));
    assert!(
        matches!(
            e,
            BvhError::NonFinite {
                line: 15,
                column: 4,
                channel: "Zrotation",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("Hips Zrotation"), "{e}");

    let e = err(&format!("{HEADER}Frames: 1\nFrame Time: 0\n0 0 0 0 0 0\n"));
    assert!(matches!(e, BvhError::BadFrameTime { line: 13, .. }), "{e:?}");
    assert!(e.to_string().starts_with("bad.bvh:13:"), "{e}");
    // A 1e9 s frame time would ask for 30 billion resampled frames: refused up front.
    let e = err(&format!("{HEADER}Frames: 1\nFrame Time: 1e9\n0 0 0 0 0 0\n"));
    assert!(matches!(e, BvhError::BadFrameTime { line: 13, .. }), "{e:?}");

    let e = err(&HEADER.replace(
        "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
        "CHANNELS 3 Xposition Yposition Zposition CHANNELS 3 Zrotation Xrotation Yrotation",
    ));
    assert!(
        matches!(e, BvhError::Syntax { line: 5, .. }) && e.to_string().contains("twice"),
        "{e:?}"
    );

    // Absurd nesting is refused, not a stack overflow.
    let deep = format!(
        "HIERARCHY\nROOT a\n{{\nOFFSET 0 0 0\nCHANNELS 0\n{}",
        "JOINT b\n{\nOFFSET 0 0 0\n".repeat(10_000)
    );
    let e = err(&deep);
    assert!(
        matches!(
            e,
            BvhError::TooLarge {
                what: "joint nesting depth",
                ..
            }
        ),
        "{e:?}"
    );

    let e = err(&format!("{HEADER}Frames: 1\nFrame Time: 0.0333\n0 0 0 abc 0 0\n"));
    assert!(
        matches!(
            e,
            BvhError::BadNumber {
                line: 14,
                column: 4,
                ..
            }
        ),
        "{e:?}"
    );

    let e = err(&format!(
        "{HEADER}Frames: 1\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0 0 0 0\n"
    ));
    assert!(
        matches!(
            e,
            BvhError::ExtraFrames {
                line: 15,
                declared: 1,
                ..
            }
        ),
        "{e:?}"
    );

    let e = err(&HEADER.replace("Zrotation", "Qrotation"));
    assert!(matches!(e, BvhError::UnknownChannel { line: 5, .. }), "{e:?}");

    let e = err(&HEADER.replace("CHANNELS 6", "CHANNELS 7"));
    assert!(matches!(e, BvhError::Syntax { line: 5, .. }), "{e:?}");

    let e = err(&HEADER.replace("MOTION\n", ""));
    assert!(matches!(e, BvhError::MissingMotion { .. }), "{e:?}");

    let e = err("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n");
    assert!(matches!(e, BvhError::Syntax { .. }), "{e:?}");
    assert!(e.to_string().starts_with("bad.bvh:"), "{e}");

    let e = err("");
    assert!(matches!(e, BvhError::Syntax { .. }), "{e:?}");

    // A real file cut in the middle of its motion block.
    let path = &bundled_mocap()[1];
    let text = std::fs::read_to_string(path).unwrap();
    let cut = &text[..text.len() / 2];
    let cut = &cut[..cut.rfind('\n').unwrap() + 1];
    let e = err(cut);
    assert!(matches!(e, BvhError::TruncatedMotion { declared: 3945, .. }), "{e:?}");

    let e = import_bvh(Path::new("/nonexistent/take.bvh"), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/take.bvh"), "{e}");
}

fn namco_name(s: &str) -> String {
    let sided = |rest: &str, side: &str| -> String {
        let part = match rest {
            "UpLeg" => "UpperLeg",
            "Leg" => "LowerLeg",
            "Toe" => "Toes",
            "Arm" => "UpperArm",
            "ForeArm" => "LowerArm",
            other => other,
        };
        format!("{part}_{side}")
    };
    match s {
        "Spine1" => "Chest".into(),
        "Spine2" => "UpperChest".into(),
        _ => match (s.strip_prefix("Left"), s.strip_prefix("Right")) {
            (Some(rest), _) => sided(rest, "L"),
            (_, Some(rest)) => sided(rest, "R"),
            _ => s.into(),
        },
    }
}

/// Real motion as a different studio would deliver it: Bandai-Namco/MocapBank-style
/// names (`UpperLeg_L`, `Shoulder_L`), metres, Z-up, translation channels on every
/// joint, XYZ order, captured at 24 Hz. It imports and evaluates with no flags.
#[test]
fn real_motion_from_a_24_hz_metre_z_up_studio_rig_imports_and_evaluates() {
    use a4mer_measure::eval::{Split, evaluate};
    let path = &bundled_mocap()[1];
    let text = std::fs::read_to_string(path).unwrap();
    let original = truncate(&parse_bvh(&text, path).unwrap(), 1201);
    let reference = import_text(&write_bvh(&original), "reference.bvh", &ImportOptions::default());
    let studio = Rig {
        order: [0, 1, 2],
        scale: 0.01,
        world: [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        translation_channels: true,
        rename: namco_name,
    };
    let rigged = write_bvh(&resample_rig(&re_rig(&original, &studio), 24.0));
    let m = import_text(&rigged, "studio_24hz.bvh", &ImportOptions::default());
    assert_eq!(m.info.source_fps, 24.0);
    assert_eq!((m.info.units, m.info.up_axis), (Units::Metres, UpAxis::Z));
    assert_eq!(m.info.joint_map.mapped_count(), 22);
    assert_eq!(m.frames.len(), reference.frames.len());
    let mut sum = 0.0;
    let mut n = 0;
    for (a, b) in m.frames.iter().zip(&reference.frames) {
        for j in (0..NUM_JOINTS).filter(|&j| a.valid[j]) {
            sum += dist(a.joints_in_world[j], b.joints_in_world[j]);
            n += 1;
        }
    }
    let mean = sum / n as f32;
    assert!(
        mean < 0.015,
        "24 Hz studio take is {mean} m from the 30 Hz original on average"
    );

    let ours = evaluate(std::slice::from_ref(&m), Split::All, 5, None).unwrap();
    let theirs = evaluate(std::slice::from_ref(&reference), Split::All, 5, None).unwrap();
    assert_eq!(ours.windows, theirs.windows);
    let (a, b) = (
        ours.mpjpe_mm.zero_velocity.world[4],
        theirs.mpjpe_mm.zero_velocity.world[4],
    );
    assert!((a - b).abs() / b < 0.05, "zero-velocity 1 s MPJPE {a} vs {b}");
}
