//! rosbag2 I/O.
//!
//! Reading: rosbag2 directories (with `metadata.yaml`) in MCAP storage (the default since
//! Iron) or sqlite3 storage (Humble), a bare `.mcap` or `.db3` file; compressed MCAP
//! chunks (zstd, lz4); rosbag2 zstd compression per message (both storages) or per file
//! (MCAP). Messages stream with bounded memory, in storage order.
//!
//! Writing: MCAP rosbag2 directories as `ros2 bag record` makes them: profile `ros2`,
//! `ros2msg` schemas carrying every dependency, `cdr` channels with
//! `offered_qos_profiles`, and `metadata.yaml` (version 8, readable by Humble to Jazzy).

use std::path::PathBuf;

use a4mer_ros::msg::{CdrError, RosMessage};

mod metadata;
pub mod qos;
mod read;
mod write;

pub use qos::{Durability, History, QosProfile, Reliability};
pub use read::{BagCompression, BagReader, Messages, Storage};
pub use write::{BagWriter, TopicId, WriteSummary};

#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}: not a rosbag2 bag: {reason}")]
    NotABag { path: PathBuf, reason: String },
    #[error("{path}: bad metadata: {reason}")]
    Metadata { path: PathBuf, reason: String },
    #[error("{path}: unsupported: {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("{path}: MCAP error near byte {offset}: {cause}")]
    Mcap {
        path: PathBuf,
        offset: u64,
        cause: Box<mcap::McapError>,
    },
    #[error(transparent)]
    Corrupt(Box<read::CorruptRecord>),
    #[error("{path}: sqlite3: {cause}")]
    Sqlite { path: PathBuf, cause: Box<rusqlite::Error> },
    #[error("{path}: topic {topic}: message {index} (log time {log_time_ns} ns): {cause}")]
    Decode {
        path: PathBuf,
        topic: String,
        index: u64,
        log_time_ns: i64,
        cause: Box<CdrError>,
    },
    #[error("{path}: topic {topic} has type {found}, not {expected}")]
    WrongType {
        path: PathBuf,
        topic: String,
        expected: String,
        found: String,
    },
    #[error("{path}: topic {topic}: {reason}")]
    Topic {
        path: PathBuf,
        topic: String,
        reason: String,
    },
    #[error("{path}: {cause}")]
    Encode { path: PathBuf, cause: Box<CdrError> },
}

/// A topic as the bag describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicInfo {
    pub name: String,
    /// `pkg/msg/Name`.
    pub type_name: String,
    /// `cdr` for everything ROS 2 records.
    pub serialization_format: String,
    pub offered_qos_profiles: Vec<QosProfile>,
    /// From `metadata.yaml` or the MCAP statistics; `None` when the bag does not say.
    pub message_count: Option<u64>,
    /// The ros2msg (or ros2idl) schema text, when the storage keeps one.
    pub definition: Option<String>,
}

/// One serialized message, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct BagMessage {
    /// Index into [`BagReader::topics`].
    pub topic: usize,
    /// Receive time, nanoseconds (rosbag2's message timestamp).
    pub log_time_ns: i64,
    /// Position of this message on its topic, from 0.
    pub index_on_topic: u64,
    /// CDR payload with its 4-byte encapsulation header.
    pub data: Vec<u8>,
}

impl BagReader {
    /// Decode `msg` as `M`, checking the topic's recorded type first.
    pub fn decode<M: RosMessage>(&self, msg: &BagMessage) -> Result<M, BagError> {
        let topic = self.topics().get(msg.topic).ok_or_else(|| BagError::Topic {
            path: self.path().to_path_buf(),
            topic: format!("#{}", msg.topic),
            reason: "no such topic in this bag".into(),
        })?;
        if topic.type_name != M::ros_type_name() {
            return Err(BagError::WrongType {
                path: self.path().to_path_buf(),
                topic: topic.name.clone(),
                expected: M::ros_type_name(),
                found: topic.type_name.clone(),
            });
        }
        a4mer_ros::msg::decode::<M>(&msg.data).map_err(|cause| BagError::Decode {
            path: self.path().to_path_buf(),
            topic: topic.name.clone(),
            index: msg.index_on_topic,
            log_time_ns: msg.log_time_ns,
            cause: Box::new(cause),
        })
    }
}

/// Write one person's canonical frames as a `Skeleton3DArray` topic (best-effort sensor
/// QoS, as a pose estimator offers), each message logged at its own stamp.
pub fn write_pose_frames(
    dir: &std::path::Path,
    topic: &str,
    frame_id: &str,
    person_id: u32,
    frames: &[a4mer_runtime::PoseFrame],
) -> Result<WriteSummary, BagError> {
    write_people_frames(dir, topic, frame_id, &[(person_id, frames)])
}

/// Several people's frames as one `Skeleton3DArray` topic: one message per stamp, carrying
/// everyone with a frame at that stamp, in stamp order.
pub fn write_people_frames(
    dir: &std::path::Path,
    topic: &str,
    frame_id: &str,
    people: &[(u32, &[a4mer_runtime::PoseFrame])],
) -> Result<WriteSummary, BagError> {
    let mut writer = BagWriter::create(dir)?;
    let id = writer.add_topic::<a4mer_ros::msg::Skeleton3DArray>(topic, &[QosProfile::sensor_data()])?;
    let mut all: Vec<(i64, u32, &a4mer_runtime::PoseFrame)> = people
        .iter()
        .flat_map(|(pid, frames)| frames.iter().map(move |f| (f.stamp_ns, *pid, f)))
        .collect();
    all.sort_by_key(|(t, pid, _)| (*t, *pid));
    for group in all.chunk_by(|a, b| a.0 == b.0) {
        let stamp_ns = group[0].0;
        let bodies: Vec<(u32, &a4mer_runtime::PoseFrame)> = group.iter().map(|(_, pid, f)| (*pid, *f)).collect();
        let msg = a4mer_ros::adapters::skeleton_array(stamp_ns, frame_id, &bodies).ok_or_else(|| BagError::Topic {
            path: dir.to_path_buf(),
            topic: topic.to_string(),
            reason: format!("stamp {stamp_ns} ns does not fit a ROS time (int32 seconds)"),
        })?;
        writer.write(id, stamp_ns, &msg)?;
    }
    writer.finish()
}

impl BagReader {
    /// The topics carrying a pose type the node reads, with that type: what a replay can
    /// pick its input from.
    pub fn pose_topics(&self) -> Vec<(usize, a4mer_ros::adapters::InputType)> {
        self.topics()
            .iter()
            .enumerate()
            .filter_map(|(i, t)| a4mer_ros::adapters::InputType::from_ros_type_name(&t.type_name).map(|k| (i, k)))
            .collect()
    }
}
