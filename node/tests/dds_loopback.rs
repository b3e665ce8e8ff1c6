//! Over real DDS on loopback (ROS_LOCALHOST_ONLY=1): our message mirrors go through
//! ros2-client unchanged, and the input QoS receives from reliable and best-effort
//! publishers alike.

use std::time::{Duration, Instant};

use a4mer_node::dds::{context, input_qos, output_qos};
use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::msg::{RosMessage, Skeleton3DArray};
use a4mer_ros::ros_args::RosEnv;
use a4mer_ros::security::SecurityPlan;
use a4mer_runtime::PoseFrame;
use ros2_client::{Context, MessageTypeName, Name, NodeName, NodeOptions, QosProfile};

/// A domain of our own (so parallel test runs on this host do not cross-talk), loopback only.
fn loopback() -> Context {
    let domain = (100 + std::process::id() % 100).to_string();
    let env = RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(domain.clone()),
        "ROS_LOCALHOST_ONLY" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    assert!(env.localhost_only());
    context(&env, &SecurityPlan::OFF).unwrap()
}

fn sample(k: i64) -> Skeleton3DArray {
    let joints = std::array::from_fn(|j| [j as f32 * 0.1, 0.5, 1.0 + k as f32]);
    let frame = PoseFrame::new(1_700_000_000_000_000_000 + k, joints, [true; 24]);
    skeleton_array(frame.stamp_ns, "world", &[(7, &frame)]).unwrap()
}

/// Publish with `pub_qos` from one participant until a subscriber with our input QoS in
/// another has a sample (bounded).
fn round_trip(
    pub_ctx: &Context,
    sub_ctx: &Context,
    topic: &str,
    pub_qos: QosProfile,
    sent: &Skeleton3DArray,
) -> Skeleton3DArray {
    let type_name = MessageTypeName::new(Skeleton3DArray::PACKAGE, Skeleton3DArray::NAME);
    let name = Name::new("/a4mer_test", topic).unwrap();
    let mut pub_node = pub_ctx
        .new_node(NodeName::new("/a4mer_test", "publisher").unwrap(), NodeOptions::new())
        .unwrap();
    let t = pub_node.create_topic(&name, type_name.clone(), &pub_qos).unwrap();
    let publisher = pub_node.create_publisher::<Skeleton3DArray>(&t, Some(pub_qos)).unwrap();
    let mut sub_node = sub_ctx
        .new_node(NodeName::new("/a4mer_test", "subscriber").unwrap(), NodeOptions::new())
        .unwrap();
    let t = sub_node.create_topic(&name, type_name, &input_qos(5)).unwrap();
    let subscription = sub_node
        .create_subscription::<Skeleton3DArray>(&t, Some(input_qos(5)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "{topic}: no sample over loopback DDS within 20 s"
        );
        let _ = publisher.publish(sent.clone());
        std::thread::sleep(Duration::from_millis(50));
        if let Some((msg, _info)) = subscription.take().unwrap() {
            return msg;
        }
    }
}

#[test]
fn skeletons_reach_the_input_qos_from_reliable_and_best_effort_publishers() {
    let type_name = MessageTypeName::new(Skeleton3DArray::PACKAGE, Skeleton3DArray::NAME);
    assert_eq!(type_name.dds_msg_type(), Skeleton3DArray::dds_type_name());

    // Two participants: with publisher and subscriber in one Context, RustDDS delivered
    // nothing within 20 s here.
    let (a, b) = (loopback(), loopback());
    let sent = sample(1);
    assert_eq!(round_trip(&a, &b, "reliable_poses", output_qos(10), &sent), sent);
    let sent = sample(2);
    assert_eq!(round_trip(&a, &b, "best_effort_poses", input_qos(5), &sent), sent);
}
