//! MCAP storage: messages streamed through mcap's sans-io `LinearReader` (chunk CRCs
//! checked before a chunk is used), and the topic list from the summary section.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mcap::records::Record;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};

use super::Raw;
use super::lengths::{check_record_lengths, mcap_err, parse_record};
use crate::qos::parse_qos_profiles;
use crate::{BagError, TopicInfo};

/// No single record (or decompressed chunk) may claim more than this: a corrupt length
/// field must give an error, not a huge allocation.
const RECORD_LENGTH_LIMIT: usize = 1 << 30;

const CHUNK_OPCODE: u8 = 0x06;

fn reader_options() -> LinearReaderOptions {
    LinearReaderOptions::default()
        .with_prevalidate_chunk_crcs(true)
        .with_record_length_limit(RECORD_LENGTH_LIMIT)
}

struct McapChannel {
    topic: String,
    type_name: String,
    encoding: String,
}

pub(super) struct McapStream {
    path: PathBuf,
    file: Box<dyn Read>,
    reader: LinearReader,
    /// The chunk being read: its records, through a reader of their own (below).
    chunk: Option<Box<LinearReader>>,
    /// Bytes handed to the reader so far: where in the file an error happened.
    offset: u64,
    index: McapIndex,
}

impl McapStream {
    /// `zstd_file`: the whole file is one zstd stream (rosbag2 file compression).
    pub(super) fn open(path: &Path, zstd_file: bool) -> Result<Self, BagError> {
        let io = |cause| BagError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let file = File::open(path).map_err(io)?;
        let file: Box<dyn Read> = if zstd_file {
            Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?)
        } else {
            Box::new(std::io::BufReader::new(file))
        };
        // Chunks come out whole, so their records' lengths are checked before the mcap crate
        // walks them: its reader subtracts an inner record's length from what is left of an
        // uncompressed chunk without checking (an overflow panic, or a wrap in release, on
        // a corrupt length; found by the `mcap_read` fuzz target).
        let options = reader_options().with_emit_chunks(true);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            reader: LinearReader::new_with_options(options),
            chunk: None,
            offset: 0,
            index: McapIndex::default(),
        })
    }

    /// The next message. Records are handled where they lie in the reader's buffer (the
    /// current chunk's or the top level's), so a payload is copied once, into the `Raw`.
    pub(super) fn next_raw(&mut self) -> Result<Option<Raw>, BagError> {
        loop {
            if let Some(inner) = self.chunk.as_mut() {
                match inner.next_event() {
                    Some(Ok(LinearReadEvent::Record { opcode, data })) => {
                        if let Some(raw) = self.index.accept(&self.path, self.offset, opcode, data)? {
                            return Ok(Some(raw));
                        }
                    }
                    Some(Err(e)) => return Err(mcap_err(&self.path, self.offset)(e)),
                    // It wants bytes past the chunk: every record in it has been read.
                    Some(Ok(LinearReadEvent::ReadRequest(_))) | None => self.chunk = None,
                }
                continue;
            }
            let Some(event) = self.reader.next_event() else {
                return Ok(None);
            };
            match event.map_err(mcap_err(&self.path, self.offset))? {
                LinearReadEvent::ReadRequest(need) => {
                    let buf = self.reader.insert(need.max(1 << 16));
                    let n = self.file.read(buf).map_err(|cause| BagError::Io {
                        path: self.path.clone(),
                        cause,
                    })?;
                    self.reader.notify_read(n);
                    self.offset += n as u64;
                }
                LinearReadEvent::Record { opcode, data } if opcode == CHUNK_OPCODE => {
                    check_record_lengths(opcode, data).map_err(|reason| BagError::NotABag {
                        path: self.path.clone(),
                        reason: format!("chunk ending near byte {}: {reason}", self.offset),
                    })?;
                    // The chunk alone, framed as a record, through a reader that expects no
                    // magic: it checks the CRC, decompresses and yields the records inside.
                    let mut inner = LinearReader::new_with_options(
                        reader_options().with_skip_start_magic(true).with_skip_end_magic(true),
                    );
                    let framed = inner.insert(9 + data.len());
                    framed[0] = opcode;
                    framed[1..9].copy_from_slice(&(data.len() as u64).to_le_bytes());
                    framed[9..].copy_from_slice(data);
                    inner.notify_read(9 + data.len());
                    self.chunk = Some(Box::new(inner));
                }
                LinearReadEvent::Record { opcode, data } => {
                    if let Some(raw) = self.index.accept(&self.path, self.offset, opcode, data)? {
                        return Ok(Some(raw));
                    }
                }
            }
        }
    }
}

/// Schemas and channels seen so far in an MCAP file: what a message record refers to.
#[derive(Default)]
struct McapIndex {
    schemas: HashMap<u16, String>,
    channels: HashMap<u16, McapChannel>,
}

impl McapIndex {
    /// Take one record: remember schemas and channels; a message comes back as a `Raw`.
    fn accept(&mut self, path: &Path, offset: u64, opcode: u8, data: &[u8]) -> Result<Option<Raw>, BagError> {
        match parse_record(path, offset, opcode, data)? {
            Record::Schema { header, .. } => {
                self.schemas.insert(header.id, header.name);
            }
            Record::Channel(c) => {
                let type_name = self.schemas.get(&c.schema_id).cloned().unwrap_or_default();
                self.channels.insert(
                    c.id,
                    McapChannel {
                        topic: c.topic,
                        type_name,
                        encoding: c.message_encoding,
                    },
                );
            }
            Record::Message { header, data } => {
                let Some(ch) = self.channels.get(&header.channel_id) else {
                    return Err(BagError::NotABag {
                        path: path.to_path_buf(),
                        reason: format!(
                            "message near byte {offset} refers to channel {} which was never defined",
                            header.channel_id
                        ),
                    });
                };
                if ch.encoding != "cdr" {
                    return Err(BagError::Topic {
                        path: path.to_path_buf(),
                        topic: ch.topic.clone(),
                        reason: format!("message encoding `{}` (only cdr is supported)", ch.encoding),
                    });
                }
                let log_time_ns = i64::try_from(header.log_time).map_err(|_| BagError::Topic {
                    path: path.to_path_buf(),
                    topic: ch.topic.clone(),
                    reason: format!("log time {} ns is out of range", header.log_time),
                })?;
                return Ok(Some(Raw {
                    topic: ch.topic.clone(),
                    type_name: ch.type_name.clone(),
                    log_time_ns,
                    data: data.into_owned(),
                }));
            }
            _ => {}
        }
        Ok(None)
    }
}

/// Topics of an MCAP file, from its summary section; by a full scan when it has none.
pub(super) fn mcap_topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let io = |cause| BagError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 8];
    let short = || BagError::NotABag {
        path: path.to_path_buf(),
        reason: format!("{len} bytes is too short for an MCAP file"),
    };
    if len < 8 + 37 {
        return Err(short());
    }
    file.read_exact(&mut magic).map_err(io)?;
    if magic != mcap::MAGIC {
        return Err(BagError::NotABag {
            path: path.to_path_buf(),
            reason: "no MCAP magic at the start of the file".into(),
        });
    }
    // Footer: opcode, length, summary_start, summary_offset_start, crc, then magic.
    let mut footer = [0u8; 37];
    file.seek(SeekFrom::Start(len - 37)).map_err(io)?;
    file.read_exact(&mut footer).map_err(io)?;
    let summary_start = u64::from_le_bytes(footer[9..17].try_into().unwrap_or_default());
    let footer_ok = footer[0] == mcap::records::op::FOOTER && &footer[29..37] == mcap::MAGIC;
    let mut records: Vec<(u8, Vec<u8>)> = Vec::new();
    if footer_ok && summary_start > 0 && summary_start < len - 37 {
        let mut summary = vec![0u8; (len - 37 - summary_start) as usize];
        file.seek(SeekFrom::Start(summary_start)).map_err(io)?;
        file.read_exact(&mut summary).map_err(io)?;
        let mut at = 0usize;
        while at + 9 <= summary.len() {
            let op = summary[at];
            let rec_len = u64::from_le_bytes(summary[at + 1..at + 9].try_into().unwrap_or_default()) as usize;
            let Some(body) = summary.get(at + 9..(at + 9).saturating_add(rec_len)) else {
                return Err(BagError::NotABag {
                    path: path.to_path_buf(),
                    reason: format!(
                        "summary record at byte {} runs past the footer",
                        summary_start as usize + at
                    ),
                });
            };
            records.push((op, body.to_vec()));
            at += 9 + rec_len;
        }
    }
    let mut schemas: HashMap<u16, (String, String)> = HashMap::new();
    let mut channels: Vec<(u16, TopicInfo)> = Vec::new();
    let mut counts: HashMap<u16, u64> = HashMap::new();
    let mut have_stats = false;
    if records.is_empty() {
        // No summary (e.g. a recording that was cut off): scan every record.
        let mut stream = McapStream::open(path, false)?;
        let mut seen: HashMap<(String, String), u64> = HashMap::new();
        let mut order: Vec<(String, String)> = Vec::new();
        // A file cut off mid-record still has the topics seen before the cut; reading its
        // messages then ends with the error at the cut, so nothing is silently lost.
        let mut complete = true;
        loop {
            match stream.next_raw() {
                Ok(Some(raw)) => {
                    let key = (raw.topic, raw.type_name);
                    if !seen.contains_key(&key) {
                        order.push(key.clone());
                    }
                    *seen.entry(key).or_default() += 1;
                }
                Ok(None) => break,
                Err(_) if !order.is_empty() => {
                    complete = false;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(order
            .into_iter()
            .map(|key| TopicInfo {
                message_count: seen.get(&key).copied().filter(|_| complete),
                name: key.0,
                type_name: key.1,
                serialization_format: "cdr".into(),
                offered_qos_profiles: Vec::new(),
                definition: None,
            })
            .collect());
    }
    for (op, body) in &records {
        match parse_record(path, summary_start, *op, body)? {
            Record::Schema { header, data } => {
                schemas.insert(header.id, (header.name, String::from_utf8_lossy(&data).into_owned()));
            }
            Record::Channel(c) => {
                let (type_name, definition) = schemas.get(&c.schema_id).cloned().unwrap_or_default();
                let offered_qos_profiles = c
                    .metadata
                    .get("offered_qos_profiles")
                    .map(|q| parse_qos_profiles(&serde_json::Value::String(q.clone())))
                    .transpose()
                    .map_err(|reason| BagError::Topic {
                        path: path.to_path_buf(),
                        topic: c.topic.clone(),
                        reason,
                    })?
                    .unwrap_or_default();
                channels.push((
                    c.id,
                    TopicInfo {
                        name: c.topic,
                        type_name,
                        serialization_format: c.message_encoding,
                        offered_qos_profiles,
                        message_count: None,
                        definition: (!definition.is_empty()).then_some(definition),
                    },
                ));
            }
            Record::Statistics(s) => {
                have_stats = true;
                counts = s.channel_message_counts.into_iter().collect();
            }
            _ => {}
        }
    }
    Ok(channels
        .into_iter()
        .map(|(id, mut t)| {
            if have_stats {
                t.message_count = Some(counts.get(&id).copied().unwrap_or(0));
            }
            t
        })
        .collect())
}
