//! The Jetson side of the safety link: people → link frames in the robot base frame →
//! serial port.
//!
//! Every person in a message reaches the link, forecast or not (`person`); people who drop
//! out of view are held for `link.hold_s` (`hold`); the two nearest the points the MCU
//! monitors go out, and a frame that leaves anyone out says so (`select`). The node's writer
//! thread (`a4mer-node`'s `link_sender`) sends the newest frame, aged when it is encoded.

mod hold;
mod person;
mod select;

use std::path::PathBuf;

use a4mer_firmware::link::{MAX_PEOPLE, MAX_STEPS, ModelHealth, PersonForecast};

pub use hold::{HOLD_CAPACITY, Hold, HoldConfig, HoldEvent, REACQUIRE_TOLERANCE_M, ReleaseWhy};
pub use person::{LinkPerson, LinkSource, MAX_BONE_M, fill_from_nearest_observed, link_person, observed_person};
pub use select::{Monitored, Selected, outgoing, people_for_link, unplaced};

/// A rigid transform `p_base = R p + t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RigidTransform {
    pub rotation: [[f64; 3]; 3],
    pub translation_m: [f64; 3],
}

impl RigidTransform {
    pub const IDENTITY: Self = Self {
        rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        translation_m: [0.0; 3],
    };

    /// From `[x, y, z, roll, pitch, yaw]` (metres, radians; R = Rz(yaw) Ry(pitch) Rx(roll), as in
    /// ROS `static_transform_publisher`).
    pub fn from_xyz_rpy(v: [f64; 6]) -> Self {
        let (sr, cr) = v[3].sin_cos();
        let (sp, cp) = v[4].sin_cos();
        let (sy, cy) = v[5].sin_cos();
        Self {
            rotation: [
                [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                [-sp, cp * sr, cp * cr],
            ],
            translation_m: [v[0], v[1], v[2]],
        }
    }

    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let p = p.map(f64::from);
        std::array::from_fn(|i| {
            (self.rotation[i][0] * p[0]
                + self.rotation[i][1] * p[1]
                + self.rotation[i][2] * p[2]
                + self.translation_m[i]) as f32
        })
    }
}

/// Straight-line distance between two points, metres.
pub(crate) fn distance_m(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The serial device and where its frames are placed.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    pub device: PathBuf,
    pub baud: u32,
    pub base_from_forecast: RigidTransform,
}

/// The largest radius sent: the guard's calibrated radius is unbounded when its forecasts
/// keep missing (metres, even hundreds), and the link's millimetre field ends at 65.535 m.
/// A radius beyond any work cell protects as much as a larger one, so it is sent as this
/// rather than dropping the frame the MCU needs; negative or NaN spreads are still refused.
pub const LINK_MAX_SPREAD_M: f32 = 65.0;

/// Link steps are 100 ms apart: every third 30 Hz forecast step.
pub const LINK_STRIDE: usize = 3;
pub const LINK_STEP_MS: u16 = 100;
/// Forecast steps the link carries: its last step's distance from the observation.
pub const LINK_REACH_STEPS: usize = LINK_STRIDE * (MAX_STEPS - 1);

/// The people of the last link frame, in the base frame, and their message's stamp.
#[derive(Clone, Debug)]
pub struct Placed {
    pub people: heapless::Vec<PersonForecast, MAX_PEOPLE>,
    pub stamp_ns: i64,
}

/// What the link has done, for `/diagnostics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkStats {
    pub frames_sent: u64,
    /// Replaced by a newer frame before the writer got to them.
    pub frames_superseded: u64,
    pub frames_dropped_write_timeout: u64,
    /// Offered while the device was missing.
    pub frames_dropped_disconnected: u64,
    pub encode_errors: u64,
    pub write_errors: u64,
    pub opens: u64,
    pub connected: bool,
    /// `pose_age_us` of the last frame written, as encoded.
    pub last_age_at_encode_us: u32,
    pub last_error: Option<String>,
}

/// The node's frame before the writer numbers it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub health: ModelHealth,
    pub step_ms: u16,
    /// People seen but left out for lack of room.
    pub omitted: u8,
    /// Age of the newest observed pose in it, microseconds.
    pub pose_age_us: u32,
    pub people: heapless::Vec<PersonForecast, MAX_PEOPLE>,
}

#[cfg(test)]
mod tests;
