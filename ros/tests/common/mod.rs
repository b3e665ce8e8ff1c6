//! Helpers shared by the integration tests of the ROS-side crates (a4mer-ros, a4mer-bag,
//! a4mer-replay; the other two include this file by path): Python peers, real mocap,
//! byte mutations.
#![allow(dead_code)]

pub mod mutate;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use a4mer_ros::ros_args::RosEnv;
use a4mer_runtime::PoseFrame;

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root: every test crate sits one level below it.
pub fn workspace() -> PathBuf {
    manifest().join("..")
}

/// CI installs every peer; there a missing one fails the test instead of skipping it.
pub fn require_peers() -> bool {
    std::env::var("A4MER_REQUIRE_PEERS").as_deref() == Ok("1") || std::env::var("CI").as_deref() == Ok("true")
}

/// `python3` (or `$PYTHON`) if it imports `modules`; otherwise skip (or fail where peers
/// are required) with the reason and the install hint.
pub fn python_with(modules: &str, install: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let reason = match Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
    {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!(
            "`{python} -c 'import {modules}'` failed ({}); {install}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("cannot run {python}: {e}"),
    };
    assert!(!require_peers(), "peers are required here: {reason}");
    eprintln!("skipping: {reason}");
    None
}

pub fn python_with_rosbags() -> Option<String> {
    python_with("rosbags", "pip install rosbags")
}

/// Run `bag/tests/py/<script>` (the rosbags peers); its stdout.
pub fn run_py(python: &str, script: &str, args: &[&Path]) -> String {
    let out = Command::new(python)
        .arg(workspace().join("bag/tests/py").join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Real motion: `n` frames of a bundled mocap take from frame `start`, canonical SMPL-24
/// at 30 Hz, stamped from 1.7e18 ns.
pub fn mocap_frames_from(start: usize, n: usize) -> Vec<PoseFrame> {
    let path = workspace().join("data/mocap/bvhtools_test2.bvh");
    let motion = a4mer_motion::import_bvh(&path, &Default::default()).unwrap();
    assert!(motion.frames.len() >= start + n, "take too short");
    let start_ns = 1_700_000_000_000_000_000;
    motion.frames[start..start + n]
        .iter()
        .map(|f| PoseFrame {
            stamp_ns: start_ns + f.stamp_ns - motion.frames[start].stamp_ns,
            ..*f
        })
        .collect()
}

/// SIGTERM, as systemd and `ros2 launch` stop a node.
pub fn sigterm(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(sent, "kill -TERM {}", child.id());
}

/// The exit status once `child` has exited; fails the test after `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit within {within:?} after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The ROS environment of a private DDS domain on loopback only, so parallel test runs on
/// this host do not cross-talk.
pub fn loopback_env(domain: u16) -> RosEnv {
    RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(domain.to_string()),
        "ROS_LOCALHOST_ONLY" => Some("1".into()),
        _ => None,
    })
    .unwrap()
}
