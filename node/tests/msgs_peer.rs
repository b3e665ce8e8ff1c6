//! `a4mer_node` against peers on `a4mer_msgs` as integrators get it, over real DDS on
//! loopback:
//! - rclpy (Fast DDS) on the Python types colcon generated from `ros/msgs`
//!   (`scripts/build-msgs.sh`): it publishes `Skeleton3DArray` and receives `PoseForecast`
//!   and `MotifAnticipation`, every field by the generated types' names. The expected
//!   messages come from the node's own pipeline run in this process on the very bytes the
//!   peer's type support put on the wire, as `a4mer replay` runs it on recorded ones.
//! - Cyclone DDS (Python) sending `Skeleton3DArray` in an older layout (`Skeleton3D`
//!   without `confidences`) under the same type name: refused and counted, never read.
//!
//! The colcon workspace is named by `A4MER_MSGS_WS` (`.ci/run` builds one). Without it, or
//! without its Python messages, the test skips with the reason; where peers are required
//! (`CI=true` or `A4MER_REQUIRE_PEERS=1`) it fails instead.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use a4mer_ros::adapters::{AdapterError, InputMessage, Person};
use a4mer_ros::model::LoadedModel;
use a4mer_ros::msg::{self, Header, MotifAnticipation, Point, PoseForecast, Skeleton3DArray};
use a4mer_ros::pipeline::{Pipeline, Pushed, Sink};
use a4mer_ros::startup::parameters_from_args;
use a4mer_ros::tf::{TfBuffer, TfError};
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::Eviction;
use serde_json::{Value, json};

use common::{
    CYCLONE_LOOPBACK, NodeProcess, mocap_frames_from, people_frames_json, python_with, rclpy_loopback_env,
    require_peers, skip, two_people,
};

/// The variable naming the colcon workspace `scripts/build-msgs.sh` built.
const WS_VAR: &str = "A4MER_MSGS_WS";

/// A DDS domain no other test in this binary uses at the same time.
fn domain(offset: u32) -> u16 {
    (2 + (std::process::id() % 9) * 2 + offset) as u16
}

/// The workspace's `install/setup.bash` and an interpreter that imports the generated
/// messages and rclpy once it is sourced; otherwise skip (or fail where peers are required).
fn msgs_python() -> Option<(PathBuf, String)> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let reason = match std::env::var_os(WS_VAR).map(PathBuf::from) {
        None => {
            format!("{WS_VAR} is not set: build the messages with `scripts/build-msgs.sh OUT` and set {WS_VAR}=OUT")
        }
        Some(ws) if !ws.join("install/setup.bash").is_file() => format!(
            "{WS_VAR}={}: no install/setup.bash (not a workspace scripts/build-msgs.sh built)",
            ws.display()
        ),
        Some(ws) => {
            let setup = ws.join("install/setup.bash");
            let out = Command::new("bash")
                .args([
                    "-c",
                    r#"source "$1" && exec "$2" -c 'import rclpy, a4mer_msgs.msg'"#,
                    "bash",
                ])
                .arg(&setup)
                .arg(&python)
                .output();
            match out {
                Ok(o) if o.status.success() => return Some((setup, python)),
                Ok(o) => format!(
                    "{python} cannot import rclpy and a4mer_msgs.msg after sourcing {}: {}",
                    setup.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => format!("cannot run bash: {e}"),
            }
        }
    };
    assert!(!require_peers(), "peers are required here: {reason}");
    skip::skip(std::thread::current().name().unwrap_or("msgs_peer"), &reason);
    None
}

/// Everything the node's pipeline makes of the input, as the node would publish it.
#[derive(Default)]
struct Recorded {
    forecasts: Vec<PoseForecast>,
    motifs: Vec<MotifAnticipation>,
    refused: Vec<String>,
}

impl Sink for Recorded {
    fn unusable(&mut self, why: String) {
        self.refused.push(why);
    }

    fn rejected_body(&mut self, why: &AdapterError) {
        self.refused.push(why.to_string());
    }

    fn not_followed(&mut self, person: &Person, max_tracks: usize) {
        self.refused
            .push(format!("person {} not followed ({max_tracks} tracks)", person.id));
    }

    fn pushed(&mut self, step: Pushed<'_>) {
        match step.result {
            Ok((_, out)) => {
                self.forecasts.extend(out.forecast);
                self.motifs.push(out.motifs);
            }
            Err(e) => self.refused.push(format!("person {}: {e}", step.person.id)),
        }
    }

    fn baseline_forecast(&mut self, _person: &Person, forecast: PoseForecast) {
        self.forecasts.push(forecast);
    }

    fn transform_unavailable(&mut self, why: &TfError, _people: usize) {
        self.refused.push(why.to_string());
    }

    fn evicted(&mut self, _id: u32, _why: Eviction, _max_tracks: usize) {}
}

/// A float as text that reads back as the same value (Python's repr on the peer's side).
fn float(x: f64) -> Value {
    Value::String(format!("{x:?}"))
}

fn floats(v: &[f32]) -> Value {
    Value::Array(v.iter().map(|x| float(f64::from(*x))).collect())
}

fn header(h: &Header) -> Value {
    json!({"stamp": {"sec": h.stamp.sec, "nanosec": h.stamp.nanosec}, "frame_id": h.frame_id})
}

fn point(p: &Point) -> Value {
    json!({"x": float(p.x), "y": float(p.y), "z": float(p.z)})
}

/// Every field of `a4mer_msgs/PoseForecast`, named as in the `.msg`.
fn forecast_fields(f: &PoseForecast) -> Value {
    json!({
        "header": header(&f.header),
        "person_id": f.person_id,
        "step_period": {"sec": f.step_period.sec, "nanosec": f.step_period.nanosec},
        "joint_names": f.joint_names,
        "num_steps": f.num_steps,
        "points": f.points.iter().map(point).collect::<Vec<_>>(),
        "spread_m": floats(&f.spread_m),
        "guard_sources": f.guard_sources,
        "guard_horizons_s": floats(&f.guard_horizons_s),
        "guard_weights": floats(&f.guard_weights),
        "model_losing": f.model_losing,
    })
}

/// Every field of `a4mer_msgs/MotifAnticipation`, named as in the `.msg`.
fn motif_fields(m: &MotifAnticipation) -> Value {
    json!({
        "header": header(&m.header),
        "person_id": m.person_id,
        "motif_now": m.motif_now,
        "motif_now_confidence": float(f64::from(m.motif_now_confidence)),
        "next_motif_ids": m.next_motif_ids,
        "next_motif_probabilities": floats(&m.next_motif_probabilities),
        "expected_time_to_transition_s": float(f64::from(m.expected_time_to_transition_s)),
        "health": m.health,
        "next_motif_horizon_s": float(f64::from(m.next_motif_horizon_s)),
    })
}

/// Compares `got` with `want` field by field; counts the leaves compared. Floats (text on
/// both sides) are equal when they are the same double, or both NaN.
fn same(path: &str, got: &Value, want: &Value, leaves: &mut u64) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let (gk, wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            if gk != wk {
                return Err(format!("{path}: the peer's fields {gk:?}, the node's {wk:?}"));
            }
            g.iter()
                .try_for_each(|(k, v)| same(&format!("{path}.{k}"), v, &w[k.as_str()], leaves))
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Err(format!("{path}: {} elements, the node's {}", g.len(), w.len()));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .try_for_each(|(i, (g, w))| same(&format!("{path}[{i}]"), g, w, leaves))
        }
        (Value::String(g), Value::String(w)) => {
            *leaves += 1;
            let equal = match (g.parse::<f64>(), w.parse::<f64>()) {
                (Ok(a), Ok(b)) => (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits(),
                _ => g == w,
            };
            equal
                .then_some(())
                .ok_or_else(|| format!("{path}: {g} from the peer, {w} from the node"))
        }
        _ => {
            *leaves += 1;
            (got == want)
                .then_some(())
                .ok_or_else(|| format!("{path}: {got} from the peer, {want} from the node"))
        }
    }
}

fn key(v: &Value) -> (u64, i64) {
    let stamp = &v["header"]["stamp"];
    let ns = stamp["sec"].as_i64().unwrap_or(-1) * 1_000_000_000 + stamp["nanosec"].as_i64().unwrap_or(-1);
    (v["person_id"].as_u64().unwrap_or(u64::MAX), ns)
}

/// What the peer received against what the node's pipeline made, by (person, stamp):
/// (received, expected, leaves compared).
fn check_all(what: &str, received: &[Value], expected: Vec<Value>) -> (usize, usize, u64) {
    let n_expected = expected.len();
    let mut by_key: HashMap<(u64, i64), Value> = HashMap::new();
    for v in expected {
        let k = key(&v);
        assert!(by_key.insert(k, v).is_none(), "{what}: two from the pipeline for {k:?}");
    }
    let mut leaves = 0;
    let mut seen = std::collections::HashSet::new();
    for got in received {
        let k = key(got);
        assert!(seen.insert(k), "{what}: received twice for (person, stamp) {k:?}");
        let want = by_key
            .get(&k)
            .unwrap_or_else(|| panic!("{what} for (person, stamp) {k:?}: not one the node's pipeline makes"));
        if let Err(e) = same(what, got, want, &mut leaves) {
            panic!("{what} for (person, stamp) {k:?}: {e}");
        }
    }
    (received.len(), n_expected, leaves)
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or_else(|e| panic!("hex at {i}: {e}")))
        .collect()
}

/// `a4mer_node: stopped after N messages, M forecasts published`: (N, M).
fn node_counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .rfind(|l| l.contains("stopped after"))
        .unwrap_or_else(|| panic!("no summary from the node:\n{stderr}"));
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    (numbers[0], numbers[1])
}

/// The people's frames as the peers read them; the stamps are the first person's.
fn write_frames(dir: &Path, people: &[(u32, &[PoseFrame])]) -> PathBuf {
    let path = dir.join("frames.json");
    std::fs::write(&path, Value::Object(people_frames_json(people)).to_string()).unwrap();
    path
}

#[test]
fn rclpy_on_the_generated_types_gets_every_field_the_node_pipeline_makes() {
    let Some((setup, python)) = msgs_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Ten seconds at 30 Hz.
    let n = 300;
    let (a, b) = two_people(300, n);
    let frames = write_frames(dir.path(), &[(3, &a), (8, &b)]);
    // A deep input queue: a stalled node must not lose a frame, which would part its
    // engines from the pipeline run here.
    let params = ["input.queue_depth:=100"];
    let domain = domain(0);
    let node = NodeProcess::start(dir.path(), domain, &params);
    let out_path = dir.path().join("peer.json");
    let peer = Command::new("bash")
        .args(["-c", r#"source "$1" && exec "$2" "$3" "$4" /a4mer_node "$5""#, "bash"])
        .arg(&setup)
        .arg(&python)
        .arg(common::manifest().join("tests/py/rclpy_msgs_peer.py"))
        .arg(&frames)
        .arg(&out_path)
        .envs(rclpy_loopback_env(dir.path(), domain))
        .output()
        .unwrap();
    let stderr = node.stop();
    assert!(
        peer.status.success(),
        "rclpy_msgs_peer.py failed:\n{}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let out: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let sent: Vec<Vec<u8>> = out["sent_cdr_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex_bytes(h.as_str().unwrap_or_default()))
        .collect();
    assert_eq!(sent.len(), n);
    let (messages, published) = node_counts(&stderr);
    assert_eq!(
        messages, n as u64,
        "the node took {messages} of the {n} messages sent; the comparison needs them all"
    );

    // The node's pipeline, as the node configures it from the same parameters, on the
    // bytes the generated type support sent.
    let args: Vec<String> = std::iter::once("--ros-args".to_string())
        .chain(params.iter().flat_map(|p| ["-p".to_string(), p.to_string()]))
        .collect();
    let (_, _, config) = parameters_from_args(&args).unwrap();
    let model = LoadedModel::load(config.model.as_deref()).unwrap();
    let mut pipeline = Pipeline::new(&config, &model, None).unwrap();
    let tf = TfBuffer::new(config.tf_buffer_s);
    let mut recorded = Recorded::default();
    for (k, bytes) in sent.iter().enumerate() {
        let msg: Skeleton3DArray = msg::decode(bytes).unwrap_or_else(|e| panic!("sent message {k}: {e}"));
        assert_eq!(msg.bodies.len(), 2, "sent message {k}");
        pipeline.on_message(&InputMessage::Skeleton3DArray(msg), &tf, &mut recorded);
    }
    assert!(recorded.refused.is_empty(), "{:?}", recorded.refused);
    assert_eq!(
        published,
        recorded.forecasts.len() as u64,
        "forecasts the node published vs its pipeline here"
    );

    let received = |k: &str| out[k].as_array().cloned().unwrap_or_default();
    let (got_f, want_f, leaves_f) = check_all(
        "PoseForecast",
        &received("forecasts"),
        recorded.forecasts.iter().map(forecast_fields).collect(),
    );
    let (got_m, want_m, leaves_m) = check_all(
        "MotifAnticipation",
        &received("motifs"),
        recorded.motifs.iter().map(motif_fields).collect(),
    );
    let share = |got: usize, want: usize| got as f64 / want.max(1) as f64;
    eprintln!(
        "received share over {n} frames of 2 people: PoseForecast {got_f}/{want_f} = {:.4}, \
         MotifAnticipation {got_m}/{want_m} = {:.4}; every field equal: {leaves_f} + {leaves_m} values compared",
        share(got_f, want_f),
        share(got_m, want_m),
    );
    // Warm-up excepted, every frame of both people yields a forecast.
    assert!(want_f >= 2 * (n - 31), "{want_f} forecasts from the pipeline");
    assert!(
        share(got_f, want_f) >= 0.95 && share(got_m, want_m) >= 0.95,
        "the peer received {got_f} of {want_f} forecasts and {got_m} of {want_m} motifs"
    );
}

#[test]
fn an_older_skeleton_layout_is_counted_malformed_and_never_read() {
    let Some(python) = python_with("cyclonedds", "pip install cyclonedds") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = 90;
    let (a, b) = two_people(300, n);
    let c = mocap_frames_from(150, n);
    let frames = write_frames(dir.path(), &[(3, &a), (8, &b), (11, &c)]);
    let domain = domain(1);
    let node = NodeProcess::start(dir.path(), domain, &["diagnostics.period_s:=0.25"]);
    let out = common::run_peer(
        &python,
        "cyclone_older_layout.py",
        &[frames.display().to_string(), "/a4mer_node".into(), domain.to_string()],
        &[("CYCLONEDDS_URI", CYCLONE_LOOPBACK.to_string())],
    );
    let stderr = node.stop();
    let (messages, published) = node_counts(&stderr);
    let sent = out["sent"].as_u64().unwrap();
    let report = &out["last_report"];
    let count = |k: &str| -> u64 {
        report["values"][k]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    let malformed = count("malformed_messages");
    eprintln!(
        "older layout: {sent} sent, {messages} taken by the node, {malformed} counted malformed in /diagnostics, \
         {published} forecasts published"
    );
    // Best effort input: not all need arrive, but every one that did is refused as a whole.
    assert!((1..=sent).contains(&malformed), "{report}");
    assert_eq!(
        count("messages"),
        malformed,
        "every message taken was refused: {report}"
    );
    for k in ["unusable_messages", "rejected_bodies", "rejected_frames", "tracks"] {
        assert_eq!(count(k), 0, "{k}: nothing of an older layout is read: {report}");
    }
    assert_eq!(published, 0, "{stderr}");
    let last_error = report["values"]["last_error"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("a4mer_msgs/msg/Skeleton3DArray") && last_error.contains("layout"),
        "{last_error}"
    );
    let warnings = out["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("bad inputs")),
        "a WARN naming the bad inputs while they came: {warnings:?}"
    );
}

/// The comparison the peer test rests on: a changed value, a NaN against a number and a
/// missing field are each named by their path; NaN equals NaN.
#[test]
fn the_field_comparison_names_what_differs() {
    let want = PoseForecast {
        person_id: 3,
        points: vec![Point {
            x: 0.5,
            y: f64::NAN,
            z: 1.0,
        }],
        spread_m: vec![0.1, f32::INFINITY],
        model_losing: vec![true],
        ..Default::default()
    };
    let mut leaves = 0;
    let fields = forecast_fields(&want);
    assert_eq!(same("f", &fields, &fields, &mut leaves), Ok(()));
    assert!(leaves >= 12, "{leaves} values compared");
    let mut got = fields.clone();
    got["points"][0]["y"] = json!("0.0");
    let e = same("f", &got, &fields, &mut leaves).unwrap_err();
    assert!(e.starts_with("f.points[0].y:"), "{e}");
    let mut got = fields.clone();
    got["spread_m"][0] = json!("0.10000000149011613");
    let e = same("f", &got, &fields, &mut leaves).unwrap_err();
    assert!(e.starts_with("f.spread_m[0]:"), "{e}");
    let mut got = fields.clone();
    got.as_object_mut().unwrap().remove("model_losing");
    let e = same("f", &got, &fields, &mut leaves).unwrap_err();
    assert!(e.contains("fields"), "{e}");
}
