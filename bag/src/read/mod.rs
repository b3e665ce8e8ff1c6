//! Reading rosbag2 bags: MCAP or sqlite3 storage, directory or bare file.

use std::path::{Path, PathBuf};

use super::{BagError, BagMessage, TopicInfo};

mod lengths;
mod mcap_store;
mod open;
mod sqlite_store;

pub use lengths::CorruptRecord;
pub use open::{BagCompression, Storage};

use mcap_store::McapStream;
use sqlite_store::SqliteStream;

/// An open bag: its topics, and a streaming view of its messages.
pub struct BagReader {
    path: PathBuf,
    storage: Storage,
    compression: BagCompression,
    files: Vec<PathBuf>,
    topics: Vec<TopicInfo>,
}

impl BagReader {
    pub fn compression(&self) -> BagCompression {
        self.compression
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn storage(&self) -> Storage {
        self.storage
    }

    pub fn topics(&self) -> &[TopicInfo] {
        &self.topics
    }

    /// Index of the topic called `name`.
    pub fn topic_index(&self, name: &str) -> Option<usize> {
        self.topics.iter().position(|t| t.name == name)
    }

    /// Every message, file by file, in storage order (MCAP: file order; sqlite3: by
    /// timestamp). Memory stays bounded by one chunk (MCAP) or one page of rows (sqlite3).
    pub fn messages(&self) -> Messages<'_> {
        Messages {
            reader: self,
            file: 0,
            source: None,
            counts: vec![0; self.topics.len()],
            done: false,
        }
    }
}

/// Streaming iterator over a bag's messages. After the first error it ends.
pub struct Messages<'a> {
    reader: &'a BagReader,
    file: usize,
    source: Option<Source>,
    counts: Vec<u64>,
    done: bool,
}

enum Source {
    Mcap(McapStream),
    Sqlite(SqliteStream),
}

/// A raw message before it is tied to a topic index.
struct Raw {
    topic: String,
    type_name: String,
    log_time_ns: i64,
    data: Vec<u8>,
}

impl Iterator for Messages<'_> {
    type Item = Result<BagMessage, BagError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if self.source.is_none() {
                let Some(file) = self.reader.files.get(self.file) else {
                    self.done = true;
                    return None;
                };
                let opened = match self.reader.storage {
                    Storage::Mcap => {
                        McapStream::open(file, self.reader.compression == BagCompression::File).map(Source::Mcap)
                    }
                    Storage::Sqlite3 => SqliteStream::open(file).map(Source::Sqlite),
                };
                match opened {
                    Ok(s) => self.source = Some(s),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let next = match self.source.as_mut() {
                Some(Source::Mcap(s)) => s.next_raw(),
                Some(Source::Sqlite(s)) => s.next_raw(),
                None => Ok(None),
            };
            match next {
                Ok(Some(raw)) => {
                    let Some(topic) = self
                        .reader
                        .topics
                        .iter()
                        .position(|t| t.name == raw.topic && t.type_name == raw.type_name)
                    else {
                        self.done = true;
                        return Some(Err(BagError::Topic {
                            path: self.reader.files[self.file].clone(),
                            topic: raw.topic,
                            reason: format!("message of type {} on a topic the bag does not list", raw.type_name),
                        }));
                    };
                    let index_on_topic = self.counts[topic];
                    self.counts[topic] += 1;
                    let data = if self.reader.compression == BagCompression::Message {
                        match zstd::stream::decode_all(raw.data.as_slice()) {
                            Ok(d) => d,
                            Err(e) => {
                                self.done = true;
                                return Some(Err(BagError::Topic {
                                    path: self.reader.files[self.file].clone(),
                                    topic: raw.topic,
                                    reason: format!("message {index_on_topic}: not a zstd frame: {e}"),
                                }));
                            }
                        }
                    } else {
                        raw.data
                    };
                    return Some(Ok(BagMessage {
                        topic,
                        log_time_ns: raw.log_time_ns,
                        index_on_topic,
                        data,
                    }));
                }
                Ok(None) => {
                    self.source = None;
                    self.file += 1;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
