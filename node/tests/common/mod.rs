//! Helpers shared by the integration tests of the ROS-side crates (a4mer-node, a4mer-bag,
//! a4mer-replay; the other two include this file by path): Python peers, real mocap,
//! byte mutations.
#![allow(dead_code)]

pub mod mutate;
#[path = "../../../test-support/skip.rs"]
pub mod skip;
pub mod tf_scene;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use a4mer_ros::ros_args::RosEnv;
use a4mer_runtime::{PoseFrame, SMPL24};
use serde_json::{Value, json};

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
    // The harness names each test's thread after the test.
    skip::skip(std::thread::current().name().unwrap_or("a peer test"), &reason);
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

/// One person's frames as the Python peers read them (`stamps_ns`, `joints`), written to
/// `frames.json` in `dir`.
pub fn write_peer_frames(dir: &Path, frames: &[PoseFrame]) -> PathBuf {
    let path = dir.join("frames.json");
    std::fs::write(
        &path,
        json!({
            "stamps_ns": frames.iter().map(|f| f.stamp_ns).collect::<Vec<_>>(),
            "joints": frames.iter().map(joints_json).collect::<Vec<_>>(),
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// Two people from the bundled take: it from its start, and a later part of it (from frame
/// `second_from`) 2 m to the left, on the first one's stamps.
pub fn two_people(second_from: usize, n: usize) -> (Vec<PoseFrame>, Vec<PoseFrame>) {
    let a = mocap_frames_from(0, n);
    let b = mocap_frames_from(second_from, n)
        .into_iter()
        .zip(&a)
        .map(|(mut f, fa)| {
            f.stamp_ns = fa.stamp_ns;
            for p in &mut f.joints_in_world {
                p[1] += 2.0;
            }
            f
        })
        .collect();
    (a, b)
}

/// Several people's frames as the multi-person peers read them (`stamps_ns`, the first
/// person's; `joint_names`; `people` by id); callers may add keys before writing it.
pub fn people_frames_json(people: &[(u32, &[PoseFrame])]) -> serde_json::Map<String, Value> {
    let tracks: serde_json::Map<String, Value> = people
        .iter()
        .map(|(id, frames)| {
            (
                id.to_string(),
                json!(frames.iter().map(joints_json).collect::<Vec<_>>()),
            )
        })
        .collect();
    let mut out = serde_json::Map::new();
    out.insert(
        "stamps_ns".into(),
        json!(people[0].1.iter().map(|f| f.stamp_ns).collect::<Vec<_>>()),
    );
    out.insert("joint_names".into(), json!(SMPL24));
    out.insert("people".into(), Value::Object(tracks));
    out
}

/// Joints as JSON; an unobserved joint is `null` (the peers send NaN).
pub fn joints_json(f: &PoseFrame) -> Value {
    json!(
        f.joints_in_world
            .iter()
            .zip(f.valid)
            .map(|(p, v)| if v { json!([p[0], p[1], p[2]]) } else { Value::Null })
            .collect::<Vec<_>>()
    )
}

pub struct NodeProcess {
    child: Child,
    stderr_path: PathBuf,
}

impl NodeProcess {
    pub fn start(dir: &Path, domain: u16, params: &[&str]) -> Self {
        let stderr_path = dir.join("node.stderr");
        let mut args = vec!["--ros-args".to_string()];
        for p in params {
            args.extend(["-p".to_string(), p.to_string()]);
        }
        // Only a4mer-ros's own tests have the node binary; the bag and replay tests that
        // include this file never start one.
        #[allow(clippy::option_env_unwrap)]
        let node = option_env!("CARGO_BIN_EXE_a4mer_node").expect("NodeProcess runs from a4mer-node tests");
        let child = Command::new(node)
            .args(&args)
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env("ROS_LOCALHOST_ONLY", "1")
            .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        Self { child, stderr_path }
    }

    pub fn stderr(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(&self.stderr_path).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// SIGTERM, as systemd stops it; the node must exit 0 within 10 s.
    pub fn stop(mut self) -> String {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the node died during the test:\n{}",
            self.stderr()
        );
        sigterm(&self.child);
        let status = wait_exit(&mut self.child, Duration::from_secs(10));
        let err = self.stderr();
        assert!(status.success(), "node exit {status}:\n{err}");
        err
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run_peer(python: &str, script: &str, args: &[String], env: &[(&str, String)]) -> Value {
    let mut cmd = Command::new(python);
    cmd.arg(manifest().join("tests/py").join(script)).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}

pub const FASTDDS_LOOPBACK: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>udp_loopback</transport_id>
      <type>UDPv4</type>
      <interfaceWhiteList><address>127.0.0.1</address></interfaceWhiteList>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="loopback" is_default_profile="true">
    <rtps>
      <userTransports><transport_id>udp_loopback</transport_id></userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"#;

/// The environment of an rclpy peer on Fast DDS, loopback only, on `domain`: the profile
/// ([`FASTDDS_LOOPBACK`]) is written to `dir/fastdds.xml`.
pub fn rclpy_loopback_env(dir: &Path, domain: u16) -> Vec<(&'static str, String)> {
    let profile = dir.join("fastdds.xml");
    std::fs::write(&profile, FASTDDS_LOOPBACK).unwrap();
    vec![
        ("ROS_DOMAIN_ID", domain.to_string()),
        ("FASTRTPS_DEFAULT_PROFILES_FILE", profile.display().to_string()),
        ("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp".into()),
    ]
}

/// Cyclone DDS on loopback only, for the Python Cyclone peers (`CYCLONEDDS_URI`).
pub const CYCLONE_LOOPBACK: &str = "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface address=\"127.0.0.1\"/></Interfaces>\
     <AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>\
     <MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery></Domain></CycloneDDS>";

/// `tests/py/cyclone_peer.py` against the node `/a4mer_node` on `domain` (loopback only):
/// what it received.
pub fn run_cyclone_peer(python: &str, frames_json: &Path, domain: u16) -> Value {
    run_peer(
        python,
        "cyclone_peer.py",
        &[
            frames_json.display().to_string(),
            "/a4mer_node".into(),
            domain.to_string(),
        ],
        &[("CYCLONEDDS_URI", CYCLONE_LOOPBACK.to_string())],
    )
}

/// `a4mer_mcu_twin` (the firmware's receiver and monitor) behind a pseudo-terminal, robot
/// at (0, 0, 1) m moving at 1 m/s; its decisions are read on a thread until it ends.
pub struct McuTwin {
    child: Child,
    /// The pty to give the node as `link.device`.
    pub device: String,
    /// Every line it has printed so far.
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl McuTwin {
    pub fn start() -> Self {
        use std::io::BufRead;
        #[allow(clippy::option_env_unwrap)]
        let exe = option_env!("CARGO_BIN_EXE_a4mer_mcu_twin").expect("McuTwin runs from a4mer-node tests");
        let mut child = Command::new(exe)
            .args(["--robot", "0,0,1", "--speed", "1.0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let device = first["device"].as_str().unwrap().to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = {
            let seen = std::sync::Arc::clone(&seen);
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    seen.lock().unwrap().push(line);
                }
            })
        };
        Self {
            child,
            device,
            lines: seen,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines printed so far, growing while it runs: to act on what the MCU decided.
    pub fn lines(&self) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
        std::sync::Arc::clone(&self.lines)
    }

    /// Kill it (if a test has not already) and return one JSON value per line it printed.
    pub fn decisions(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let lines = self.lines.lock().unwrap();
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for McuTwin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
