//! Speed and separation monitoring per ISO/TS 15066:
//!
//! ```text
//! S_p = S_h + S_r + S_s + C + Z_d + Z_r
//! ```
//!
//! - `S_h`: how far the human may approach while the robot reacts and stops
//!   (`T_r + T_s`), plus how far they may have moved since the pose was captured (its age).
//!   Conservatively `v_h * (age + T_r + T_s)` with the ISO 13855 speed `v_h` (2.0 m/s within
//!   0.5 m, else 1.6 m/s).
//! - `S_r = v_r * T_r`: robot travel during the reaction time.
//! - `S_s = v_r * T_s / 2`: robot travel while braking (linear deceleration over `T_s`).
//! - `C`, `Z_d`, `Z_r`: intrusion distance, human and robot position uncertainty.
//!
//! The robot may move at speed `v` while `separation >= S_p(v)`; the speed-scaling factor is
//! the largest such `v` over the robot's programmed speed, clamped to [0, 1].
//!
//! A forecast only ever adds candidates to a minimum: the predicted position of a joint at a
//! forecast step, minus that step's spread, then conservative speed for the rest of the
//! window. So a forecast can raise `S_h` (a fast approach is coming) but never lower it below
//! the conservative value: predictions tighten the certified bound, never loosen it.
//!
//! What the sender does not know for certain is charged against the separation before
//! anything else, per person:
//! - age: the frame's pose age plus the person's `unseen_us` (a person the sender holds after
//!   they dropped out of view has been approaching, unseen, for that long);
//! - reach: each joint's distance is reduced by its `reach_mm` (a joint filled in from an
//!   observed ancestor may lie that much nearer than the position sent).

use crate::link::{ForecastStep, LINK_JOINTS, LINK_QUANTIZATION_M, PersonForecast};

/// SSM parameters. Defaults are placeholders for a small cobot; the real values come from the
/// cell's risk assessment (measured stopping time, sensor accuracy, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsmConfig {
    /// ISO 13855 human speed beyond `near_distance_m`, m/s.
    pub human_speed_far_mps: f32,
    /// ISO 13855 human speed within `near_distance_m`, m/s.
    pub human_speed_near_mps: f32,
    /// Separation below which the near speed applies, metres.
    pub near_distance_m: f32,
    /// `T_r`: time from a separation violation to the robot starting to brake, seconds.
    pub reaction_time_s: f32,
    /// `T_s`: braking time from the robot's programmed speed, seconds.
    pub stopping_time_s: f32,
    /// `C`: intrusion distance (reach beyond the tracked joints), metres.
    pub intrusion_distance_m: f32,
    /// `Z_d`: human position uncertainty (pose estimator), metres. The link's millimetre
    /// rounding (`LINK_QUANTIZATION_M`) is added on top.
    pub human_uncertainty_m: f32,
    /// `Z_r`: robot position uncertainty, metres.
    pub robot_uncertainty_m: f32,
    /// Radius around the monitored robot point that the robot's moving parts occupy, metres.
    pub robot_radius_m: f32,
}

impl Default for SsmConfig {
    fn default() -> Self {
        Self {
            human_speed_far_mps: 1.6,
            human_speed_near_mps: 2.0,
            near_distance_m: 0.5,
            reaction_time_s: 0.1,
            stopping_time_s: 0.3,
            intrusion_distance_m: 0.2,
            human_uncertainty_m: 0.1,
            robot_uncertainty_m: 0.02,
            robot_radius_m: 0.15,
        }
    }
}

/// A configuration value that would make the bound meaningless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SsmConfigError {
    #[error("ssm.{0} must be finite and >= 0")]
    Negative(&'static str),
    #[error("ssm.{0} must be finite and > 0")]
    NotPositive(&'static str),
    #[error("ssm.human_speed_near_mps must be >= ssm.human_speed_far_mps (ISO 13855)")]
    NearSlowerThanFar,
}

impl SsmConfig {
    pub fn validate(&self) -> Result<(), SsmConfigError> {
        let positive = [
            ("human_speed_far_mps", self.human_speed_far_mps),
            ("human_speed_near_mps", self.human_speed_near_mps),
            ("stopping_time_s", self.stopping_time_s),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(SsmConfigError::NotPositive(name));
            }
        }
        let non_negative = [
            ("near_distance_m", self.near_distance_m),
            ("reaction_time_s", self.reaction_time_s),
            ("intrusion_distance_m", self.intrusion_distance_m),
            ("human_uncertainty_m", self.human_uncertainty_m),
            ("robot_uncertainty_m", self.robot_uncertainty_m),
            ("robot_radius_m", self.robot_radius_m),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SsmConfigError::Negative(name));
            }
        }
        if self.human_speed_near_mps < self.human_speed_far_mps {
            return Err(SsmConfigError::NearSlowerThanFar);
        }
        Ok(())
    }

    /// `T_r + T_s`: the window in which the human may approach before the robot stands still.
    fn window_s(&self) -> f32 {
        self.reaction_time_s + self.stopping_time_s
    }

    /// Distance the robot covers per m/s of speed before standing still: `S_r + S_s = v *
    /// (T_r + T_s / 2)`.
    fn robot_travel_per_mps(&self) -> f32 {
        self.reaction_time_s + self.stopping_time_s / 2.0
    }

    fn static_margin_m(&self) -> f32 {
        self.intrusion_distance_m + self.human_uncertainty_m + LINK_QUANTIZATION_M + self.robot_uncertainty_m
    }

    /// `S_p` for a constant human speed (the textbook form), metres.
    pub fn protective_distance_m(&self, human_speed_mps: f32, robot_speed_mps: f32) -> f32 {
        human_speed_mps * self.window_s()
            + robot_speed_mps * self.reaction_time_s
            + robot_speed_mps * self.stopping_time_s / 2.0
            + self.static_margin_m()
    }
}

/// What the controller tells the MCU about the robot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobotState {
    /// The monitored robot point (e.g. the tool centre point) in the robot base frame, metres.
    pub position_in_base_m: [f32; 3],
    /// The speed the robot moves at with scaling factor 1 (its programmed speed), m/s.
    pub programmed_speed_mps: f32,
}

/// What the MCU knows about the humans: the latest accepted link frame and its age.
#[derive(Debug, Clone, Copy)]
pub struct HumanView<'a> {
    pub people: &'a [PersonForecast],
    pub step_ms: u16,
    /// Age of the frame's freshest step 0 now, seconds. Each person's own age adds their
    /// `unseen_us` to it.
    pub pose_age_s: f32,
}

/// Use the forecast steps, or only the observed pose (step 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastUse {
    Tighten,
    Ignore,
}

/// Result of one SSM evaluation, with the terms of `S_p` for logging and replay reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Speed-scaling factor in [0, 1].
    pub scale: f32,
    /// Current separation from the nearest joint to the robot's surface (step 0), less that
    /// joint's reach, metres; `f32::INFINITY` if nobody is tracked.
    pub separation_m: f32,
    /// `S_h` (approach incl. each person's age), metres; 0 if nobody is tracked.
    pub s_h_m: f32,
    /// `S_r + S_s` at the programmed speed, metres.
    pub s_rs_m: f32,
    /// `C + Z_d + Z_r` (plus link quantization), metres.
    pub static_m: f32,
    /// `S_p = S_h + S_r + S_s + C + Z_d + Z_r` at the programmed speed, metres.
    pub s_p_m: f32,
    /// True when a forecast raised `S_h` above the conservative value.
    pub forecast_tightened: bool,
}

impl Assessment {
    const STOP: Self = Self {
        scale: 0.0,
        separation_m: 0.0,
        s_h_m: f32::INFINITY,
        s_rs_m: 0.0,
        static_m: 0.0,
        s_p_m: f32::INFINITY,
        forecast_tightened: false,
    };
}

fn distance_m(a: &[f32; 3], mm: &[i16; 3]) -> f32 {
    let d: [f32; 3] = core::array::from_fn(|i| f32::from(mm[i]) / 1000.0 - a[i]);
    libm::sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
}

/// Distance from `p_r` to the nearest point where any joint of `step` may truly be, minus the
/// robot's radius: a joint sent with reach `r` may lie anywhere within `r` of its position.
fn nearest_m(cfg: &SsmConfig, p_r: &[f32; 3], step: &ForecastStep, reach_mm: &[u16; LINK_JOINTS]) -> f32 {
    step.joints_in_base_mm
        .iter()
        .zip(reach_mm)
        .map(|(j, r)| distance_m(p_r, j) - f32::from(*r) / 1000.0)
        .fold(f32::INFINITY, f32::min)
        - cfg.robot_radius_m
}

/// Speed-scaling factor for the robot given the humans. `cfg` must have passed
/// `SsmConfig::validate` (the monitor checks it once); a non-finite robot state, pose age or
/// person's bound yields a stop.
pub fn assess(cfg: &SsmConfig, robot: &RobotState, humans: &HumanView<'_>, forecast: ForecastUse) -> Assessment {
    let robot_ok = robot.position_in_base_m.iter().all(|v| v.is_finite())
        && robot.programmed_speed_mps.is_finite()
        && robot.programmed_speed_mps >= 0.0;
    if !robot_ok || !humans.pose_age_s.is_finite() || humans.pose_age_s < 0.0 {
        return Assessment::STOP;
    }
    let p_r = &robot.position_in_base_m;
    let window = cfg.window_s();
    let step_s = f32::from(humans.step_ms) / 1000.0;

    // Per person, a lower bound on their separation at the end of the window (now + T_r +
    // T_s); the nearest person decides.
    let mut separation = f32::INFINITY;
    let mut end = f32::INFINITY;
    let mut conservative_end = f32::INFINITY;
    for person in humans.people {
        let Some(observed) = person.steps.first() else {
            return Assessment::STOP; // the link validates this; never trust a hole
        };
        let nearest = |step: &ForecastStep| nearest_m(cfg, p_r, step, &person.reach_mm);
        // A held person was last seen `unseen_us` before the frame's freshest pose: their
        // horizon and their ISO 13855 speed follow their own age.
        let age = humans.pose_age_s + person.unseen_us as f32 / 1e6;
        let d0 = nearest(observed);
        // `min` below would skip a NaN and let this person pass unseen.
        if !(age.is_finite() && d0.is_finite()) {
            return Assessment::STOP;
        }
        // ISO 13855: the near speed applies if the human may already be within the threshold.
        let v_h = if d0 - cfg.human_speed_far_mps * age <= cfg.near_distance_m {
            cfg.human_speed_near_mps
        } else {
            cfg.human_speed_far_mps
        };
        // Time from the capture of step 0 to the end of the window.
        let horizon_s = age + window;
        let person_conservative = d0 - v_h * horizon_s;
        let mut person_end = person_conservative;
        if forecast == ForecastUse::Tighten {
            for (k, step) in person.steps.iter().enumerate().skip(1) {
                let t_k = k as f32 * step_s;
                if t_k > horizon_s {
                    break;
                }
                let predicted = nearest(step) - f32::from(step.spread_mm) / 1000.0;
                // `min` keeps the other operand if this one is NaN: never loosens.
                person_end = person_end.min(predicted - v_h * (horizon_s - t_k));
            }
        }
        separation = separation.min(d0);
        end = end.min(person_end);
        conservative_end = conservative_end.min(person_conservative);
    }
    let s_h = if separation.is_finite() { separation - end } else { 0.0 };

    let s_rs = robot.programmed_speed_mps * cfg.robot_travel_per_mps();
    let static_m = cfg.static_margin_m();
    let mut scale = 1.0;
    if separation.is_finite() {
        // Largest v with separation >= S_h + v * (T_r + T_s/2) + static, where
        // separation - S_h = end.
        let room = end - static_m;
        scale = if robot.programmed_speed_mps > 0.0 {
            room / s_rs
        } else if room >= 0.0 {
            1.0
        } else {
            0.0
        };
    }
    // NaN (from any corner case) must stop, not pass: `clamp` would keep NaN.
    let scale = if scale.is_nan() { 0.0 } else { scale.clamp(0.0, 1.0) };
    Assessment {
        scale,
        separation_m: separation,
        s_h_m: s_h,
        s_rs_m: s_rs,
        static_m,
        s_p_m: s_h + s_rs + static_m,
        forecast_tightened: end < conservative_end,
    }
}

#[cfg(test)]
mod tests;
