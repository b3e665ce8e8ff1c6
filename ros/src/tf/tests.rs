use super::*;
use crate::msg::{Header, Quaternion, Time, Transform, Vector3};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

/// `parent -> child` at `stamp_ns`: yaw (rad) about z, then the translation.
fn tf(parent: &str, child: &str, stamp_ns: i64, xyz: [f64; 3], yaw: f64) -> TransformStamped {
    let (s, c) = (yaw / 2.0).sin_cos();
    TransformStamped {
        header: Header {
            stamp: Time::from_ns(stamp_ns).unwrap(),
            frame_id: parent.into(),
        },
        child_frame_id: child.into(),
        transform: Transform {
            translation: Vector3 {
                x: xyz[0],
                y: xyz[1],
                z: xyz[2],
            },
            rotation: Quaternion {
                x: 0.0,
                y: 0.0,
                z: s,
                w: c,
            },
        },
    }
}

/// `R_z(yaw) p + t` by hand, independent of glam.
fn yaw_then_shift(p: [f64; 3], yaw: f64, t: [f64; 3]) -> [f64; 3] {
    let (s, c) = yaw.sin_cos();
    [c * p[0] - s * p[1] + t[0], s * p[0] + c * p[1] + t[1], p[2] + t[2]]
}

fn close(got: DVec3, want: [f64; 3]) {
    let d = (got - DVec3::from_array(want)).length();
    assert!(d < 1e-12, "{got:?} vs {want:?}: {d}");
}

fn lookup(b: &TfBuffer, target: &str, source: &str, stamp_ns: i64) -> Result<Lookup, TfError> {
    b.lookup(target, source, stamp_ns, S / 10)
}

#[test]
fn between_two_samples_translation_is_linear_and_rotation_is_slerp() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("torso", "camera", T0, [0.0, 0.0, 0.0], 0.0), false);
    b.insert(&tf("torso", "camera", T0 + S, [1.0, 2.0, 0.0], 1.2), false);
    for k in 0..=10 {
        let f = k as f64 / 10.0;
        let l = lookup(&b, "torso", "camera", T0 + (f * 1e9) as i64).unwrap();
        assert_eq!(l.held_ns, 0);
        // About one axis, slerp turns at a constant rate: the angle is linear in time.
        let want = yaw_then_shift([1.0, 0.5, 0.3], 1.2 * f, [f, 2.0 * f, 0.0]);
        close(l.target_from_source.apply_f64(DVec3::new(1.0, 0.5, 0.3)), want);
    }
}

#[test]
fn a_static_transform_holds_at_any_time() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("base_link", "camera", T0, [2.0, 0.0, 1.5], 3.0), true);
    for stamp in [0, T0 - 1000 * S, T0, T0 + 1000 * S] {
        let l = lookup(&b, "base_link", "camera", stamp).unwrap();
        assert_eq!(l.held_ns, 0);
        close(
            l.target_from_source.apply_f64(DVec3::new(1.0, 0.0, 0.0)),
            yaw_then_shift([1.0, 0.0, 0.0], 3.0, [2.0, 0.0, 1.5]),
        );
    }
}

#[test]
fn chains_compose_both_ways_and_through_a_common_frame() {
    let mut b = TfBuffer::new(10.0);
    // base_link -> torso static, torso -> camera moving, base_link -> lidar static.
    b.insert(&tf("base_link", "torso", 0, [0.1, 0.0, 0.8], 0.5), true);
    b.insert(&tf("torso", "camera", T0, [0.3, 0.0, 0.2], -0.4), false);
    b.insert(&tf("torso", "camera", T0 + S, [0.5, 0.0, 0.2], 0.6), false);
    b.insert(&tf("/base_link", "/lidar", 0, [-1.0, 1.0, 0.0], 1.0), true);
    let stamp = T0 + S / 4;
    let (yaw, shift) = (-0.4 + 0.25, [0.35, 0.0, 0.2]);
    let p = [0.7, -0.2, 1.1];
    let in_base = yaw_then_shift(yaw_then_shift(p, yaw, shift), 0.5, [0.1, 0.0, 0.8]);
    let l = lookup(&b, "base_link", "camera", stamp).unwrap();
    close(l.target_from_source.apply_f64(DVec3::from_array(p)), in_base);
    // The other way round is the inverse.
    let back = lookup(&b, "/camera", "base_link", stamp).unwrap();
    close(back.target_from_source.apply_f64(DVec3::from_array(in_base)), p);
    // lidar and camera meet at base_link.
    let in_lidar = {
        let q = [in_base[0] + 1.0, in_base[1] - 1.0, in_base[2]];
        yaw_then_shift(q, -1.0, [0.0; 3])
    };
    let l = lookup(&b, "lidar", "camera", stamp).unwrap();
    close(l.target_from_source.apply_f64(DVec3::from_array(p)), in_lidar);
    // A frame to itself needs no transform.
    let same = lookup(&b, "nowhere", "nowhere", stamp).unwrap();
    assert_eq!(same.target_from_source, Isometry::IDENTITY);
}

#[test]
fn newer_than_the_newest_sample_holds_it_up_to_max_age_then_is_stale() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("base_link", "torso", 0, [0.0; 3], 0.0), true);
    b.insert(&tf("torso", "camera", T0, [0.0; 3], 0.0), false);
    b.insert(&tf("torso", "camera", T0 + S / 10, [1.0, 0.0, 0.0], 0.0), false);
    let newest = T0 + S / 10;
    let held = lookup(&b, "base_link", "camera", newest + S / 20).unwrap();
    assert_eq!(held.held_ns, S / 20);
    close(held.target_from_source.translation_m, [1.0, 0.0, 0.0]);
    let at_limit = lookup(&b, "base_link", "camera", newest + S / 10).unwrap();
    assert_eq!(at_limit.held_ns, S / 10);
    let e = lookup(&b, "base_link", "camera", newest + S / 10 + 1).unwrap_err();
    assert!(
        matches!(&e, TfError::Stale { parent, child, .. } if parent == "torso" && child == "camera"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("`torso` -> `camera`") && text.contains("0.100 s") && text.contains("tf.max_age_s 0.1"),
        "{text}"
    );
    // max_age 0: only a stamp at or between samples.
    assert!(b.lookup("base_link", "camera", newest + 1, 0).is_err());
    assert!(b.lookup("base_link", "camera", newest, 0).is_ok());
}

#[test]
fn older_than_the_buffer_is_an_error_naming_the_edge() {
    let mut b = TfBuffer::new(1.0);
    for k in 0..=30 {
        b.insert(&tf("map", "camera", T0 + k * S / 10, [k as f64, 0.0, 0.0], 0.0), false);
    }
    // Kept: the newest second (T0 + 2 s ..= T0 + 3 s).
    assert!(lookup(&b, "map", "camera", T0 + 2 * S).is_ok());
    let e = lookup(&b, "map", "camera", T0 + 2 * S - S / 2).unwrap_err();
    assert_eq!(
        e,
        TfError::TooOld {
            parent: "map".into(),
            child: "camera".into(),
            before_s: 0.5
        }
    );
    // A sample older than the buffer's span arrives late: dropped and counted.
    b.insert(&tf("map", "camera", T0, [0.0; 3], 0.0), false);
    assert_eq!(b.stats().samples_too_old, 1);
    assert!(lookup(&b, "map", "camera", T0 + S / 2).is_err());
}

#[test]
fn samples_out_of_order_give_the_same_lookups_and_a_repeated_stamp_replaces() {
    let order = [3, 0, 4, 1, 2];
    let mut sorted = TfBuffer::new(10.0);
    let mut shuffled = TfBuffer::new(10.0);
    let sample = |k: i64| {
        tf(
            "map",
            "camera",
            T0 + k * S / 10,
            [k as f64 * 0.1, 0.0, 0.0],
            k as f64 * 0.2,
        )
    };
    for k in 0..5 {
        sorted.insert(&sample(k), false);
    }
    for k in order {
        shuffled.insert(&sample(k), false);
    }
    for q in 0..40 {
        let stamp = T0 + q * S / 100;
        let (a, b) = (
            lookup(&sorted, "map", "camera", stamp).unwrap(),
            lookup(&shuffled, "map", "camera", stamp).unwrap(),
        );
        assert_eq!(a, b, "at {q}");
    }
    shuffled.insert(&tf("map", "camera", T0 + S / 10, [9.0, 0.0, 0.0], 0.0), false);
    let l = lookup(&shuffled, "map", "camera", T0 + S / 10).unwrap();
    close(l.target_from_source.translation_m, [9.0, 0.0, 0.0]);
}

#[test]
fn the_buffer_is_bounded_and_counts_what_it_drops() {
    let mut b = TfBuffer::new(10.0);
    let extra = 10;
    for k in 0..(MAX_SAMPLES_PER_FRAME as i64 + extra) {
        b.insert(
            &tf("map", "camera", T0 + k * 1_000_000, [k as f64, 0.0, 0.0], 0.0),
            false,
        );
    }
    assert_eq!(b.stats().samples_dropped_full, extra as u64);
    // The oldest went first.
    assert!(lookup(&b, "map", "camera", T0 + (extra - 1) * 1_000_000).is_err());
    assert!(lookup(&b, "map", "camera", T0 + extra * 1_000_000).is_ok());
    for k in 0..MAX_FRAMES {
        b.insert(&tf("map", &format!("f{k}"), 0, [0.0; 3], 0.0), true);
    }
    assert_eq!(b.frames(), MAX_FRAMES);
    assert_eq!(b.stats().frames_dropped, 1, "the first frame took one place");
    // A known frame still updates when the table is full.
    b.insert(&tf("map", "f0", 0, [5.0, 0.0, 0.0], 0.0), true);
    close(
        lookup(&b, "map", "f0", 0).unwrap().target_from_source.translation_m,
        [5.0, 0.0, 0.0],
    );
}

#[test]
fn unusable_transforms_are_counted_and_never_stored() {
    let mut b = TfBuffer::new(10.0);
    let mut nan = tf("map", "camera", T0, [f64::NAN, 0.0, 0.0], 0.0);
    b.insert(&nan, false);
    nan.transform.translation.x = 0.0;
    nan.transform.rotation = Quaternion {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        w: 0.0,
    };
    b.insert(&nan, false);
    b.insert(&tf("map", "map", T0, [0.0; 3], 0.0), false);
    b.insert(&tf("", "camera", T0, [0.0; 3], 0.0), false);
    assert_eq!(b.stats().invalid, 4);
    let last = b.stats().last_rejected.clone().unwrap_or_default();
    assert!(
        last.contains("`` -> `camera`") && last.contains("two named frames"),
        "{last}"
    );
    let e = lookup(&b, "map", "camera", T0).unwrap_err();
    assert_eq!(
        e,
        TfError::NotConnected {
            source_frame: "camera".into(),
            target: "map".into(),
            source_root: "camera".into(),
            target_root: "map".into()
        }
    );
    assert!(e.to_string().contains("`camera`") && e.to_string().contains("`map`"));
    // A slightly denormalised quaternion is normalised, as tf2 does.
    let mut almost = tf("map", "camera", T0, [0.0; 3], 0.0);
    almost.transform.rotation.w = 1.001;
    b.insert(&almost, false);
    let l = lookup(&b, "map", "camera", T0).unwrap();
    assert!((l.target_from_source.rotation.length() - 1.0).abs() < 1e-12);
}

#[test]
fn a_new_parent_or_kind_restarts_the_history_and_is_counted() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("torso", "camera", T0, [1.0, 0.0, 0.0], 0.0), false);
    b.insert(&tf("map", "camera", T0 + S, [2.0, 0.0, 0.0], 0.0), false);
    assert_eq!(b.stats().reparented, 1);
    assert!(lookup(&b, "torso", "camera", T0).is_err());
    b.insert(&tf("map", "camera", 0, [3.0, 0.0, 0.0], 0.0), true);
    assert_eq!(b.stats().reparented, 2);
    close(
        lookup(&b, "map", "camera", T0 - 100 * S)
            .unwrap()
            .target_from_source
            .translation_m,
        [3.0, 0.0, 0.0],
    );
}

#[test]
fn a_loop_in_the_tree_is_an_error_not_a_hang() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("a", "b", 0, [0.0; 3], 0.0), true);
    b.insert(&tf("b", "a", 0, [0.0; 3], 0.0), true);
    let e = lookup(&b, "base_link", "a", T0).unwrap_err();
    assert!(matches!(e, TfError::TooDeep { .. }), "{e:?}");
}

#[test]
fn a_failed_edge_above_the_common_frame_does_not_matter() {
    let mut b = TfBuffer::new(10.0);
    b.insert(&tf("torso", "camera", 0, [1.0, 0.0, 0.0], 0.0), true);
    b.insert(&tf("torso", "hand", 0, [0.0, 1.0, 0.0], 0.0), true);
    b.insert(&tf("map", "torso", T0, [0.0; 3], 0.0), false);
    let far = T0 + 100 * S;
    assert!(matches!(lookup(&b, "map", "camera", far), Err(TfError::Stale { .. })));
    let l = lookup(&b, "hand", "camera", far).unwrap();
    close(l.target_from_source.translation_m, [1.0, -1.0, 0.0]);
}

#[test]
fn xyz_rpy_reads_as_the_link_parameter_does_and_survives_the_message() {
    let v = [0.4, -1.0, 1.2, 0.3, -0.2, 2.5];
    let (i, r) = (Isometry::from_xyz_rpy(v), crate::link::RigidTransform::from_xyz_rpy(v));
    let back = Isometry::from_msg(&i.to_msg()).unwrap();
    for p in [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, -0.7, 2.0]] {
        let (a, b, c) = (i.apply(p), r.apply(p), back.apply(p));
        for k in 0..3 {
            assert!(
                (a[k] - b[k]).abs() < 1e-6 && (a[k] - c[k]).abs() < 1e-6,
                "{a:?} {b:?} {c:?}"
            );
        }
    }
}

#[test]
fn rigid_transform_of_an_isometry_moves_points_alike() {
    let i = Isometry::from_msg(&tf("a", "b", 0, [0.3, -0.2, 1.0], 0.7).transform).unwrap();
    let r = i.to_rigid();
    let p = [0.5f32, 1.5, -0.25];
    let (a, b) = (i.apply(p), r.apply(p));
    for c in 0..3 {
        assert!((a[c] - b[c]).abs() < 1e-6, "{a:?} {b:?}");
    }
}
