//! The ready-made views in `launch/` (RViz2 config, Foxglove layout) name only topics the
//! node has, with the types it gives them, and every message field they read exists: a
//! renamed topic or field fails here rather than leaving an empty panel. No ROS install
//! needed: the files are parsed as YAML and JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use a4mer_node::NodeSetup;
use a4mer_ros::adapters::InputType;
use a4mer_ros::ros_args::RosEnv;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (topic, `pkg/msg/Name`) of every data topic the default node has, for any input type.
fn node_topics() -> BTreeSet<(String, String)> {
    let env = RosEnv::from_lookup(|_| None).unwrap();
    let setup = NodeSetup::from_args(&["--ros-args"], env).unwrap();
    InputType::ALL
        .into_iter()
        .flat_map(|input| setup.topics.endpoints(input))
        .map(|e| (e.topic, e.ros_type))
        .collect()
}

const MARKER_ARRAY: &str = "visualization_msgs/msg/MarkerArray";
const POSE_ARRAY: &str = "geometry_msgs/msg/PoseArray";
const DIAGNOSTIC_ARRAY: &str = "diagnostic_msgs/msg/DiagnosticArray";

/// The types the node gives a topic (the input's depends on `input.type`); empty when it
/// has no such topic.
fn types_of<'a>(topics: &'a BTreeSet<(String, String)>, topic: &str) -> Vec<&'a str> {
    topics
        .iter()
        .filter(|(t, _)| t == topic)
        .map(|(_, ty)| ty.as_str())
        .collect()
}

/// Field names of an `a4mer_msgs` message from its `.msg` file (ros/msgs/msg).
fn msg_fields(ros_type: &str) -> Option<Vec<String>> {
    let name = ros_type.strip_prefix("a4mer_msgs/msg/")?;
    let text = std::fs::read_to_string(repo().join("ros/msgs/msg").join(format!("{name}.msg"))).ok()?;
    Some(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty() && !l.contains('='))
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect(),
    )
}

/// RViz display classes that subscribe, with the type they expect.
fn rviz_type(class: &str) -> Option<&'static str> {
    match class {
        "rviz_default_plugins/MarkerArray" => Some(MARKER_ARRAY),
        "rviz_default_plugins/Marker" => Some("visualization_msgs/msg/Marker"),
        "rviz_default_plugins/PoseArray" => Some(POSE_ARRAY),
        _ => None,
    }
}

/// The topics an RViz2 config subscribes to, or what is wrong with it.
fn check_rviz(text: &str, topics: &BTreeSet<(String, String)>) -> Result<BTreeSet<String>, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut seen = BTreeSet::new();
    let mut displays: Vec<&Value> = doc["Visualization Manager"]["Displays"]
        .as_array()
        .ok_or("no Visualization Manager/Displays")?
        .iter()
        .collect();
    while let Some(d) = displays.pop() {
        let class = d["Class"].as_str().ok_or(format!("display without a Class: {d}"))?;
        if let Some(inner) = d["Displays"].as_array() {
            displays.extend(inner);
        }
        let Some(topic) = d.get("Topic") else { continue };
        let topic = topic["Value"]
            .as_str()
            .ok_or(format!("{class}: Topic without a Value"))?;
        let want = rviz_type(class).ok_or(format!("{class} on {topic}: a display class this test does not know"))?;
        let types = types_of(topics, topic);
        if types.is_empty() {
            return Err(format!("{class} on {topic}: the node has no such topic"));
        }
        if !types.contains(&want) {
            return Err(format!("{class} on {topic} wants {want}; the node gives it {types:?}"));
        }
        seen.insert(topic.to_string());
    }
    Ok(seen)
}

/// Every message path in a Foxglove layout config: strings starting with '/' and the keys
/// of `topics` maps (the 3D panel's).
fn foxglove_paths(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with('/') => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| foxglove_paths(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                if k == "topics"
                    && let Some(t) = x.as_object()
                {
                    out.extend(t.keys().cloned());
                }
                foxglove_paths(x, out);
            }
        }
        _ => {}
    }
}

/// The topics a Foxglove layout reads, or what is wrong with it.
fn check_foxglove(text: &str, topics: &BTreeSet<(String, String)>) -> Result<BTreeSet<String>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let configs = doc["configById"].as_object().ok_or("no configById")?;
    let layout = doc["layout"].to_string();
    let mut seen = BTreeSet::new();
    for (id, config) in configs {
        if !layout.contains(&format!("\"{id}\"")) {
            return Err(format!("panel {id} is configured but not in the layout"));
        }
        let mut paths = Vec::new();
        foxglove_paths(config, &mut paths);
        // The panel behind a config is its id's prefix ("3D!a4mer" is a 3D panel).
        let kind = id.split('!').next().unwrap_or("");
        for path in paths {
            let end = path.find(['.', '[', '{']).unwrap_or(path.len());
            let (topic, field) = path.split_at(end);
            let types = types_of(topics, topic);
            if types.is_empty() {
                return Err(format!("{id}: {path}: the node has no topic {topic}"));
            }
            let want: &[&str] = match kind {
                "3D" => &[MARKER_ARRAY, POSE_ARRAY],
                "DiagnosticSummary" | "DiagnosticStatusPanel" => &[DIAGNOSTIC_ARRAY],
                _ => &[],
            };
            let shown: Vec<&str> = types
                .iter()
                .copied()
                .filter(|t| want.is_empty() || want.contains(t))
                .collect();
            let [ty] = shown[..] else {
                return Err(format!("{id}: {topic} is {types:?}, the panel shows {want:?}"));
            };
            if let Some(field) = field.strip_prefix('.') {
                let name = field.split(['.', '[']).next().unwrap_or("");
                let fields = msg_fields(ty).ok_or(format!("{id}: {path}: cannot check fields of {ty}"))?;
                if !fields.iter().any(|f| f == name) {
                    return Err(format!("{id}: {path}: {ty} has no field {name} (it has {fields:?})"));
                }
            } else if !field.is_empty() {
                return Err(format!("{id}: {path}: filters are not checked here"));
            }
            seen.insert(topic.to_string());
        }
    }
    Ok(seen)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join("launch").join(name)).unwrap()
}

#[test]
fn the_node_lists_its_topics_with_their_types() {
    let topics = node_topics();
    for (topic, ty) in [
        ("/a4mer_node/forecast_markers", MARKER_ARRAY),
        ("/a4mer_node/person_markers", MARKER_ARRAY),
        ("/a4mer_node/forecast", "a4mer_msgs/msg/PoseForecast"),
        ("/a4mer_node/motifs", "a4mer_msgs/msg/MotifAnticipation"),
        ("/diagnostics", DIAGNOSTIC_ARRAY),
        ("/a4mer_node/poses", POSE_ARRAY),
        ("/a4mer_node/poses", "a4mer_msgs/msg/Skeleton3DArray"),
    ] {
        assert!(
            topics.contains(&(topic.into(), ty.into())),
            "{topic} {ty} not in {topics:?}"
        );
    }
}

#[test]
fn rviz_config_shows_the_node_topics_it_names() {
    let topics = node_topics();
    let seen = check_rviz(&read("a4mer.rviz"), &topics).unwrap();
    for t in ["/a4mer_node/person_markers", "/a4mer_node/forecast_markers"] {
        assert!(seen.contains(t), "the RViz view does not show {t}: {seen:?}");
    }
    // The check can fail: a renamed topic and a display of the wrong type are caught.
    let renamed = read("a4mer.rviz").replace("/a4mer_node/forecast_markers", "/a4mer_node/forecast_marker");
    let e = check_rviz(&renamed, &topics).unwrap_err();
    assert!(e.contains("/a4mer_node/forecast_marker:"), "{e}");
    let wrong = read("a4mer.rviz").replace("Value: /a4mer_node/poses", "Value: /a4mer_node/forecast");
    let e = check_rviz(&wrong, &topics).unwrap_err();
    assert!(e.contains("the node gives it [\"a4mer_msgs/msg/PoseForecast\"]"), "{e}");
}

#[test]
fn foxglove_layout_shows_the_node_topics_and_fields_it_names() {
    let topics = node_topics();
    let seen = check_foxglove(&read("a4mer.foxglove.json"), &topics).unwrap();
    for t in [
        "/a4mer_node/person_markers",
        "/a4mer_node/forecast_markers",
        "/a4mer_node/motifs",
        "/a4mer_node/forecast",
        "/diagnostics",
    ] {
        assert!(seen.contains(t), "the Foxglove layout does not show {t}: {seen:?}");
    }
    let text = read("a4mer.foxglove.json");
    let e = check_foxglove(&text.replace("motifs.motif_now", "motifs.current_motif"), &topics).unwrap_err();
    assert!(e.contains("has no field current_motif"), "{e}");
    let e = check_foxglove(&text.replace("\"/diagnostics\"", "\"/a4mer_node/motifs\""), &topics).unwrap_err();
    assert!(
        e.contains("is [\"a4mer_msgs/msg/MotifAnticipation\"], the panel shows"),
        "{e}"
    );
    let e = check_foxglove(&text.replace("/a4mer_node/person_markers", "/person_markers"), &topics).unwrap_err();
    assert!(e.contains("no topic /person_markers"), "{e}");
}
