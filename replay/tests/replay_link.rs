//! The safety audit of a bag written by `rosbags` in which the person nearest the robot is
//! partly hidden, drops out of view, comes back under a new id and finally leaves: every
//! one of those moments is an event in the audit, held people show on the SSM timeline and
//! in its plot, and the person is on the link throughout.

#[path = "../../node/tests/common/mod.rs"]
mod common;

use std::path::Path;

use a4mer_replay::{ReplayOptions, replay, report};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::ros_args::Parameters;

use common::{mocap_frames_from, python_with_rosbags, run_py, workspace};

/// Who is in view at frame `k` of 300, as (id, which joints are seen).
fn near_person(k: usize) -> Option<(u32, &'static [usize])> {
    const PELVIS_AND_HIPS: &[usize] = &[0, 1, 2];
    const ALL: &[usize] = &[];
    match k {
        60..120 => Some((2, PELVIS_AND_HIPS)),
        150..160 => None,
        200..250 => Some((9, ALL)),
        250.. => None,
        _ => Some((2, ALL)),
    }
}

#[test]
fn a_partly_hidden_vanishing_and_returning_person_is_audited_event_by_event() {
    let Some(python) = python_with_rosbags() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames_from(900, 300);
    let doc = serde_json::json!({
        "frame_id": "mocap",
        "frames": frames.iter().enumerate().map(|(k, f)| {
            let mut far = f.joints_in_world;
            for j in far.iter_mut() {
                j[1] += 3.0;
            }
            let mut bodies = vec![serde_json::json!({"id": 1, "joints": far, "valid": f.valid})];
            if let Some((id, only)) = near_person(k) {
                let valid: Vec<bool> = (0..24).map(|j| f.valid[j] && (only.is_empty() || only.contains(&j))).collect();
                bodies.push(serde_json::json!({"id": id, "joints": f.joints_in_world, "valid": valid}));
            }
            serde_json::json!({"stamp_ns": f.stamp_ns, "bodies": bodies})
        }).collect::<Vec<_>>(),
    });
    let json_path = tmp.path().join("frames.json");
    std::fs::write(&json_path, doc.to_string()).unwrap();
    let bag = tmp.path().join("cell");
    run_py(
        &python,
        "rosbags_write.py",
        &[&json_path, &workspace().join("ros/msgs/msg"), &bag, Path::new("mcap")],
    );
    let opts = ReplayOptions {
        topic: Some("/poses".into()),
        safety: Some(a4mer_replay::SafetySetup {
            // The person walks ~3.6 m from the capture origin; the robot base sits there.
            base_from_forecast: a4mer_ros::link::RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]),
            robot: a4mer_firmware::ssm::RobotState {
                position_in_base_m: [0.0, 0.0, 1.0],
                programmed_speed_mps: 1.0,
            },
            monitor: a4mer_firmware::monitor::MonitorConfig::default(),
        }),
        model: LoadedModel::load(None).unwrap(),
        config: NodeConfig::from_parameters(&Parameters::default()).unwrap(),
        params: Parameters::default(),
        out_dir: None,
    };
    let r = replay(&bag, &opts, &mut |_, _| {}).unwrap();
    let events = |kind: &str, id: u32| -> Vec<String> {
        r.events
            .iter()
            .filter(|e| e.kind == kind && e.person_id == Some(id))
            .map(|e| format!("{:.2} s: {}", e.t_s, e.detail))
            .collect()
    };
    for e in r.events.iter().filter(|e| e.kind.starts_with("link_")) {
        println!("{:>6.2} s  person {:?}  {}: {}", e.t_s, e.person_id, e.kind, e.detail);
    }
    // Hips and pelvis only: the engine refuses them, the MCU still gets them.
    let observed_only = events("link_observed_only", 2);
    assert_eq!(observed_only.len(), 1, "one event for the 2 s run: {observed_only:?}");
    assert!(observed_only[0].contains("engine refused"), "{observed_only:?}");
    // Ten frames out of view: held, then back as themselves.
    let held = events("link_hold", 2);
    assert_eq!(held.len(), 1, "{held:?}");
    let ends = events("link_hold_end", 2);
    assert!(ends.iter().any(|e| e.contains("came back as person 2")), "{ends:?}");
    // A new id where person 2 was: the tracker swapped ids, no hold event.
    assert!(ends.iter().any(|e| e.contains("came back as person 9")), "{ends:?}");
    // Gone for good: held for link.hold_s, then released.
    assert_eq!(events("link_hold", 9).len(), 1);
    let released = events("link_hold_end", 9);
    assert!(
        released.len() == 1 && released[0].contains("did not come back"),
        "{released:?}"
    );
    // On the SSM timeline while out of view (5.0-5.3 s and 8.3-9.3 s), never after release.
    let s = r.ssm.as_ref().expect("ssm summary");
    let held_at = |t: f64| {
        s.timeline
            .iter()
            .find(|p| (p.t_s - t).abs() < 0.05)
            .map(|p| p.people_held)
    };
    assert_eq!(held_at(5.1), Some(1));
    assert_eq!(held_at(8.8), Some(1));
    assert!(s.timeline.iter().filter(|p| p.t_s > 9.5).all(|p| p.people_held == 0));
    assert!(report::html(&r).contains("people held out of view"));
}
