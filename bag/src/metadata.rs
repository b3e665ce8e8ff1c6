//! `metadata.yaml` of a rosbag2 directory.

use std::path::Path;

use serde_json::Value;

use super::qos::{QosProfile, parse_qos_profiles, qos_profiles_yaml};
use super::{BagError, TopicInfo};

/// What a reader needs from `metadata.yaml`.
#[derive(Clone, Debug)]
pub(crate) struct BagMetadata {
    pub storage_identifier: String,
    pub relative_file_paths: Vec<String>,
    pub topics: Vec<TopicInfo>,
    pub compression_format: String,
    pub compression_mode: String,
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<BagMetadata, BagError> {
    let bad = |reason: String| BagError::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let info = doc
        .get("rosbag2_bagfile_information")
        .ok_or_else(|| bad("no rosbag2_bagfile_information".into()))?;
    let str_field = |v: &Value, k: &str| -> Result<String, BagError> {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("missing or non-text `{k}`")))
    };
    let version = info.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version > 9 {
        return Err(bad(format!("version {version} is newer than this reader knows (9)")));
    }
    let storage_identifier = str_field(info, "storage_identifier")?;
    let relative_file_paths = info
        .get("relative_file_paths")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing `relative_file_paths`".into()))?
        .iter()
        .map(|p| p.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("`relative_file_paths` holds a non-text entry".into()))?;
    let mut topics = Vec::new();
    let entries = info
        .get("topics_with_message_count")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, entry) in entries.iter().enumerate() {
        let tm = entry
            .get("topic_metadata")
            .ok_or_else(|| bad(format!("topics_with_message_count[{i}] has no topic_metadata")))?;
        let name = str_field(tm, "name")?;
        let offered_qos_profiles = match tm.get("offered_qos_profiles") {
            Some(v) => parse_qos_profiles(v).map_err(|e| bad(format!("topic {name}: {e}")))?,
            None => Vec::new(),
        };
        topics.push(TopicInfo {
            type_name: str_field(tm, "type")?,
            serialization_format: str_field(tm, "serialization_format")?,
            offered_qos_profiles,
            message_count: entry.get("message_count").and_then(Value::as_u64),
            definition: None,
            name,
        });
    }
    let opt_str = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(BagMetadata {
        storage_identifier,
        relative_file_paths,
        topics,
        compression_format: opt_str("compression_format"),
        compression_mode: opt_str("compression_mode"),
    })
}

/// One topic of a bag being written.
pub(crate) struct WrittenTopic<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    pub qos: &'a [QosProfile],
    pub message_count: u64,
}

pub(crate) struct WrittenBag<'a> {
    pub file_name: &'a str,
    pub starting_time_ns: i64,
    pub duration_ns: i64,
    pub message_count: u64,
    pub topics: Vec<WrittenTopic<'a>>,
}

/// YAML text, quoted so that any topic or type name survives.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The body of `rosbag2_bagfile_information` (also stored inside the MCAP file), with
/// `indent` spaces before every line.
pub(crate) fn render_info(bag: &WrittenBag<'_>, indent: usize) -> String {
    let mut lines: Vec<String> = vec![
        "version: 8".into(),
        "storage_identifier: mcap".into(),
        "duration:".into(),
        format!("  nanoseconds: {}", bag.duration_ns),
        "starting_time:".into(),
        format!("  nanoseconds_since_epoch: {}", bag.starting_time_ns),
        format!("message_count: {}", bag.message_count),
    ];
    if bag.topics.is_empty() {
        lines.push("topics_with_message_count: []".into());
    } else {
        lines.push("topics_with_message_count:".into());
    }
    for t in &bag.topics {
        lines.push("  - topic_metadata:".into());
        lines.push(format!("      name: {}", quoted(t.name)));
        lines.push(format!("      type: {}", quoted(t.type_name)));
        lines.push("      serialization_format: cdr".into());
        lines.push(format!(
            "      offered_qos_profiles: {}",
            quoted(&qos_profiles_yaml(t.qos))
        ));
        lines.push("      type_description_hash: \"\"".into());
        lines.push(format!("    message_count: {}", t.message_count));
    }
    lines.extend([
        "compression_format: \"\"".into(),
        "compression_mode: \"\"".into(),
        "relative_file_paths:".into(),
        format!("  - {}", quoted(bag.file_name)),
        "files:".into(),
        format!("  - path: {}", quoted(bag.file_name)),
        "    starting_time:".into(),
        format!("      nanoseconds_since_epoch: {}", bag.starting_time_ns),
        "    duration:".into(),
        format!("      nanoseconds: {}", bag.duration_ns),
        format!("    message_count: {}", bag.message_count),
        "custom_data: ~".into(),
        "ros_distro: \"\"".into(),
    ]);
    let pad = " ".repeat(indent);
    lines.iter().map(|l| format!("{pad}{l}\n")).collect()
}

pub(crate) fn render_file(bag: &WrittenBag<'_>) -> String {
    format!("rosbag2_bagfile_information:\n{}", render_info(bag, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_we_write_we_parse() {
        let qos = [QosProfile::sensor_data()];
        let bag = WrittenBag {
            file_name: "b_0.mcap",
            starting_time_ns: 1_700_000_000_000_000_000,
            duration_ns: 5,
            message_count: 3,
            topics: vec![WrittenTopic {
                name: "/a4mer/poses",
                type_name: "a4mer_msgs/msg/Skeleton3DArray",
                qos: &qos,
                message_count: 3,
            }],
        };
        let text = render_file(&bag);
        let meta = parse(Path::new("m.yaml"), &text).unwrap();
        assert_eq!(meta.storage_identifier, "mcap");
        assert_eq!(meta.relative_file_paths, ["b_0.mcap"]);
        assert_eq!(meta.topics.len(), 1);
        assert_eq!(meta.topics[0].name, "/a4mer/poses");
        assert_eq!(meta.topics[0].message_count, Some(3));
        assert_eq!(meta.topics[0].offered_qos_profiles, qos);
    }

    #[test]
    fn broken_metadata_names_the_file_and_the_problem() {
        let e = parse(
            Path::new("bag/metadata.yaml"),
            "rosbag2_bagfile_information:\n  version: 5\n",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("bag/metadata.yaml") && s.contains("storage_identifier"),
            "{s}"
        );
        let e = parse(Path::new("m.yaml"), "[unclosed").unwrap_err();
        assert!(e.to_string().contains("not valid YAML"), "{e}");
        let e = parse(Path::new("m.yaml"), "other: 1\n").unwrap_err();
        assert!(e.to_string().contains("rosbag2_bagfile_information"), "{e}");
    }
}
