//! The bad-input corpus (`tests/bad_inputs/cases.toml`) replayed against the engine (through
//! the node's adapter and track table), `a4mer replay`, and the node over real DDS. Every
//! case must come to the outcome the corpus names, in all three, and the good frames after
//! it must be used again.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use a4mer_ros::adapters::{InputAdapter, InputType, skeleton_array};
use a4mer_ros::bag::{BagWriter, QosProfile};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::dds::{context, input_qos, output_qos, publisher, subscription};
use a4mer_ros::msg::{DiagnosticArray, Point, Skeleton3DArray, Time};
use a4mer_ros::node::LoadedModel;
use a4mer_ros::node::diagnostics::stream_error_kind;
use a4mer_ros::replay::{ReplayOptions, replay};
use a4mer_ros::ros_args::Parameters;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::{Engine, EngineConfig, Tracks, TracksConfig};
use ros2_client::{NodeName, NodeOptions};
use serde::Deserialize;

use common::{manifest, mocap_frames_from, sigterm, wait_exit};

const PREFIX: usize = 40;
const AFTER: usize = 10;
const YEAR_NS: i64 = 365 * 24 * 3600 * 1_000_000_000;

#[derive(Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Deserialize, Clone, Debug)]
struct Case {
    name: String,
    kind: String,
    expect: String,
    joints: Option<toml::Value>,
    offset: Option<[f64; 3]>,
    stamp: Option<String>,
    bytes: Option<usize>,
    count: Option<u32>,
    #[serde(default)]
    transport_may_drop: bool,
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(manifest().join("tests/bad_inputs/cases.toml")).unwrap();
    toml::from_str::<Corpus>(&text).unwrap().case
}

/// The messages of one case for person `id`: the warm prefix, the bad message, the good
/// frames after it. Also the index of the bad message.
fn messages(case: &Case, id: u32, t0_ns: i64) -> (Vec<Skeleton3DArray>, usize) {
    let frames: Vec<PoseFrame> = mocap_frames_from(0, PREFIX + 1 + AFTER)
        .into_iter()
        .map(|f| PoseFrame {
            stamp_ns: f.stamp_ns - 1_700_000_000_000_000_000 + t0_ns,
            ..f
        })
        .collect();
    let good = |f: &PoseFrame| skeleton_array(f.stamp_ns, "world", &[(id, f)]).unwrap();
    let mut out: Vec<Skeleton3DArray> = frames[..PREFIX].iter().map(good).collect();
    let f = frames[PREFIX];
    let mut bad = good(&f);
    let body = &mut bad.bodies[0];
    let set_all = |body: &mut a4mer_ros::msg::Skeleton3D, v: f64, which: &dyn Fn(usize) -> bool| {
        for (j, p) in body.joints.iter_mut().enumerate() {
            if which(j) {
                *p = Point { x: v, y: v, z: v };
            }
        }
    };
    match case.kind.as_str() {
        "nan_joints" | "inf_joints" => {
            let v = if case.kind == "nan_joints" {
                f64::NAN
            } else {
                f64::INFINITY
            };
            match &case.joints {
                Some(toml::Value::Array(list)) => {
                    let list: Vec<usize> = list.iter().map(|j| j.as_integer().unwrap() as usize).collect();
                    set_all(body, v, &|j| list.contains(&j));
                }
                _ => set_all(body, v, &|_| true),
            }
        }
        "all_joints_identical" => {
            let p = body.joints[0];
            body.joints.iter_mut().for_each(|q| *q = p);
        }
        "offset_m" => {
            let o = case.offset.unwrap();
            for p in &mut body.joints {
                p.x += o[0];
                p.y += o[1];
                p.z += o[2];
            }
        }
        "truncate_joints" => {
            let n = case.joints.as_ref().and_then(|v| v.as_integer()).unwrap() as usize;
            body.joints.truncate(n);
            if n == 0 {
                body.joint_names.clear();
                body.confidences.clear();
            }
        }
        "no_bodies" => bad.bodies.clear(),
        "stamp" => {
            let last = frames[PREFIX - 1].stamp_ns;
            let ns = match case.stamp.as_deref().unwrap() {
                "zero" => 0,
                "back_100ms" => last - 100_000_000,
                "duplicate" => last,
                "ahead_10y" => f.stamp_ns + 10 * YEAR_NS,
                other => panic!("stamp {other}"),
            };
            bad.header.stamp = Time::from_ns(ns).unwrap();
        }
        "huge_body" => {
            let n = case.bytes.unwrap() / 24;
            body.joints = vec![Point { x: 1.0, y: 1.0, z: 1.0 }; n];
        }
        "people" => {
            let n = case.count.unwrap();
            let bodies: Vec<_> = (0..n).map(|k| (id + k, &f)).collect();
            bad = skeleton_array(f.stamp_ns, "world", &bodies).unwrap();
        }
        other => panic!("{}: unknown kind {other}", case.name),
    }
    out.push(bad);
    out.extend(frames[PREFIX + 1..].iter().map(good));
    (out, PREFIX)
}

/// What the node's code path makes of one message for person `id`.
fn outcome(
    adapter: &mut InputAdapter,
    tracks: &mut Tracks<Engine>,
    msg: &Skeleton3DArray,
    id: u32,
    seen: &mut std::collections::HashSet<u32>,
) -> Vec<String> {
    let adapted = match adapter.adapt_cdr(&a4mer_ros::msg::encode(msg).unwrap()) {
        Ok(a) => a,
        Err(_) => return vec!["unusable_message".into()],
    };
    let mut out: Vec<String> = adapted.rejected.iter().map(|_| "rejected_body".to_string()).collect();
    if adapted.people.is_empty() && out.is_empty() {
        out.push("no_people".into());
    }
    for p in &adapted.people {
        let Some(engine) = tracks.get_or_insert(u64::from(p.id), p.frame.stamp_ns) else {
            out.push("person_not_followed".into());
            continue;
        };
        let resets = engine.health().resets;
        // A person seen before with a fresh engine: the track was evicted (a stamp jump
        // beyond the idle timeout) and begun anew, which is a restart too.
        let fresh = engine.latest().is_none() && !seen.insert(p.id);
        match engine.push(&p.frame) {
            Ok(a) if a.health.resets > resets || fresh => out.push("reset".into()),
            Ok(_) if p.id == id => out.push("accepted".into()),
            Ok(_) => {}
            Err(e) => out.push(stream_error_kind(&e).into()),
        }
    }
    out
}

fn model() -> LoadedModel {
    LoadedModel::load(None).unwrap()
}

#[test]
fn the_engine_path_gives_every_case_its_expected_outcome_and_recovers() {
    let model = model();
    for (i, case) in corpus().iter().enumerate() {
        let id = 1 + 1000 * i as u32;
        let (msgs, bad) = messages(case, id, 1_700_000_000_000_000_000);
        let proto = Engine::new(Arc::clone(&model.stream), EngineConfig::default()).unwrap();
        let mut tracks = Tracks::new(TracksConfig::default(), move || proto.clone());
        let mut adapter = InputAdapter::new(InputType::Skeleton3DArray, &[], None).unwrap();
        let mut last = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (k, m) in msgs.iter().enumerate() {
            let got = outcome(&mut adapter, &mut tracks, m, id, &mut seen);
            last = got.clone();
            if k == bad {
                assert!(
                    got.contains(&case.expect),
                    "{}: expected {}, got {got:?}",
                    case.name,
                    case.expect
                );
            } else if k > bad + 1 {
                // The good frames after it are used again (after at most one restart).
                assert!(
                    got == ["accepted"] || got == ["reset"],
                    "{}: frame {} after the bad one: {got:?}",
                    case.name,
                    k - bad
                );
            }
        }
        // By the last good frame the stream runs on without restarting.
        assert_eq!(last, ["accepted"], "{}", case.name);
    }
}

#[test]
fn replay_lists_every_case_as_its_expected_event_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model();
    for (i, case) in corpus().iter().enumerate() {
        let id = 1 + 1000 * i as u32;
        let t0 = 1_700_000_000_000_000_000;
        let (msgs, bad) = messages(case, id, t0);
        let bag = tmp.path().join(&case.name);
        let mut w = BagWriter::create(&bag).unwrap();
        let topic = w
            .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
            .unwrap();
        for (k, m) in msgs.iter().enumerate() {
            w.write(topic, t0 + k as i64 * 33_333_333, m).unwrap();
        }
        w.finish().unwrap();
        let r = replay(
            &bag,
            &ReplayOptions {
                topic: None,
                safety: None,
                model: model.clone(),
                config: NodeConfig::from_parameters(&Parameters::default()).unwrap(),
                params: Parameters::default(),
                out_dir: None,
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(r.stopped_at, None, "{}", case.name);
        assert_eq!(r.messages as usize, msgs.len(), "{}", case.name);
        let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
        let want: &[&str] = match case.expect.as_str() {
            "accepted" | "no_people" => &[],
            // A second warm-up: the stream restarted (a reset, or the track begun anew).
            "reset" => &["warming_up"],
            other => &[other],
        };
        if case.expect == "reset" {
            assert!(
                kinds.iter().filter(|k| **k == "warming_up").count() >= 2,
                "{}: {kinds:?}",
                case.name
            );
        }
        for k in want {
            assert!(kinds.contains(k), "{}: no {k} event in {kinds:?}", case.name);
        }
        if want.is_empty() {
            let bad_kinds: Vec<&&str> = kinds
                .iter()
                .filter(|k| !["motif_transition", "warming_up", "ok", "gap"].contains(*k))
                .collect();
            assert!(bad_kinds.is_empty(), "{}: {bad_kinds:?}", case.name);
        }
        assert!(r.forecasts > 0, "{}", case.name);
        let bad_t_s = (bad as f64 * 33_333_333.0) / 1e9;
        // A rejected stamp is listed at that stamp; the others where they were sent.
        if let Some(k) = want.first().filter(|_| case.kind != "stamp") {
            let at = r
                .events
                .iter()
                .find(|e| e.kind == *k)
                .map(|e| e.t_s)
                .unwrap_or(f64::NAN);
            assert!(
                (at - bad_t_s).abs() < 0.1 || case.expect == "reset",
                "{}: {k} at {at} s, sent at {bad_t_s} s",
                case.name
            );
        }
    }
}

/// The node's `/diagnostics` values of its anticipation status, as numbers where they are.
fn counters(d: &DiagnosticArray) -> Option<BTreeMap<String, String>> {
    let s = d.status.iter().find(|s| s.name.ends_with(": anticipation"))?;
    Some(s.values.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect())
}

fn count(c: &BTreeMap<String, String>, key: &str) -> u64 {
    c.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[test]
fn the_node_over_real_dds_counts_every_case_and_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let domain = (20 + std::process::id() % 40) as u16;
    let env = common::loopback_env(domain);
    let stderr = std::fs::File::create(dir.path().join("node.stderr")).unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_a4mer_node"))
        // 64 tracks: no case's person is evicted by the next case's (counters stay per person).
        .args([
            "--ros-args",
            "-p",
            "diagnostics.period_s:=0.2",
            "-p",
            "input.queue_depth:=100",
            "-p",
            "tracks.max:=64",
        ])
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();

    let ctx = context(&env).unwrap();
    let mut peer = ctx
        .new_node(NodeName::new("/", "bad_input_peer").unwrap(), NodeOptions::new())
        .unwrap();
    let publisher = publisher::<Skeleton3DArray>(&mut peer, "/a4mer_node/poses", &output_qos(100)).unwrap();
    let diagnostics = subscription::<DiagnosticArray>(&mut peer, "/diagnostics", &input_qos(50)).unwrap();
    let latest = |timeout: Duration| -> Option<BTreeMap<String, String>> {
        let end = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < end {
            while let Ok(Some((d, _))) = diagnostics.take() {
                if let Some(c) = counters(&d) {
                    last = Some(c);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last
    };
    // Discovery: wait until the node reports, then until it has our first message.
    let (warm, _) = messages(&corpus()[0], 999_999, 1_600_000_000_000_000_000);
    let mut before = None;
    for _ in 0..100 {
        let _ = publisher.publish(warm[0].clone());
        if let Some(c) = latest(Duration::from_millis(300))
            && count(&c, "messages") > 0
        {
            before = Some(c);
            break;
        }
    }
    let mut before = before.expect("the node never reported receiving our messages");

    for (i, case) in corpus().iter().enumerate() {
        let id = 1 + 1000 * i as u32;
        // Each case on its own timeline, far from the others.
        let (msgs, _) = messages(case, id, 1_700_000_000_000_000_000 + i as i64 * 1000 * 1_000_000_000);
        for m in &msgs {
            publisher
                .publish(m.clone())
                .unwrap_or_else(|e| panic!("{}: publish: {e:?}", case.name));
            std::thread::sleep(Duration::from_millis(4));
        }
        let after = latest(Duration::from_millis(700)).expect("diagnostics");
        let delta = |k: &str| count(&after, k).saturating_sub(count(&before, k));
        let arrived = delta("messages");
        if case.transport_may_drop && arrived + 1 == msgs.len() as u64 {
            eprintln!("{}: not delivered by DDS (best effort); the node ran on", case.name);
            assert!(
                delta("forecasts_published") > 0,
                "{}: forecasts after the case",
                case.name
            );
            before = after;
            continue;
        }
        assert_eq!(
            arrived,
            msgs.len() as u64,
            "{}: every message arrived: {after:?}",
            case.name
        );
        let key = match case.expect.as_str() {
            "accepted" | "no_people" => None,
            "reset" => Some("stream_resets".to_string()),
            "rejected_body" => Some("rejected_bodies".into()),
            "person_not_followed" => Some("people_not_followed".into()),
            other => Some(format!("rejected_frames.{other}")),
        };
        match key {
            // A stamp jump beyond the idle timeout evicts the track and begins it anew.
            Some(k) if k == "stream_resets" => assert!(
                delta(&k) + delta("tracks_evicted") >= 1,
                "{}: no restart counted: {after:?}",
                case.name
            ),
            Some(k) => assert!(delta(&k) >= 1, "{}: {k} did not count it: {after:?}", case.name),
            None => {
                for k in [
                    "rejected_bodies",
                    "rejected_frames",
                    "unusable_messages",
                    "malformed_messages",
                ] {
                    assert_eq!(delta(k), 0, "{}: {k}", case.name);
                }
            }
        }
        assert!(
            delta("forecasts_published") > 0,
            "{}: forecasts after the case",
            case.name
        );
        before = after;
    }
    assert!(node.try_wait().unwrap().is_none(), "the node is still running");
    sigterm(&node);
    let status = wait_exit(&mut node, Duration::from_secs(10));
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(dir.path().join("node.stderr")).unwrap()
    );
}
