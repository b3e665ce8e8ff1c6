//! Which storage a path holds (rosbag2 directory with or without `metadata.yaml`, bare
//! `.mcap` or `.db3`), rosbag2's own compression, and the merged topic list.

use std::path::{Path, PathBuf};

use super::BagReader;
use super::mcap_store::mcap_topics;
use super::sqlite_store::sqlite_topics;
use crate::metadata::{self, BagMetadata};
use crate::{BagError, TopicInfo};

/// Storage of the bag's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Mcap,
    Sqlite3,
}

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

impl BagReader {
    /// Open a rosbag2 directory (with or without `metadata.yaml`), a `.mcap` or a `.db3` file.
    pub fn open(path: &Path) -> Result<Self, BagError> {
        let not_a_bag = |reason: &str| BagError::NotABag {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(|cause| BagError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        if meta.is_dir() {
            let meta_path = path.join("metadata.yaml");
            if meta_path.exists() {
                let text = std::fs::read_to_string(&meta_path).map_err(|cause| BagError::Io {
                    path: meta_path.clone(),
                    cause,
                })?;
                let bag_meta = metadata::parse(&meta_path, &text)?;
                return Self::from_metadata(path, &meta_path, bag_meta);
            }
            // A directory without metadata.yaml (an interrupted recording): use its files.
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|cause| BagError::Io {
                    path: path.to_path_buf(),
                    cause,
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
}

pub(super) fn storage_of(path: &Path) -> Option<Storage> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("mcap") => Some(Storage::Mcap),
        Some("db3") => Some(Storage::Sqlite3),
        _ => None,
    }
}
