use super::*;
use crate::ros_args::RosArgs;

fn config(args: &[&str]) -> Result<NodeConfig, ParamError> {
    let mut all = vec!["--ros-args"];
    all.extend_from_slice(args);
    let (_, ros) = RosArgs::parse(&all).unwrap();
    NodeConfig::from_parameters(&Parameters::load(&ros, DEFAULT_NODE_NAME, "/a4mer_node")?)
}

#[test]
fn settings_list_every_parameter_with_its_value_and_origin() {
    let c = config(&["-p", "tracks.max:=2"]).unwrap();
    let (_, ros) = RosArgs::parse(&["--ros-args", "-p", "tracks.max:=2"]).unwrap();
    let p = Parameters::load(&ros, DEFAULT_NODE_NAME, "/a4mer_node").unwrap();
    let s = c.settings(&p);
    assert_eq!(s.iter().map(|s| s.name).collect::<Vec<_>>(), PARAMETERS);
    let max = s.iter().find(|s| s.name == "tracks.max").unwrap();
    assert_eq!(max.value, "2");
    assert_ne!(max.from, "default", "{max:?}");
    let gap = s.iter().find(|s| s.name == "tracks.gap_limit_s").unwrap();
    assert_eq!((gap.value.as_str(), gap.from.as_str()), ("0.2", "default"));
}

#[test]
fn defaults() {
    let c = config(&[]).unwrap();
    assert_eq!(c.input_type, InputType::Skeleton3DArray);
    assert_eq!(c.model, None);
    assert_eq!((c.max_tracks, c.input_queue_depth, c.output_queue_depth), (4, 5, 10));
    assert_eq!(c.gap_limit_s, 0.2, "the engine's 200 ms default");
    assert!(!c.use_sim_time);
    assert_eq!(c.link, None, "no link unless link.device is set");
}

#[test]
fn link_parameters() {
    let c = config(&[
        "-p",
        "link.device:=/dev/ttyTHS1",
        "-p",
        "link.baud:=460800",
        "-p",
        "link.base_from_forecast_xyz_rpy:=[1.0, 0.0, 0.5, 0.0, 0.0, 3.141592653589793]",
        "-p",
        "link.monitored_points:=[0.5, 0.0, 1.0, 0.0, 0.0, 0.3]",
        "-p",
        "link.hold_s:=0.5",
    ])
    .unwrap();
    assert_eq!(
        c.link_placement.monitored.points_in_base_m,
        vec![[0.5, 0.0, 1.0], [0.0, 0.0, 0.3]]
    );
    assert_eq!(c.link_placement.hold.hold_ns, 500_000_000);
    let link = c.link.unwrap();
    assert_eq!(link.device, PathBuf::from("/dev/ttyTHS1"));
    assert_eq!(link.baud, 460_800);
    // Yaw of pi: forward in the forecast frame is backward in the base frame.
    let p = link.base_from_forecast.apply([1.0, 0.0, 0.0]);
    assert!(
        (p[0] - 0.0).abs() < 1e-6 && p[1].abs() < 1e-6 && (p[2] - 0.5).abs() < 1e-6,
        "{p:?}"
    );
}

#[test]
fn output_frame_and_tf_parameters() {
    let c = config(&["-p", "output.frame_id:=/base_link", "-p", "tf.max_age_s:=0.0"]).unwrap();
    assert_eq!(
        c.output_frame_id, "base_link",
        "a leading slash is dropped, as tf2 does"
    );
    assert_eq!((c.tf_max_age_s, c.tf_buffer_s), (0.0, 10.0));
    let d = config(&[]).unwrap();
    assert_eq!((d.output_frame_id.as_str(), d.tf_max_age_s), ("", 0.1));
    // The static fallback and TF at once: which one places the link frames is ambiguous.
    let e = config(&[
        "-p",
        "output.frame_id:=base_link",
        "-p",
        "link.device:=/dev/ttyTHS1",
        "-p",
        "link.base_from_forecast_xyz_rpy:=[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`link.base_from_forecast_xyz_rpy`") && e.contains("output.frame_id"),
        "{e}"
    );
    let ok = config(&["-p", "output.frame_id:=base_link", "-p", "link.device:=/dev/ttyTHS1"]).unwrap();
    assert_eq!(
        ok.link.unwrap().base_from_forecast,
        crate::link::RigidTransform::IDENTITY
    );
}

#[test]
fn a_link_without_a_frame_is_refused_naming_both_ways_to_give_one() {
    let e = config(&["-p", "link.device:=/dev/ttyTHS1"]).unwrap_err().to_string();
    assert!(
        e.contains("`output.frame_id`") && e.contains("`link.base_from_forecast_xyz_rpy`"),
        "{e}"
    );
    // Identity, stated, is accepted.
    let c = config(&[
        "-p",
        "link.device:=/dev/ttyTHS1",
        "-p",
        "link.base_from_forecast_xyz_rpy:=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
    ])
    .unwrap();
    assert_eq!(
        c.link.unwrap().base_from_forecast,
        crate::link::RigidTransform::IDENTITY
    );
}

#[test]
fn every_bad_parameter_is_named() {
    for (arg, name, what) in [
        ("input.type:=kinect", "input.type", "kinect"),
        ("tracks.max:=0", "tracks.max", "outside 1..=64"),
        ("tracks.max:=many", "tracks.max", "expected integer"),
        ("tracks.gap_limit_s:=-1", "tracks.gap_limit_s", "positive"),
        ("input.min_confidence:=1.5", "input.min_confidence", "outside"),
        ("model:=/nonexistent/m.a4m", "model", "/nonexistent/m.a4m"),
        (
            "input.joint_map:=/nonexistent/map.toml",
            "input.joint_map",
            "not a readable file",
        ),
        (
            "input.joint_order:=[pelvis, head, pelvis]",
            "input.joint_order",
            "twice",
        ),
        ("tracks.maxx:=3", "tracks.maxx", "unknown parameter"),
        ("use_sim_time:=2", "use_sim_time", "expected bool"),
        ("tracks.gap_limit_s:=5.0", "tracks.gap_limit_s", "outside 0.034..=1.0"),
        ("link.baud:=300", "link.baud", "outside"),
        ("forecast.frame_id:=map", "forecast.frame_id", "`output.frame_id`"),
        ("tf.max_age_s:=1.5", "tf.max_age_s", "outside 0..=1 s"),
        ("tf.max_age_s:=-0.1", "tf.max_age_s", "outside"),
        ("tf.buffer_s:=0.5", "tf.buffer_s", "outside 1..=60 s"),
        (
            "link.base_from_forecast_xyz_rpy:=[1.0, 2.0]",
            "link.base_from_forecast_xyz_rpy",
            "expected 6",
        ),
        (
            "link.base_from_forecast:=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
            "link.base_from_forecast",
            "roll pitch yaw",
        ),
        ("link.hold_s:=6.0", "link.hold_s", "outside 0..=5 s"),
        (
            "link.human_speed_mps:=1.0",
            "link.human_speed_mps",
            "outside 1.6..=5 m/s",
        ),
        ("link.monitored_points:=[1.0, 2.0]", "link.monitored_points", "x y z"),
        ("link.monitored_radius_m:=-1.0", "link.monitored_radius_m", "outside"),
        // Camera coordinates must not go out as the base's by default.
        ("link.device:=/dev/ttyTHS1", "link.device", "`output.frame_id`"),
    ] {
        let e = config(&["-p", arg]).unwrap_err().to_string();
        assert!(e.contains(&format!("`{name}`")) && e.contains(what), "{arg}: {e}");
    }
}
