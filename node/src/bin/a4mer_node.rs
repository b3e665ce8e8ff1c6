//! `a4mer_node`: the ROS 2 node. Standard ROS arguments (`--ros-args -r/-p/--params-file`,
//! `__ns`, `__node`) and environment (`ROS_DOMAIN_ID`, `ROS_LOCALHOST_ONLY`,
//! `ROS_AUTOMATIC_DISCOVERY_RANGE`; SROS2 with `ROS_SECURITY_ENABLE`, `ROS_SECURITY_STRATEGY`,
//! `ROS_SECURITY_KEYSTORE` and `--ros-args --enclave`); see `launch/params/a4mer.yaml` for the parameters.
//! SIGINT and SIGTERM stop it cleanly.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use a4mer_node::{NodeSetup, run};
use a4mer_ros::ros_args::RosEnv;
use a4mer_ros::security::SecurityPlan;

fn main() {
    if let Err(e) = real_main() {
        eprintln!("a4mer_node: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .take_while(|a| *a != "--ros-args")
        .any(|a| a == "--help" || a == "-h")
    {
        println!(
            "a4mer_node {}: human-motion anticipation as a ROS 2 node\n\n\
             usage: a4mer_node [--ros-args [-r from:=to] [-p name:=value] [--params-file FILE] ...]\n\n\
             topics: ~/poses (in), ~/forecast, ~/motifs, ~/forecast_markers, ~/person_markers, /diagnostics (out)\n\
             parameters: see launch/params/a4mer.yaml",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    let env = RosEnv::from_env().context("ROS environment")?;
    let setup = NodeSetup::from_args(&args, env).context("start-up")?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    eprintln!(
        "a4mer_node: {} on {} ({}), model {} (sha256 {}), domain {}{}",
        setup.names.fully_qualified_name(),
        setup.topics.poses,
        setup.config.input_type.ros_type_name(),
        setup.model.origin,
        &setup.model.sha256_hex[..16],
        setup.env.domain_id,
        if setup.env.localhost_only() {
            ", localhost only"
        } else {
            ""
        }
    );
    if let Some(note) = setup.model.stream.anticipation_note() {
        eprintln!("a4mer_node: note: {note}");
    }
    if let Some(note) = setup.model.stream.damping_tau().note() {
        eprintln!("a4mer_node: note: {note}");
    }
    let security = setup.security.summary();
    match setup.security {
        SecurityPlan::Unsecured { .. } => eprintln!("a4mer_node: warning: SROS2 {security}"),
        _ => eprintln!("a4mer_node: SROS2 {security}"),
    }
    let summary = run(setup, stop)?;
    eprintln!(
        "a4mer_node: stopped after {} messages, {} forecasts published",
        summary.messages, summary.forecasts_published
    );
    Ok(())
}
