//! Interop with the independent Python `rosbags` package, on real motion capture.
//!
//! - Bags we write: rosbags reads them using only the schemas embedded in the bag, decodes
//!   every message, and re-serializes each to the identical bytes.
//! - Bags rosbags writes (MCAP and sqlite3, with each kind of zstd compression rosbag2
//!   offers): we read every message and get back exactly the poses that went in.
//!
//! These tests need `python3` (or `$PYTHON`) with `rosbags` (`pip install rosbags`); without
//! it they print why and check nothing, except under `CI=true`, where .ci/run installs it
//! and its absence is a failure.

#[path = "../../node/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::{mocap_frames_from, python_with_rosbags, run_py, workspace};

use a4mer_bag::{BagCompression, BagReader, BagWriter, QosProfile, Storage};
use a4mer_ros::adapters::{SkeletonArrayAdapter, skeleton_array};
use a4mer_ros::msg::{
    ColorRGBA, DiagnosticArray, DiagnosticStatus, Duration, Header, KeyValue, Marker, MarkerArray, MotifAnticipation,
    ObjectsStamped, Point, Pose, PoseArray, PoseForecast, Quaternion, Skeleton3DArray, TFMessage, Time, Transform,
    TransformStamped, Vector3,
    zed::{Keypoint3D, Object},
};
use a4mer_runtime::{NUM_JOINTS, PoseFrame, SMPL24};
use serde_json::Value;

/// Real motion: the first 20 s of a bundled mocap take, canonical SMPL-24 at 30 Hz.
fn mocap_frames() -> Vec<PoseFrame> {
    mocap_frames_from(0, 600)
}

fn header(stamp_ns: i64, frame_id: &str) -> Header {
    Header {
        stamp: Time::from_ns(stamp_ns).unwrap(),
        frame_id: frame_id.into(),
    }
}

/// One message of every output/input type we mirror, with non-default contents.
fn write_everything(dir: &Path, frames: &[PoseFrame]) -> PathBuf {
    let bag = dir.join("ours");
    let mut w = BagWriter::create(&bag).unwrap();
    let sensor = [QosProfile::sensor_data()];
    let reliable = [QosProfile::reliable(10)];
    let poses = w.add_topic::<Skeleton3DArray>("/a4mer/poses", &sensor).unwrap();
    let forecast = w.add_topic::<PoseForecast>("/a4mer/forecast", &reliable).unwrap();
    let motifs = w.add_topic::<MotifAnticipation>("/a4mer/motifs", &reliable).unwrap();
    let markers = w
        .add_topic::<MarkerArray>("/a4mer/forecast_markers", &reliable)
        .unwrap();
    let diagnostics = w.add_topic::<DiagnosticArray>("/diagnostics", &reliable).unwrap();
    let pose_array = w.add_topic::<PoseArray>("/pose_array", &sensor).unwrap();
    let zed = w
        .add_topic::<ObjectsStamped>("/zed/body_trk/skeletons", &sensor)
        .unwrap();
    let tf = w.add_topic::<TFMessage>("/tf", &reliable).unwrap();

    for (k, f) in frames.iter().enumerate() {
        let t = f.stamp_ns;
        w.write(poses, t, &skeleton_array(t, "world", &[(1, f)]).unwrap())
            .unwrap();
        if k % 30 != 0 {
            continue;
        }
        let horizon = 30;
        w.write(
            forecast,
            t,
            &PoseForecast {
                header: header(t, "world"),
                person_id: 1,
                step_period: Duration::from_ns(33_333_333).unwrap(),
                joint_names: SMPL24.iter().map(|s| s.to_string()).collect(),
                num_steps: horizon,
                points: (0..horizon as usize * NUM_JOINTS)
                    .map(|i| {
                        let p = f.joints_in_world[i % NUM_JOINTS];
                        Point {
                            x: p[0] as f64,
                            y: p[1] as f64,
                            z: p[2] as f64 + i as f64 * 1e-3,
                        }
                    })
                    .collect(),
                spread_m: (0..horizon).map(|s| 0.01 * s as f32).collect(),
                guard_sources: vec!["model".into(), "zero_velocity".into(), "constant_velocity".into()],
                guard_horizons_s: vec![0.1, 1.0],
                guard_weights: vec![0.5, 0.25, 0.25, 0.0, 1.0, 0.0],
                model_losing: vec![false, true],
            },
        )
        .unwrap();
        w.write(
            motifs,
            t,
            &MotifAnticipation {
                header: header(t, "world"),
                person_id: 1,
                motif_now: (k / 30) as i32,
                motif_now_confidence: 0.75,
                next_motif_ids: vec![3, 17, 42],
                next_motif_probabilities: vec![0.5, 0.3, 0.2],
                expected_time_to_transition_s: if k == 0 { f32::NAN } else { 0.4 },
                health: MotifAnticipation::HEALTH_WARMING_UP,
                next_motif_horizon_s: 0.5,
            },
        )
        .unwrap();
        w.write(
            markers,
            t,
            &MarkerArray {
                markers: vec![Marker {
                    header: header(t, "world"),
                    ns: "forecast".into(),
                    id: 1,
                    type_: Marker::LINE_LIST,
                    action: Marker::ADD,
                    pose: Pose::default(),
                    scale: Vector3 {
                        x: 0.02,
                        y: 0.0,
                        z: 0.0,
                    },
                    color: ColorRGBA {
                        r: 1.0,
                        g: 0.5,
                        b: 0.0,
                        a: 0.8,
                    },
                    lifetime: Duration::from_ns(100_000_000).unwrap(),
                    points: f
                        .joints_in_world
                        .iter()
                        .map(|p| Point {
                            x: p[0] as f64,
                            y: p[1] as f64,
                            z: p[2] as f64,
                        })
                        .collect(),
                    colors: vec![ColorRGBA::default(); 2],
                    text: "t+1s".into(),
                    ..Default::default()
                }],
            },
        )
        .unwrap();
        w.write(
            diagnostics,
            t,
            &DiagnosticArray {
                header: header(t, ""),
                status: vec![DiagnosticStatus {
                    level: DiagnosticStatus::WARN,
                    name: "a4mer_node: engine".into(),
                    message: "warming up".into(),
                    hardware_id: "jetson".into(),
                    values: vec![KeyValue {
                        key: "latency_p99_ms".into(),
                        value: "1.25".into(),
                    }],
                }],
            },
        )
        .unwrap();
        w.write(
            pose_array,
            t,
            &PoseArray {
                header: header(t, "world"),
                poses: f
                    .joints_in_world
                    .iter()
                    .map(|p| Pose {
                        position: Point {
                            x: p[0] as f64,
                            y: p[1] as f64,
                            z: p[2] as f64,
                        },
                        ..Default::default()
                    })
                    .collect(),
            },
        )
        .unwrap();
        let mut body = Object {
            label: "Person".into(),
            label_id: 4,
            sublabel: "".into(),
            confidence: 87.0,
            position: f.joints_in_world[0],
            tracking_available: true,
            tracking_state: 1,
            skeleton_available: true,
            body_format: 1,
            ..Default::default()
        };
        for (i, kp) in body.skeleton_3d.keypoints.iter_mut().enumerate() {
            *kp = Keypoint3D {
                kp: [i as f32, 0.25, f32::NAN],
            };
        }
        let transform = |parent: &str, child: &str, x: f64| TransformStamped {
            header: header(t, parent),
            child_frame_id: child.into(),
            transform: Transform {
                translation: Vector3 { x, y: -0.5, z: 1.25 },
                rotation: Quaternion {
                    x: 0.0,
                    y: 0.0,
                    z: 0.6,
                    w: 0.8,
                },
            },
        };
        let tf_msg = TFMessage {
            transforms: vec![
                transform("base_link", "torso", 0.1),
                transform("torso", "cam", k as f64),
            ],
        };
        w.write(tf, t, &tf_msg).unwrap();
        w.write(
            zed,
            t,
            &ObjectsStamped {
                header: header(t, "zed_left_camera_frame"),
                objects: vec![body],
            },
        )
        .unwrap();
    }
    w.finish().unwrap();
    bag
}

#[test]
fn rosbags_decodes_every_message_we_write_byte_for_byte() {
    let Some(python) = python_with_rosbags() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames();
    let bag = write_everything(tmp.path(), &frames);
    let report: Value = serde_json::from_str(&run_py(&python, "rosbags_check.py", &[&bag])).unwrap();
    let topics = report["topics"].as_object().unwrap();
    assert_eq!(topics.len(), 8, "{report}");
    for (name, t) in topics {
        let want = if name == "/a4mer/poses" { 600 } else { 20 };
        assert_eq!(t["count"], want, "{name}: {t}");
        assert_eq!(t["identical"], want, "{name}: rosbags re-serialized different bytes");
    }
    assert_eq!(topics["/a4mer/poses"]["type"], "a4mer_msgs/msg/Skeleton3DArray");
    // Spot-check decoded values against what went in.
    let first = &topics["/a4mer/poses"]["first"];
    let body = &first["bodies"][0];
    assert_eq!(body["id"], 1);
    assert_eq!(body["layout"], "smpl24");
    assert_eq!(body["joint_names"][15], "head");
    let head = frames[0].joints_in_world[15];
    assert_eq!(body["joints"][15]["z"].as_f64().unwrap(), head[2] as f64);
    assert_eq!(first["header"]["stamp"]["sec"], frames[0].stamp_ns / 1_000_000_000);
    assert_eq!(topics["/a4mer/poses"]["first_timestamp"], frames[0].stamp_ns);
    let motif = &topics["/a4mer/motifs"]["first"];
    assert_eq!(motif["next_motif_ids"], serde_json::json!([3, 17, 42]));
    assert_eq!(motif["expected_time_to_transition_s"], "nan");
    let forecast = &topics["/a4mer/forecast"]["first"];
    assert_eq!(forecast["num_steps"], 30);
    assert_eq!(forecast["points"].as_array().unwrap().len(), 30 * 24);
    assert_eq!(forecast["step_period"]["nanosec"], 33_333_333);
    let marker = &topics["/a4mer/forecast_markers"]["first"]["markers"][0];
    assert_eq!(marker["type"], Marker::LINE_LIST);
    assert_eq!(marker["text"], "t+1s");
    let tf = &topics["/tf"]["first"]["transforms"];
    assert_eq!(topics["/tf"]["type"], "tf2_msgs/msg/TFMessage");
    assert_eq!(
        (&tf[0]["header"]["frame_id"], &tf[0]["child_frame_id"]),
        (&"base_link".into(), &"torso".into())
    );
    assert_eq!(tf[1]["child_frame_id"], "cam");
    assert_eq!(tf[1]["transform"]["rotation"]["w"], 0.8);
    assert_eq!(tf[0]["transform"]["translation"]["z"], 1.25);
    let zed = &topics["/zed/body_trk/skeletons"]["first"]["objects"][0];
    assert_eq!(zed["body_format"], 1);
    assert_eq!(zed["skeleton_3d"]["keypoints"][69]["kp"][0], 69.0);
    assert_eq!(
        topics["/diagnostics"]["first"]["status"][0]["values"][0]["key"],
        "latency_p99_ms"
    );
}

#[test]
fn we_read_mcap_and_sqlite3_bags_that_rosbags_writes() {
    let Some(python) = python_with_rosbags() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames();
    let doc = serde_json::json!({
        "frame_id": "mocap",
        "frames": frames.iter().map(|f| serde_json::json!({
            "stamp_ns": f.stamp_ns,
            "joints": f.joints_in_world,
            "valid": f.valid,
        })).collect::<Vec<_>>(),
    });
    let json_path = tmp.path().join("frames.json");
    std::fs::write(&json_path, doc.to_string()).unwrap();
    let msg_dir = workspace().join("ros/msgs/msg");

    for (storage, kind, compression, mode) in [
        ("mcap", Storage::Mcap, "storage", BagCompression::None),
        ("mcap", Storage::Mcap, "message", BagCompression::Message),
        ("mcap", Storage::Mcap, "file", BagCompression::File),
        ("sqlite3", Storage::Sqlite3, "none", BagCompression::None),
        ("sqlite3", Storage::Sqlite3, "message", BagCompression::Message),
    ] {
        let bag = tmp.path().join(format!("theirs_{storage}_{compression}"));
        run_py(
            &python,
            "rosbags_write.py",
            &[&json_path, &msg_dir, &bag, Path::new(storage), Path::new(compression)],
        );
        let reader = BagReader::open(&bag).unwrap();
        assert_eq!(
            (reader.storage(), reader.compression()),
            (kind, mode),
            "{}",
            bag.display()
        );
        let storage = format!("{storage}/{compression}");
        let poses = reader.topic_index("/poses").unwrap();
        let arrays = reader.topic_index("/pose_array").unwrap();
        assert_eq!(reader.topics()[poses].message_count, Some(frames.len() as u64));
        assert_eq!(reader.topics()[poses].offered_qos_profiles, [QosProfile::sensor_data()]);

        let mut adapter = SkeletonArrayAdapter::new(None);
        let (mut k, mut m) = (0, 0);
        for msg in reader.messages() {
            let msg = msg.unwrap();
            if msg.topic == poses {
                let s: Skeleton3DArray = reader.decode(&msg).unwrap();
                let person = adapter.adapt(&s).unwrap().people.remove(0);
                let want = &frames[k];
                assert_eq!(person.frame.stamp_ns, want.stamp_ns, "{storage} frame {k}");
                assert_eq!(msg.log_time_ns, want.stamp_ns);
                assert_eq!(person.frame.valid, want.valid);
                for j in (0..NUM_JOINTS).filter(|j| want.valid[*j]) {
                    assert_eq!(
                        person.frame.joints_in_world[j], want.joints_in_world[j],
                        "{storage} {k} {j}"
                    );
                }
                k += 1;
            } else if msg.topic == arrays {
                let a: PoseArray = reader.decode(&msg).unwrap();
                assert_eq!(a.poses.len(), 24);
                assert_eq!(a.header.frame_id, "mocap");
                m += 1;
            }
        }
        assert_eq!((k, m), (frames.len(), frames.len()), "{storage}");

        if mode != BagCompression::None {
            continue; // the payloads or the file need metadata.yaml to say how they are compressed
        }
        // The bare storage file reads the same without metadata.yaml.
        let file = std::fs::read_dir(&bag)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "mcap" || e == "db3"))
            .unwrap();
        let bare = BagReader::open(&file).unwrap();
        assert_eq!(bare.messages().count(), 2 * frames.len(), "{}", file.display());
    }

    // Whole-file compression of a sqlite3 bag is the one variant we do not read: a clear error.
    let bag = tmp.path().join("theirs_sqlite3_file");
    run_py(
        &python,
        "rosbags_write.py",
        &[&json_path, &msg_dir, &bag, Path::new("sqlite3"), Path::new("file")],
    );
    let e = BagReader::open(&bag).err().unwrap().to_string();
    assert!(
        e.contains("metadata.yaml") && e.contains("compression mode `file`"),
        "{e}"
    );
}
