//! Reading rosbag2 bags: MCAP or sqlite3 storage, directory or bare file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mcap::records::Record;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};
use rusqlite::{Connection, OpenFlags};

use super::metadata::{self, BagMetadata};
use super::qos::parse_qos_profiles;
use super::{BagError, BagMessage, TopicInfo};

/// Storage of the bag's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Mcap,
    Sqlite3,
}

/// No single record (or decompressed chunk) may claim more than this: a corrupt length
/// field must give an error, not a huge allocation.
const RECORD_LENGTH_LIMIT: usize = 1 << 30;

/// rosbag2's own compression (`ros2 bag record --compression-mode`), as opposed to MCAP's
/// chunk compression, which needs nothing from us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BagCompression {
    None,
    /// Each message payload is a zstd frame.
    Message,
    /// Each storage file is one zstd stream (`*.mcap.zstd`).
    File,
}

/// An open bag: its topics, and a streaming view of its messages.
pub struct BagReader {
    path: PathBuf,
    storage: Storage,
    compression: BagCompression,
    files: Vec<PathBuf>,
    topics: Vec<TopicInfo>,
}

impl BagReader {
    /// Open a rosbag2 directory (with or without `metadata.yaml`), a `.mcap` or a `.db3` file.
    pub fn open(path: &Path) -> Result<Self, BagError> {
        let not_a_bag = |reason: &str| BagError::NotABag {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(|source| BagError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            let meta_path = path.join("metadata.yaml");
            if meta_path.exists() {
                let text = std::fs::read_to_string(&meta_path).map_err(|source| BagError::Io {
                    path: meta_path.clone(),
                    source,
                })?;
                let bag_meta = metadata::parse(&meta_path, &text)?;
                return Self::from_metadata(path, &meta_path, bag_meta);
            }
            // A directory without metadata.yaml (an interrupted recording): use its files.
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| BagError::Io {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("mcap" | "db3")))
                .collect();
            files.sort();
            let storage = match files.first().and_then(|f| f.extension()).and_then(|e| e.to_str()) {
                Some("mcap") => Storage::Mcap,
                Some("db3") => Storage::Sqlite3,
                _ => return Err(not_a_bag("no metadata.yaml, .mcap or .db3 file in the directory")),
            };
            files.retain(|f| storage_of(f) == Some(storage));
            return Self::from_files(path, storage, BagCompression::None, files, Vec::new());
        }
        match storage_of(path) {
            Some(storage) => Self::from_files(
                path,
                storage,
                BagCompression::None,
                vec![path.to_path_buf()],
                Vec::new(),
            ),
            None => Err(not_a_bag("expected a rosbag2 directory, a .mcap or a .db3 file")),
        }
    }

    fn from_metadata(dir: &Path, meta_path: &Path, meta: BagMetadata) -> Result<Self, BagError> {
        let storage = match meta.storage_identifier.as_str() {
            "mcap" => Storage::Mcap,
            "sqlite3" => Storage::Sqlite3,
            other => {
                return Err(BagError::Unsupported {
                    path: meta_path.to_path_buf(),
                    what: format!("storage plugin `{other}` (mcap and sqlite3 are supported)"),
                });
            }
        };
        let compression = match (
            meta.compression_mode.to_ascii_lowercase().as_str(),
            meta.compression_format.as_str(),
        ) {
            ("" | "none", _) => BagCompression::None,
            ("message", "zstd") => BagCompression::Message,
            ("file", "zstd") if storage == Storage::Mcap => BagCompression::File,
            (mode, format) => {
                return Err(BagError::Unsupported {
                    path: meta_path.to_path_buf(),
                    what: format!(
                        "compression mode `{mode}` with format `{format}` for {} storage \
                         (supported: zstd per message, zstd per MCAP file, and MCAP chunk compression); \
                         `ros2 bag convert` can write an uncompressed copy",
                        meta.storage_identifier
                    ),
                });
            }
        };
        let files: Vec<PathBuf> = meta
            .relative_file_paths
            .iter()
            .map(|p| dir.join(Path::new(p).file_name().unwrap_or(p.as_ref())))
            .collect();
        for f in &files {
            if !f.exists() {
                return Err(BagError::Metadata {
                    path: meta_path.to_path_buf(),
                    reason: format!("lists {} which does not exist", f.display()),
                });
            }
        }
        Self::from_files(dir, storage, compression, files, meta.topics)
    }

    fn from_files(
        path: &Path,
        storage: Storage,
        compression: BagCompression,
        files: Vec<PathBuf>,
        mut topics: Vec<TopicInfo>,
    ) -> Result<Self, BagError> {
        // The storage's own topic list fills in what metadata.yaml leaves out (schemas) and
        // is the only list a bare file has. A whole-file zstd stream cannot be seeked; its
        // metadata.yaml has the topics.
        let storage_files: &[PathBuf] = if compression == BagCompression::File {
            &[]
        } else {
            &files
        };
        for file in storage_files {
            let found = match storage {
                Storage::Mcap => mcap_topics(file)?,
                Storage::Sqlite3 => sqlite_topics(file)?,
            };
            for t in found {
                match topics
                    .iter_mut()
                    .find(|x| x.name == t.name && x.type_name == t.type_name)
                {
                    Some(x) => {
                        if x.definition.is_none() {
                            x.definition = t.definition;
                        }
                        if x.offered_qos_profiles.is_empty() {
                            x.offered_qos_profiles = t.offered_qos_profiles;
                        }
                    }
                    None => topics.push(t),
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            storage,
            compression,
            files,
            topics,
        })
    }

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

fn storage_of(path: &Path) -> Option<Storage> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("mcap") => Some(Storage::Mcap),
        Some("db3") => Some(Storage::Sqlite3),
        _ => None,
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

const CHUNK_OPCODE: u8 = 0x06;

fn reader_options() -> LinearReaderOptions {
    LinearReaderOptions::default()
        .with_prevalidate_chunk_crcs(true)
        .with_record_length_limit(RECORD_LENGTH_LIMIT)
}

fn mcap_err(path: &Path, offset: u64) -> impl Fn(mcap::McapError) -> BagError + '_ {
    move |source| BagError::Mcap {
        path: path.to_path_buf(),
        offset,
        source: Box::new(source),
    }
}

struct McapChannel {
    topic: String,
    type_name: String,
    encoding: String,
}

struct McapStream {
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
    fn open(path: &Path, zstd_file: bool) -> Result<Self, BagError> {
        let io = |source| BagError::Io {
            path: path.to_path_buf(),
            source,
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
    fn next_raw(&mut self) -> Result<Option<Raw>, BagError> {
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
                    let n = self.file.read(buf).map_err(|source| BagError::Io {
                        path: self.path.clone(),
                        source,
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
fn mcap_topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let io = |source| BagError::Io {
        path: path.to_path_buf(),
        source,
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

fn sqlite_open(path: &Path) -> Result<Connection, BagError> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(
        |source| BagError::Sqlite {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    )
}

/// One row of a sqlite3 bag's `topics` table: id, name, type, serialization format and
/// offered QoS profiles (empty before Foxy, which lacks the column).
type TopicRow = (i64, String, String, String, String);

fn sqlite_topic_rows(db: &Connection, path: &Path) -> Result<Vec<TopicRow>, BagError> {
    let err = |source| BagError::Sqlite {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    // offered_qos_profiles exists since Foxy; older bags lack the column.
    let has_qos = db.prepare("SELECT offered_qos_profiles FROM topics LIMIT 0").is_ok();
    let sql = if has_qos {
        "SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics ORDER BY id"
    } else {
        "SELECT id, name, type, serialization_format, '' FROM topics ORDER BY id"
    };
    let mut stmt = db.prepare(sql).map_err(err)?;
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })
    .map_err(err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(err)
}

fn sqlite_topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let db = sqlite_open(path)?;
    let err = |source| BagError::Sqlite {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    let rows = sqlite_topic_rows(&db, path)?;
    let mut counts: HashMap<i64, u64> = HashMap::new();
    let mut stmt = db
        .prepare("SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id")
        .map_err(err)?;
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(err)?
    {
        let (id, n) = row.map_err(err)?;
        counts.insert(id, n.max(0) as u64);
    }
    // Iron and later keep the definitions in the bag.
    let mut definitions: HashMap<String, String> = HashMap::new();
    if let Ok(mut stmt) = db.prepare("SELECT topic_type, encoded_message_definition FROM message_definitions") {
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        for row in rows {
            let (t, d) = row.map_err(err)?;
            definitions.insert(t, d);
        }
    }
    rows.into_iter()
        .map(|(id, name, type_name, format, qos)| {
            let offered_qos_profiles =
                parse_qos_profiles(&serde_json::Value::String(qos)).map_err(|reason| BagError::Topic {
                    path: path.to_path_buf(),
                    topic: name.clone(),
                    reason,
                })?;
            Ok(TopicInfo {
                definition: definitions.get(&type_name).filter(|d| !d.is_empty()).cloned(),
                name,
                type_name,
                serialization_format: format,
                offered_qos_profiles,
                message_count: Some(counts.get(&id).copied().unwrap_or(0)),
            })
        })
        .collect()
}

/// Messages of a sqlite3 bag in pages ordered by (timestamp, id): bounded memory without
/// holding a statement across calls.
struct SqliteStream {
    path: PathBuf,
    db: Connection,
    topics: HashMap<i64, (String, String, String)>,
    page: std::vec::IntoIter<(i64, i64, i64, Vec<u8>)>,
    after: Option<(i64, i64)>,
    exhausted: bool,
}

const SQLITE_PAGE: i64 = 512;

impl SqliteStream {
    fn open(path: &Path) -> Result<Self, BagError> {
        let db = sqlite_open(path)?;
        let topics = sqlite_topic_rows(&db, path)?
            .into_iter()
            .map(|(id, name, type_name, format, _)| (id, (name, type_name, format)))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            db,
            topics,
            page: Vec::new().into_iter(),
            after: None,
            exhausted: false,
        })
    }

    fn fetch_page(&mut self) -> Result<(), BagError> {
        let err = |source| BagError::Sqlite {
            path: self.path.clone(),
            source: Box::new(source),
        };
        let (t0, id0) = self.after.unwrap_or((i64::MIN, i64::MIN));
        let mut stmt = self
            .db
            .prepare_cached(
                "SELECT id, topic_id, timestamp, data FROM messages \
                 WHERE timestamp > ?1 OR (timestamp = ?1 AND id > ?2) \
                 ORDER BY timestamp, id LIMIT ?3",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(rusqlite::params![t0, id0, SQLITE_PAGE], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        if (rows.len() as i64) < SQLITE_PAGE {
            self.exhausted = true;
        }
        if let Some(last) = rows.last() {
            self.after = Some((last.2, last.0));
        }
        self.page = rows.into_iter();
        Ok(())
    }

    fn next_raw(&mut self) -> Result<Option<Raw>, BagError> {
        loop {
            if let Some((id, topic_id, timestamp, data)) = self.page.next() {
                let Some((topic, type_name, format)) = self.topics.get(&topic_id) else {
                    return Err(BagError::NotABag {
                        path: self.path.clone(),
                        reason: format!("message row {id} refers to topic id {topic_id}, which is not in `topics`"),
                    });
                };
                if format != "cdr" {
                    return Err(BagError::Topic {
                        path: self.path.clone(),
                        topic: topic.clone(),
                        reason: format!("serialization format `{format}` (only cdr is supported)"),
                    });
                }
                return Ok(Some(Raw {
                    topic: topic.clone(),
                    type_name: type_name.clone(),
                    log_time_ns: timestamp,
                    data,
                }));
            }
            if self.exhausted {
                return Ok(None);
            }
            self.fetch_page()?;
        }
    }
}

/// A record whose nested length prefixes do not fit inside it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: corrupt MCAP record (opcode {opcode:#04x}) near byte {offset}: {reason}")]
pub struct CorruptRecord {
    pub path: PathBuf,
    pub offset: u64,
    pub opcode: u8,
    pub reason: String,
}

/// `mcap::parse_record`, after checking that every length prefix inside the record fits
/// in it: the parser reserves memory from those prefixes before reading, so a corrupt
/// one would ask for gigabytes (found by fuzzing; `fuzz/regressions/mcap_read`).
fn parse_record<'a>(path: &Path, offset: u64, opcode: u8, data: &'a [u8]) -> Result<Record<'a>, BagError> {
    check_record_lengths(opcode, data).map_err(|reason| {
        BagError::Corrupt(Box::new(CorruptRecord {
            path: path.to_path_buf(),
            offset,
            opcode,
            reason,
        }))
    })?;
    mcap::parse_record(opcode, data).map_err(mcap_err(path, offset))
}

/// A reader over a record body that only checks lengths.
struct Lengths<'a> {
    data: &'a [u8],
    at: usize,
}

impl Lengths<'_> {
    fn skip(&mut self, n: usize, what: &str) -> Result<(), String> {
        if self.data.len() - self.at < n {
            return Err(format!(
                "{what} needs {n} bytes at {}, the record has {} left",
                self.at,
                self.data.len() - self.at
            ));
        }
        self.at += n;
        Ok(())
    }

    fn prefix(&mut self, bytes: usize, what: &str) -> Result<usize, String> {
        let start = self.at;
        self.skip(bytes, what)?;
        let mut v = 0u64;
        for (i, b) in self.data[start..start + bytes].iter().enumerate() {
            v |= (*b as u64) << (8 * i);
        }
        usize::try_from(v).map_err(|_| format!("{what}: length {v} is too large"))
    }

    /// A u32-length-prefixed string or byte array.
    fn string(&mut self, what: &str) -> Result<(), String> {
        self.bytes(what).map(|_| ())
    }

    fn bytes(&mut self, what: &str) -> Result<&[u8], String> {
        let n = self.prefix(4, what)?;
        let start = self.at;
        self.skip(n, what)?;
        Ok(&self.data[start..start + n])
    }

    /// A u32-byte-length-prefixed map or array; `entry` checks one entry inside it.
    fn block(&mut self, what: &str, entry: impl Fn(&mut Lengths) -> Result<(), String>) -> Result<(), String> {
        let n = self.prefix(4, what)?;
        let start = self.at;
        self.skip(n, what)?;
        let mut inner = Lengths {
            data: &self.data[start..start + n],
            at: 0,
        };
        while inner.at < inner.data.len() {
            entry(&mut inner)?;
        }
        Ok(())
    }
}

fn string_map(l: &mut Lengths) -> Result<(), String> {
    l.string("map key")?;
    l.string("map value")
}

fn check_record_lengths(opcode: u8, data: &[u8]) -> Result<(), String> {
    let mut l = Lengths { data, at: 0 };
    match opcode {
        // Header: profile, library.
        0x01 => {
            l.string("profile")?;
            l.string("library")
        }
        // Schema: id, name, encoding, data.
        0x03 => {
            l.skip(2, "schema id")?;
            l.string("schema name")?;
            l.string("schema encoding")?;
            l.string("schema data")
        }
        // Channel: id, schema id, topic, message encoding, metadata.
        0x04 => {
            l.skip(4, "channel ids")?;
            l.string("topic")?;
            l.string("message encoding")?;
            l.block("channel metadata", string_map)
        }
        // Chunk: start, end, uncompressed size, crc, compression, records. Uncompressed
        // records are framed (opcode, u64 length) and each must fit in what is left.
        0x06 => {
            l.skip(28, "chunk header")?;
            let uncompressed = l.bytes("compression")?.is_empty();
            let n = l.prefix(8, "chunk records")?;
            let start = l.at;
            l.skip(n, "chunk records")?;
            if uncompressed {
                let mut inner = Lengths {
                    data: &data[start..start + n],
                    at: 0,
                };
                while inner.at < inner.data.len() {
                    inner.skip(1, "record opcode in the chunk")?;
                    let len = inner.prefix(8, "record length in the chunk")?;
                    inner.skip(len, "record in the chunk")?;
                }
            }
            Ok(())
        }
        // Message index: channel id, (log time, offset) pairs.
        0x07 => {
            l.skip(2, "channel id")?;
            l.block("message index", |e| e.skip(16, "message index entry"))
        }
        // Chunk index: times, offset, length, message index offsets, index length,
        // compression, sizes.
        0x08 => {
            l.skip(32, "chunk index header")?;
            l.block("message index offsets", |e| e.skip(10, "message index offset"))?;
            l.skip(8, "message index length")?;
            l.string("compression")?;
            l.skip(16, "chunk sizes")
        }
        // Attachment: times, name, media type, data (u64 length), crc.
        0x09 => {
            l.skip(16, "attachment times")?;
            l.string("attachment name")?;
            l.string("media type")?;
            let n = l.prefix(8, "attachment data")?;
            l.skip(n, "attachment data")
        }
        // Attachment index: offset, length, times, data size, name, media type.
        0x0A => {
            l.skip(40, "attachment index header")?;
            l.string("attachment name")?;
            l.string("media type")
        }
        // Statistics: counts, times, per-channel message counts.
        0x0B => {
            l.skip(42, "statistics header")?;
            l.block("channel message counts", |e| e.skip(10, "channel message count"))
        }
        // Metadata: name, map.
        0x0C => {
            l.string("metadata name")?;
            l.block("metadata", string_map)
        }
        // Metadata index: offset, length, name.
        0x0D => {
            l.skip(16, "metadata index header")?;
            l.string("metadata name")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod length_tests {
    use super::*;

    fn channel(topic_len: u32) -> Vec<u8> {
        let mut v = vec![1, 0, 1, 0];
        v.extend(topic_len.to_le_bytes());
        v.extend(b"/poses");
        v.extend(3u32.to_le_bytes());
        v.extend(b"cdr");
        v.extend(0u32.to_le_bytes());
        v
    }

    #[test]
    fn lengths_that_fit_pass_and_corrupt_ones_name_the_field() {
        assert_eq!(check_record_lengths(0x04, &channel(6)), Ok(()));
        assert!(mcap::parse_record(0x04, &channel(6)).is_ok());
        let err = check_record_lengths(0x04, &channel(0x8888_0000)).unwrap_err();
        assert!(err.contains("topic needs 2290614272 bytes"), "{err}");
        let mut v = channel(6);
        let n = v.len();
        v[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(check_record_lengths(0x04, &v).unwrap_err().contains("channel metadata"));
    }

    /// What reading a fuzzer's input from `fuzz/regressions/mcap_read/`, saved as
    /// `as_name`, ends with: the error opening it or the first error among its messages.
    fn fuzz_regression_outcome(input: &str, as_name: &str) -> String {
        let input = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/regressions/mcap_read")
            .join(input);
        let dir = tempfile::tempdir().unwrap();
        let bag = dir.path().join(as_name);
        std::fs::copy(&input, &bag).unwrap();
        match BagReader::open(&bag) {
            Err(e) => e.to_string(),
            Ok(r) => r
                .messages()
                .find_map(|m| m.err())
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn the_fuzzer_s_out_of_memory_input_is_a_named_error() {
        let outcome = fuzz_regression_outcome("oom-e9a564a0881bef2dbbe90405aa6310c5e0caf24a", "oom.mcap");
        assert!(
            outcome.contains("oom.mcap") && outcome.contains("corrupt MCAP record"),
            "{outcome}"
        );
    }

    /// An uncompressed chunk holding a record longer than the chunk: the mcap crate's
    /// reader underflowed its count of the chunk's bytes on it (a panic in this build).
    #[test]
    fn the_fuzzer_s_chunk_underflow_input_is_a_named_error() {
        let outcome = fuzz_regression_outcome("crash-69da4ebab7015244278250ce4dc7a65eb0191260", "underflow.mcap");
        assert!(
            outcome.contains("underflow.mcap") && outcome.contains("record in the chunk"),
            "{outcome}"
        );
    }

    #[test]
    fn an_uncompressed_chunk_s_records_must_fit_in_it() {
        let chunk = |inner_len: u64| {
            let mut v = vec![0u8; 28];
            v.extend(0u32.to_le_bytes()); // compression: none
            let mut records = vec![0x05];
            records.extend(inner_len.to_le_bytes());
            records.extend([0u8; 4]);
            v.extend((records.len() as u64).to_le_bytes());
            v.extend(records);
            v
        };
        assert_eq!(check_record_lengths(0x06, &chunk(4)), Ok(()));
        let err = check_record_lengths(0x06, &chunk(5)).unwrap_err();
        assert!(err.contains("record in the chunk needs 5 bytes"), "{err}");
    }
}
