//! The ROS 2 environment variables that decide who a node can talk to.
//!
//! ros2-client ignores them, so the node reads them here and passes the domain id and the
//! network restriction to its DomainParticipant.

use crate::security::SecurityEnv;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error("{var}={value}: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

/// `ROS_AUTOMATIC_DISCOVERY_RANGE` (Iron and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryRange {
    /// No automatic discovery (only `ROS_STATIC_PEERS`).
    Off,
    /// Only this host (loopback).
    Localhost,
    /// The whole subnet: the default.
    Subnet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosEnv {
    /// `ROS_DOMAIN_ID`, 0 when unset.
    pub domain_id: u16,
    pub discovery_range: DiscoveryRange,
    /// `ROS_STATIC_PEERS`: hosts to reach even outside the discovery range.
    pub static_peers: Vec<String>,
    /// `ROS_SECURITY_*`: SROS2, decided with the enclave by [`crate::security::plan`].
    pub security: SecurityEnv,
}

/// The largest domain id whose RTPS ports stay below 65535 (the ROS 2 documentation's limit).
pub const MAX_DOMAIN_ID: u16 = 232;

impl RosEnv {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`RosEnv::from_env`], with variables from `lookup` (for tests and launchers).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let invalid = |var: &'static str, value: &str, reason: &str| EnvError::Invalid {
            var,
            value: value.to_string(),
            reason: reason.to_string(),
        };

        let domain_id = match get("ROS_DOMAIN_ID") {
            None => 0,
            Some(v) => match v.parse::<u16>() {
                Ok(id) if id <= MAX_DOMAIN_ID => id,
                _ => {
                    return Err(invalid(
                        "ROS_DOMAIN_ID",
                        &v,
                        &format!("expected an integer from 0 to {MAX_DOMAIN_ID}"),
                    ));
                }
            },
        };

        // ROS_LOCALHOST_ONLY=1 (deprecated since Jazzy) still wins, as rmw does it.
        let localhost_only = match get("ROS_LOCALHOST_ONLY").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(v) => return Err(invalid("ROS_LOCALHOST_ONLY", v, "expected 0 or 1")),
        };
        let discovery_range = if localhost_only {
            DiscoveryRange::Localhost
        } else {
            match get("ROS_AUTOMATIC_DISCOVERY_RANGE") {
                None => DiscoveryRange::Subnet,
                Some(v) => match v.to_ascii_uppercase().as_str() {
                    "OFF" => DiscoveryRange::Off,
                    "LOCALHOST" => DiscoveryRange::Localhost,
                    "SUBNET" | "SYSTEM_DEFAULT" => DiscoveryRange::Subnet,
                    _ => {
                        return Err(invalid(
                            "ROS_AUTOMATIC_DISCOVERY_RANGE",
                            &v,
                            "expected OFF, LOCALHOST, SUBNET or SYSTEM_DEFAULT",
                        ));
                    }
                },
            }
        };
        let static_peers = get("ROS_STATIC_PEERS")
            .map(|v| {
                v.split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            domain_id,
            discovery_range,
            static_peers,
            security: SecurityEnv::from_lookup(&lookup),
        })
    }

    /// Restrict DDS to the loopback interface.
    pub fn localhost_only(&self) -> bool {
        self.discovery_range == DiscoveryRange::Localhost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<RosEnv, EnvError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RosEnv::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_and_values() {
        let e = env(&[]).unwrap();
        assert_eq!(e.domain_id, 0);
        assert_eq!(e.discovery_range, DiscoveryRange::Subnet);
        assert!(!e.localhost_only());
        assert_eq!(env(&[("ROS_DOMAIN_ID", " 42 ")]).unwrap().domain_id, 42);
        assert_eq!(env(&[("ROS_DOMAIN_ID", "")]).unwrap().domain_id, 0);
        assert!(env(&[("ROS_LOCALHOST_ONLY", "1")]).unwrap().localhost_only());
        assert!(!env(&[("ROS_LOCALHOST_ONLY", "0")]).unwrap().localhost_only());
        assert_eq!(
            env(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "localhost")])
                .unwrap()
                .discovery_range,
            DiscoveryRange::Localhost
        );
        assert_eq!(
            env(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "OFF")])
                .unwrap()
                .discovery_range,
            DiscoveryRange::Off
        );
        // The deprecated variable wins over the new one.
        let e = env(&[("ROS_LOCALHOST_ONLY", "1"), ("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")]).unwrap();
        assert!(e.localhost_only());
        let e = env(&[("ROS_STATIC_PEERS", "192.168.0.5; robot.local;")]).unwrap();
        assert_eq!(e.static_peers, ["192.168.0.5", "robot.local"]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("ROS_DOMAIN_ID", "seven"),
            ("ROS_DOMAIN_ID", "233"),
            ("ROS_DOMAIN_ID", "-1"),
            ("ROS_LOCALHOST_ONLY", "yes"),
            ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LAN"),
        ] {
            let e = env(&[(var, value)]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}={value}: expected")), "{e}");
        }
    }
}
