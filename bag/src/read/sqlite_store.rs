//! sqlite3 storage (Humble's default): topics from the `topics` table, messages in pages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::Raw;
use crate::qos::parse_qos_profiles;
use crate::{BagError, TopicInfo};

fn sqlite_open(path: &Path) -> Result<Connection, BagError> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(
        |cause| BagError::Sqlite {
            path: path.to_path_buf(),
            cause: Box::new(cause),
        },
    )
}

/// One row of a sqlite3 bag's `topics` table: id, name, type, serialization format and
/// offered QoS profiles (empty before Foxy, which lacks the column).
type TopicRow = (i64, String, String, String, String);

fn sqlite_topic_rows(db: &Connection, path: &Path) -> Result<Vec<TopicRow>, BagError> {
    let err = |cause| BagError::Sqlite {
        path: path.to_path_buf(),
        cause: Box::new(cause),
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

pub(super) fn sqlite_topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let db = sqlite_open(path)?;
    let err = |cause| BagError::Sqlite {
        path: path.to_path_buf(),
        cause: Box::new(cause),
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
pub(super) struct SqliteStream {
    path: PathBuf,
    db: Connection,
    topics: HashMap<i64, (String, String, String)>,
    page: std::vec::IntoIter<(i64, i64, i64, Vec<u8>)>,
    after: Option<(i64, i64)>,
    exhausted: bool,
}

const SQLITE_PAGE: i64 = 512;

impl SqliteStream {
    pub(super) fn open(path: &Path) -> Result<Self, BagError> {
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
        let err = |cause| BagError::Sqlite {
            path: self.path.clone(),
            cause: Box::new(cause),
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

    pub(super) fn next_raw(&mut self) -> Result<Option<Raw>, BagError> {
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
