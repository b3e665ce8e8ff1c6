//! `output.frame_id` against real peers:
//! - a Cyclone DDS peer (Python, IDL written from tf2_msgs and geometry_msgs) latches
//!   `base_link -> torso` on `/tf_static` before the node is discovered and streams a moving
//!   `torso -> camera` on `/tf`, then stops it; the node's forecasts come back in base_link,
//!   equal to the engine run in this process on the take placed in base_link in closed form
//!   (1e-6 m), held at the newest sample for `tf.max_age_s` and not published past it;
//! - with no transform at all, every link frame is Degraded (the MCU twin on a pty stops the
//!   robot), nothing is published, and `/diagnostics` names the frames; the node runs on.
//!
//! Peers are required in CI (`A4MER_REQUIRE_PEERS=1` or `CI=true`); elsewhere a missing
//! Python module skips the test with the reason.

mod common;
#[path = "common/demo.rs"]
mod demo;

use std::collections::HashMap;

use a4mer_ros::msg::{DiagnosticArray, DiagnosticStatus};
use a4mer_runtime::SMPL24;
use ros2_client::{NodeName, NodeOptions, Subscription};
use serde_json::{Value, json};

use common::tf_scene::{Points, expected_forecasts, place, tf_json};
use common::{McuTwin, NodeProcess, joints_json, mocap_frames_from, python_with, run_cyclone_peer};
use demo::node_demo;

/// A DDS domain no other test on this host uses at the same time.
fn domain(offset: u32) -> u16 {
    (205 + (std::process::id() % 13) * 2 + offset) as u16
}

#[test]
fn cyclone_tf_static_and_moving_transforms_place_the_forecasts_in_base_link() {
    let Some(python) = python_with("cyclonedds", "pip install cyclonedds") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = 120;
    let frames = mocap_frames_from(300, n);
    let t0 = frames[0].stamp_ns;
    // The moving transform stops after frame 95; the node holds its newest sample for
    // 0.1 s (tf.max_age_s), then the frames are stale.
    let stop_after = frames[95].stamp_ns;
    let max_age_ns = 100_000_000;
    let placed = place(&frames, t0, stop_after, max_age_ns);
    let n_placed = placed.iter().flatten().count();
    assert!(
        (97..=n - 10).contains(&n_placed),
        "{n_placed} placed: some held, some stale"
    );
    let expected: HashMap<i64, Option<Points>> = expected_forecasts(&placed).into_iter().collect();
    let warm = expected.values().filter(|p| p.is_some()).count();
    let frames_path = dir.path().join("frames.json");
    std::fs::write(
        &frames_path,
        json!({
            "stamps_ns": frames.iter().map(|f| f.stamp_ns).collect::<Vec<_>>(),
            "joint_names": SMPL24,
            "frame_id": "camera",
            "people": {"3": frames.iter().map(joints_json).collect::<Vec<_>>()},
            "tf": tf_json(t0, frames[n - 1].stamp_ns, stop_after, 150_000_000),
            "expect_forecasts": warm,
            "expect_motifs": n_placed,
        })
        .to_string(),
    )
    .unwrap();
    let domain = domain(0);
    // A deep input queue: a loaded host may stall the node for longer than the default five
    // frames, and a lost frame would part it from the closed form.
    let node = NodeProcess::start(
        dir.path(),
        domain,
        &["output.frame_id:=base_link", "input.queue_depth:=100"],
    );
    let out = run_cyclone_peer(&python, &frames_path, domain);
    let stderr = node.stop();
    assert!(stderr.contains(&format!("stopped after {n} messages")), "{stderr}");

    let forecasts = out["forecasts"].as_array().unwrap();
    let motifs = out["motifs"].as_array().unwrap();
    assert_eq!(motifs.len(), n_placed, "a MotifAnticipation per placed frame only");
    assert_eq!(forecasts.len(), warm, "a PoseForecast per placed frame after warm-up");
    let mut worst = 0f64;
    for f in forecasts {
        let stamp = f["stamp_ns"].as_i64().unwrap();
        assert_eq!(f["frame_id"], "base_link");
        let want = expected
            .get(&stamp)
            .and_then(|p| p.as_ref())
            .unwrap_or_else(|| panic!("a forecast for {stamp}, which was not to be placed"));
        let got = f["points"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            match w {
                Some(w) => {
                    for c in 0..3 {
                        worst = worst.max((g[c].as_f64().unwrap() - w[c] as f64).abs());
                    }
                }
                None => assert_eq!(g, &json!([null, null, null])),
            }
        }
    }
    eprintln!(
        "{} forecasts in base_link, worst {worst:e} m from the closed form; {} frames stale",
        forecasts.len(),
        n - n_placed
    );
    assert!(
        worst < 1e-6,
        "node vs in-process engine on the closed-form placement: {worst} m"
    );
}

#[test]
fn no_transform_means_degraded_link_frames_no_forecasts_and_a_diagnostic() {
    let twin = McuTwin::start();
    let domain = domain(1);
    let env = common::loopback_env(domain);
    let ctx = a4mer_node::dds::context(&env, &a4mer_ros::security::SecurityPlan::OFF).unwrap();
    let mut listener = ctx
        .new_node(NodeName::new("/", "tf_test_listener").unwrap(), NodeOptions::new())
        .unwrap();
    let diagnostics: Subscription<DiagnosticArray> =
        a4mer_node::dds::subscription(&mut listener, "/diagnostics", &a4mer_node::dds::output_qos(100)).unwrap();
    let args = [
        format!("link.device:={}", twin.device),
        "output.frame_id:=base_link".to_string(),
        "diagnostics.period_s:=0.5".to_string(),
    ];
    // Poses in `world`, and nobody says where `world` is. The node's reports are taken
    // while it runs (a reader may drop a writer's samples once that writer is gone).
    let (mut transforms, mut names): (Vec<DiagnosticStatus>, Vec<String>) = (Vec::new(), Vec::new());
    let mut take_diagnostics = || {
        while let Ok(Some((d, _))) = diagnostics.take() {
            names.extend(d.status.iter().map(|s| s.name.clone()));
            transforms.extend(d.status.into_iter().filter(|s| s.name == "/a4mer_node: transforms"));
        }
    };
    let summary = a4mer_node::demo::run(node_demo(vec![mocap_frames_from(900, 120)], &args, env), &mut |_| {
        take_diagnostics()
    })
    .expect("the node runs on");
    take_diagnostics();
    let decisions = twin.decisions();

    assert_eq!(summary.forecasts_received, 0);
    assert_eq!(summary.motif_messages_received, 0);
    let accepted: Vec<&Value> = decisions.iter().filter(|d| d.get("people").is_some()).collect();
    assert!(!accepted.is_empty(), "no link frames");
    for d in &accepted {
        // Nobody could ever be placed: no people and pose data past any deadline, so the
        // MCU stops rather than reading an empty scene.
        assert_eq!(
            (&d["health"], &d["people"], &d["command"]),
            (&json!("Degraded"), &json!(0), &json!("protective_stop")),
            "{d}"
        );
    }
    assert_eq!(decisions.iter().filter(|d| d.get("rejected").is_some()).count(), 0);

    eprintln!("diagnostics seen: {names:?}");
    let warn = transforms
        .iter()
        .find(|s| s.level == DiagnosticStatus::WARN)
        .unwrap_or_else(|| panic!("a WARN transforms status: {transforms:?}"));
    assert!(
        warn.message.contains("`world`") && warn.message.contains("`base_link`"),
        "{}",
        warn.message
    );
    let unplaced: u64 = warn
        .values
        .iter()
        .find(|v| v.key == "unplaced_messages")
        .map(|v| v.value.parse().unwrap())
        .unwrap();
    assert!(unplaced > 0);
}
