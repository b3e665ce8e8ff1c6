//! The record-length checker: every length prefix inside an MCAP record must fit in the
//! record before `mcap` parses it (it reserves memory from them first).

use std::path::{Path, PathBuf};

use mcap::records::Record;

use crate::BagError;

/// An `mcap` error at `offset` of `path`, as the reader reports it.
pub(super) fn mcap_err(path: &Path, offset: u64) -> impl Fn(mcap::McapError) -> BagError + '_ {
    move |cause| BagError::Mcap {
        path: path.to_path_buf(),
        offset,
        cause: Box::new(cause),
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
pub(super) fn parse_record<'a>(path: &Path, offset: u64, opcode: u8, data: &'a [u8]) -> Result<Record<'a>, BagError> {
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

pub(super) fn check_record_lengths(opcode: u8, data: &[u8]) -> Result<(), String> {
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
    use crate::BagReader;

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
