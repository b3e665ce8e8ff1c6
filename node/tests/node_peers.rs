//! `a4mer_node` as its own process against real ROS 2 peers on loopback DDS:
//! - rclpy (Fast DDS): `PoseArray` in, `MarkerArray` and `/diagnostics` out, then bad inputs
//!   over the wire (wrong joint count, NaN joints, stamps going backwards, a 10x burst, a
//!   publisher that vanishes and returns) while the node keeps running and reports them;
//! - Cyclone DDS (Python, IDL written from the `.msg` files): two people as
//!   `Skeleton3DArray` in, `PoseForecast` and `MotifAnticipation` out, compared with the
//!   engine run in this process on the same frames.
//!
//! Peers are required in CI (`A4MER_REQUIRE_PEERS=1` or `CI=true`); elsewhere a missing
//! Python module skips the test with the reason.

mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use a4mer_ros::model::LoadedModel;
use a4mer_runtime::SMPL24;
use a4mer_runtime::stream::{Engine, EngineConfig, HealthState};
use serde_json::{Value, json};

use common::{
    NodeProcess, manifest, mocap_frames_from, people_frames_json, python_with, rclpy_loopback_env, run_cyclone_peer,
    run_peer, two_people, write_peer_frames,
};

/// A DDS domain no other test on this host uses at the same time.
fn domain(offset: u32) -> u16 {
    (120 + (std::process::id() % 40) * 2 + offset) as u16
}

fn diag_value<'a>(d: &'a Value, key: &str) -> &'a str {
    d["values"][key].as_str().unwrap_or("")
}

fn diag_u64(d: &Value, key: &str) -> u64 {
    diag_value(d, key).parse().unwrap_or(0)
}

#[test]
fn rclpy_pose_array_in_markers_and_diagnostics_out_bad_inputs_reported() {
    let Some(python) = python_with(
        "rclpy, geometry_msgs.msg, visualization_msgs.msg, diagnostic_msgs.msg",
        "pip install 'ros-jazzy-rclpy[fastrtps]' ros-jazzy-geometry-msgs ros-jazzy-visualization-msgs ros-jazzy-diagnostic-msgs",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frames = mocap_frames_from(0, 300);
    let frames_path = write_peer_frames(dir.path(), &frames);
    let domain = domain(0);
    let env = rclpy_loopback_env(dir.path(), domain);
    let node = NodeProcess::start(
        dir.path(),
        domain,
        &[
            "input.type:=pose_array",
            "diagnostics.period_s:=0.5",
            "markers.stride:=10",
        ],
    );
    let out = run_peer(
        &python,
        "rclpy_peer.py",
        &[frames_path.display().to_string(), "/a4mer_node".into()],
        &env,
    );
    let stderr = node.stop();

    // What each forecast answers, by its stamp (the model's 30 Hz grid frame of its input):
    // how many arrive is the load's to decide (the input is best effort), but they come in
    // input order and from every part of the run.
    let stamps: Vec<i64> = out["marker_stamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    eprintln!("forecast markers per phase: {}", out["markers"]);
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "forecasts out of input order: {stamps:?}"
    );
    let stamp = |k: usize| frames[k].stamp_ns;
    let answering = |from: i64, to: i64| stamps.iter().filter(|s| (from..to).contains(*s)).count();
    // 120 frames streamed, the first 30 warming up.
    assert!(
        answering(stamp(25), stamp(120)) >= 1,
        "forecasts while streaming: {stamps:?}"
    );
    assert_eq!(
        answering(stamp(0), stamp(25)),
        0,
        "forecasts during the warm-up: {stamps:?}"
    );
    // The 10x burst continues the stream from frame 125, 3.3 ms apart: taken and used.
    let burst = stamp(125);
    assert!(
        answering(burst, burst + 300 * 3_333_333) >= 1,
        "forecasts from the 10x burst: {stamps:?}"
    );
    // The returning publisher starts a new stream at frame 200 (after the gap): its
    // forecasts follow a new warm-up, not the old stream.
    let returned: Vec<i64> = stamps.iter().copied().filter(|s| *s >= stamp(200)).collect();
    assert!(
        !returned.is_empty(),
        "forecasts after the publisher came back: {}",
        out["markers"]
    );
    assert!(
        returned[0] >= stamp(200 + 25),
        "the first forecast after the return answers frame {}: no warm-up",
        frames
            .iter()
            .position(|f| f.stamp_ns == returned[0])
            .unwrap_or(usize::MAX)
    );
    assert_eq!(out["marker_namespaces"], json!(["a4mer/forecast/0"]));
    // What a viewer shows of the person: the observed skeleton (bones between observed
    // joints, a LINE_LIST) and the motif text above it, in the input's frame.
    let person = &out["person_markers"];
    let bones = &person["a4mer/observed/0"];
    assert_eq!(bones[0], 5, "{person}");
    let points = bones[1].as_u64().unwrap();
    assert!(points > 0 && points.is_multiple_of(2) && points <= 2 * 23, "{person}");
    assert_eq!(bones[3], "world", "{person}");
    let text = &person["a4mer/motif/0"];
    assert_eq!(text[0], 9, "{person}");
    let text = text[2].as_str().unwrap();
    assert!(text.starts_with("person 0: ") && text.contains(" · "), "{text}");
    // Measured, not asserted: the time is the host's (the warm-up is checked above).
    if let Some(recovery_s) = out["recovery_s"].as_f64() {
        eprintln!("publisher return -> first forecast marker: {recovery_s:.2} s");
    }

    let diags = out["diagnostics"].as_array().unwrap();
    let normal = diags
        .iter()
        .rfind(|d| d["phase"] == "normal")
        .expect("diagnostics while streaming");
    assert_eq!(diag_value(normal, "input_type"), "geometry_msgs/msg/PoseArray");
    // Reported, a positive number while input flows; its value is the host's.
    let rate: f64 = diag_value(normal, "input_rate_hz").parse().unwrap();
    eprintln!("input rate while streaming at 30 Hz: {rate} Hz");
    assert!(rate.is_finite() && rate > 0.0, "input rate {rate} Hz while streaming");
    // Measured from frames the node forecast: a number (not "n/a", and "NaN" parses too),
    // ordered with the median and the maximum; how large is the host's.
    let latency = |key: &str| -> f64 {
        let v = diag_value(normal, key);
        let ms: f64 = v.parse().unwrap_or_else(|_| panic!("{key}: {v:?} in {normal}"));
        assert!(ms.is_finite() && ms > 0.0, "{key}: {ms} in {normal}");
        ms
    };
    let (p50, p99, max) = (
        latency("latency_p50_ms"),
        latency("latency_p99_ms"),
        latency("latency_max_ms"),
    );
    assert!(
        p50 <= p99 && p99 <= max,
        "latency p50 {p50} ms, p99 {p99} ms, max {max} ms"
    );
    eprintln!("latency while streaming: p50 {p50} ms, p99 {p99} ms, max {max} ms");
    assert!(
        diags
            .iter()
            .any(|d| d["level"] == 1 && d["message"].as_str().unwrap_or("").contains("bad inputs")),
        "a WARN naming the bad inputs"
    );
    // Each bad message counted, as what it is: at least one of each kind (the input is best
    // effort) and no more than were sent (no good frame misread).
    let last = diags.last().unwrap();
    let counted = |key: &str| diag_u64(last, key);
    assert!(
        (1..=3).contains(&counted("unusable_messages")),
        "3 with the wrong joint count: {last}"
    );
    assert!(
        diag_value(last, "last_error").contains("poses") || counted("rejected_frames") > 0,
        "{last}"
    );
    assert!(
        (1..=2).contains(&(counted("rejected_frames.no_pelvis") + counted("rejected_frames.too_few_valid_joints"))),
        "2 all-NaN frames: {last}"
    );
    assert!(
        (1..=3).contains(&counted("rejected_frames.stamp_backwards")),
        "3 stamps backwards: {last}"
    );
    assert!(counted("stream_resets") >= 1, "the 1.5 s gap resets the stream: {last}");
    let burst_rate = diags
        .iter()
        .filter(|d| d["phase"] == "bad")
        .filter_map(|d| diag_value(d, "input_rate_hz").parse::<f64>().ok())
        .fold(0.0, f64::max);
    eprintln!("input rate during the 10x burst: {burst_rate} Hz");
    assert!(stderr.contains("stopped after"), "{stderr}");
}

#[test]
fn cyclone_skeletons_in_forecasts_and_motifs_out_match_the_engine() {
    let Some(python) = python_with("cyclonedds", "pip install cyclonedds") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = 90;
    // Two people: the take from its start, and a later part of it shifted 2 m to the left.
    let (a, b) = two_people(400, n);
    // The same engine, in this process, on the same frames.
    let model = LoadedModel::load(None).unwrap();
    // (person, stamp) -> (forecast joints, None where unobserved; motif now; health; the
    // next-motif ids published)
    type Expected = (Vec<Option<[f32; 3]>>, Option<i32>, u8, Vec<i64>);
    let mut expected: HashMap<(u32, i64), Expected> = HashMap::new();
    for (id, frames) in [(3u32, &a), (8, &b)] {
        let mut engine = Engine::new(Arc::clone(&model.stream), EngineConfig::default()).unwrap();
        for f in frames.iter() {
            let an = engine.push(f).unwrap();
            let points = an
                .forecast
                .iter()
                .flat_map(|s| (0..24).map(move |j| an.valid[j].then_some(s.joints_in_world[j])))
                .collect();
            let health = match an.health.state {
                HealthState::Ok => 0,
                HealthState::Warming => 1,
                HealthState::Degraded => 2,
            };
            let next: Vec<i64> = an.motif_next.top.iter().map(|(m, _)| i64::from(*m)).collect();
            expected.insert(
                (id, f.stamp_ns),
                (points, an.motif_now.map(|m| m.id as i32), health, next),
            );
        }
    }

    let warm = expected
        .values()
        .filter(|(p, _, h, _)| *h != 1 && !p.is_empty())
        .count();
    assert!(warm >= 2 * (n - 31), "{warm} warm frames");
    let frames_path = dir.path().join("frames.json");
    let mut frames = people_frames_json(&[(3, &a), (8, &b)]);
    frames.insert("expect_forecasts".into(), json!(warm));
    frames.insert("expect_motifs".into(), json!(2 * n));
    std::fs::write(&frames_path, Value::Object(frames).to_string()).unwrap();
    let domain = domain(1);
    // A deep input queue: a loaded host may stall the node for longer than the default five
    // frames, and a frame lost on the best-effort input would part it from the engine here.
    let node = NodeProcess::start(dir.path(), domain, &["input.queue_depth:=100"]);
    let out = run_cyclone_peer(&python, &frames_path, domain);
    let stderr = node.stop();
    assert!(stderr.contains(&format!("stopped after {n} messages")), "{stderr}");

    let forecasts = out["forecasts"].as_array().unwrap();
    let motifs = out["motifs"].as_array().unwrap();
    assert_eq!(motifs.len(), 2 * n, "a MotifAnticipation per person per frame");
    assert_eq!(
        forecasts.len(),
        warm,
        "a PoseForecast per person per frame after warm-up"
    );
    let mut worst = 0f64;
    for f in forecasts {
        let id = f["person_id"].as_u64().unwrap() as u32;
        let stamp = f["stamp_ns"].as_i64().unwrap();
        assert_eq!(f["frame_id"], "world", "the input's frame, without output.frame_id");
        assert_eq!(f["num_steps"], 30);
        assert_eq!(f["step_period_ns"], 33_333_333);
        assert_eq!(f["joint_names"], json!(SMPL24));
        assert_eq!(f["spread_m"].as_array().unwrap().len(), 30);
        assert_eq!(
            f["guard_sources"],
            json!(["model", "zero_velocity", "constant_velocity", "damped_velocity"])
        );
        assert_eq!(f["guard_horizons_s"].as_array().unwrap().len(), 5);
        assert_eq!(f["model_losing"].as_array().unwrap().len(), 5);
        let weights: Vec<f64> = f["guard_weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_f64().unwrap())
            .collect();
        assert_eq!(weights.len(), 20);
        for h in weights.chunks(4) {
            assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-5, "guard weights {h:?}");
        }
        let (want, _, _, _) = &expected[&(id, stamp)];
        let got = f["points"].as_array().unwrap();
        assert_eq!(got.len(), 30 * 24);
        assert_eq!(want.len(), got.len());
        let (mut g_seen, mut w_seen) = (Vec::new(), Vec::new());
        for (g, w) in got.iter().zip(want) {
            match w {
                Some(w) => {
                    for c in 0..3 {
                        g_seen.push(
                            g[c].as_f64()
                                .unwrap_or_else(|| panic!("{g}: a seen joint's coordinate")),
                        );
                        w_seen.push(w[c] as f64);
                    }
                }
                None => assert_eq!(g, &json!([null, null, null]), "an unobserved joint is NaN"),
            }
        }
        worst = worst.max(compare::diff(&format!("person {id} at {stamp}"), g_seen, w_seen).abs);
    }
    assert!(worst < 1e-6, "node vs in-process engine: {worst} m");
    for m in motifs {
        let id = m["person_id"].as_u64().unwrap() as u32;
        let (_, motif, health, next) = &expected[&(id, m["stamp_ns"].as_i64().unwrap())];
        assert_eq!(m["motif_now"].as_i64().unwrap() as i32, motif.unwrap_or(-1));
        assert_eq!(m["health"].as_u64().unwrap() as u8, *health);
        // The published candidates, in order: the engine's top-k, or the one "it stays"
        // entry a model without an anticipation prior publishes.
        let ids: Vec<i64> = m["next_motif_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(&ids, next, "next motif ids");
    }
}

#[test]
fn use_sim_time_stamps_diagnostics_with_clock_from_rclpy() {
    let Some(python) = python_with(
        "rclpy, rosgraph_msgs.msg, diagnostic_msgs.msg",
        "pip install 'ros-jazzy-rclpy[fastrtps]' ros-jazzy-diagnostic-msgs",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let domain = domain(2);
    let env = rclpy_loopback_env(dir.path(), domain);
    let node = NodeProcess::start(
        dir.path(),
        domain,
        &["use_sim_time:=true", "diagnostics.period_s:=0.25"],
    );
    let sim_start_ns: i64 = 1_000_000_000_000;
    let out = run_peer(&python, "rclpy_clock.py", &[sim_start_ns.to_string()], &env);
    node.stop();
    let stamps: Vec<i64> = out["stamps_ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let at: Vec<f64> = out["received_at_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (jump_at_s, end_s) = (out["jump_at_s"].as_f64().unwrap(), out["end_s"].as_f64().unwrap());
    // Simulated time runs at half speed from 1000 s, then from 100 s further back.
    let sim = |t_s: f64| (t_s * 0.5e9) as i64;
    let jump = sim_start_ns - 100_000_000_000;
    let first_jumped = stamps
        .iter()
        .position(|s| *s != 0 && *s < sim_start_ns)
        .unwrap_or_else(|| panic!("no report in the jumped time: {stamps:?}"));
    eprintln!(
        "/clock jump back -> first report in the new time: {:.2} s",
        at[first_jumped] - jump_at_s
    );
    // Before the jump: simulated time from 1000 s (never the wall clock, 0 before /clock).
    let (before, after) = stamps.split_at(first_jumped);
    assert!(before.iter().filter(|s| **s >= sim_start_ns).count() >= 5, "{stamps:?}");
    assert!(
        before
            .iter()
            .all(|s| *s == 0 || (sim_start_ns..=sim_start_ns + sim(jump_at_s)).contains(s)),
        "{stamps:?}"
    );
    // Once /clock jumped 100 s back, the node follows it, keeps reporting and never goes
    // back to the old time.
    assert!(after.len() >= 5, "reports after the jump: {after:?}");
    assert!(
        after
            .iter()
            .all(|s| (jump + sim(jump_at_s)..=jump + sim(end_s) + 1).contains(s)),
        "the jumped clock: {after:?}"
    );
}

#[test]
fn a_corrupt_or_truncated_model_at_restart_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(manifest().join("../models/a4mer-small-int8.a4m")).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    for (name, bytes, why) in [
        ("flipped.a4m", flipped, "SHA-256"),
        ("truncated.a4m", good[..good.len() / 3].to_vec(), ""),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_a4mer_node"))
            .args(["--ros-args", "-p", &format!("model:={}", path.display())])
            .env("ROS_LOCALHOST_ONLY", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("parameter `model`") && err.contains(name) && err.contains(why),
            "{name}: {err}"
        );
        // Liveness: refusing takes a read and a hash; only a start that hangs takes a minute.
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{name}: refused in {:?}",
            start.elapsed()
        );
    }
}
