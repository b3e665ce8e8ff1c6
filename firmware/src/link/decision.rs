//! The MCU's answer on the same serial line: every decision it takes, as a frame with the same
//! discipline as `LinkFrame` (packed CBOR behind a version byte, CRC-32, COBS, 0x00), so the
//! sender, a test bench or a logger reads Run / Fallback / ProtectiveStop and the speed limit
//! without parsing text, and a corrupted byte is a counted drop, never a wrong speed.
//!
//! ```text
//! COBS( DECISION_VERSION:u8 | CBOR(Decision, packed) | CRC-32/ISO-HDLC, little endian ) 0x00
//! ```
//!
//! Its own version number: the two directions evolve separately.

use serde::{Deserialize, Serialize};

use super::{LinkCounters, Unsealed, codec, seal, unseal};
use crate::monitor::{Mode, Reason};

pub use super::CodecError;

/// First byte of every decoded decision frame.
pub const DECISION_VERSION: u8 = 1;

/// Upper bound of the packed-CBOR `Decision` (every integer at its widest; a test encodes
/// that decision and checks it fits).
pub const MAX_DECISION_CBOR_LEN: usize = 160;
/// Version byte + CBOR body + CRC-32.
pub const MAX_DECISION_RAW_LEN: usize = 1 + MAX_DECISION_CBOR_LEN + 4;
/// Longest decision frame on the wire, delimiter included.
pub const MAX_DECISION_WIRE_LEN: usize = cobs::max_encoding_length(MAX_DECISION_RAW_LEN) + 1;

/// What made the MCU send this decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// The first decision after reset.
    Boot,
    /// A link frame was accepted; `frame` names it and the scale is computed at its arrival.
    Frame,
    /// A link frame was dropped (the counters say why).
    Drop,
    /// The mode or its reason changed without a frame: a threshold of the frame's age.
    Change,
    /// Nothing happened for a while: the line stays readable as alive.
    Heartbeat,
    /// The safety loop stalled: the hardware watchdog's first timeout stops the robot, and
    /// its second resets the MCU. Sent from the watchdog's interrupt, which cannot read the
    /// loop's state: `frame` is `None` and the counters are zero.
    Watchdog,
}

/// Which link frame a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameId {
    pub session: u32,
    pub seq: u32,
}

/// One decision of the safety MCU, as sent to the host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// +1 per decision since reset (wrapping); a gap means decisions were lost on the line.
    pub seq: u32,
    /// The MCU's monotonic clock when the decision was taken, microseconds since reset.
    pub at_us: u64,
    pub trigger: Trigger,
    pub mode: Mode,
    pub reason: Reason,
    /// Speed limit, as the fraction of the programmed speed the robot may move at, in [0, 1];
    /// 0 in `ProtectiveStop`.
    pub scale: f32,
    /// Age of the pose data behind the decision (frame's `pose_age_us` + link latency + time
    /// since reception), microseconds, saturated; `None` before any frame.
    pub pose_age_us: Option<u32>,
    /// The latest accepted link frame, if any.
    pub frame: Option<FrameId>,
    /// The receiver's counters at the time of the decision.
    pub link: LinkCounters,
}

/// Why the sender could not encode a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecisionEncodeError {
    #[error("CBOR encoding failed: {0}")]
    Cbor(CodecError),
    #[error("output buffer holds {capacity} bytes, the decision needs more (max {MAX_DECISION_WIRE_LEN})")]
    OutputTooSmall { capacity: usize },
}

/// Why received bytes are not a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("COBS framing is broken")]
    Cobs,
    #[error("shorter than version byte + CRC")]
    Truncated,
    #[error("CRC-32 mismatch")]
    Crc,
    #[error("decision version {got}, expected {DECISION_VERSION}")]
    Version { got: u8 },
    #[error("CBOR body: {0}")]
    Cbor(CodecError),
}

/// Encodes `decision` into `out` (size it `MAX_DECISION_WIRE_LEN`), delimiter included;
/// returns the bytes to send.
pub fn encode_decision(decision: &Decision, out: &mut [u8]) -> Result<usize, DecisionEncodeError> {
    let mut raw = [0u8; MAX_DECISION_RAW_LEN];
    raw[0] = DECISION_VERSION;
    let cbor_len = codec::encode(decision, &mut raw[1..MAX_DECISION_RAW_LEN - 4]).map_err(DecisionEncodeError::Cbor)?;
    seal(&mut raw, 1 + cbor_len, out).ok_or(DecisionEncodeError::OutputTooSmall { capacity: out.len() })
}

/// Decodes one decision: the bytes between two delimiters, without the delimiter, in place.
pub fn decode_decision(cobs_bytes: &mut [u8]) -> Result<Decision, DecisionError> {
    let (version, body) = unseal(cobs_bytes).map_err(|e| match e {
        Unsealed::Cobs => DecisionError::Cobs,
        Unsealed::Truncated => DecisionError::Truncated,
        Unsealed::Crc => DecisionError::Crc,
    })?;
    if version != DECISION_VERSION {
        return Err(DecisionError::Version { got: version });
    }
    codec::decode(body).map_err(DecisionError::Cbor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::ModelHealth;

    fn widest() -> Decision {
        let max = u32::MAX;
        Decision {
            seq: max,
            at_us: u64::MAX,
            trigger: Trigger::Heartbeat,
            mode: Mode::Fallback,
            reason: Reason::Health(ModelHealth::Degraded),
            scale: 0.123_456_79,
            pose_age_us: Some(max),
            frame: Some(FrameId { session: max, seq: max }),
            link: LinkCounters {
                accepted: max,
                lost: max,
                session_changes: max,
                oversize: max,
                cobs: max,
                truncated: max,
                crc: max,
                version: max,
                cbor: max,
                invalid: max,
                repeated_seq: max,
                stale_seq: max,
            },
        }
    }

    #[test]
    fn widest_decision_fits_and_round_trips() {
        let d = widest();
        let mut out = [0u8; MAX_DECISION_WIRE_LEN];
        let n = encode_decision(&d, &mut out).expect("fits");
        assert_eq!(out[n - 1], 0);
        assert_eq!(decode_decision(&mut out[..n - 1]), Ok(d));
    }

    #[test]
    fn boot_decision_round_trips_and_scale_bits_survive() {
        let d = Decision {
            seq: 0,
            at_us: 0,
            trigger: Trigger::Boot,
            mode: Mode::ProtectiveStop,
            reason: Reason::Startup,
            scale: 0.0,
            pose_age_us: None,
            frame: None,
            link: LinkCounters::default(),
        };
        let mut out = [0u8; MAX_DECISION_WIRE_LEN];
        let n = encode_decision(&d, &mut out).expect("fits");
        assert_eq!(decode_decision(&mut out[..n - 1]), Ok(d));
        for scale in [1.0, 0.5, 0.333_333_34, f32::MIN_POSITIVE, 0.999_999_94] {
            let d = Decision { scale, ..d };
            let n = encode_decision(&d, &mut out).expect("fits");
            let back = decode_decision(&mut out[..n - 1]).expect("decodes");
            assert_eq!(back.scale.to_bits(), scale.to_bits());
        }
    }

    #[test]
    fn corrupt_decisions_are_refused_not_misread() {
        let d = widest();
        let mut out = [0u8; MAX_DECISION_WIRE_LEN];
        let n = encode_decision(&d, &mut out).expect("fits");
        for i in 0..n - 1 {
            let mut w = out;
            w[i] ^= 0x20;
            if w[i] == 0 {
                continue;
            }
            assert!(decode_decision(&mut w[..n - 1]).is_err(), "flip at {i} accepted");
        }
        let mut short = out;
        assert_eq!(decode_decision(&mut short[..3]), Err(DecisionError::Truncated));
    }

    #[test]
    fn a_link_frame_is_not_a_decision() {
        let f = crate::link::tests::frame(1, 1);
        let mut out = [0u8; crate::link::MAX_WIRE_LEN];
        let n = crate::link::encode_frame(&f, &mut out).expect("encodes");
        assert_eq!(
            decode_decision(&mut out[..n - 1]),
            Err(DecisionError::Version {
                got: crate::link::PROTOCOL_VERSION
            })
        );
    }
}
