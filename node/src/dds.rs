//! The DDS side of the node's set-up that ros2-client leaves to us: the ROS environment
//! (domain id, localhost-only discovery) and explicit QoS, since ros2-client's defaults
//! differ from ROS 2's.

use std::net::Ipv4Addr;
use std::path::Path;

use ros2_client::dds::rustdds::{DomainParticipantBuilder, Topic};
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Context, MessageTypeName, Name, Node, Publisher, QosProfile, Subscription};

use a4mer_ros::msg::RosMessage;

use a4mer_ros::ros_args::{DiscoveryRange, RosEnv};
use a4mer_ros::security::SecurityPlan;

/// This build's DDS layer carries DDS Security (the `sros2` feature: RustDDS's builtin
/// authentication, access control and AES-GCM-GMAC plugins, and the system libssl).
pub const HAS_SECURITY: bool = cfg!(feature = "sros2");

#[derive(Debug, thiserror::Error)]
pub enum DdsError {
    #[error("{what} is not supported by the DDS layer (RustDDS); {hint}")]
    Unsupported { what: String, hint: &'static str },
    #[error("cannot create the DDS participant on domain {domain_id}: {reason}")]
    Create { domain_id: u16, reason: String },
    #[error("cannot create the {what} on {topic}: {reason}")]
    Entity {
        what: &'static str,
        topic: String,
        reason: String,
    },
}

fn topic<M: RosMessage>(node: &mut Node, name: &str, qos: &QosProfile, what: &'static str) -> Result<Topic, DdsError> {
    let err = |reason: String| DdsError::Entity {
        what,
        topic: name.into(),
        reason,
    };
    let parsed = Name::parse(name).map_err(|e| err(format!("{e:?}")))?;
    node.create_topic(&parsed, MessageTypeName::new(M::PACKAGE, M::NAME), qos)
        .map_err(|e| err(format!("{e:?}")))
}

/// A publisher of `M` on the absolute topic `name`.
pub fn publisher<M: RosMessage>(node: &mut Node, name: &str, qos: &QosProfile) -> Result<Publisher<M>, DdsError> {
    let t = topic::<M>(node, name, qos, "publisher")?;
    node.create_publisher(&t, Some(qos.clone()))
        .map_err(|e| DdsError::Entity {
            what: "publisher",
            topic: name.into(),
            reason: format!("{e:?}"),
        })
}

/// A subscription to `M` on the absolute topic `name`.
pub fn subscription<M: RosMessage + 'static>(
    node: &mut Node,
    name: &str,
    qos: &QosProfile,
) -> Result<Subscription<M>, DdsError> {
    let t = topic::<M>(node, name, qos, "subscription")?;
    node.create_subscription(&t, Some(qos.clone()))
        .map_err(|e| DdsError::Entity {
            what: "subscription",
            topic: name.into(),
            reason: format!("{e:?}"),
        })
}

/// A ros2-client context on `env`'s domain, restricted to loopback when the environment
/// asks for localhost-only discovery, and secured with the enclave `security` names.
pub fn context(env: &RosEnv, security: &SecurityPlan) -> Result<Context, DdsError> {
    if env.discovery_range == DiscoveryRange::Off {
        return Err(DdsError::Unsupported {
            what: "ROS_AUTOMATIC_DISCOVERY_RANGE=OFF".into(),
            hint: "use LOCALHOST or SUBNET",
        });
    }
    if !env.static_peers.is_empty() {
        return Err(DdsError::Unsupported {
            what: format!("ROS_STATIC_PEERS={}", env.static_peers.join(";")),
            hint: "unset it; peers on the subnet are discovered automatically",
        });
    }
    let mut builder = DomainParticipantBuilder::new(env.domain_id);
    if env.localhost_only() {
        builder = builder.with_only_networks([Ipv4Addr::LOCALHOST]);
    }
    let create = |reason: String| DdsError::Create {
        domain_id: env.domain_id,
        reason,
    };
    if let Some(dir) = security.enclave_dir() {
        builder = secured(builder, dir)?;
    }
    let participant = builder.build().map_err(|e| {
        let reason = format!("{e:?}");
        // RustDDS words an expired or absent grant as a subject missing from the document.
        let hint = if reason.contains("not found in the permissions document") {
            " (permissions.p7s has no grant for this certificate's subject that is valid now: check its <validity> and <subject_name>)"
        } else {
            ""
        };
        create(format!("{reason}{hint}"))
    })?;
    Context::from_domain_participant(participant).map_err(|e| create(format!("{e:?}")))
}

#[cfg(feature = "sros2")]
fn secured(builder: DomainParticipantBuilder, enclave_dir: &Path) -> Result<DomainParticipantBuilder, DdsError> {
    use ros2_client::dds::rustdds::DomainParticipantSecurityConfigFiles;
    // The password is unused by RustDDS; the pre-flight refuses a key that needs one.
    let files = DomainParticipantSecurityConfigFiles::with_ros_default_names(enclave_dir, String::new());
    Ok(builder.builtin_security(files))
}

#[cfg(not(feature = "sros2"))]
fn secured(_: DomainParticipantBuilder, enclave_dir: &Path) -> Result<DomainParticipantBuilder, DdsError> {
    Err(DdsError::Unsupported {
        what: format!("DDS Security (enclave {})", enclave_dir.display()),
        hint: "build a4mer_node with the `sros2` feature",
    })
}

/// Pose input: ROS 2's sensor-data profile (best effort, keep last `depth`, volatile),
/// which matches reliable and best-effort publishers alike.
pub fn input_qos(depth: usize) -> QosProfile {
    QosProfile::subscription_default()
        .reliability_best_effort()
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: depth.max(1) })
}

/// Outputs: reliable, keep last `depth`, volatile. A full send window fails the publish
/// at once instead of blocking the frame loop.
pub fn output_qos(depth: usize) -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::Fail)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: depth.max(1) })
}

/// `/tf` as tf2's listener reads it: reliable, volatile, keep last 100.
pub fn tf_qos() -> QosProfile {
    QosProfile::subscription_default()
        .reliability_reliable(WhenFull::Fail)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 100 })
}

/// `/tf_static` as tf2 reads and writes it: reliable and transient-local, so a listener
/// that starts after the broadcaster still gets the latched transforms.
pub fn tf_static_qos() -> QosProfile {
    tf_qos().durability(Durability::TransientLocal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_discovery_settings_are_refused_by_name() {
        let env = RosEnv::from_lookup(|k| (k == "ROS_AUTOMATIC_DISCOVERY_RANGE").then(|| "OFF".into())).unwrap();
        let e = context(&env, &SecurityPlan::OFF).err().unwrap().to_string();
        assert!(e.contains("ROS_AUTOMATIC_DISCOVERY_RANGE=OFF"), "{e}");
        let env = RosEnv::from_lookup(|k| (k == "ROS_STATIC_PEERS").then(|| "10.0.0.2".into())).unwrap();
        let e = context(&env, &SecurityPlan::OFF).err().unwrap().to_string();
        assert!(e.contains("ROS_STATIC_PEERS=10.0.0.2"), "{e}");
    }
}
