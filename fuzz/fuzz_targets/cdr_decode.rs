//! CDR payloads of every input message type, through the adapters to canonical frames.
//! The first byte picks the adapter (Skeleton3DArray, PoseArray with SMPL-24 order, ZED
//! ObjectsStamped, PoseArray with a short custom joint order); the rest is the payload with
//! its 4-byte encapsulation header. Messages that decode re-encode to a stable form, and
//! every adapted frame keeps the canonical promise (valid joints are finite).
#![no_main]

use a4mer_ros::adapters::{Adapted, InputAdapter, InputType};
use a4mer_ros::msg::{self, ObjectsStamped, PoseArray, RosMessage, Skeleton3DArray};
use libfuzzer_sys::fuzz_target;

/// decode -> encode -> decode -> encode gives the same bytes twice (NaN payloads make
/// `PartialEq` on the messages useless, bytes are exact).
fn stable<M: RosMessage>(payload: &[u8]) {
    if let Ok(m) = msg::decode::<M>(payload) {
        let once = msg::encode(&m).expect("a decoded message re-encodes");
        let back = msg::decode::<M>(&once).expect("a re-encoded message decodes");
        assert_eq!(msg::encode(&back).expect("re-encodes"), once);
    }
}

fn check(adapted: &Adapted) {
    for p in &adapted.people {
        for (j, q) in p.frame.joints_in_world.iter().enumerate() {
            assert!(
                !p.frame.valid[j] || q.iter().all(|c| c.is_finite()),
                "non-finite valid joint"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let order: Vec<String> = ["head", "pelvis", "LeftHand"].iter().map(|s| s.to_string()).collect();
    let (kind, joint_order) = match selector % 4 {
        0 => (InputType::Skeleton3DArray, &[][..]),
        1 => (InputType::PoseArray, &[][..]),
        2 => (InputType::ZedObjects, &[][..]),
        _ => (InputType::PoseArray, &order[..]),
    };
    match kind {
        InputType::Skeleton3DArray => stable::<Skeleton3DArray>(payload),
        InputType::PoseArray => stable::<PoseArray>(payload),
        InputType::ZedObjects => stable::<ObjectsStamped>(payload),
    }
    let mut adapter = InputAdapter::new(kind, joint_order, None).expect("built-in adapters");
    if let Ok(adapted) = adapter.adapt_cdr(payload) {
        check(&adapted);
    }
});
