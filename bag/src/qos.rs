//! QoS profiles as rosbag2 records them (`offered_qos_profiles`).

/// The QoS a publisher offered, in the terms rosbag2 stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QosProfile {
    pub history: History,
    pub depth: u32,
    pub reliability: Reliability,
    pub durability: Durability,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum History {
    KeepLast,
    KeepAll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reliability {
    Reliable,
    BestEffort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Volatile,
    TransientLocal,
}

impl QosProfile {
    /// rclcpp's `SensorDataQoS`: best effort, keep last 5, volatile (pose inputs).
    pub fn sensor_data() -> Self {
        Self {
            history: History::KeepLast,
            depth: 5,
            reliability: Reliability::BestEffort,
            durability: Durability::Volatile,
        }
    }

    /// Reliable, keep last `depth`, volatile (our outputs).
    pub fn reliable(depth: u32) -> Self {
        Self {
            history: History::KeepLast,
            depth,
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
        }
    }

    /// One profile in rosbag2 metadata version 8 form (rmw enum values as integers),
    /// which Humble, Iron, Jazzy and `rosbags` all read. Deadline, lifespan and lease
    /// duration are 0/0: "use the middleware default", i.e. not set.
    fn to_yaml_v8(self) -> String {
        let history = match self.history {
            History::KeepLast => 1,
            History::KeepAll => 2,
        };
        let reliability = match self.reliability {
            Reliability::Reliable => 1,
            Reliability::BestEffort => 2,
        };
        let durability = match self.durability {
            Durability::TransientLocal => 1,
            Durability::Volatile => 2,
        };
        format!(
            "- history: {history}\n  depth: {}\n  reliability: {reliability}\n  durability: {durability}\n  \
             deadline:\n    sec: 0\n    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n  liveliness: 1\n  \
             liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n  avoid_ros_namespace_conventions: false",
            self.depth
        )
    }
}

/// The `offered_qos_profiles` string for a list of profiles (rosbag2 metadata version 8).
pub fn qos_profiles_yaml(profiles: &[QosProfile]) -> String {
    profiles.iter().map(|p| p.to_yaml_v8()).collect::<Vec<_>>().join("\n")
}

/// Read `offered_qos_profiles` in either form rosbag2 writes: the version-8 YAML string
/// with integer enums, or the version-9 list with names (`keep_last`, `best_effort`).
/// Profiles with values we do not model (system default, unknown) are skipped.
pub fn parse_qos_profiles(value: &serde_json::Value) -> Result<Vec<QosProfile>, String> {
    let list = match value {
        serde_json::Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        serde_json::Value::String(s) => {
            serde_saphyr::from_str::<serde_json::Value>(s).map_err(|e| format!("offered_qos_profiles: {e}"))?
        }
        other => other.clone(),
    };
    let Some(items) = list.as_array() else {
        return Err("offered_qos_profiles: expected a list".into());
    };
    let mut out = Vec::new();
    for item in items {
        let field = |k: &str| item.get(k).cloned().unwrap_or(serde_json::Value::Null);
        let name = |k: &str| -> Option<String> {
            match field(k) {
                serde_json::Value::Number(n) => n.as_i64().map(|n| n.to_string()),
                serde_json::Value::String(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            }
        };
        let history = match name("history").as_deref() {
            Some("1" | "keep_last") => History::KeepLast,
            Some("2" | "keep_all") => History::KeepAll,
            _ => continue,
        };
        let reliability = match name("reliability").as_deref() {
            Some("1" | "reliable") => Reliability::Reliable,
            Some("2" | "best_effort") => Reliability::BestEffort,
            _ => continue,
        };
        let durability = match name("durability").as_deref() {
            Some("1" | "transient_local") => Durability::TransientLocal,
            Some("2" | "volatile") => Durability::Volatile,
            _ => continue,
        };
        let depth = field("depth").as_u64().unwrap_or(0).min(u32::MAX as u64) as u32;
        out.push(QosProfile {
            history,
            depth,
            reliability,
            durability,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v8_string_round_trips_and_v9_names_parse() {
        let profiles = [QosProfile::sensor_data(), QosProfile::reliable(10)];
        let yaml = qos_profiles_yaml(&profiles);
        let back = parse_qos_profiles(&serde_json::Value::String(yaml)).unwrap();
        assert_eq!(back, profiles);

        let v9 = serde_json::json!([{"history": "keep_last", "depth": 7, "reliability": "best_effort",
            "durability": "volatile", "liveliness": "automatic"}]);
        let back = parse_qos_profiles(&v9).unwrap();
        assert_eq!(
            back,
            [QosProfile {
                depth: 7,
                ..QosProfile::sensor_data()
            }]
        );
        assert!(parse_qos_profiles(&serde_json::json!("")).unwrap().is_empty());
        assert!(parse_qos_profiles(&serde_json::json!(42)).is_err());
    }
}
