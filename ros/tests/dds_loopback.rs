//! Our message mirrors go through ros2-client unchanged, over real DDS on loopback: the
//! node can use them directly.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::msg::{RosMessage, Skeleton3DArray};
use a4mer_runtime::PoseFrame;
use ros2_client::dds::rustdds::DomainParticipantBuilder;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Context, MessageTypeName, Name, NodeName, NodeOptions, QosProfile};

fn loopback_context(domain_id: u16) -> Context {
    let participant = DomainParticipantBuilder::new(domain_id)
        .with_only_networks([Ipv4Addr::LOCALHOST])
        .build()
        .unwrap();
    Context::from_domain_participant(participant).unwrap()
}

#[test]
fn skeleton_array_round_trips_through_ros2_client() {
    let type_name = MessageTypeName::new(Skeleton3DArray::PACKAGE, Skeleton3DArray::NAME);
    assert_eq!(type_name.dds_msg_type(), Skeleton3DArray::dds_type_name());

    // A domain of our own, so parallel test runs on this host do not cross-talk.
    let domain_id = 100 + (std::process::id() % 100) as u16;
    let qos = QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 });
    let name = Name::new("/a4mer_test", "poses").unwrap();

    let pub_ctx = loopback_context(domain_id);
    let mut pub_node = pub_ctx
        .new_node(NodeName::new("/a4mer_test", "publisher").unwrap(), NodeOptions::new())
        .unwrap();
    let topic = pub_node.create_topic(&name, type_name.clone(), &qos).unwrap();
    let publisher = pub_node.create_publisher::<Skeleton3DArray>(&topic, None).unwrap();

    let sub_ctx = loopback_context(domain_id);
    let mut sub_node = sub_ctx
        .new_node(NodeName::new("/a4mer_test", "subscriber").unwrap(), NodeOptions::new())
        .unwrap();
    let topic = sub_node.create_topic(&name, type_name, &qos).unwrap();
    let subscription = sub_node.create_subscription::<Skeleton3DArray>(&topic, None).unwrap();

    let joints = std::array::from_fn(|j| [j as f32 * 0.1, 0.5, 1.0]);
    let frame = PoseFrame::new(1_700_000_000_000_000_000, joints, [true; 24]);
    let sent = skeleton_array(frame.stamp_ns, "world", &[(7, &frame)]).unwrap();

    // Discovery takes a moment: publish until the subscriber has a sample (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    let received = loop {
        assert!(Instant::now() < deadline, "no sample over loopback DDS within 20 s");
        publisher.publish(sent.clone()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        if let Some((msg, _info)) = subscription.take().unwrap() {
            break msg;
        }
    };
    assert_eq!(received, sent);
}
