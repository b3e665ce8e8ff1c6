//! The launch files and the systemd unit start the node the way they claim. ROS launch is
//! not installable from pip here, so the launch files are checked statically (arguments
//! declared and used alike in XML and Python) and the command line the XML builds is run.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{require_peers, sigterm, wait_exit};

fn launch_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../launch")
}

#[test]
fn xml_and_python_launch_files_declare_and_use_the_same_arguments() {
    let out = Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/launch_check.py"))
        .arg(launch_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |key: &str| -> Vec<String> {
        let mut n: Vec<String> = match &v[key] {
            Value::Object(m) => m.keys().cloned().collect(),
            Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
            _ => panic!("{key}"),
        };
        n.sort();
        n
    };
    assert_eq!(names("xml_args"), names("py_args"));
    assert_eq!(
        names("xml_args"),
        names("xml_vars"),
        "every XML argument is used, none undeclared"
    );
    assert_eq!(
        names("py_args"),
        names("py_reads"),
        "every Python argument is used, none undeclared"
    );

    // Run the node with the XML's command line, in a namespace, with the shipped params file.
    let cmd = v["xml_cmd"].as_str().unwrap();
    let xml_args = v["xml_args"].as_object().unwrap();
    let mut line = cmd.replace("$(var executable)", env!("CARGO_BIN_EXE_a4mer_node"));
    for (name, default) in xml_args {
        let value = match name.as_str() {
            "namespace" => "/robot1".to_string(),
            "poses_topic" => "/camera/skeletons".to_string(),
            _ => default
                .as_str()
                .unwrap()
                .replace("$(dirname)", launch_dir().to_str().unwrap()),
        };
        line = line.replace(&format!("$(var {name})"), &value);
    }
    // launch's boolean substitution, for `managed`.
    let line = line.replace("$(not false)", "true").replace("$(not true)", "false");
    let parts: Vec<&str> = line.split_whitespace().collect();
    let dir = tempfile::tempdir().unwrap();
    let stderr_path = dir.path().join("node.stderr");
    let mut child = Command::new(parts[0])
        .args(&parts[1..])
        .env("ROS_DOMAIN_ID", (150 + std::process::id() % 40).to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let err = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // Up once it names itself (after its signal handler is in place); liveness only.
    let started = Instant::now();
    while !err().lines().any(|l| l.starts_with("a4mer_node: /")) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the node exited at start-up: {}",
            err()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no start-up line: {}",
            err()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let err = err();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("/robot1/a4mer_node on /camera/skeletons"),
        "namespace and remap applied: {err}"
    );
}

#[test]
fn systemd_unit_verifies_with_the_built_binary() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(!require_peers(), "systemd-analyze is required here");
        return common::skip::skip("systemd_unit_verifies_with_the_built_binary", "no systemd-analyze");
    }
    let unit = std::fs::read_to_string(launch_dir().join("systemd/a4mer-node.service")).unwrap();
    assert!(
        unit.contains(
            "ExecStart=/opt/a4mer/bin/a4mer_node --ros-args --params-file /opt/a4mer/launch/params/a4mer.yaml"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a4mer-node.service");
    std::fs::write(
        &path,
        unit.replace("/opt/a4mer/bin/a4mer_node", env!("CARGO_BIN_EXE_a4mer_node")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "systemd-analyze verify: {text}"
    );
}

/// Type=notify and WatchdogSec: READY=1 once the node is up, WATCHDOG=1 from the running
/// frame loop, STOPPING=1 on SIGTERM, over the socket systemd would pass in NOTIFY_SOCKET.
#[test]
fn the_node_notifies_systemd_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_a4mer_node"))
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .env("ROS_DOMAIN_ID", (190 + std::process::id() % 40).to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut got: Vec<(f64, String)> = Vec::new();
    let mut buf = [0u8; 512];
    let pings_after_ready = |got: &[(f64, String)]| -> Vec<f64> {
        let Some(ready) = got.iter().position(|(_, m)| m.contains("READY=1")) else {
            return Vec::new();
        };
        got[ready..]
            .iter()
            .filter(|(_, m)| m.contains("WATCHDOG=1"))
            .map(|(t, _)| *t)
            .collect()
    };
    // Until READY=1 and a run of pings; liveness only, so a loaded host just takes longer.
    while pings_after_ready(&got).len() < 8 && started.elapsed() < Duration::from_secs(60) {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push((
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
        assert!(child.try_wait().unwrap().is_none(), "the node exited: {got:?}");
    }
    sigterm(&child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push((
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
        if got.iter().any(|(_, m)| m.contains("STOPPING=1")) {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
    assert!(got.iter().any(|(_, m)| m.contains("READY=1")), "READY=1: {got:?}");
    let pings = pings_after_ready(&got);
    // Fed again and again while the loop runs (every 200 ms, half the period), not once.
    assert!(pings.len() >= 8, "{got:?}");
    let gaps: Vec<f64> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("watchdog ping gaps (s): {gaps:?}");
    // Ten times the 200 ms ping period: a stalled loop or one far slower than WATCHDOG_USEC
    // asks, not a loaded host (the 400 ms deadline itself is systemd's, on the device).
    assert!(gaps.iter().all(|g| *g < 2.0), "a gap of ten ping periods: {pings:?}");
    assert!(got.iter().any(|(_, m)| m.contains("STOPPING=1")), "{got:?}");
}
