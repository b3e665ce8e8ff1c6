//! The only place that touches CBOR. serde_cbor is flagged unmaintained (RUSTSEC-2021-0127):
//! keeping every call here means swapping it (e.g. for minicbor) changes one file.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_cbor::de::from_slice_with_scratch;
use serde_cbor::ser::{Serializer, SliceWrite};

/// CBOR failed to encode or decode. serde_cbor's own error is not kept: it is not `Clone` and
/// its message needs `std` to render, and the receiver only counts the drop anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("CBOR body does not fit the {capacity}-byte buffer")]
    BufferTooSmall { capacity: usize },
    #[error("CBOR body is malformed or does not match the schema")]
    Malformed,
}

/// Encodes `value` as packed CBOR (integer field keys) into `out`; returns the bytes written.
/// Both directions of the link (`LinkFrame`, `Decision`) go through here.
pub fn encode<T: Serialize>(value: &T, out: &mut [u8]) -> Result<usize, CodecError> {
    let capacity = out.len();
    let mut ser = Serializer::new(SliceWrite::new(out)).packed_format();
    value
        .serialize(&mut ser)
        .map_err(|_| CodecError::BufferTooSmall { capacity })?;
    Ok(ser.into_inner().bytes_written())
}

/// Decodes one packed-CBOR value; trailing bytes are an error. No scratch buffer: the
/// schemas have no strings or byte strings, so nothing needs to be copied.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    from_slice_with_scratch(bytes, &mut []).map_err(|_| CodecError::Malformed)
}
