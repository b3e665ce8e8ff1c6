//! The demo's harness around the node binary, for the node's own tests (bag and replay
//! tests share `common` without the node, so this lives apart).

use a4mer_ros::ros_args::RosEnv;
use a4mer_runtime::PoseFrame;

/// `a4mer demo`'s harness around the `a4mer_node` binary with `ros_args` (after
/// `--ros-args`), on `env`, publishing `people` in `world`.
pub fn node_demo(people: Vec<Vec<PoseFrame>>, ros_args: &[String], env: RosEnv) -> a4mer_node::demo::DemoConfig {
    let mut args = vec!["--ros-args".to_string()];
    for a in ros_args {
        args.extend(["-p".to_string(), a.clone()]);
    }
    #[allow(clippy::option_env_unwrap)]
    let exe = option_env!("CARGO_BIN_EXE_a4mer_node").expect("node_demo runs from a4mer-node tests");
    a4mer_node::demo::DemoConfig {
        peer_security: a4mer_ros::security::SecurityPlan::OFF,
        people,
        node: a4mer_node::demo::NodeLaunch::Process { exe: exe.into(), args },
        poses_topic: "/a4mer_node/poses".into(),
        forecast_topic: "/a4mer_node/forecast".into(),
        motifs_topic: "/a4mer_node/motifs".into(),
        env,
        camera: None,
        damping_tau_s: a4mer_runtime::stream::DAMPING_TAU_S,
    }
}
