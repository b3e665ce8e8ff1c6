//! Pose bags as recordings: the first pose topic of a rosbag2 bag, one frame sequence per
//! person, for the commands that take bags beside motion files (quantize, import).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use a4mer_bag::BagReader;
use a4mer_quantize::sha256_hex;
use a4mer_ros::adapters::InputAdapter;
use a4mer_runtime::PoseFrame;

/// A rosbag2 directory (with `metadata.yaml`) or a bare `.mcap` / `.db3` file.
pub fn is_bag(p: &Path) -> bool {
    (p.is_dir() && p.join("metadata.yaml").exists()) || p.extension().is_some_and(|e| e == "mcap" || e == "db3")
}

/// Everyone on a bag's pose topic.
pub struct BagPeople {
    pub topic: String,
    /// Per person, frames in storage order.
    pub people: BTreeMap<u32, Vec<PoseFrame>>,
    /// SHA-256 of the messages used, so it does not depend on the storage format.
    pub sha256: String,
}

pub fn read_bag_people(path: &Path) -> Result<BagPeople> {
    let reader = BagReader::open(path)?;
    let (topic, kind) = reader
        .pose_topics()
        .first()
        .copied()
        .ok_or_else(|| anyhow!("no pose topic (Skeleton3DArray, PoseArray or ZED objects)"))?;
    let topic_name = reader.topics()[topic].name.clone();
    let mut adapter = InputAdapter::new(kind, &[], None)?;
    let mut people: BTreeMap<u32, Vec<PoseFrame>> = BTreeMap::new();
    let mut hash_input = Vec::new();
    for msg in reader.messages() {
        let msg = msg?;
        if msg.topic != topic {
            continue;
        }
        hash_input.extend_from_slice(&msg.data);
        let adapted = adapter
            .adapt_cdr(&msg.data)
            .with_context(|| format!("topic {topic_name}, message {}", msg.index_on_topic))?;
        for p in adapted.people {
            people.entry(p.id).or_default().push(p.frame);
        }
    }
    Ok(BagPeople {
        topic: topic_name,
        people,
        sha256: sha256_hex(&hash_input),
    })
}
