//! `a4mer selftest --node`: the DDS path through the node, on a private loopback domain.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use a4mer_measure::bench::MocapLoop;
use a4mer_node::NodeSetup;
use a4mer_node::demo::{DemoConfig, DemoSummary, NodeLaunch};
use a4mer_ros::ros_args::RosEnv;
use a4mer_runtime::{PoseFrame, frame_period_ns};

/// A private loopback domain per process, away from the demo's default 77.
fn node_domain() -> u16 {
    150 + (std::process::id() % 80) as u16
}

/// Result of the DDS loopback run.
pub struct NodeRun {
    pub how: String,
    pub summary: DemoSummary,
}

/// A publisher of the bundled clip at 30 Hz, the node, and a subscriber timing every
/// forecast, on a private DDS domain on loopback, for `seconds`. The node is the
/// `a4mer_node` beside this binary (as a device bundle installs it) when there is one,
/// else a thread running the same node code.
pub fn run_node(model: Option<&Path>, takes: &[&[PoseFrame]], seconds: f64) -> Result<NodeRun> {
    let frames = (seconds * 30.0).round() as usize;
    let base_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_nanos() as i64;
    let person: Vec<PoseFrame> = MocapLoop::new(takes)
        .context("the clip has no take of 2 or more frames")?
        .take(frames)
        .enumerate()
        .map(|(k, mut f)| {
            f.stamp_ns = base_ns + frame_period_ns(k as u64);
            f
        })
        .collect();
    let domain = node_domain();
    let env = RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(domain.to_string()),
        "ROS_LOCALHOST_ONLY" => Some("1".into()),
        _ => None,
    })
    .context("selftest ROS environment")?;
    let mut ros_args = vec!["--ros-args".to_string()];
    if let Some(m) = model {
        ros_args.extend(["-p".into(), format!("model:={}", m.display())]);
    }
    let setup = NodeSetup::from_args(&ros_args, env.clone()).context("node start-up")?;
    let topics = setup.topics.clone();
    let beside: Option<PathBuf> = std::env::current_exe()
        .ok()
        .map(|e| e.with_file_name("a4mer_node"))
        .filter(|p| p.is_file());
    let (node, how) = match beside {
        Some(exe) => {
            let how = format!("{} as its own process, DDS domain {domain} on loopback", exe.display());
            (NodeLaunch::Process { exe, args: ros_args }, how)
        }
        None => (
            NodeLaunch::InProcess(Box::new(setup)),
            format!("a4mer_node not beside this binary: the node code in a thread, DDS domain {domain} on loopback"),
        ),
    };
    let summary = a4mer_node::demo::run(
        DemoConfig {
            peer_security: a4mer_ros::security::SecurityPlan::OFF,
            people: vec![person],
            node,
            poses_topic: topics.poses,
            forecast_topic: topics.forecast,
            motifs_topic: topics.motifs,
            env,
            camera: None,
            damping_tau_s: a4mer_runtime::stream::DAMPING_TAU_S,
        },
        &mut |_| {},
    )
    .context("publisher → node → subscriber on loopback DDS")?;
    Ok(NodeRun { how, summary })
}
