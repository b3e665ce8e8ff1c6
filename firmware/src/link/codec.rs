//! The only place that touches CBOR. serde_cbor is flagged unmaintained (RUSTSEC-2021-0127):
//! keeping every call here means swapping it (e.g. for minicbor) changes one file.

use serde_cbor::de::from_slice_with_scratch;
use serde_cbor::ser::{Serializer, SliceWrite};

use super::LinkFrame;

/// CBOR failed to encode or decode. serde_cbor's own error is not kept: it is not `Clone` and
/// its message needs `std` to render, and the receiver only counts the drop anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("CBOR body does not fit the {capacity}-byte buffer")]
    BufferTooSmall { capacity: usize },
    #[error("CBOR body is malformed or does not match the LinkFrame schema")]
    Malformed,
}

/// Encodes `frame` as packed CBOR (integer field keys) into `out`; returns the bytes written.
pub fn encode(frame: &LinkFrame, out: &mut [u8]) -> Result<usize, CodecError> {
    let capacity = out.len();
    let mut ser = Serializer::new(SliceWrite::new(out)).packed_format();
    serde::Serialize::serialize(frame, &mut ser).map_err(|_| CodecError::BufferTooSmall { capacity })?;
    Ok(ser.into_inner().bytes_written())
}

/// Decodes one packed-CBOR `LinkFrame`; trailing bytes are an error. No scratch buffer: the
/// schema has no strings or byte strings, so nothing needs to be copied.
pub fn decode(bytes: &[u8]) -> Result<LinkFrame, CodecError> {
    from_slice_with_scratch(bytes, &mut []).map_err(|_| CodecError::Malformed)
}
