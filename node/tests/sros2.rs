//! SROS2 on real DDS Security over loopback, with keystores made as integrators make them
//! (`scripts/make-keystore.sh`, sros2's layout and default governance):
//! - the node in Enforce and a peer holding its own enclave's credentials exchange poses
//!   and forecasts, and `/diagnostics` says the node is enforcing;
//! - a ROS 2 peer without credentials (rclpy on Fast DDS from pip, which has no security
//!   plugins: an outsider by construction) sees none of the node's topics, reads no
//!   `/diagnostics` and finds no parameter service to call;
//! - a participant holding the node's permissions cannot publish poses (its grant only
//!   subscribes to them);
//! - Enforce refuses to start without a keystore, with an expired certificate or with
//!   tampered permissions, naming the file; Permissive without credentials starts
//!   unsecured and says so.
//!
//! The pip builds of Fast DDS and Cyclone DDS carry no security plugins
//! (docs/sros2.md), so the credentialed peer is RustDDS, in this process.

mod common;
#[path = "common/demo.rs"]
mod demo;
#[path = "../../test-support/keystore.rs"]
mod keystore;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use a4mer_node::NodeSetup;
use a4mer_node::demo::NodeLaunch;
use a4mer_ros::msg::{DiagnosticArray, Skeleton3DArray};
use a4mer_ros::ros_args::RosEnv;
use a4mer_ros::security::{SecurityEnv, SecurityPlan, plan};
use ros2_client::{NodeName, NodeOptions, Subscription};
use serde_json::Value;

use common::{mocap_frames_from, python_with, rclpy_loopback_env, run_peer};
use demo::node_demo;
use keystore::make_keystore;

/// A DDS domain no other test on this host uses at the same time.
fn domain(offset: u32) -> u16 {
    (40 + (std::process::id() % 19) * 3 + offset) as u16
}

const NODE_ENCLAVE: &str = "/a4mer/a4mer_node";
const PEER_ENCLAVE: &str = "/a4mer/test_peer";

/// A keystore for `domain`: the node's enclave with its least-privilege policy, and a peer
/// enclave with sros2's default wildcard grant.
fn keystore(dir: &Path, domain: u16, options: &[&str]) {
    make_keystore(dir, domain, &[PEER_ENCLAVE], options);
}

fn secured_env(domain: u16, keystore: &Path, strategy: &str) -> RosEnv {
    let keystore = keystore.to_str().unwrap().to_string();
    RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(domain.to_string()),
        "ROS_LOCALHOST_ONLY" => Some("1".into()),
        "ROS_SECURITY_ENABLE" => Some("true".into()),
        "ROS_SECURITY_STRATEGY" => Some(strategy.into()),
        "ROS_SECURITY_KEYSTORE" => Some(keystore.clone()),
        _ => None,
    })
    .unwrap()
}

fn enclave_plan(env: &RosEnv, enclave: &str) -> SecurityPlan {
    let p = plan(&env.security, Some(enclave), true, SystemTime::now()).unwrap();
    assert!(matches!(p, SecurityPlan::Secured { .. }), "{p:?}");
    p
}

/// The node binary with `env` (security variables included) and `ros_args`: whether it
/// exited 0 by itself within `wait` (`None`: still running, then stopped), and its stderr.
fn node_binary(env: &[(&str, String)], ros_args: &[&str], wait: Duration) -> (Option<bool>, String) {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_a4mer_node"));
    cmd.arg("--ros-args").args(ros_args);
    for (var, _) in SecurityEnv::default().vars() {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("ROS_LOCALHOST_ONLY", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + wait;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            common::sigterm(&child);
            common::wait_exit(&mut child, Duration::from_secs(10));
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.map(|s| s.success()),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

#[test]
fn a_secured_node_and_a_credentialed_peer_exchange_poses_and_forecasts() {
    let dir = tempfile::tempdir().unwrap();
    let domain = domain(0);
    keystore(dir.path(), domain, &[]);
    let env = secured_env(domain, dir.path(), "Enforce");
    let args = [
        "--ros-args",
        "--enclave",
        NODE_ENCLAVE,
        "-p",
        "diagnostics.period_s:=0.5",
    ];
    let setup = NodeSetup::from_args(&args, env.clone()).expect("the node's credentials pass the pre-flight");
    assert_eq!(setup.security.summary(), format!("enforce (enclave {NODE_ENCLAVE})"));

    // A third participant with the peer's credentials reads /diagnostics.
    let peer_security = enclave_plan(&env, PEER_ENCLAVE);
    let ctx = a4mer_node::dds::context(&env, &peer_security).unwrap();
    let mut listener = ctx
        .new_node(NodeName::new("/", "sros2_listener").unwrap(), NodeOptions::new())
        .unwrap();
    let diagnostics: Subscription<DiagnosticArray> =
        a4mer_node::dds::subscription(&mut listener, "/diagnostics", &a4mer_node::dds::output_qos(100)).unwrap();

    let mut cfg = node_demo(vec![mocap_frames_from(600, 240)], &[], env);
    cfg.node = NodeLaunch::InProcess(Box::new(setup));
    cfg.peer_security = peer_security;
    let mut security_status = None;
    let summary = a4mer_node::demo::run(cfg, &mut |_| {
        while let Ok(Some((d, _))) = diagnostics.take() {
            if let Some(s) = d.status.into_iter().find(|s| s.name == "/a4mer_node: security") {
                security_status = Some(s);
            }
        }
    })
    .expect("the secured node runs");
    eprintln!(
        "secured: {} frames sent, {} forecasts received, p99 {:?} ms",
        summary.frames_sent, summary.forecasts_received, summary.end_to_end_latency_ms.p99
    );
    // 8 s of poses at 30 Hz; forecasts from 2 s of history on, and the first second's
    // samples may go while the participants exchange keys.
    assert!(
        summary.forecasts_received >= summary.frames_sent / 3,
        "{} of {} frames came back as forecasts through DDS Security",
        summary.forecasts_received,
        summary.frames_sent
    );
    let status = security_status.expect("a security status in /diagnostics, read by a credentialed peer");
    assert_eq!(status.message, format!("enforce (enclave {NODE_ENCLAVE})"));
}

#[test]
fn a_peer_without_credentials_sees_no_topic_no_forecast_and_no_parameter_service() {
    let Some(python) = python_with(
        "rclpy, rcl_interfaces.srv, diagnostic_msgs.msg",
        "pip install 'ros-jazzy-rclpy[fastrtps]' ros-jazzy-rcl-interfaces ros-jazzy-diagnostic-msgs",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let domain = domain(1);
    keystore(dir.path(), domain, &[]);
    let env = secured_env(domain, dir.path(), "Enforce");
    let args = ["--ros-args", "--enclave", NODE_ENCLAVE];
    let setup = NodeSetup::from_args(&args, env.clone()).unwrap();
    let mut cfg = node_demo(vec![mocap_frames_from(600, 270)], &[], env.clone());
    cfg.node = NodeLaunch::InProcess(Box::new(setup));
    cfg.peer_security = enclave_plan(&env, PEER_ENCLAVE);

    // The outsider runs while the secured node and its peer exchange poses and forecasts.
    let outsider_env = rclpy_loopback_env(dir.path(), domain);
    let outsider = std::thread::spawn({
        let python = python.clone();
        move || {
            run_peer(
                &python,
                "rclpy_outsider.py",
                &["/a4mer_node".to_string(), "6.0".to_string()],
                &outsider_env,
            )
        }
    });
    let summary = a4mer_node::demo::run(cfg, &mut |_| {}).expect("the secured node runs");
    let seen: Value = outsider.join().unwrap();
    eprintln!(
        "outsider saw: {seen}; the credentialed peer got {} forecasts",
        summary.forecasts_received
    );
    assert!(summary.forecasts_received > 0, "the credentialed peer got no forecast");
    let topics: Vec<&str> = seen["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Its own /diagnostics subscription is listed too, so only the node's names tell.
    assert!(
        !topics.iter().any(|t| t.starts_with("/a4mer_node")),
        "an outsider discovered the node's topics: {topics:?}"
    );
    assert_eq!(seen["diagnostics"], 0, "an outsider read /diagnostics");
    assert_eq!(
        seen["set_parameters_service"], false,
        "an outsider found the parameter service"
    );
}

#[test]
fn a_participant_holding_the_nodes_permissions_cannot_publish_poses() {
    let dir = tempfile::tempdir().unwrap();
    let domain = domain(2);
    keystore(dir.path(), domain, &[]);
    let env = secured_env(domain, dir.path(), "Enforce");
    let ctx = a4mer_node::dds::context(&env, &enclave_plan(&env, NODE_ENCLAVE)).unwrap();
    let mut node = ctx
        .new_node(NodeName::new("/", "a4mer_node").unwrap(), NodeOptions::new())
        .unwrap();
    let qos = a4mer_node::dds::output_qos(10);
    // Its grant: subscribe to ~/poses, publish ~/forecast.
    assert!(a4mer_node::dds::subscription::<Skeleton3DArray>(&mut node, "/a4mer_node/poses", &qos).is_ok());
    let e = a4mer_node::dds::publisher::<Skeleton3DArray>(&mut node, "/a4mer_node/poses", &qos)
        .err()
        .expect("publishing poses is outside the node's grant");
    let e = e.to_string();
    assert!(
        e.contains("/a4mer_node/poses") && e.to_lowercase().contains("not allowed"),
        "{e}"
    );
    let e = a4mer_node::dds::publisher::<Skeleton3DArray>(&mut node, "/cmd_vel", &qos)
        .err()
        .expect("a topic the grant never names");
    assert!(e.to_string().contains("/cmd_vel"), "{e}");
}

#[test]
fn enforce_refuses_to_start_without_valid_credentials_and_permissive_says_it_is_unsecured() {
    let dir = tempfile::tempdir().unwrap();
    let domain = domain(0);
    let base = |ks: &Path, strategy: &str| {
        vec![
            ("ROS_DOMAIN_ID", domain.to_string()),
            ("ROS_SECURITY_ENABLE", "true".to_string()),
            ("ROS_SECURITY_STRATEGY", strategy.to_string()),
            ("ROS_SECURITY_KEYSTORE", ks.display().to_string()),
        ]
    };
    let enclave = ["--enclave", NODE_ENCLAVE];
    let refused = |env: &[(&str, String)], what: &str| {
        let (exit, err) = node_binary(env, &enclave, Duration::from_secs(20));
        assert_eq!(exit, Some(false), "Enforce with {what} must refuse to start:\n{err}");
        err
    };

    // No keystore at all.
    let missing = dir.path().join("no-keystore");
    let err = refused(&base(&missing, "Enforce"), "no keystore");
    assert!(
        err.contains(&format!(
            "SECURITY ERROR: directory '{}/enclaves/a4mer/a4mer_node' does not exist.",
            missing.display()
        )),
        "{err}"
    );

    // Expired certificates.
    let expired = dir.path().join("expired");
    keystore(&expired, domain, &["--expired"]);
    let err = refused(&base(&expired, "Enforce"), "an expired certificate");
    assert!(err.contains("a4mer_node/cert.pem: expired at"), "{err}");

    // Permissions edited after signing: one more topic granted.
    let tampered = dir.path().join("tampered");
    keystore(&tampered, domain, &[]);
    let p7s = tampered.join("enclaves/a4mer/a4mer_node/permissions.p7s");
    let text = std::fs::read_to_string(&p7s).unwrap();
    assert!(text.contains("<topic>rt/a4mer_node/forecast</topic>"));
    std::fs::write(
        &p7s,
        text.replacen("<topic>rt/a4mer_node/forecast</topic>", "<topic>rt/cmd_vel</topic>", 1),
    )
    .unwrap();
    let err = refused(&base(&tampered, "Enforce"), "tampered permissions");
    assert!(err.contains("permissions") && err.contains("does not match"), "{err}");

    // Permissive without credentials: it runs, and says it runs unsecured.
    let (exit, err) = node_binary(&base(&missing, "Permissive"), &enclave, Duration::from_secs(4));
    assert_eq!(exit, None, "Permissive without a keystore must start:\n{err}");
    assert!(
        err.contains("warning: SROS2 permissive, UNSECURED (enclave /a4mer/a4mer_node): directory"),
        "{err}"
    );
}
