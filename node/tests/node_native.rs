//! `a4mer_node` as a ROS 2 citizen, against a real rclpy (Jazzy, Fast DDS) peer:
//! - parameters: listed, read back as given, described (description, range, read-only),
//!   changed live (the output follows from the next frame on, `/parameter_events` tells),
//!   and refused with a reason naming the parameter while the node runs on;
//! - lifecycle: driven from unconfigured through configure, activate, deactivate and
//!   activate, with the outputs stopping and resuming and, over the pty twin of the safety
//!   MCU, link frames Degraded while inactive.
//!
//! Peers are required in CI (`A4MER_REQUIRE_PEERS=1` or `CI=true`); elsewhere a missing
//! Python module skips the test with the reason.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use common::{NodeProcess, mocap_frames_from, python_with, rclpy_loopback_env, run_peer, write_peer_frames};

const MODULES: &str = "rclpy, rcl_interfaces.srv, lifecycle_msgs.srv, geometry_msgs.msg, visualization_msgs.msg, \
                       diagnostic_msgs.msg";
const INSTALL: &str = "pip install 'ros-jazzy-rclpy[fastrtps]' ros-jazzy-rcl-interfaces ros-jazzy-lifecycle-msgs \
                       ros-jazzy-geometry-msgs ros-jazzy-visualization-msgs ros-jazzy-diagnostic-msgs";

/// A DDS domain no other test on this host uses at the same time (Fast DDS takes up to 232).
fn domain(offset: u32) -> u16 {
    (201 + (std::process::id() % 15) * 2 + offset) as u16
}

/// The MCU twin, killed however the test ends (a pulled cable, as far as the node knows).
struct Twin(std::process::Child);

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Real mocap where the shipped model is not losing to a baseline, as PoseArray frames.
fn write_frames(dir: &Path) -> String {
    write_peer_frames(dir, &mocap_frames_from(900, 300))
        .display()
        .to_string()
}

fn peer(python: &str, mode: &str, dir: &Path, frames: String, domain: u16) -> Value {
    let env = rclpy_loopback_env(dir, domain);
    run_peer(
        python,
        "rclpy_native.py",
        &[mode.into(), frames, "/a4mer_node".into()],
        &env,
    )
}

/// (peer time s, markers in the array) of every MarkerArray the peer received.
fn markers(out: &Value) -> Vec<(f64, u64)> {
    out["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m[0].as_f64().unwrap(), m[1].as_u64().unwrap()))
        .collect()
}

/// The input stamp of every non-empty MarkerArray the peer received.
fn marker_stamps(out: &Value) -> Vec<i64> {
    out["markers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m[2].as_i64())
        .collect()
}

#[test]
fn rclpy_lists_gets_describes_and_sets_parameters_and_refusals_name_the_parameter() {
    let Some(python) = python_with(MODULES, INSTALL) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frames = write_frames(dir.path());
    let domain = domain(0);
    let node = NodeProcess::start(
        dir.path(),
        domain,
        &[
            "input.type:=pose_array",
            "markers.stride:=10",
            // Ten times the period set live below, so which one is in force is plain.
            "diagnostics.period_s:=2.0",
        ],
    );
    let out = peer(&python, "params", dir.path(), frames, domain);
    node.stop();

    let mut every: Vec<&str> = a4mer_ros::config::PARAMETERS.to_vec();
    every.sort_unstable();
    assert_eq!(out["listed"], json!(every), "every parameter is declared");
    let got = &out["got"];
    assert_eq!(got["input.type"], "pose_array", "read back as given");
    assert_eq!(got["markers.stride"], 10);
    assert_eq!(got["diagnostics.period_s"], 2.0);
    assert_eq!(got["model"], "", "the default: the bundled model");
    assert_eq!(
        got["link.base_from_forecast_xyz_rpy"],
        json!([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    );
    assert_eq!(got["nope"], Value::Null, "not declared: NOT_SET");
    assert_eq!(
        out["types"],
        json!({"input.type": 4, "markers.stride": 2, "model": 4, "diagnostics.period_s": 3,
               "link.base_from_forecast_xyz_rpy": 8, "nope": 0})
    );
    let described = &out["described"];
    let input_type = &described["input.type"];
    assert_eq!(input_type["read_only"], true);
    assert!(input_type["description"].as_str().unwrap().contains("~/poses"));
    assert!(input_type["constraints"].as_str().unwrap().contains("pose_array"));
    assert_eq!(described["markers.stride"]["read_only"], false);
    assert_eq!(described["markers.stride"]["integer_range"], json!([[1, 1000]]));
    assert_eq!(
        described["diagnostics.period_s"]["floating_point_range"],
        json!([[0.01, 3600.0]])
    );
    assert_eq!(described["model"]["read_only"], true);

    // A live change reaches the output, and stays.
    for set in ["stride_set", "period_set"] {
        assert_eq!(out[set]["successful"], true, "{set}: {}", out[set]);
    }
    let set_at = out["stride_set"]["at"].as_f64().unwrap();
    let sent_at = out["stride_set"]["sent"].as_f64().unwrap();
    let m = markers(&out);
    let before: Vec<u64> = m
        .iter()
        .filter(|(t, _)| (sent_at - 1.0..sent_at).contains(t))
        .map(|(_, n)| *n)
        .collect();
    assert!(!before.is_empty(), "markers before the change: {m:?}");
    assert!(
        before.iter().all(|n| *n == 4),
        "stride 10 over 30 steps: 0, 10, 20, 29: {before:?}"
    );
    let first_new = m.iter().find(|(_, n)| *n == 11).expect("markers at stride 3").0;
    assert!(first_new > sent_at, "stride 3 before it was asked for: {m:?}");
    let reached_s = first_new - set_at;
    eprintln!("markers.stride set -> first MarkerArray at the new stride: {reached_s:.3} s after the reply");
    // Liveness: the next frame carries the change; a loaded host delays it, never by 5 s.
    assert!(reached_s < 5.0, "{reached_s} s");
    assert!(
        m.iter().filter(|(t, _)| *t > first_new).all(|(_, n)| *n == 11),
        "the change stays"
    );

    // The diagnostics period followed too: from 2 s to 0.2 s. Over the ~5 s left, the old
    // period gives at most three reports; the median gap tells the two apart with room for
    // a loaded host (which only delays reports).
    let period_at = out["period_set"]["at"].as_f64().unwrap();
    let report_times: Vec<f64> = out["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[0].as_f64().unwrap())
        .filter(|t| *t > period_at + 0.3)
        .collect();
    let mut gaps: Vec<f64> = report_times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 3, "reports after the change at: {report_times:?}");
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    eprintln!("diagnostics.period_s 0.2: {} gaps, median {median:.3} s", gaps.len());
    // Half the old period: a report stream still at 2 s cannot get under it.
    assert!(median < 1.0, "median gap {median} s at period 0.2 s: {gaps:?}");

    // Refusals name the parameter and say why; nothing changes and the node runs on.
    let refused = &out["refused"];
    for (case, name, why) in [
        ("read_only", "input.type", "read-only"),
        ("out_of_range", "markers.stride", "outside 1..=1000"),
        ("wrong_type", "markers.stride", "wrong type"),
        ("undeclared", "markers.strid", "not declared"),
        ("atomic_one_bad", "tracks.max", "read-only"),
    ] {
        let r = &refused[case];
        let reason = r["reason"].as_str().unwrap();
        assert_eq!(r["successful"], false, "{case}: {r}");
        assert!(
            reason.contains(&format!("`{name}`")) && reason.contains(why),
            "{case}: {reason}"
        );
    }
    assert_eq!(out["after_refusals"], json!([3, "pose_array"]), "all or none");
    let last_refusal = refused["atomic_one_bad"]["at"].as_f64().unwrap();
    assert!(m.iter().any(|(t, _)| *t > last_refusal), "forecasts after the refusals");
    assert_eq!(
        out["param_events"],
        json!([{"changed": [["markers.stride", 3]]}, {"changed": [["diagnostics.period_s", 0.2]]}]),
        "/parameter_events tells the accepted changes, and only those"
    );
}

#[test]
fn rclpy_drives_the_lifecycle_outputs_stop_and_resume_and_link_frames_degrade_while_inactive() {
    let Some(python) = python_with(MODULES, INSTALL) else {
        return;
    };
    let mut twin = Twin(
        Command::new(env!("CARGO_BIN_EXE_a4mer_mcu_twin"))
            .args(["--robot", "0,0,1", "--speed", "1.0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(twin.0.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let twin_start_wall_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let device = first["device"].as_str().unwrap().to_string();
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<String>>());

    let dir = tempfile::tempdir().unwrap();
    let frames = write_frames(dir.path());
    let domain = domain(1);
    let device_param = format!("link.device:={device}");
    let node = NodeProcess::start(
        dir.path(),
        domain,
        &[
            "input.type:=pose_array",
            "lifecycle.autostart:=false",
            &device_param,
            // The person walks ~3.6 m from the capture origin; the robot base sits there.
            "link.base_from_forecast_xyz_rpy:=[-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]",
        ],
    );
    let out = peer(&python, "lifecycle", dir.path(), frames, domain);
    node.stop();
    drop(twin);
    let decisions: Vec<Value> = reader
        .join()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();

    assert_eq!(
        out["states"],
        json!(["unconfigured", "inactive", "active", "inactive", "active"])
    );
    for step in ["configure", "activate_1", "deactivate", "activate_2"] {
        assert_eq!(out[step]["success"], true, "{step}");
    }
    assert_eq!(out["not_available"]["success"], false, "deactivate while inactive");
    assert_eq!(out["available_in_active"], json!(["deactivate", "shutdown"]));
    let transitions: Vec<Value> = out["transitions"].as_array().unwrap().clone();
    let through = |from: &str, via: &str, to: &str| {
        transitions.windows(2).any(|w| {
            w[0][0] == from && w[0][1] == via && w[1][0] == via && w[1][1] == to && w[1][2] == "transition_success"
        })
    };
    assert!(through("unconfigured", "configuring", "inactive"), "{transitions:?}");
    assert!(through("active", "deactivating", "inactive"), "{transitions:?}");
    assert!(through("inactive", "activating", "active"), "{transitions:?}");

    // Forecasts per phase, by the stamps of the frames they answer: whenever they arrive,
    // none answers a frame sent while the node was not active. The last frames of a phase
    // are left out: up to the input queue (5 frames) may still wait when the next
    // transition is answered, and be taken after it.
    let phases = out["phases"].as_array().unwrap();
    let phase = |name: &str| phases.iter().find(|p| p["name"] == name).unwrap();
    let stamps = marker_stamps(&out);
    let forecast = |name: &str, queued_ns: i64| {
        let p = phase(name);
        let (a, b) = (p["stamp_from"].as_i64().unwrap(), p["stamp_to"].as_i64().unwrap());
        stamps.iter().filter(|s| (a..b - queued_ns).contains(s)).count()
    };
    const QUEUED_NS: i64 = 6 * 33_333_333;
    for quiet in ["unconfigured", "inactive_1", "inactive_2"] {
        assert_eq!(forecast(quiet, QUEUED_NS), 0, "no forecasts while {quiet}");
    }
    for live in ["active_1", "active_2"] {
        assert!(forecast(live, 0) >= 1, "forecasts while {live}: {stamps:?}");
    }

    // Link frames, on the peer's clock: the twin's clock is mapped onto it through two
    // wall-clock readings, which a loaded host can set apart; 0.5 s at each end of a phase
    // absorbs that and the samples still on the wire.
    let window = |name: &str| {
        let p = phase(name);
        (p["from"].as_f64().unwrap() + 0.5, p["to"].as_f64().unwrap() - 0.5)
    };
    let offset = twin_start_wall_s - out["wall_minus_monotonic_s"].as_f64().unwrap();
    let frames_in = |name: &str| -> Vec<&Value> {
        let (a, b) = window(name);
        decisions
            .iter()
            .filter(|d| d.get("people").is_some())
            .filter(|d| (a..b).contains(&(d["t_s"].as_f64().unwrap() + offset)))
            .collect()
    };
    assert!(frames_in("unconfigured").is_empty(), "no link before configure");
    for inactive in ["inactive_1", "inactive_2"] {
        let f = frames_in(inactive);
        assert!(!f.is_empty(), "{inactive}: no link frames");
        assert!(
            f.iter()
                .all(|d| d["health"] == "Degraded" && d["command"] == "fallback"),
            "{inactive}: every frame Degraded, the MCU on its fallback: {:?}",
            f.iter().find(|d| d["health"] != "Degraded")
        );
    }
    for active in ["active_1", "active_2"] {
        let running = frames_in(active)
            .into_iter()
            .filter(|d| d["health"] == "Nominal" && d["command"] == "run")
            .count();
        assert!(running >= 1, "{active}: no Nominal frame driving Run");
    }
    assert_eq!(decisions.iter().filter(|d| d.get("rejected").is_some()).count(), 0);
}
