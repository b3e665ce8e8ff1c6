use a4mer_runtime::NUM_JOINTS;

use super::*;
use crate::msg::zed::{Keypoint3D, Object};
use crate::msg::{ObjectsStamped, Pose, PoseArray, Skeleton3D, Skeleton3DArray, Time};

fn frame(stamp_ns: i64) -> PoseFrame {
    let joints = std::array::from_fn(|j| [j as f32 * 0.1, -(j as f32) * 0.05, 1.0 + j as f32 * 0.01]);
    let mut valid = [true; NUM_JOINTS];
    valid[22] = false;
    valid[23] = false;
    PoseFrame::new(stamp_ns, joints, valid)
}

fn smpl_index(name: &str) -> usize {
    SMPL24.iter().position(|n| *n == name).unwrap()
}

#[test]
fn skeleton_array_round_trips_a_canonical_frame() {
    let f = frame(1_700_000_000_123_456_789);
    let msg = skeleton_array(f.stamp_ns, "world", &[(3, &f), (9, &f)]).unwrap();
    let mut a = SkeletonArrayAdapter::new(None);
    let out = a.adapt(&msg).unwrap();
    assert!(out.rejected.is_empty());
    assert_eq!(out.people.len(), 2);
    assert_eq!(out.people[1].id, 9);
    let got = out.people[0].frame;
    assert_eq!(got.stamp_ns, f.stamp_ns);
    assert_eq!(got.valid, f.valid);
    for j in (0..NUM_JOINTS).filter(|j| f.valid[*j]) {
        assert_eq!(got.joints_in_world[j], f.joints_in_world[j]);
    }
}

#[test]
fn one_bad_body_is_rejected_alone_with_a_reason() {
    let f = frame(0);
    let mut msg = skeleton_array(0, "world", &[(1, &f), (2, &f), (3, &f)]).unwrap();
    msg.bodies[1].confidences.pop();
    msg.bodies[2].joint_names.clear();
    msg.bodies[2].layout = "coco17".into();
    let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
    assert_eq!(out.people.len(), 1);
    assert_eq!(out.rejected.len(), 2);
    let e0 = out.rejected[0].to_string();
    assert!(
        e0.contains("body 1 (id 2)") && e0.contains("confidences has 23"),
        "{e0}"
    );
    let e1 = out.rejected[1].to_string();
    assert!(e1.contains("coco17"), "{e1}");
}

#[test]
fn nan_and_zero_confidence_joints_are_invalid_and_smpl_names_may_be_omitted() {
    let f = frame(5);
    let mut msg = skeleton_array(5, "world", &[(1, &f)]).unwrap();
    msg.bodies[0].joint_names.clear();
    msg.bodies[0].joints[0].x = f64::NAN;
    msg.bodies[0].confidences[1] = 0.0;
    msg.bodies[0].confidences[2] = f32::NAN;
    msg.bodies[0].joints[3].y = 1e300; // overflows f32: not finite
    let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
    let v = out.people[0].frame.valid;
    assert!(!v[0] && !v[1] && !v[2] && !v[3] && v[4]);

    // No confidences at all: every finite joint counts.
    msg.bodies[0].confidences.clear();
    let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
    assert_eq!(out.people[0].frame.valid_count(), 20, "22 and 23 are NaN, 0 and 3 too");

    // Empty bodies, empty message: nothing, no error.
    let empty = Skeleton3DArray::default();
    assert!(SkeletonArrayAdapter::new(None).adapt(&empty).unwrap().people.is_empty());
    let mut no_joints = msg.clone();
    no_joints.bodies[0].joints.clear();
    let out = SkeletonArrayAdapter::new(None).adapt(&no_joints).unwrap();
    assert!(
        out.rejected[0]
            .to_string()
            .contains("joint_names has 24 entries, joints has 0")
    );
}

#[test]
fn rig_names_map_by_heuristics_and_bad_stamps_are_errors() {
    let names = ["Hips", "LeftUpLeg", "LeftLeg", "Head"];
    let body = Skeleton3D {
        id: 4,
        layout: "mixamo".into(),
        joint_names: names.iter().map(|s| s.to_string()).collect(),
        joints: (0..4)
            .map(|i| Point {
                x: i as f64,
                y: 0.0,
                z: 0.0,
            })
            .collect(),
        confidences: vec![],
    };
    let mut msg = Skeleton3DArray {
        header: Header::default(),
        bodies: vec![body],
    };
    let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
    let f = out.people[0].frame;
    assert_eq!(f.joints_in_world[smpl_index("left_knee")], [2.0, 0.0, 0.0]);
    assert_eq!(f.joints_in_world[smpl_index("head")], [3.0, 0.0, 0.0]);
    assert_eq!(f.valid_count(), 4);

    msg.header.stamp.nanosec = 1_000_000_000;
    let e = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap_err();
    assert!(e.to_string().contains("nanosec"), "{e}");
}

#[test]
fn map_file_errors_name_the_file() {
    let map = MapFile {
        origin: "site.toml".into(),
        text: "[joints]\npelvis = \"Nope\"\n".into(),
    };
    let f = frame(0);
    let msg = skeleton_array(0, "w", &[(1, &f)]).unwrap();
    let out = SkeletonArrayAdapter::new(Some(map.clone())).adapt(&msg).unwrap();
    let e = out.rejected[0].to_string();
    assert!(e.contains("site.toml") && e.contains("Nope"), "{e}");
    let e = PoseArrayAdapter::new(&[], Some(&map)).unwrap_err().to_string();
    assert!(e.contains("input.joint_map site.toml"), "{e}");
}

fn pose_array(n: usize) -> PoseArray {
    PoseArray {
        header: Header {
            stamp: Time { sec: 2, nanosec: 5 },
            frame_id: "base".into(),
        },
        poses: (0..n)
            .map(|i| Pose {
                position: Point {
                    x: i as f64,
                    y: 1.0,
                    z: 2.0,
                },
                ..Default::default()
            })
            .collect(),
    }
}

#[test]
fn pose_array_uses_the_joint_order() {
    let a = PoseArrayAdapter::new(&[], None).unwrap();
    let p = a.adapt(&pose_array(24)).unwrap();
    assert_eq!(p.frame.stamp_ns, 2_000_000_005);
    assert_eq!(p.frame.joints_in_world[15], [15.0, 1.0, 2.0]);
    assert_eq!(p.frame.valid_count(), 24);
    let e = a.adapt(&pose_array(23)).unwrap_err().to_string();
    assert!(
        e.contains("23 poses") && e.contains("input.joint_order lists 24"),
        "{e}"
    );
    assert!(a.adapt(&pose_array(0)).is_err());

    let order: Vec<String> = ["head", "pelvis", "LeftHand"].iter().map(|s| s.to_string()).collect();
    let a = PoseArrayAdapter::new(&order, None).unwrap();
    let p = a.adapt(&pose_array(3)).unwrap();
    assert_eq!(p.frame.joints_in_world[0], [1.0, 1.0, 2.0]);
    assert_eq!(p.frame.joints_in_world[15], [0.0, 1.0, 2.0]);
    assert_eq!(p.frame.joints_in_world[smpl_index("left_wrist")], [2.0, 1.0, 2.0]);
    assert_eq!(p.frame.valid_count(), 3);
}

fn zed_object(format: i8, label_id: i16, n: usize) -> Object {
    let mut o = Object {
        label_id,
        skeleton_available: true,
        tracking_state: 1,
        body_format: format,
        ..Default::default()
    };
    for (i, k) in o.skeleton_3d.keypoints.iter_mut().enumerate() {
        *k = if i < n {
            Keypoint3D {
                kp: [i as f32, 0.5, 1.0],
            }
        } else {
            Keypoint3D { kp: [f32::NAN; 3] }
        };
    }
    o
}

#[test]
fn zed_body_formats_map_to_smpl24() {
    let z = ZedAdapter::new(None).unwrap();
    assert_eq!(z.joint_map(0).unwrap().mapped_count(), 15);
    assert_eq!(z.joint_map(1).unwrap().mapped_count(), 23);
    assert_eq!(z.joint_map(2).unwrap().mapped_count(), 24);

    let mut msg = ObjectsStamped {
        header: Header {
            stamp: Time { sec: 10, nanosec: 0 },
            frame_id: "zed_left_camera_frame".into(),
        },
        objects: vec![zed_object(0, 1, 18), zed_object(1, 2, 34), zed_object(2, 3, 38)],
    };
    msg.objects[2].skeleton_3d.keypoints[8].kp = [f32::NAN; 3]; // BODY_38 LEFT_EAR unseen
    let out = z.adapt(&msg).unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [b18, b34, b38] = [&out.people[0], &out.people[1], &out.people[2]];
    assert_eq!((b18.id, b34.id, b38.id), (1, 2, 3));
    assert_eq!(b18.frame.stamp_ns, 10_000_000_000);
    // BODY_18: pelvis is between LEFT_HIP (11) and RIGHT_HIP (8); head between the ears (16, 17).
    assert_eq!(b18.frame.joints_in_world[0], [9.5, 0.5, 1.0]);
    assert_eq!(b18.frame.joints_in_world[15], [16.5, 0.5, 1.0]);
    assert_eq!(b18.frame.joints_in_world[smpl_index("left_wrist")], [7.0, 0.5, 1.0]);
    // BODY_34: HEAD is keypoint 26, LEFT_HAND 8, RIGHT_FOOT 25.
    assert_eq!(b34.frame.joints_in_world[15], [26.0, 0.5, 1.0]);
    assert_eq!(b34.frame.joints_in_world[smpl_index("left_hand")], [8.0, 0.5, 1.0]);
    assert_eq!(b34.frame.joints_in_world[smpl_index("right_foot")], [25.0, 0.5, 1.0]);
    assert!(!b34.frame.valid[smpl_index("spine2")]);
    // BODY_38: the head needs both ears; the hand is between index and pinky knuckles.
    assert!(!b38.frame.valid[15]);
    assert_eq!(b38.frame.joints_in_world[smpl_index("left_hand")], [34.0, 0.5, 1.0]);
    assert_eq!(b38.frame.joints_in_world[smpl_index("right_foot")], [26.0, 0.5, 1.0]);
    assert_eq!(b38.frame.valid_count(), 23);
}

#[test]
fn zed_objects_without_skeletons_are_skipped_and_bad_ones_rejected() {
    let z = ZedAdapter::new(None).unwrap();
    let mut off = zed_object(1, 5, 34);
    off.tracking_state = 0;
    let mut no_skeleton = zed_object(1, 6, 34);
    no_skeleton.skeleton_available = false;
    let msg = ObjectsStamped {
        header: Header::default(),
        objects: vec![
            off,
            no_skeleton,
            zed_object(7, 1, 34),
            zed_object(-1, 1, 34),
            zed_object(1, -3, 34),
        ],
    };
    let out = z.adapt(&msg).unwrap();
    assert!(out.people.is_empty());
    let errs: Vec<String> = out.rejected.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].contains("body_format 7") && errs[1].contains("body_format -1"),
        "{errs:?}"
    );
    assert!(errs[2].contains("label_id -3"), "{errs:?}");
}

#[test]
fn input_adapter_decodes_and_adapts_each_type_and_rejects_the_wrong_one() {
    for t in InputType::ALL {
        assert_eq!(InputType::from_param_value(t.param_value()), Some(t));
        assert_eq!(InputType::from_ros_type_name(&t.ros_type_name()), Some(t));
    }
    assert_eq!(
        InputType::from_ros_type_name("zed_interfaces/msg/ObjectsStamped"),
        Some(InputType::ZedObjects)
    );
    assert_eq!(InputType::from_param_value("kinect"), None);

    let f = frame(42);
    let skel = crate::msg::encode(&skeleton_array(42, "w", &[(5, &f)]).unwrap()).unwrap();
    let poses = crate::msg::encode(&pose_array(24)).unwrap();
    let zed = crate::msg::encode(&ObjectsStamped {
        header: Header::default(),
        objects: vec![zed_object(1, 8, 34)],
    })
    .unwrap();

    let mut a = InputAdapter::new(InputType::Skeleton3DArray, &[], None).unwrap();
    assert_eq!(a.adapt_cdr(&skel).unwrap().people[0].id, 5);
    let e = a.adapt_cdr(&poses).unwrap_err().to_string();
    assert!(e.contains("a4mer_msgs/msg/Skeleton3DArray"), "{e}");
    let mut a = InputAdapter::new(InputType::PoseArray, &[], None).unwrap();
    assert_eq!(a.adapt_cdr(&poses).unwrap().people[0].frame.valid_count(), 24);
    assert!(a.adapt_cdr(&zed).is_err());
    let mut a = InputAdapter::new(InputType::ZedObjects, &[], None).unwrap();
    assert_eq!(a.adapt_cdr(&zed).unwrap().people[0].id, 8);
    assert!(a.adapt_cdr(&skel[..skel.len() / 2]).is_err());
}
