//! a4mer-firmware: the safety co-processor beside the robot controller.
//!
//! - [`link`]: the serial protocol shared with the Jetson (CBOR → CRC-32 → COBS), encoder and
//!   a receiver that counts and drops every malformed, stale or repeated frame.
//! - [`ssm`]: ISO/TS 15066 speed and separation monitoring; forecasts only tighten it.
//! - [`monitor`]: the Run / Fallback / ProtectiveStop state machine on a caller-supplied clock.
//! - `watchdog` (default feature): the monitor on embassy-time.
//!
//! `no_std`, no allocation. The std side depends on this crate with `default-features =
//! false` (no embassy-time, so no time driver clash in std binaries).
#![no_std]

#[cfg(test)]
extern crate std;

pub mod link;
pub mod monitor;
pub mod ssm;
#[cfg(feature = "watchdog")]
pub mod watchdog;
