//! Joint-position arrays (`.npy` + sidecar) on the bundled holosoma climbing takes
//! (`data/holosoma`), the stated-rate rule, joint mapping and bad input.

mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::path::{Path, PathBuf};

use a4mer_motion::npy::{HOLOSOMA_MOCAP_JOINTS, NpyError, import_npy, import_npy_slice, sidecar_path};
use a4mer_motion::{DataError, Format, ImportOptions, collect_motion_files, detect_format, load_motions};
use a4mer_runtime::{PoseFrame, SMPL24};

fn takes_dir() -> PathBuf {
    common::repo_root().join("data/holosoma")
}

/// The five takes and their frame counts (`numpy.load(...).shape[0]`).
const TAKES: [(&str, usize); 5] = [
    ("mocap_climb_seq_0_joint_positions_f900-3700.npy", 2801),
    ("mocap_climb_seq_1_joint_positions_f0-2422.npy", 2423),
    ("mocap_climb_seq_2_joint_positions_f100-3110.npy", 3011),
    ("mocap_climb_seq_3_joint_positions_f200-2600.npy", 2401),
    ("mocap_climb_seq_4_joint_positions_f0-2303.npy", 2303),
];

fn joint(name: &str) -> usize {
    SMPL24.iter().position(|n| *n == name).unwrap()
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f64 {
    (0..3).map(|k| ((a[k] - b[k]) as f64).powi(2)).sum::<f64>().sqrt()
}

fn with_fps(fps: f64) -> ImportOptions {
    ImportOptions {
        fps: Some(fps),
        ..ImportOptions::default()
    }
}

/// A `.npy` file (format 1.0) written by hand, so the tests do not depend on the reader
/// they test.
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A synthetic take in the holosoma layout: every joint at its index along y, moving
/// along x at 1 m/s, at `fps` Hz.
fn synthetic(frames: usize, fps: f64) -> Vec<f32> {
    let mut v = Vec::with_capacity(frames * 53 * 3);
    for f in 0..frames {
        for j in 0..53 {
            v.extend_from_slice(&[f as f32 / fps as f32, j as f32 * 0.01, 1.0]);
        }
    }
    v
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn sidecar_json(fps_hz: Option<f64>, names: &[&str]) -> String {
    let mut obj = serde_json::json!({ "units": "m", "up_axis": "z", "joint_names": names });
    if let Some(f) = fps_hz {
        obj["fps_hz"] = serde_json::json!(f);
    }
    obj.to_string()
}

#[test]
fn bundled_takes_are_found_without_their_sidecars_and_load_at_120_hz() {
    let files = collect_motion_files(&[takes_dir()]).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        TAKES.map(|(n, _)| n.to_string()),
        "sidecars, README and SHA256SUMS are skipped"
    );
    let motions = load_motions(&[takes_dir()], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    for ((name, source_frames), m) in TAKES.iter().zip(&motions) {
        assert_eq!(detect_format(&m.source).unwrap(), Format::Npy);
        assert_eq!(m.info.source_frames, *source_frames, "{name}");
        assert_eq!(m.info.source_fps, 120.0, "{name}");
        // 120 Hz to 30 Hz: one output frame per four source frames.
        assert_eq!(m.frames.len(), (source_frames - 1) / 4 + 1, "{name}");
        assert_eq!(m.info.joint_map.mapped_count(), 23, "{name}");
        for f in &m.frames {
            assert!(!f.valid[joint("spine2")], "{name}: spine2 has no source");
            assert_eq!(f.valid.iter().filter(|v| **v).count(), 23, "{name}");
        }
        assert!(
            (1.4..2.0).contains(&m.info.skeleton_height_m),
            "{name}: height {}",
            m.info.skeleton_height_m
        );
    }
}

/// Bone lengths of a solved skeleton are constant in the source; after import they must
/// still be, in metres, and the body upright (z up) and moving at human speeds.
#[test]
fn bundled_takes_have_rigid_metre_bones_upright_bodies_and_human_speeds() {
    for (name, _) in TAKES {
        let m = import_npy(&takes_dir().join(name), &ImportOptions::default()).unwrap();
        for (child, parent, lo, hi) in [
            ("left_knee", "left_hip", 0.33, 0.43),
            ("right_ankle", "right_knee", 0.40, 0.50),
            ("left_elbow", "left_shoulder", 0.27, 0.36),
            ("right_wrist", "right_elbow", 0.22, 0.30),
        ] {
            let lengths: Vec<f64> = m
                .frames
                .iter()
                .map(|f| dist(f.joints_in_world[joint(child)], f.joints_in_world[joint(parent)]))
                .collect();
            let mean = lengths.iter().sum::<f64>() / lengths.len() as f64;
            assert!((lo..hi).contains(&mean), "{name}: {parent}-{child} {mean:.3} m");
            // Resampling at 30 Hz lands on source frames (120 = 4 x 30): no chord shortening.
            let spread = lengths.iter().fold(0.0f64, |s, l| s.max((l - mean).abs()));
            assert!(spread < 1e-3, "{name}: {parent}-{child} varies by {spread:.4} m");
        }
        let up = |f: &PoseFrame| f.joints_in_world[joint("head")][2] - f.joints_in_world[joint("pelvis")][2];
        // Climbing bends and crawls (seq_4 has the head below the pelvis 4 % of the time);
        // a wrong up axis would leave the head above the pelvis about half the time or never.
        let upright = m.frames.iter().filter(|f| up(f) > 0.0).count();
        assert!(
            upright * 10 > m.frames.len() * 9,
            "{name}: head above pelvis in {upright} frames"
        );
        // Pelvis speed over 0.5 s: climbing and walking between boxes, never a sprint.
        let speeds: Vec<f64> = m
            .frames
            .windows(16)
            .map(|w| dist(w[15].joints_in_world[0], w[0].joints_in_world[0]) * 2.0)
            .collect();
        let max = compare::finite_max(&format!("{name}: pelvis speeds"), speeds.iter().copied());
        assert!((0.3..3.0).contains(&max), "{name}: fastest pelvis {max:.2} m/s");
    }
}

#[test]
fn an_array_without_a_stated_rate_is_refused_naming_the_file_unless_fps_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let take = dir.path().join("bare.npy");
    std::fs::copy(takes_dir().join(TAKES[1].0), &take).unwrap();
    let err = import_npy(&take, &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, NpyError::NoRate { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&take.display().to_string()) && msg.contains("--fps"),
        "{msg}"
    );
    // Through the directory loader, as `--data` reads it.
    let err = load_motions(&[dir.path().to_path_buf()], &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Npy(NpyError::NoRate { .. })), "{err}");

    let given = import_npy(&take, &with_fps(120.0)).unwrap();
    let stated = import_npy(&takes_dir().join(TAKES[1].0), &ImportOptions::default()).unwrap();
    assert_eq!(given.frames, stated.frames);

    // A sidecar that names the joints but not the rate is no better.
    std::fs::write(sidecar_path(&take), sidecar_json(None, &HOLOSOMA_MOCAP_JOINTS)).unwrap();
    let err = import_npy(&take, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("has no \"fps_hz\""), "{err}");
}

#[test]
fn implausible_or_conflicting_rates_are_refused() {
    let data = npy_bytes("<f4", false, &[8, 53, 3], &f32_bytes(&synthetic(8, 120.0)));
    let path = Path::new("take.npy");
    for bad in [5.0, 0.0, -120.0, 1e6] {
        let side = sidecar_json(Some(bad), &HOLOSOMA_MOCAP_JOINTS);
        let err = import_npy_slice(&data, Some(&side), path, &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, NpyError::BadRate { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("take.npy.json (fps_hz)"), "{err}");
    }
    for bad in [f64::NAN, f64::INFINITY, 9.9, 1000.5] {
        let err = import_npy_slice(&data, None, path, &with_fps(bad)).unwrap_err();
        assert!(matches!(err, NpyError::BadRate { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("--fps"), "{err}");
    }
    let side = sidecar_json(Some(120.0), &HOLOSOMA_MOCAP_JOINTS);
    let err = import_npy_slice(&data, Some(&side), path, &with_fps(100.0)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, NpyError::RateConflict { .. }), "{msg}");
    assert!(msg.contains("120 Hz") && msg.contains("100 Hz"), "{msg}");
    // Agreeing is not a conflict.
    import_npy_slice(&data, Some(&side), path, &with_fps(120.0)).unwrap();
    // The bounds themselves are plausible rates.
    import_npy_slice(&data, None, path, &with_fps(10.0)).unwrap();
    import_npy_slice(&data, None, path, &with_fps(1000.0)).unwrap();
}

#[test]
fn joints_the_map_cannot_find_are_named() {
    let data = npy_bytes("<f4", false, &[8, 53, 3], &f32_bytes(&synthetic(8, 120.0)));
    let mut names = HOLOSOMA_MOCAP_JOINTS.to_vec();
    names[43] = "L_Thigh";
    names[48] = "R_Shin";
    let side = sidecar_json(Some(120.0), &names);
    let err = import_npy_slice(&data, Some(&side), Path::new("renamed.npy"), &ImportOptions::default()).unwrap_err();
    match &err {
        NpyError::MissingJoints { missing, .. } => {
            assert_eq!(missing, &["LeftUpLeg (left_hip)", "RightLeg (right_knee)"])
        }
        other => panic!("{other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("renamed.npy:") && msg.contains("renamed.npy.json (joint_names)"),
        "{msg}"
    );

    // An explicit map file maps them instead.
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.toml");
    std::fs::write(
        &map,
        "[joints]\npelvis = \"Hips\"\nleft_hip = \"L_Thigh\"\nright_knee = \"R_Shin\"\n",
    )
    .unwrap();
    let options = ImportOptions {
        joint_map: Some(map),
        ..ImportOptions::default()
    };
    let m = import_npy_slice(&data, Some(&side), Path::new("renamed.npy"), &options).unwrap();
    assert_eq!(m.info.joint_map.source_name(joint("left_hip")), Some("L_Thigh"));

    // A name count that disagrees with the array is its own error.
    let side = sidecar_json(Some(120.0), &names[..52]);
    let err = import_npy_slice(&data, Some(&side), Path::new("short.npy"), &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            NpyError::JointCount {
                array: 53,
                named: 52,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn resampling_follows_the_stated_rate_and_fortran_order_reads_the_same() {
    let values = synthetic(121, 60.0);
    let c = npy_bytes("<f4", false, &[121, 53, 3], &f32_bytes(&values));
    let m = import_npy_slice(&c, None, Path::new("c.npy"), &with_fps(60.0)).unwrap();
    // 2 s at 60 Hz is 61 frames at 30 Hz; the pelvis moves at 1 m/s along x.
    assert_eq!(m.frames.len(), 61);
    for (k, f) in m.frames.iter().enumerate() {
        assert!((f.joints_in_world[0][0] - k as f32 / 30.0).abs() < 1e-5, "frame {k}");
    }
    // The same array stored column-major, and as float64, big-endian.
    let mut fortran = Vec::new();
    for c in 0..3 {
        for j in 0..53 {
            for f in 0..121 {
                fortran.push(values[(f * 53 + j) * 3 + c]);
            }
        }
    }
    let f = npy_bytes("<f4", true, &[121, 53, 3], &f32_bytes(&fortran));
    let mf = import_npy_slice(&f, None, Path::new("f.npy"), &with_fps(60.0)).unwrap();
    assert_eq!(mf.frames, m.frames);
    let be: Vec<u8> = values.iter().flat_map(|x| (*x as f64).to_be_bytes()).collect();
    let d = npy_bytes(">f8", false, &[121, 53, 3], &be);
    let md = import_npy_slice(&d, None, Path::new("d.npy"), &with_fps(60.0)).unwrap();
    assert_eq!(md.frames, m.frames);
}

#[test]
fn truncated_corrupt_or_misshapen_arrays_are_errors_not_panics() {
    let good = std::fs::read(takes_dir().join(TAKES[4].0)).unwrap();
    let path = Path::new("bad.npy");
    let options = with_fps(120.0);
    // Every cut inside the header and a spread of cuts through the data.
    let cuts = (0..200).chain((200..good.len()).step_by(9973)).chain([good.len() - 1]);
    for cut in cuts {
        let err = import_npy_slice(&good[..cut], None, path, &options);
        assert!(err.is_err(), "cut at {cut} bytes imported");
    }
    let err = import_npy_slice(&good[..good.len() - 4], None, path, &options).unwrap_err();
    assert!(matches!(err, NpyError::DataLength { .. }), "{err}");
    assert!(err.to_string().starts_with("bad.npy:"), "{err}");
    // Every header byte overwritten in turn (with a few values): any outcome but a panic.
    for i in 0..128 {
        for v in [0u8, b'9', b'(', b'\'', 0xff] {
            let mut b = good.clone();
            b[i] = v;
            let _ = import_npy_slice(&b, None, path, &options);
        }
    }
    // A header claiming far more than the file holds allocates nothing.
    let huge = npy_bytes("<f4", false, &[usize::MAX / 64, 53, 3], &[0; 64]);
    assert!(import_npy_slice(&huge, None, path, &options).is_err());
    for (descr, shape) in [
        ("<f4", vec![10, 53]),
        ("<f4", vec![10, 53, 2]),
        ("<f4", vec![1, 53, 3]),
        ("<f4", vec![10, 0, 3]),
        ("<f4", vec![10, 2000, 3]),
        ("<i4", vec![10, 53, 3]),
        ("|O", vec![10, 53, 3]),
    ] {
        let n: usize = shape.iter().product();
        let b = npy_bytes(descr, false, &shape, &vec![0u8; n * 4]);
        let err = import_npy_slice(&b, None, path, &options).unwrap_err();
        assert!(
            matches!(
                err,
                NpyError::Shape { .. } | NpyError::DType { .. } | NpyError::Npy { .. }
            ),
            "{descr} {shape:?}: {err}"
        );
    }
    // Non-finite positions are invalid joints, not errors.
    let mut values = synthetic(8, 120.0);
    values[0] = f32::NAN;
    let b = npy_bytes("<f4", false, &[8, 53, 3], &f32_bytes(&values));
    let m = import_npy_slice(&b, None, path, &options).unwrap();
    assert!(!m.frames[0].valid[0] && m.frames[0].valid[1]);
}

#[test]
fn sidecars_are_checked_field_by_field_and_never_read_as_clips() {
    let data = npy_bytes("<f4", false, &[8, 53, 3], &f32_bytes(&synthetic(8, 120.0)));
    let path = Path::new("take.npy");
    for (text, field) in [
        (r#"{"fps": 120}"#, "fps"),
        (r#"{"fps_hz": "fast"}"#, "fps_hz"),
        (r#"{"fps_hz": 120, "units": "furlongs"}"#, "units"),
        (r#"{"fps_hz": 120, "up_axis": "w"}"#, "up_axis"),
    ] {
        let err = import_npy_slice(&data, Some(text), path, &ImportOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, NpyError::Sidecar { .. }), "{msg}");
        assert!(msg.starts_with("take.npy.json:") && msg.contains(field), "{msg}");
    }
    let sidecar = sidecar_path(&takes_dir().join(TAKES[0].0));
    let err = detect_format(&sidecar).unwrap_err();
    assert!(matches!(err, DataError::Sidecar { .. }), "{err}");
}
