//! The serial link between the Jetson (sender) and the safety MCU (receiver).
//!
//! Wire format of one frame (see `firmware/README.md` for the size and baud budget):
//!
//! ```text
//! COBS( version:u8 | CBOR(LinkFrame, packed) | CRC-32/ISO-HDLC(version | CBOR), little endian ) 0x00
//! ```
//!
//! The version byte sits outside the CBOR body so that a future layout is recognised (and
//! dropped as "wrong version") before the CBOR decoder ever sees it. All positions travel as
//! integer millimetres: the MCU never has to reject a NaN, and the size of a frame is bounded.
//!
//! Both ends use this module: the sender (`encode_frame`, std side, `default-features = false`)
//! and the receiver (`LinkReceiver`, the MCU). Nothing here allocates or needs a clock.

mod codec;
pub mod decision;

use crc::{CRC_32_ISO_HDLC, Crc};
use heapless::Vec;
use serde::{Deserialize, Serialize};

pub use codec::CodecError;

/// Wire protocol version, the first byte of every decoded frame. Version 2 added each
/// person's age (`unseen_us`) and per-joint reach (`reach_mm`), and the frame's `omitted`
/// count; a version-1 sender would leave the MCU believing held people are fresh and
/// filled-in joints are observed, so its frames are dropped.
pub const PROTOCOL_VERSION: u8 = 2;

/// Joints carried over the link, as SMPL-24 indices (`a4mer_runtime::SMPL24`): the body
/// parts that can reach the robot first, plus the pelvis as the body's anchor. Hands rather
/// than wrists because they reach further.
pub const LINK_JOINTS_SMPL24: [u8; LINK_JOINTS] = [
    0,  // pelvis
    15, // head
    16, // left_shoulder
    17, // right_shoulder
    18, // left_elbow
    19, // right_elbow
    22, // left_hand
    23, // right_hand
    4,  // left_knee
    5,  // right_knee
    10, // left_foot
    11, // right_foot
];
/// Number of joints per person per step on the link.
pub const LINK_JOINTS: usize = 12;
/// Steps per person: step 0 is the latest observed pose, steps 1.. are forecasts spaced
/// `step_ms` apart (at 100 ms: a 0.5 s horizon, which covers T_r + T_s of a typical cobot;
/// beyond the horizon the SSM extrapolates with the conservative human speed).
pub const MAX_STEPS: usize = 6;
/// People per frame; the sender keeps the ones nearest to the robot.
pub const MAX_PEOPLE: usize = 2;

/// Worst-case packed-CBOR body: every integer at its widest encoding (checked by a test that
/// encodes exactly that frame).
pub const MAX_CBOR_LEN: usize = 1 // frame map
    + 1 + 1 + 4 + 5 + 5 + 9 + 5 // key, header map, 4 keys, session, seq, stamp, pose age
    + 1 + 1 // key, health
    + 1 + 3 // key, step_ms
    + 1 + 2 // key, omitted
    + 1 + 1 // key, people array
    + MAX_PEOPLE * (1 // person map
        + 1 + 3 // key, track_id
        + 1 + 5 // key, unseen_us
        + 1 + 1 + LINK_JOINTS * 3 // key, reach_mm array
        + 1 + 1 // key, steps array
        + MAX_STEPS * (1 + 1 + 3 + 1 + 1 + LINK_JOINTS * (1 + 3 * 3))); // step map, spread, joints
/// Version byte + CBOR body + CRC-32.
pub const MAX_RAW_LEN: usize = 1 + MAX_CBOR_LEN + 4;
/// Longest frame on the wire: COBS-encoded raw frame plus the 0x00 delimiter.
pub const MAX_WIRE_LEN: usize = cobs::max_encoding_length(MAX_RAW_LEN) + 1;

/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC-32), so any tool can check a captured frame.
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Health of the model on the sender, as reported by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelHealth {
    /// Forecasts are within their validated error.
    Nominal,
    /// The model runs but its forecasts should not be relied on (e.g. input gaps, low
    /// pose confidence, latency over budget).
    Degraded,
    /// The model is not producing forecasts; only step 0 (the observed pose) is meaningful.
    Failed,
}

/// Frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Identifies one run of the sender (e.g. its start time in Unix seconds). A new session
    /// restarts sequence numbering, so a rebooted Jetson is accepted again.
    pub session: u32,
    /// Increases by one per frame within a session (wrapping).
    pub seq: u32,
    /// Sender's monotonic clock when the frame was encoded, microseconds.
    pub sender_stamp_us: u64,
    /// Age of the message the frame was built from when the frame was encoded: camera
    /// capture to send, microseconds. It is the freshest data in the frame (a held person's
    /// step 0 is their `unseen_us` older), and it is fresh even when that message saw nobody.
    /// The MCU adds its own time since reception to know how old the data is.
    pub pose_age_us: u32,
}

/// Joint positions of one person at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastStep {
    /// Uncertainty radius of this step (the forecast's spread), millimetres; 0 for step 0.
    pub spread_mm: u16,
    /// Positions of the `LINK_JOINTS_SMPL24` joints in the robot base frame, millimetres.
    pub joints_in_base_mm: [[i16; 3]; LINK_JOINTS],
}

/// Observed pose and forecast of one tracked person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonForecast {
    pub track_id: u16,
    /// How much older this person's step 0 is than the frame's `pose_age_us`, microseconds:
    /// 0 for a person seen in the message the frame was built from; for a person the sender
    /// holds after they dropped out of view, the time since they were last seen.
    pub unseen_us: u32,
    /// Per link joint (same order as `LINK_JOINTS_SMPL24`), how far the true joint may lie
    /// from the position sent, millimetres: 0 for an observed joint; for a joint filled in
    /// from an observed ancestor, the bone lengths between them.
    pub reach_mm: [u16; LINK_JOINTS],
    /// Step 0: observed; step k: forecast at k * `step_ms` after the observation.
    pub steps: Vec<ForecastStep, MAX_STEPS>,
}

/// One link frame: what the Jetson tells the MCU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFrame {
    pub header: Header,
    pub health: ModelHealth,
    /// Spacing of forecast steps, milliseconds.
    pub step_ms: u16,
    /// People the sender saw but left out for lack of room (they were farther from the
    /// monitored points than those sent). The MCU cannot account for them, so a frame with
    /// any never lets the robot run on the forecast.
    pub omitted: u8,
    /// Tracked people, nearest to the robot first. Empty means the sender tracks nobody
    /// (and, with `omitted = 0`, saw nobody).
    pub people: Vec<PersonForecast, MAX_PEOPLE>,
}

/// A frame that decodes as CBOR but makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFrame {
    #[error("people[{person}].steps is empty: no observed pose")]
    NoSteps { person: usize },
    #[error("step_ms is 0 but people[{person}] has {steps} steps")]
    ZeroStepMs { person: usize, steps: usize },
}

impl LinkFrame {
    /// Checks what the schema cannot: every person has an observed pose, and forecast steps
    /// have a non-zero spacing.
    pub fn validate(&self) -> Result<(), InvalidFrame> {
        for (person, p) in self.people.iter().enumerate() {
            if p.steps.is_empty() {
                return Err(InvalidFrame::NoSteps { person });
            }
            if self.step_ms == 0 && p.steps.len() > 1 {
                return Err(InvalidFrame::ZeroStepMs {
                    person,
                    steps: p.steps.len(),
                });
            }
        }
        Ok(())
    }
}

/// A position the sender cannot put on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("joints_in_base[{joint}][{axis}] is not finite")]
    NotFinite { joint: usize, axis: usize },
    #[error("joints_in_base[{joint}][{axis}] is outside ±32.767 m")]
    OutOfRange { joint: usize, axis: usize },
    #[error("spread is negative, not finite or above 65.535 m")]
    BadSpread,
}

impl ForecastStep {
    /// Builds a step from metres (sender side). Rounds to the nearest millimetre, so the link
    /// adds at most 0.5 mm of position error (`LINK_QUANTIZATION_M`, covered by Z_d).
    pub fn from_metres(joints_in_base_m: &[[f32; 3]; LINK_JOINTS], spread_m: f32) -> Result<Self, PositionError> {
        let mut joints_in_base_mm = [[0i16; 3]; LINK_JOINTS];
        for (joint, (out, p)) in joints_in_base_mm.iter_mut().zip(joints_in_base_m).enumerate() {
            for (axis, (o, v)) in out.iter_mut().zip(p).enumerate() {
                if !v.is_finite() {
                    return Err(PositionError::NotFinite { joint, axis });
                }
                let mm = libm::roundf(v * 1000.0);
                if !(f32::from(i16::MIN)..=f32::from(i16::MAX)).contains(&mm) {
                    return Err(PositionError::OutOfRange { joint, axis });
                }
                *o = mm as i16;
            }
        }
        let spread = libm::ceilf(spread_m * 1000.0);
        if !(0.0..=f32::from(u16::MAX)).contains(&spread) {
            return Err(PositionError::BadSpread);
        }
        Ok(Self {
            spread_mm: spread as u16,
            joints_in_base_mm,
        })
    }
}

/// Largest position error the millimetre encoding adds, metres.
pub const LINK_QUANTIZATION_M: f32 = 0.0005;

/// Why the sender could not encode a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("frame is invalid: {0}")]
    Invalid(InvalidFrame),
    #[error("CBOR encoding failed: {0}")]
    Cbor(CodecError),
    #[error("output buffer holds {capacity} bytes, the encoded frame needs more (max {MAX_WIRE_LEN})")]
    OutputTooSmall { capacity: usize },
}

// Written out rather than `#[from]`, which would also make the cause `source()`: the
// message already carries it, and a chain printer would show it twice.
impl From<InvalidFrame> for EncodeError {
    fn from(e: InvalidFrame) -> Self {
        Self::Invalid(e)
    }
}

impl From<CodecError> for EncodeError {
    fn from(e: CodecError) -> Self {
        Self::Cbor(e)
    }
}

/// Encodes `frame` for the wire into `out` (size it `MAX_WIRE_LEN`), including the trailing
/// 0x00 delimiter; returns the number of bytes to send.
pub fn encode_frame(frame: &LinkFrame, out: &mut [u8]) -> Result<usize, EncodeError> {
    frame.validate()?;
    let mut raw = [0u8; MAX_RAW_LEN];
    raw[0] = PROTOCOL_VERSION;
    let cbor_len = codec::encode(frame, &mut raw[1..MAX_RAW_LEN - 4])?;
    seal(&mut raw, 1 + cbor_len, out).ok_or(EncodeError::OutputTooSmall { capacity: out.len() })
}

/// Appends the CRC-32 to `raw[..body_end]` (version | body; `raw` has 4 bytes of room after
/// it) and writes `COBS(raw) 0x00` into `out`. Shared by both directions of the link, so a
/// decision frame is framed and checked exactly like a link frame. `None`: `out` is too small.
fn seal(raw: &mut [u8], body_end: usize, out: &mut [u8]) -> Option<usize> {
    let crc = CRC32.checksum(raw.get(..body_end)?);
    raw.get_mut(body_end..body_end + 4)?.copy_from_slice(&crc.to_le_bytes());
    let raw = &raw[..body_end + 4];
    let cobs_room = out.len().checked_sub(1)?;
    let n = cobs::try_encode(raw, &mut out[..cobs_room]).ok()?;
    out[n] = 0;
    Some(n + 1)
}

/// Why the bytes between two delimiters are not a frame, before its body is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsealed {
    Cobs,
    Truncated,
    Crc,
}

/// Undoes `seal` in place: COBS, length, CRC. Returns the version byte and the CBOR body.
fn unseal(cobs_bytes: &mut [u8]) -> Result<(u8, &[u8]), Unsealed> {
    let raw_len = cobs::decode_in_place(cobs_bytes).map_err(|_| Unsealed::Cobs)?;
    let raw = cobs_bytes.get(..raw_len).ok_or(Unsealed::Cobs)?;
    if raw.len() < 1 + 4 {
        return Err(Unsealed::Truncated);
    }
    let (body, crc_bytes) = raw.split_at(raw.len() - 4);
    let sent_crc = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
    if CRC32.checksum(body) != sent_crc {
        return Err(Unsealed::Crc);
    }
    Ok((body[0], &body[1..]))
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("no delimiter within {MAX_WIRE_LEN} bytes")]
    Oversize,
    #[error("COBS framing is broken")]
    Cobs,
    #[error("shorter than version byte + CRC")]
    Truncated,
    #[error("CRC-32 mismatch")]
    Crc,
    #[error(
        "protocol version {got}, expected {PROTOCOL_VERSION} (version 1 lacks per-person age and reach; update the sender)"
    )]
    Version { got: u8 },
    #[error("CBOR body: {0}")]
    Cbor(CodecError),
    #[error("invalid frame: {0}")]
    Invalid(InvalidFrame),
    #[error("sequence number {seq} repeated")]
    RepeatedSeq { seq: u32 },
    #[error("sequence number {seq} older than the last accepted {last}")]
    StaleSeq { seq: u32, last: u32 },
}

/// Decodes one frame: the bytes between two delimiters, without the delimiter. Stateless (no
/// sequence check); `LinkReceiver` adds that. The buffer is decoded in place.
pub fn decode_frame(cobs_bytes: &mut [u8]) -> Result<LinkFrame, DropReason> {
    let (version, body) = unseal(cobs_bytes).map_err(|e| match e {
        Unsealed::Cobs => DropReason::Cobs,
        Unsealed::Truncated => DropReason::Truncated,
        Unsealed::Crc => DropReason::Crc,
    })?;
    if version != PROTOCOL_VERSION {
        return Err(DropReason::Version { got: version });
    }
    let frame: LinkFrame = codec::decode(body).map_err(DropReason::Cbor)?;
    frame.validate().map_err(DropReason::Invalid)?;
    Ok(frame)
}

/// Dropped frames per reason, plus accepted frames. Saturating: a counter never wraps back to
/// a reassuring zero. The MCU reports them in every `Decision` (field order is wire order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkCounters {
    pub accepted: u32,
    /// Frames missing between two accepted ones (sequence gaps); not drops.
    pub lost: u32,
    /// Accepted frames that started a new sender session.
    pub session_changes: u32,
    pub oversize: u32,
    pub cobs: u32,
    pub truncated: u32,
    pub crc: u32,
    pub version: u32,
    pub cbor: u32,
    pub invalid: u32,
    pub repeated_seq: u32,
    pub stale_seq: u32,
}

impl LinkCounters {
    /// Total frames dropped for any reason.
    pub fn dropped(&self) -> u32 {
        [
            self.oversize,
            self.cobs,
            self.truncated,
            self.crc,
            self.version,
            self.cbor,
            self.invalid,
            self.repeated_seq,
            self.stale_seq,
        ]
        .iter()
        .fold(0u32, |a, b| a.saturating_add(*b))
    }

    fn count(&mut self, reason: &DropReason) {
        let c = match reason {
            DropReason::Oversize => &mut self.oversize,
            DropReason::Cobs => &mut self.cobs,
            DropReason::Truncated => &mut self.truncated,
            DropReason::Crc => &mut self.crc,
            DropReason::Version { .. } => &mut self.version,
            DropReason::Cbor(_) => &mut self.cbor,
            DropReason::Invalid(_) => &mut self.invalid,
            DropReason::RepeatedSeq { .. } => &mut self.repeated_seq,
            DropReason::StaleSeq { .. } => &mut self.stale_seq,
        };
        *c = c.saturating_add(1);
    }
}

/// Receiving end: feed it bytes from the UART as they arrive.
#[derive(Debug, Default)]
pub struct LinkReceiver {
    buf: Vec<u8, MAX_WIRE_LEN>,
    /// Discarding bytes until the next delimiter after an oversize frame.
    skipping: bool,
    last: Option<(u32, u32)>,
    counters: LinkCounters,
}

impl LinkReceiver {
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            skipping: false,
            last: None,
            counters: LinkCounters {
                accepted: 0,
                lost: 0,
                session_changes: 0,
                oversize: 0,
                cobs: 0,
                truncated: 0,
                crc: 0,
                version: 0,
                cbor: 0,
                invalid: 0,
                repeated_seq: 0,
                stale_seq: 0,
            },
        }
    }

    pub fn counters(&self) -> &LinkCounters {
        &self.counters
    }

    /// Takes one byte. Returns `Some` when the byte ends a frame: the accepted frame, or why
    /// it was dropped (already counted). Back-to-back delimiters (idle line) return `None`.
    pub fn push(&mut self, byte: u8) -> Option<Result<LinkFrame, DropReason>> {
        if byte != 0 {
            if !self.skipping && self.buf.push(byte).is_err() {
                self.buf.clear();
                self.skipping = true;
                self.counters.count(&DropReason::Oversize);
                return Some(Err(DropReason::Oversize));
            }
            return None;
        }
        if core::mem::take(&mut self.skipping) || self.buf.is_empty() {
            return None;
        }
        let result = decode_frame(&mut self.buf).and_then(|frame| self.check_sequence(frame));
        self.buf.clear();
        match &result {
            Ok(_) => self.counters.accepted = self.counters.accepted.saturating_add(1),
            Err(reason) => self.counters.count(reason),
        }
        Some(result)
    }

    fn check_sequence(&mut self, frame: LinkFrame) -> Result<LinkFrame, DropReason> {
        let (session, seq) = (frame.header.session, frame.header.seq);
        match self.last {
            Some((last_session, last)) if last_session == session => {
                // Serial-number arithmetic (RFC 1982): survives the u32 wrap.
                let ahead = seq.wrapping_sub(last) as i32;
                if ahead == 0 {
                    return Err(DropReason::RepeatedSeq { seq });
                }
                if ahead < 0 {
                    return Err(DropReason::StaleSeq { seq, last });
                }
                self.counters.lost = self.counters.lost.saturating_add(ahead as u32 - 1);
            }
            Some(_) => self.counters.session_changes = self.counters.session_changes.saturating_add(1),
            None => {}
        }
        self.last = Some((session, seq));
        Ok(frame)
    }
}

/// Time to send `bytes` over a UART at `baud` with 8N1 framing (10 bits per byte),
/// microseconds, rounded up.
pub const fn transmit_time_us(bytes: usize, baud: u32) -> u32 {
    if baud == 0 {
        return u32::MAX;
    }
    let bits = bytes as u64 * 10;
    bits.saturating_mul(1_000_000).div_ceil(baud as u64) as u32
}

#[cfg(test)]
pub(crate) mod tests;
