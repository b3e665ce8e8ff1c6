//! Replay reads the bag's `/tf` and `/tf_static` into the node's TF buffer: with
//! `output.frame_id: base_link`, a take recorded in a moving camera's frame comes out in
//! base_link as the engine gives it on the take placed there in closed form (1e-6 m), and
//! the poses after the moving transform stops are reported as not placed.

#[path = "../../node/tests/common/mod.rs"]
mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::collections::HashMap;

use a4mer_bag::{BagReader, BagWriter, QosProfile};
use a4mer_replay::{ReplayOptions, replay};
use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::msg::{Header, Quaternion, Skeleton3DArray, TFMessage, Time, Transform, TransformStamped, Vector3};
use a4mer_ros::startup::parameters_from_args;

use common::mocap_frames_from;
use common::tf_scene::{Points, expected_forecasts, place, tf_json};

fn stamped(t: &serde_json::Value) -> TransformStamped {
    let v = |key: &str, i: usize| t[key][i].as_f64().unwrap();
    TransformStamped {
        header: Header {
            stamp: Time::from_ns(t["stamp_ns"].as_i64().unwrap()).unwrap(),
            frame_id: t["parent"].as_str().unwrap().into(),
        },
        child_frame_id: t["child"].as_str().unwrap().into(),
        transform: Transform {
            translation: Vector3 {
                x: v("xyz", 0),
                y: v("xyz", 1),
                z: v("xyz", 2),
            },
            rotation: Quaternion {
                x: v("xyzw", 0),
                y: v("xyzw", 1),
                z: v("xyzw", 2),
                w: v("xyzw", 3),
            },
        },
    }
}

#[test]
fn a_bags_tf_places_the_poses_as_the_node_would() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 120;
    let frames = mocap_frames_from(300, n);
    let t0 = frames[0].stamp_ns;
    let stop_after = frames[95].stamp_ns;
    let scene = tf_json(t0, frames[n - 1].stamp_ns, stop_after, 0);

    // Recorded as `ros2 bag record` would: the latched static first, then /tf and the poses
    // by receive time (each transform a little before the pose it serves).
    let bag = tmp.path().join("camera");
    let mut w = BagWriter::create(&bag).unwrap();
    let statics = w
        .add_topic::<TFMessage>("/tf_static", &[QosProfile::reliable(1)])
        .unwrap();
    let tf = w.add_topic::<TFMessage>("/tf", &[QosProfile::reliable(100)]).unwrap();
    let poses = w
        .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
        .unwrap();
    let static_msg = TFMessage {
        transforms: scene["static"].as_array().unwrap().iter().map(stamped).collect(),
    };
    w.write(statics, t0 - 1_000_000_000, &static_msg).unwrap();
    let mut moving = scene["moving"].as_array().unwrap().iter().map(stamped).peekable();
    let lead_ns = 150_000_000;
    for f in &frames {
        while let Some(t) = moving.next_if(|t| t.header.stamp.to_ns() <= f.stamp_ns + lead_ns) {
            let ns = t.header.stamp.to_ns();
            if ns <= stop_after {
                w.write(tf, ns - lead_ns, &TFMessage { transforms: vec![t] }).unwrap();
            }
        }
        w.write(
            poses,
            f.stamp_ns,
            &skeleton_array(f.stamp_ns, "camera", &[(3, f)]).unwrap(),
        )
        .unwrap();
    }
    w.finish().unwrap();

    let (_, params, config) = parameters_from_args(&["--ros-args", "-p", "output.frame_id:=base_link"]).unwrap();
    let out = tmp.path().join("out");
    let opts = ReplayOptions {
        topic: None,
        safety: None,
        model: LoadedModel::load(None).unwrap(),
        config,
        params,
        out_dir: Some(out.clone()),
    };
    let r = replay(&bag, &opts, &mut |_, _| {}).unwrap();

    let placed = place(&frames, t0, stop_after, 100_000_000);
    let n_placed = placed.iter().flatten().count();
    assert_eq!(r.messages, n as u64);
    assert_eq!(r.unplaced_messages, (n - n_placed) as u64);
    let unplaced: Vec<_> = r.events.iter().filter(|e| e.kind == "transform_unavailable").collect();
    assert_eq!(unplaced.len(), n - n_placed);
    assert!(
        unplaced[0].detail.contains("`torso` -> `camera`") && unplaced[0].detail.contains("stale"),
        "{}",
        unplaced[0].detail
    );

    let expected: HashMap<i64, Option<Points>> = expected_forecasts(&placed).into_iter().collect();
    let reader = BagReader::open(&out).unwrap();
    let forecast_topic = reader
        .topics()
        .iter()
        .position(|t| t.name == "/a4mer/forecast")
        .unwrap();
    let (mut count, mut worst) = (0, 0f64);
    for m in reader.messages() {
        let m = m.unwrap();
        if m.topic != forecast_topic {
            continue;
        }
        let f: a4mer_ros::msg::PoseForecast = a4mer_ros::msg::decode(&m.data).unwrap();
        assert_eq!(f.header.frame_id, "base_link");
        let want = expected[&f.header.stamp.to_ns()].as_ref().expect("a warm placed frame");
        assert_eq!(
            f.points.len(),
            want.len(),
            "forecast points at {}",
            f.header.stamp.to_ns()
        );
        let (got, expected): (Vec<f64>, Vec<f64>) = f
            .points
            .iter()
            .zip(want)
            .filter_map(|(p, w)| w.map(|w| ([p.x, p.y, p.z], w.map(f64::from))))
            .flat_map(|(p, w)| p.into_iter().zip(w))
            .unzip();
        let d = compare::diff(&format!("forecast at {}", f.header.stamp.to_ns()), got, expected);
        worst = worst.max(d.abs);
        count += 1;
    }
    assert_eq!(count, expected.values().filter(|p| p.is_some()).count());
    assert_eq!(count as u64, r.forecasts);
    assert!(
        worst < 1e-6,
        "replay vs in-process engine on the closed-form placement: {worst} m"
    );
}
