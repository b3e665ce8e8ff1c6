//! Writing rosbag2 directories in MCAP storage.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::BagError;
use super::metadata::{WrittenBag, WrittenTopic, render_file, render_info};
use super::qos::{QosProfile, qos_profiles_yaml};
use a4mer_ros::msg::RosMessage;

/// Handle of a topic added to a [`BagWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicId(usize);

struct Topic {
    name: String,
    type_name: String,
    qos: Vec<QosProfile>,
    channel_id: u16,
    count: u64,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    pub dir: PathBuf,
    pub mcap_file: PathBuf,
    pub message_count: u64,
    pub starting_time_ns: i64,
    pub duration_ns: i64,
}

/// A rosbag2 directory being written: `<dir>/metadata.yaml` and `<dir>/<dir name>_0.mcap`.
///
/// The output depends only on what is written (no wall-clock times, no host names), so the
/// same input gives byte-identical bags.
pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    mcap_path: PathBuf,
    writer: mcap::Writer<BufWriter<File>>,
    schemas: BTreeMap<String, u16>,
    topics: Vec<Topic>,
    first_ns: Option<i64>,
    last_ns: i64,
    count: u64,
}

impl BagWriter {
    /// Create the bag directory. Like `ros2 bag record`, refuses an existing non-empty one.
    pub fn create(dir: &Path) -> Result<Self, BagError> {
        let io = |cause| BagError::Io {
            path: dir.to_path_buf(),
            cause,
        };
        if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(BagError::Unsupported {
                path: dir.to_path_buf(),
                what: "the output directory exists and is not empty; refusing to overwrite".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let stem = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| "bag".into());
        let file_name = format!("{stem}_0.mcap");
        let mcap_path = dir.join(&file_name);
        let file = File::create(&mcap_path).map_err(|cause| BagError::Io {
            path: mcap_path.clone(),
            cause,
        })?;
        let options = mcap::WriteOptions::new()
            .profile("ros2")
            .library(concat!("a4mer-ros ", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd));
        let writer = options.create(BufWriter::new(file)).map_err(|cause| BagError::Mcap {
            path: mcap_path.clone(),
            offset: 0,
            cause: Box::new(cause),
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            file_name,
            mcap_path,
            writer,
            schemas: BTreeMap::new(),
            topics: Vec::new(),
            first_ns: None,
            last_ns: 0,
            count: 0,
        })
    }

    fn mcap_err(&self, cause: mcap::McapError) -> BagError {
        BagError::Mcap {
            path: self.mcap_path.clone(),
            offset: 0,
            cause: Box::new(cause),
        }
    }

    /// Add a topic of type `M`; its schema carries every type `M` depends on.
    pub fn add_topic<M: RosMessage>(&mut self, name: &str, qos: &[QosProfile]) -> Result<TopicId, BagError> {
        self.add_topic_raw(name, &M::ros_type_name(), &M::schema_text(), qos)
    }

    /// Add a topic whose type we don't mirror: `type_name` is `pkg/msg/Name`, `schema` its
    /// ros2msg text with dependencies.
    pub fn add_topic_raw(
        &mut self,
        name: &str,
        type_name: &str,
        schema: &str,
        qos: &[QosProfile],
    ) -> Result<TopicId, BagError> {
        if !name.starts_with('/') {
            return Err(BagError::Topic {
                path: self.dir.clone(),
                topic: name.into(),
                reason: "bag topic names are absolute (start with /)".into(),
            });
        }
        if self.topics.iter().any(|t| t.name == name) {
            return Err(BagError::Topic {
                path: self.dir.clone(),
                topic: name.into(),
                reason: "added twice".into(),
            });
        }
        let schema_id = match self.schemas.get(type_name) {
            Some(id) => *id,
            None => {
                let id = self
                    .writer
                    .add_schema(type_name, "ros2msg", schema.as_bytes())
                    .map_err(|e| self.mcap_err(e))?;
                self.schemas.insert(type_name.to_string(), id);
                id
            }
        };
        let mut metadata = BTreeMap::new();
        metadata.insert("offered_qos_profiles".to_string(), qos_profiles_yaml(qos));
        let channel_id = self
            .writer
            .add_channel(schema_id, name, "cdr", &metadata)
            .map_err(|e| self.mcap_err(e))?;
        self.topics.push(Topic {
            name: name.to_string(),
            type_name: type_name.to_string(),
            qos: qos.to_vec(),
            channel_id,
            count: 0,
        });
        Ok(TopicId(self.topics.len() - 1))
    }

    /// Serialize and write `msg` at `log_time_ns` (nanoseconds since the epoch, ≥ 0).
    pub fn write<M: RosMessage>(&mut self, topic: TopicId, log_time_ns: i64, msg: &M) -> Result<(), BagError> {
        let data = a4mer_ros::msg::encode(msg).map_err(|cause| BagError::Encode {
            path: self.dir.clone(),
            cause: Box::new(cause),
        })?;
        self.write_raw(topic, log_time_ns, &data)
    }

    /// Write an already serialized payload (CDR with its 4-byte header).
    pub fn write_raw(&mut self, topic: TopicId, log_time_ns: i64, data: &[u8]) -> Result<(), BagError> {
        let Some(t) = self.topics.get_mut(topic.0) else {
            return Err(BagError::Topic {
                path: self.dir.clone(),
                topic: format!("#{}", topic.0),
                reason: "not added to this bag".into(),
            });
        };
        let log_time = u64::try_from(log_time_ns).map_err(|_| BagError::Topic {
            path: self.dir.clone(),
            topic: t.name.clone(),
            reason: format!("negative log time {log_time_ns} ns"),
        })?;
        let header = mcap::records::MessageHeader {
            channel_id: t.channel_id,
            sequence: t.count as u32,
            log_time,
            publish_time: log_time,
        };
        t.count += 1;
        self.writer
            .write_to_known_channel(&header, data)
            .map_err(|e| self.mcap_err(e))?;
        self.first_ns = Some(self.first_ns.map_or(log_time_ns, |f| f.min(log_time_ns)));
        self.last_ns = self.last_ns.max(log_time_ns);
        self.count += 1;
        Ok(())
    }

    /// Close the MCAP file (summary, indexes) and write `metadata.yaml`.
    pub fn finish(mut self) -> Result<WriteSummary, BagError> {
        let starting_time_ns = self.first_ns.unwrap_or(0);
        let duration_ns = if self.count > 0 {
            self.last_ns - starting_time_ns
        } else {
            0
        };
        let topics: Vec<WrittenTopic<'_>> = self
            .topics
            .iter()
            .map(|t| WrittenTopic {
                name: &t.name,
                type_name: &t.type_name,
                qos: &t.qos,
                message_count: t.count,
            })
            .collect();
        let bag = WrittenBag {
            file_name: &self.file_name,
            starting_time_ns,
            duration_ns,
            message_count: self.count,
            topics,
        };
        let info = render_info(&bag, 0);
        let file_text = render_file(&bag);
        // rosbag2's MCAP plugin keeps a copy of the metadata inside the file.
        let record = mcap::records::Metadata {
            name: "rosbag2".into(),
            metadata: BTreeMap::from([("serialized_metadata".to_string(), info)]),
        };
        let mcap_path = self.mcap_path.clone();
        let err = |cause| BagError::Mcap {
            path: mcap_path.clone(),
            offset: 0,
            cause: Box::new(cause),
        };
        self.writer.write_metadata(&record).map_err(err)?;
        self.writer.finish().map_err(err)?;
        let meta_path = self.dir.join("metadata.yaml");
        std::fs::write(&meta_path, file_text).map_err(|cause| BagError::Io {
            path: meta_path.clone(),
            cause,
        })?;
        Ok(WriteSummary {
            dir: self.dir.clone(),
            mcap_file: self.mcap_path.clone(),
            message_count: self.count,
            starting_time_ns,
            duration_ns,
        })
    }
}
