//! The node's parameters: names, defaults, and validation that names the bad parameter.
//!
//! `launch/params/a4mer.yaml` documents every one; a test keeps the two in step.

pub mod sched;

use std::path::PathBuf;

use crate::adapters::InputType;
use crate::ros_args::params::{ParamError, Parameters};

/// Every parameter the node accepts. Anything else fails start-up (a typo must not fall
/// back to a default silently).
pub const PARAMETERS: &[&str] = &[
    "use_sim_time",
    "model",
    "input.type",
    "input.joint_order",
    "input.joint_map",
    "input.min_confidence",
    "input.queue_depth",
    "tracks.max",
    "tracks.gap_limit_s",
    "guard.adapt",
    "output.frame_id",
    "output.queue_depth",
    "tf.max_age_s",
    "tf.buffer_s",
    "markers.stride",
    "diagnostics.period_s",
    "link.device",
    "link.baud",
    "link.base_from_forecast_xyz_rpy",
    "link.monitored_points",
    "link.monitored_radius_m",
    "link.hold_s",
    "link.human_speed_mps",
    "sched.policy",
    "sched.priority",
    "sched.cpus",
    "lifecycle.autostart",
    "safety.live_changes",
];

/// The parameters that change what reaches the safety MCU: who is seen (confidence, joint
/// maps, input type), who is followed (tracks), where people are placed (TF, frames, the
/// link's geometry), what the forecast is (model, adaptation) and how the link holds people.
/// Any of them that could change while running is read-only then unless the node was started
/// with `safety.live_changes:=true`: a participant on the network must not be able to make
/// a person vanish from the link.
pub const SAFETY_PARAMETERS: &[&str] = &[
    "model",
    "input.type",
    "input.joint_order",
    "input.joint_map",
    "input.min_confidence",
    "tracks.max",
    "tracks.gap_limit_s",
    "guard.adapt",
    "output.frame_id",
    "tf.max_age_s",
    "tf.buffer_s",
    "link.device",
    "link.baud",
    "link.base_from_forecast_xyz_rpy",
    "link.monitored_points",
    "link.monitored_radius_m",
    "link.hold_s",
    "link.human_speed_mps",
];

pub const DEFAULT_NODE_NAME: &str = "a4mer_node";

/// The validated configuration of one node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// Take time from `/clock` instead of the system clock.
    pub use_sim_time: bool,
    /// The model artifact; `None` means the bundled int8 model.
    pub model: Option<PathBuf>,
    pub input_type: InputType,
    /// Joint order of `pose_array` input; empty means SMPL-24.
    pub input_joint_order: Vec<String>,
    /// Explicit joint map (TOML) replacing the name-based and built-in maps.
    pub input_joint_map: Option<PathBuf>,
    /// Joints at or below this confidence count as not observed.
    pub input_min_confidence: f32,
    /// Keep-last depth of the (best-effort) input subscription.
    pub input_queue_depth: u32,
    /// Most people tracked at once; more are dropped (and counted in diagnostics).
    pub max_tracks: usize,
    /// A track with no frame for this long is reset.
    pub gap_limit_s: f64,
    /// Adapt the model's decode to each person from the guard's live scores.
    pub guard_adapt: bool,
    /// Frame of forecasts, markers and link frames, looked up in TF from each input's
    /// `header.frame_id`; empty: the input's own frame, no TF.
    pub output_frame_id: String,
    /// A transform may be held at its newest sample this long past it (`tf.max_age_s`).
    pub tf_max_age_s: f64,
    /// Seconds of `/tf` kept behind each frame's newest sample (`tf.buffer_s`).
    pub tf_buffer_s: f64,
    /// Keep-last depth of the (reliable) outputs.
    pub output_queue_depth: u32,
    /// Draw every n-th forecast step as a marker.
    pub marker_stride: usize,
    /// Period of `/diagnostics`.
    pub diagnostics_period_s: f64,
    /// Serial link to the safety MCU; `None` when `link.device` is empty.
    pub link: Option<crate::link::LinkConfig>,
    /// Which people link frames carry and how long vanished ones are held (also what
    /// replay's safety audit uses).
    pub link_placement: LinkPlacement,
    /// Scheduling policy, priority and CPUs of the frame loop.
    pub sched: sched::SchedConfig,
    /// Configure and activate at start-up; `false`: wait unconfigured for a lifecycle manager.
    pub lifecycle_autostart: bool,
    /// Whether [`SAFETY_PARAMETERS`] may change while the node runs (fixed at start-up).
    pub safety_live_changes: bool,
}

/// What the MCU monitors and how people who vanish are held.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkPlacement {
    pub monitored: crate::link::Monitored,
    pub hold: crate::link::HoldConfig,
}

/// `link.hold_s`: beyond 5 s a held pose says nothing about where the person is.
pub const LINK_HOLD_S: (f64, f64) = (0.0, 5.0);
/// `link.human_speed_mps`: never below ISO 13855's 1.6 m/s.
pub const LINK_HUMAN_SPEED_MPS: (f64, f64) = (1.6, 5.0);
/// `link.monitored_radius_m`: the reach of a large industrial arm.
pub const LINK_MONITORED_RADIUS_M: (f64, f64) = (0.0, 5.0);

fn invalid(name: &str, reason: String) -> ParamError {
    ParamError::Invalid {
        name: name.into(),
        reason,
    }
}

fn in_range_i64(p: &Parameters, name: &str, default: i64, lo: i64, hi: i64) -> Result<i64, ParamError> {
    let v = p.i64_or(name, default)?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(name, format!("{v} is outside {lo}..={hi}")))
    }
}

fn positive_f64(p: &Parameters, name: &str, default: f64) -> Result<f64, ParamError> {
    let v = p.f64_or(name, default)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(name, format!("{v} is not a positive number of seconds")))
    }
}

fn existing_file(p: &Parameters, name: &str) -> Result<Option<PathBuf>, ParamError> {
    let v = p.string_or(name, "")?;
    if v.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(&v);
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(invalid(name, format!("{v} is not a readable file")))
    }
}

/// The engine resets a track after a gap; it interpolates across anything shorter, so the
/// limit stays between one model frame and 1 s.
fn gap_limit_s(p: &Parameters) -> Result<f64, ParamError> {
    let v = positive_f64(p, "tracks.gap_limit_s", 0.2)?;
    if (0.034..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid("tracks.gap_limit_s", format!("{v} is outside 0.034..=1.0 s")))
    }
}

/// Faster than 100 Hz is no report anyone reads; slower than an hour is no health check.
pub const DIAGNOSTICS_PERIOD_S: (f64, f64) = (0.01, 3600.0);

fn diagnostics_period_s(p: &Parameters) -> Result<f64, ParamError> {
    let v = positive_f64(p, "diagnostics.period_s", 1.0)?;
    let (lo, hi) = DIAGNOSTICS_PERIOD_S;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid("diagnostics.period_s", format!("{v} is outside {lo}..={hi} s")))
    }
}

/// The span a transform may be held past its newest sample, and the buffer's length.
pub const TF_MAX_AGE_S: (f64, f64) = (0.0, 1.0);
pub const TF_BUFFER_S: (f64, f64) = (1.0, 60.0);

fn seconds_within(p: &Parameters, name: &str, default: f64, range: (f64, f64)) -> Result<f64, ParamError> {
    f64_within(p, name, default, range, "s")
}

fn f64_within(p: &Parameters, name: &str, default: f64, (lo, hi): (f64, f64), unit: &str) -> Result<f64, ParamError> {
    let v = p.f64_or(name, default)?;
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(name, format!("{v} is outside {lo}..={hi} {unit}")))
    }
}

fn link_config(p: &Parameters, output_frame_id: &str) -> Result<Option<crate::link::LinkConfig>, ParamError> {
    const BASE: &str = "link.base_from_forecast_xyz_rpy";
    let device = p.string_or("link.device", "")?;
    let baud = in_range_i64(p, "link.baud", 921_600, 9_600, 4_000_000)? as u32;
    let pose = p.f64_array_or(BASE, &[0.0; 6])?;
    let base_from_forecast: [f64; 6] = pose.as_slice().try_into().map_err(|_| {
        invalid(
            BASE,
            format!(
                "{} values given, expected 6: x y z (m) roll pitch yaw (rad)",
                pose.len()
            ),
        )
    })?;
    if base_from_forecast.iter().any(|v| !v.is_finite()) {
        return Err(invalid(BASE, "values must be finite".into()));
    }
    // Camera coordinates sent as the base's would tell the MCU a wrong cell: where the
    // frames are must be said, even when it is the identity.
    if !device.is_empty() && output_frame_id.is_empty() && p.get(BASE).is_none() {
        return Err(invalid(
            "link.device",
            format!(
                "says where to send link frames but not in which frame: set `output.frame_id` (the \
                 robot base frame, through TF) or `{BASE}` (the input frame's pose in the base \
                 frame; [0, 0, 0, 0, 0, 0] if the input already is in it)"
            ),
        ));
    }
    Ok((!device.is_empty()).then(|| crate::link::LinkConfig {
        device: PathBuf::from(device),
        baud,
        base_from_forecast: crate::link::RigidTransform::from_xyz_rpy(base_from_forecast),
    }))
}

fn link_placement(p: &Parameters) -> Result<LinkPlacement, ParamError> {
    let flat = p.f64_array_or("link.monitored_points", &[0.0; 3])?;
    if flat.is_empty() || flat.len() % 3 != 0 || flat.iter().any(|v| !v.is_finite()) {
        return Err(invalid(
            "link.monitored_points",
            format!(
                "{} values given: expected x y z (m, robot base frame) of each point, finite, at least one point",
                flat.len()
            ),
        ));
    }
    let points_in_base_m = flat
        .chunks_exact(3)
        .map(|c| [c[0] as f32, c[1] as f32, c[2] as f32])
        .collect();
    let human_speed_mps = f64_within(p, "link.human_speed_mps", 1.6, LINK_HUMAN_SPEED_MPS, "m/s")? as f32;
    Ok(LinkPlacement {
        monitored: crate::link::Monitored {
            points_in_base_m,
            radius_m: f64_within(p, "link.monitored_radius_m", 0.0, LINK_MONITORED_RADIUS_M, "m")? as f32,
            human_speed_mps,
        },
        hold: crate::link::HoldConfig {
            hold_ns: (seconds_within(p, "link.hold_s", 1.0, LINK_HOLD_S)? * 1e9).round() as i64,
            human_speed_mps,
        },
    })
}

/// One parameter as a run used it, for reports that must say what they ran with.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    /// Where it was set (parameters file and node key, or the `-p` rule); `default` if not.
    pub from: String,
}

impl NodeConfig {
    /// Every parameter in [`PARAMETERS`] order with the value this configuration holds;
    /// `params` says where each was set.
    pub fn settings(&self, params: &Parameters) -> Vec<Setting> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let link = self.link.as_ref();
        let lp = &self.link_placement;
        let values: [(&'static str, String); 28] = [
            ("use_sim_time", self.use_sim_time.to_string()),
            ("model", path(&self.model)),
            ("input.type", self.input_type.param_value().to_string()),
            ("input.joint_order", format!("{:?}", self.input_joint_order)),
            ("input.joint_map", path(&self.input_joint_map)),
            ("input.min_confidence", self.input_min_confidence.to_string()),
            ("input.queue_depth", self.input_queue_depth.to_string()),
            ("tracks.max", self.max_tracks.to_string()),
            ("tracks.gap_limit_s", self.gap_limit_s.to_string()),
            ("guard.adapt", self.guard_adapt.to_string()),
            ("output.frame_id", self.output_frame_id.clone()),
            ("output.queue_depth", self.output_queue_depth.to_string()),
            ("tf.max_age_s", self.tf_max_age_s.to_string()),
            ("tf.buffer_s", self.tf_buffer_s.to_string()),
            ("markers.stride", self.marker_stride.to_string()),
            ("diagnostics.period_s", self.diagnostics_period_s.to_string()),
            (
                "link.device",
                link.map(|l| l.device.display().to_string()).unwrap_or_default(),
            ),
            ("link.baud", link.map(|l| l.baud.to_string()).unwrap_or_default()),
            (
                "link.base_from_forecast_xyz_rpy",
                link.map(|l| format!("{:?}", l.base_from_forecast)).unwrap_or_default(),
            ),
            ("link.monitored_points", format!("{:?}", lp.monitored.points_in_base_m)),
            ("link.monitored_radius_m", lp.monitored.radius_m.to_string()),
            ("link.hold_s", (lp.hold.hold_ns as f64 / 1e9).to_string()),
            ("link.human_speed_mps", lp.hold.human_speed_mps.to_string()),
            ("sched.policy", self.sched.policy.param_value().to_string()),
            ("sched.priority", self.sched.priority.to_string()),
            ("sched.cpus", format!("{:?}", self.sched.cpus)),
            ("lifecycle.autostart", self.lifecycle_autostart.to_string()),
            ("safety.live_changes", self.safety_live_changes.to_string()),
        ];
        values
            .into_iter()
            .map(|(name, value)| Setting {
                name,
                value,
                from: params.origin(name).unwrap_or("default").to_string(),
            })
            .collect()
    }

    pub fn from_parameters(p: &Parameters) -> Result<Self, ParamError> {
        if p.get("forecast.frame_id").is_some() {
            return Err(invalid(
                "forecast.frame_id",
                "was removed: it renamed the output frame without moving a coordinate; set \
                 `output.frame_id` instead, which transforms the poses through TF"
                    .into(),
            ));
        }
        if p.get("link.base_from_forecast").is_some() {
            return Err(invalid(
                "link.base_from_forecast",
                "was renamed `link.base_from_forecast_xyz_rpy`, which names its order: x y z (m) roll \
                 pitch yaw (rad), as `static_transform_publisher --x --y --z --roll --pitch --yaw` (its \
                 old positional form reads yaw pitch roll)"
                    .into(),
            ));
        }
        p.reject_unknown(PARAMETERS)?;
        let type_names: Vec<&str> = InputType::ALL.iter().map(|t| t.param_value()).collect();
        let input_type = p.choice_or("input.type", &type_names, InputType::Skeleton3DArray.param_value())?;
        let input_type =
            InputType::from_param_value(&input_type).ok_or_else(|| invalid("input.type", input_type.clone()))?;
        let input_joint_order = p.string_array_or("input.joint_order", &[])?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = input_joint_order.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(invalid("input.joint_order", format!("`{dup}` is listed twice")));
        }
        let min_confidence = p.f64_or("input.min_confidence", 0.0)?;
        if !(0.0..1.0).contains(&min_confidence) {
            return Err(invalid(
                "input.min_confidence",
                format!("{min_confidence} is outside [0, 1)"),
            ));
        }
        let output_frame_id = crate::tf::frame_name(&p.string_or("output.frame_id", "")?).to_string();
        let link = link_config(p, &output_frame_id)?;
        if let Some(l) = &link
            && !output_frame_id.is_empty()
            && l.base_from_forecast != crate::link::RigidTransform::IDENTITY
        {
            return Err(invalid(
                "link.base_from_forecast_xyz_rpy",
                format!(
                    "is a static fallback for a node without `output.frame_id`; with `output.frame_id` \
                     ({output_frame_id}) link frames are in that frame, through TF: leave it at zero"
                ),
            ));
        }
        Ok(Self {
            use_sim_time: p.bool_or("use_sim_time", false)?,
            model: existing_file(p, "model")?,
            input_type,
            input_joint_order,
            input_joint_map: existing_file(p, "input.joint_map")?,
            input_min_confidence: min_confidence as f32,
            input_queue_depth: in_range_i64(p, "input.queue_depth", 5, 1, 1000)? as u32,
            max_tracks: in_range_i64(p, "tracks.max", 4, 1, 64)? as usize,
            gap_limit_s: gap_limit_s(p)?,
            guard_adapt: p.bool_or("guard.adapt", true)?,
            output_frame_id,
            output_queue_depth: in_range_i64(p, "output.queue_depth", 10, 1, 1000)? as u32,
            tf_max_age_s: seconds_within(p, "tf.max_age_s", 0.1, TF_MAX_AGE_S)?,
            tf_buffer_s: seconds_within(p, "tf.buffer_s", 10.0, TF_BUFFER_S)?,
            marker_stride: in_range_i64(p, "markers.stride", 5, 1, 1000)? as usize,
            diagnostics_period_s: diagnostics_period_s(p)?,
            link,
            link_placement: link_placement(p)?,
            sched: sched::SchedConfig::from_parameters(p)?,
            lifecycle_autostart: p.bool_or("lifecycle.autostart", true)?,
            safety_live_changes: p.bool_or("safety.live_changes", false)?,
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod params_file;
