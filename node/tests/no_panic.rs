//! Malformed input of every kind gives errors, never panics: mutated CDR payloads for every
//! message type and input adapter (mutated bag files: a4mer-bag's `no_panic`).
//!
//! Deterministic (a fixed-seed xorshift), so a failure reproduces.

mod common;

use a4mer_ros::adapters::{InputAdapter, InputType, skeleton_array};
use a4mer_ros::msg::{
    self, DiagnosticArray, MarkerArray, MotifAnticipation, ObjectsStamped, PoseArray, PoseForecast, RosMessage,
};

use common::mutate::{Rng, frame, mutate};

fn hammer<M: RosMessage>(rng: &mut Rng, valid: &M, rounds: usize) -> usize {
    let bytes = msg::encode(valid).unwrap();
    let mut errors = 0;
    for _ in 0..rounds {
        if msg::decode::<M>(&mutate(rng, &bytes)).is_err() {
            errors += 1;
        }
    }
    errors
}

#[test]
fn mutated_payloads_decode_or_fail_cleanly() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let f = frame(0);
    let skel = skeleton_array(f.stamp_ns, "world", &[(1, &f), (2, &f)]).unwrap();
    let rounds = 3000;
    // Most mutations must be caught; some (a flipped bit inside a float) legitimately decode.
    assert!(hammer(&mut rng, &skel, rounds) > rounds / 4);
    hammer(&mut rng, &PoseArray::default(), rounds);
    hammer(&mut rng, &PoseForecast::default(), rounds);
    hammer(&mut rng, &MotifAnticipation::default(), rounds);
    hammer(&mut rng, &MarkerArray::default(), rounds);
    hammer(&mut rng, &DiagnosticArray::default(), rounds);
    hammer(
        &mut rng,
        &ObjectsStamped {
            objects: vec![Default::default()],
            ..Default::default()
        },
        300,
    );

    // The adapters get whatever decodes. One payload per input type, checked by the
    // compiler: a zip over lists of different lengths would quietly leave one unhammered.
    let payloads: [Vec<u8>; InputType::ALL.len()] = [
        msg::encode(&skel).unwrap(),
        msg::encode(&PoseArray {
            poses: vec![Default::default(); 24],
            ..Default::default()
        })
        .unwrap(),
        msg::encode(&ObjectsStamped {
            objects: vec![a4mer_ros::msg::zed::Object {
                skeleton_available: true,
                tracking_state: 1,
                body_format: 2,
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap(),
    ];
    for (kind, payload) in InputType::ALL.into_iter().zip(&payloads) {
        let mut adapter = InputAdapter::new(kind, &[], None).unwrap();
        assert!(adapter.adapt_cdr(payload).is_ok(), "{kind:?}");
        for _ in 0..1000 {
            let _ = adapter.adapt_cdr(&mutate(&mut rng, payload));
        }
    }
}
