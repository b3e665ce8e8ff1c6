//! Every CBOR call of the runtime goes through here, so serde_cbor (unmaintained,
//! RUSTSEC-2021-0127) can be swapped in one place.

use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("CBOR ends early (truncated) at byte {offset}")]
    Truncated { offset: usize },
    #[error("not valid CBOR for {what}: {message}")]
    Malformed { what: &'static str, message: String },
    #[error("cannot encode {what} as CBOR: {message}")]
    Encode { what: &'static str, message: String },
}

pub fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, CodecError> {
    // Named fields (not packed): the artifact is also read by Python peers (cbor2).
    serde_cbor::to_vec(value).map_err(|e| CodecError::Encode {
        what,
        message: e.to_string(),
    })
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, CodecError> {
    serde_cbor::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            CodecError::Truncated {
                offset: e.offset() as usize,
            }
        } else {
            CodecError::Malformed {
                what,
                message: e.to_string(),
            }
        }
    })
}
