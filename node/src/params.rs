//! The node's parameters as ROS 2 peers see them: every parameter declared with its
//! descriptor (type, description, range, `read_only`), read back as given, and changed
//! through `set_parameters` with the validation start-up runs.
//!
//! ros2-client 0.12's own parameter services describe a parameter from its value only (no
//! description, no range, never read-only), so the node serves the six `rcl_interfaces`
//! services itself ([`super::services`]) from this store.
//!
//! A change is checked by running [`NodeConfig::from_parameters`] on the parameters with the
//! new value in place: a value start-up would refuse is refused live too, with the same
//! words naming the parameter. Only [`Spec::live`] parameters can change after start-up, and
//! of those the ones that change what reaches the safety MCU (`SAFETY_PARAMETERS`) only
//! when the node was started with `safety.live_changes:=true`; the frame loop applies them
//! from the new [`NodeConfig`] and counts each accepted change in `/diagnostics`.

use ros2_client::parameters::{NumericRange, ParameterDescriptor, ParameterType};
use ros2_client::rcl_interfaces::ListParametersResult;
use ros2_client::{Parameter, ParameterValue};

use a4mer_ros::config::{DIAGNOSTICS_PERIOD_S, NodeConfig, SAFETY_PARAMETERS, TF_BUFFER_S, TF_MAX_AGE_S};
use a4mer_ros::ros_args::params::{ParamValue, Parameters};

/// The limits a descriptor advertises (inclusive, as ROS 2 ranges are).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    None,
    Integer(i64, i64),
    Double(f64, f64),
}

/// One declared parameter.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: &'static str,
    pub default: fn() -> ParameterValue,
    pub description: &'static str,
    /// What the range cannot say (choices, an open bound).
    pub constraints: &'static str,
    pub range: Range,
    /// Takes effect while running; otherwise read-only after start-up.
    pub live: bool,
}

fn s(v: &str) -> ParameterValue {
    ParameterValue::String(v.into())
}

/// Every parameter of [`PARAMETERS`], in that order.
pub fn specs() -> Vec<Spec> {
    let spec = |name, default: fn() -> ParameterValue, description, constraints, range, live| Spec {
        name,
        default,
        description,
        constraints,
        range,
        live,
    };
    let (period_lo, period_hi) = DIAGNOSTICS_PERIOD_S;
    let ((tf_age_lo, tf_age_hi), (tf_buffer_lo, tf_buffer_hi)) = (TF_MAX_AGE_S, TF_BUFFER_S);
    vec![
        spec(
            "use_sim_time",
            || ParameterValue::Boolean(false),
            "Take time from /clock (simulation, bag playback) instead of the system clock.",
            "",
            Range::None,
            false,
        ),
        spec(
            "model",
            || s(""),
            "Model artifact (*.a4m). Empty: the bundled int8 model.",
            "a readable file, or empty",
            Range::None,
            false,
        ),
        spec(
            "input.type",
            || s("skeleton3d_array"),
            "Type of the ~/poses topic.",
            "one of: skeleton3d_array, pose_array, zed_objects",
            Range::None,
            false,
        ),
        spec(
            "input.joint_order",
            || ParameterValue::StringArray(Vec::new()),
            "pose_array only: the joint name of each pose, in order. Empty: SMPL-24.",
            "no name twice",
            Range::None,
            false,
        ),
        spec(
            "input.joint_map",
            || s(""),
            "Explicit joint map (TOML). Empty: SMPL-24 names, rig heuristics or the built-in ZED maps.",
            "a readable file, or empty",
            Range::None,
            false,
        ),
        spec(
            "input.min_confidence",
            || ParameterValue::Double(0.0),
            "skeleton3d_array only: joints whose confidence is at or below this count as not observed.",
            "below 1",
            Range::Double(0.0, 1.0),
            true,
        ),
        spec(
            "input.queue_depth",
            || ParameterValue::Integer(5),
            "Keep-last depth of the (best-effort, volatile) input subscription.",
            "",
            Range::Integer(1, 1000),
            false,
        ),
        spec(
            "tracks.max",
            || ParameterValue::Integer(4),
            "Most people followed at once; more are dropped and counted in /diagnostics.",
            "",
            Range::Integer(1, 64),
            false,
        ),
        spec(
            "tracks.gap_limit_s",
            || ParameterValue::Double(0.2),
            "Seconds without a frame after which a person's track is reset.",
            "",
            Range::Double(0.034, 1.0),
            false,
        ),
        spec(
            "guard.adapt",
            || ParameterValue::Boolean(true),
            "Adapt the model's forecast to each person from how its forecasts fared (two gains per horizon, bounded, from the shipped ones at every new or reset track). The guard still scores it beside the baselines. false: the model as shipped.",
            "",
            Range::None,
            false,
        ),
        spec(
            "output.frame_id",
            || s(""),
            "Frame of ~/forecast, the markers and the safety link's frames (e.g. base_link). Each input is moved into it through /tf and /tf_static, looked up at the input's header stamp from its header.frame_id; a missing or stale transform drops that input's people (counted in /diagnostics, link frame Degraded). Empty: the input's own frame, no TF.",
            "a frame name, or empty",
            Range::None,
            false,
        ),
        spec(
            "output.queue_depth",
            || ParameterValue::Integer(10),
            "Keep-last depth of the (reliable, volatile) outputs.",
            "",
            Range::Integer(1, 1000),
            false,
        ),
        spec(
            "tf.max_age_s",
            || ParameterValue::Double(0.1),
            "With output.frame_id: a moving transform is used at its newest sample for up to this long past it (never extrapolated); older is stale.",
            "",
            Range::Double(tf_age_lo, tf_age_hi),
            true,
        ),
        spec(
            "tf.buffer_s",
            || ParameterValue::Double(10.0),
            "With output.frame_id: seconds of /tf kept behind each frame's newest sample.",
            "",
            Range::Double(tf_buffer_lo, tf_buffer_hi),
            false,
        ),
        spec(
            "markers.stride",
            || ParameterValue::Integer(5),
            "Draw every n-th forecast step in ~/forecast_markers (the last step always).",
            "",
            Range::Integer(1, 1000),
            true,
        ),
        spec(
            "diagnostics.period_s",
            || ParameterValue::Double(1.0),
            "Seconds between /diagnostics messages.",
            "",
            Range::Double(period_lo, period_hi),
            true,
        ),
        spec(
            "link.device",
            || s(""),
            "Serial device of the safety MCU link (e.g. /dev/ttyTHS1). Empty: no link.",
            "",
            Range::None,
            false,
        ),
        spec(
            "link.baud",
            || ParameterValue::Integer(921_600),
            "Baud rate of the safety link (8N1).",
            "",
            Range::Integer(9_600, 4_000_000),
            false,
        ),
        spec(
            "link.base_from_forecast_xyz_rpy",
            || ParameterValue::DoubleArray(vec![0.0; 6]),
            "Pose of the forecast frame in the robot base frame: x y z (m) roll pitch yaw (rad), \
             R = Rz(yaw) Ry(pitch) Rx(roll). Required with link.device unless output.frame_id is set.",
            "6 finite values",
            Range::None,
            false,
        ),
        spec(
            "link.monitored_points",
            || ParameterValue::DoubleArray(vec![0.0; 3]),
            "Points the safety MCU monitors, robot base frame: x y z (m) of each, flattened. The \
             two people nearest them go out on the link.",
            "a multiple of 3 finite values, at least 3",
            Range::None,
            false,
        ),
        spec(
            "link.monitored_radius_m",
            || ParameterValue::Double(0.0),
            "Radius the robot's moving parts may reach around each monitored point, m.",
            "",
            Range::Double(
                a4mer_ros::config::LINK_MONITORED_RADIUS_M.0,
                a4mer_ros::config::LINK_MONITORED_RADIUS_M.1,
            ),
            false,
        ),
        spec(
            "link.hold_s",
            || ParameterValue::Double(1.0),
            "Seconds a person who drops out of view is held on the link at their last pose.",
            "",
            Range::Double(a4mer_ros::config::LINK_HOLD_S.0, a4mer_ros::config::LINK_HOLD_S.1),
            false,
        ),
        spec(
            "link.human_speed_mps",
            || ParameterValue::Double(1.6),
            "Speed a held person may have moved at (ISO 13855), m/s.",
            "",
            Range::Double(
                a4mer_ros::config::LINK_HUMAN_SPEED_MPS.0,
                a4mer_ros::config::LINK_HUMAN_SPEED_MPS.1,
            ),
            false,
        ),
        spec(
            "sched.policy",
            || s("inherit"),
            "Scheduling policy of the frame loop and the DDS threads carrying its samples.",
            "one of: inherit, other, fifo, rr",
            Range::None,
            false,
        ),
        spec(
            "sched.priority",
            || ParameterValue::Integer(40),
            "Priority for sched.policy fifo and rr.",
            "",
            Range::Integer(1, 99),
            false,
        ),
        spec(
            "sched.cpus",
            || ParameterValue::IntegerArray(Vec::new()),
            "CPUs the frame loop and the DDS threads run on. Empty: as launched.",
            "CPU numbers this process may use",
            Range::None,
            false,
        ),
        spec(
            "lifecycle.autostart",
            || ParameterValue::Boolean(true),
            "Configure and activate at start-up. false: wait unconfigured for a lifecycle manager.",
            "",
            Range::None,
            false,
        ),
        spec(
            "safety.live_changes",
            || ParameterValue::Boolean(false),
            "true: parameters that change what reaches the safety MCU may change while running.",
            "",
            Range::None,
            false,
        ),
    ]
}

fn type_name(t: ParameterType) -> &'static str {
    match t {
        ParameterType::NotSet => "not set",
        ParameterType::Bool => "bool",
        ParameterType::Integer => "integer",
        ParameterType::Double => "double",
        ParameterType::String => "string",
        ParameterType::ByteArray => "byte array",
        ParameterType::BoolArray => "bool array",
        ParameterType::IntegerArray => "integer array",
        ParameterType::DoubleArray => "double array",
        ParameterType::StringArray => "string array",
    }
}

/// `value` as the command line and parameter files give it, for the start-up validation.
fn to_param_value(value: &ParameterValue) -> Option<ParamValue> {
    Some(match value {
        ParameterValue::Boolean(b) => ParamValue::Bool(*b),
        ParameterValue::Integer(i) => ParamValue::Integer(*i),
        ParameterValue::Double(d) => ParamValue::Double(*d),
        ParameterValue::String(s) => ParamValue::String(s.clone()),
        ParameterValue::BooleanArray(v) => ParamValue::BoolArray(v.clone()),
        ParameterValue::IntegerArray(v) => ParamValue::IntegerArray(v.clone()),
        ParameterValue::DoubleArray(v) => ParamValue::DoubleArray(v.clone()),
        ParameterValue::StringArray(v) => ParamValue::StringArray(v.clone()),
        ParameterValue::NotSet | ParameterValue::ByteArray(_) => return None,
    })
}

/// A value given at start-up in the declared type: YAML `1` for a double is 1.0, and an
/// empty YAML list fits any array type.
fn declared(value: &ParamValue, t: ParameterType) -> Option<ParameterValue> {
    Some(match (value, t) {
        (ParamValue::Bool(b), ParameterType::Bool) => ParameterValue::Boolean(*b),
        (ParamValue::Integer(i), ParameterType::Integer) => ParameterValue::Integer(*i),
        (ParamValue::Integer(i), ParameterType::Double) => ParameterValue::Double(*i as f64),
        (ParamValue::Double(d), ParameterType::Double) => ParameterValue::Double(*d),
        (ParamValue::String(s), ParameterType::String) => ParameterValue::String(s.clone()),
        (ParamValue::BoolArray(v), ParameterType::BoolArray) => ParameterValue::BooleanArray(v.clone()),
        (ParamValue::IntegerArray(v), ParameterType::IntegerArray) => ParameterValue::IntegerArray(v.clone()),
        (ParamValue::IntegerArray(v), ParameterType::DoubleArray) => {
            ParameterValue::DoubleArray(v.iter().map(|i| *i as f64).collect())
        }
        (ParamValue::DoubleArray(v), ParameterType::DoubleArray) => ParameterValue::DoubleArray(v.clone()),
        (ParamValue::StringArray(v), ParameterType::StringArray) => ParameterValue::StringArray(v.clone()),
        (ParamValue::StringArray(v), ParameterType::IntegerArray) if v.is_empty() => {
            ParameterValue::IntegerArray(Vec::new())
        }
        (ParamValue::StringArray(v), ParameterType::DoubleArray) if v.is_empty() => {
            ParameterValue::DoubleArray(Vec::new())
        }
        _ => return None,
    })
}

/// The parameters of a running node and the rules for changing them.
pub struct ParamStore {
    specs: Vec<Spec>,
    values: Vec<ParameterValue>,
    params: Parameters,
    config: NodeConfig,
}

impl ParamStore {
    /// The values `params` gave (already validated into `config`), defaults for the rest.
    pub fn new(params: &Parameters, config: &NodeConfig) -> Self {
        let specs = specs();
        let values = specs
            .iter()
            .map(|spec| {
                let default = (spec.default)();
                params
                    .get(spec.name)
                    .and_then(|v| declared(v, default.to_parameter_type()))
                    .unwrap_or(default)
            })
            .collect();
        Self {
            specs,
            values,
            params: params.clone(),
            config: config.clone(),
        }
    }

    /// Whether `spec` may change while the node runs: it takes effect live, and it is not a
    /// safety parameter or the node was started with `safety.live_changes:=true`.
    fn changeable(&self, spec: &Spec) -> bool {
        spec.live && (self.config.safety_live_changes || !SAFETY_PARAMETERS.contains(&spec.name))
    }

    /// The parameters as given, changes included.
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn get(&self, name: &str) -> ParameterValue {
        self.index(name)
            .map_or(ParameterValue::NotSet, |i| self.values[i].clone())
    }

    pub fn get_type(&self, name: &str) -> u8 {
        ParameterValue::to_parameter_type_raw(&self.get(name))
    }

    pub fn describe(&self, name: &str) -> ParameterDescriptor {
        let Some(i) = self.index(name) else {
            return ParameterDescriptor::unknown(name);
        };
        let spec = &self.specs[i];
        let range = match spec.range {
            Range::None => NumericRange::NotSpecified,
            Range::Integer(from_value, to_value) => NumericRange::IntegerRange {
                from_value,
                to_value,
                step: 0,
            },
            Range::Double(from_value, to_value) => NumericRange::FloatingPointRange {
                from_value,
                to_value,
                step: 0.0,
            },
        };
        let fixed = match (spec.live, self.changeable(spec)) {
            (true, true) => "",
            (true, false) => {
                "read-only while running: it changes what reaches the safety MCU (start with safety.live_changes:=true to change it live)"
            }
            (false, _) => "fixed at start-up (restart the node to change it)",
        };
        ParameterDescriptor {
            name: name.to_string(),
            param_type: self.values[i].to_parameter_type(),
            description: spec.description.to_string(),
            additional_constraints: [spec.constraints, fixed]
                .iter()
                .filter(|c| !c.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("; "),
            read_only: !self.changeable(spec),
            dynamic_typing: false,
            range,
        }
    }

    /// `list_parameters` as rclcpp answers it (prefixes and depth).
    pub fn list(&self, prefixes: &[String], depth: u64) -> ListParametersResult {
        let within_depth = |s: &str| depth == 0 || (s.matches('.').count() as u64) < depth;
        let mut result = ListParametersResult {
            names: vec![],
            prefixes: vec![],
        };
        let mut names: Vec<&str> = self.specs.iter().map(|s| s.name).collect();
        names.sort_unstable();
        for name in names {
            let all = prefixes.is_empty() && within_depth(name);
            let under = prefixes.iter().any(|prefix| {
                name == prefix
                    || name
                        .strip_prefix(prefix.as_str())
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|rest| within_depth(&format!(".{rest}")))
            });
            if all || under {
                result.names.push(name.to_string());
                if let Some((namespace, _)) = name.rsplit_once('.')
                    && !result.prefixes.iter().any(|p| p == namespace)
                {
                    result.prefixes.push(namespace.to_string());
                }
            }
        }
        result
    }

    /// The configuration with `changes` applied, or why not (naming the parameter).
    fn check(&self, changes: &[Parameter]) -> Result<(Parameters, NodeConfig), String> {
        let mut params = self.params.clone();
        for Parameter { name, value } in changes {
            let i = self
                .index(name)
                .ok_or_else(|| format!("parameter `{name}` is not declared by this node"))?;
            let spec = &self.specs[i];
            let want = self.values[i].to_parameter_type();
            if value.to_parameter_type() != want {
                return Err(format!(
                    "parameter `{name}`: wrong type: expected {}, got {}",
                    type_name(want),
                    type_name(value.to_parameter_type())
                ));
            }
            if spec.live && !self.changeable(spec) {
                return Err(format!(
                    "parameter `{name}` is read-only while the node runs: it changes what reaches \
                     the safety MCU; start the node with safety.live_changes:=true to allow live changes"
                ));
            }
            if !spec.live {
                return Err(format!(
                    "parameter `{name}` is read-only: fixed at start-up (the node's subscriptions, \
                     engines and link are built from it); restart the node to change it"
                ));
            }
            let as_given = to_param_value(value)
                .ok_or_else(|| format!("parameter `{name}`: a value of this type cannot be set"))?;
            params.set(name, as_given, "set_parameters");
        }
        let config = NodeConfig::from_parameters(&params).map_err(|e| e.to_string())?;
        Ok((params, config))
    }

    /// Set `changes` all or none; the new configuration on success.
    pub fn set_atomically(&mut self, changes: &[Parameter]) -> Result<NodeConfig, String> {
        let (params, config) = self.check(changes)?;
        for Parameter { name, value } in changes {
            if let Some(i) = self.index(name) {
                self.values[i] = value.clone();
            }
        }
        self.params = params;
        self.config = config.clone();
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
