//! Arbitrary bytes as the *payload* of an `.a4m` file, sealed in a valid envelope with the
//! SHA-256 recomputed, so mutations reach the config, skeleton, normalization, vocabulary
//! and tensor checks. A model that loads must also run: one forecast on a moving body.
#![no_main]

use a4mer_runtime::artifact::{Artifact, FORMAT_VERSION, MAGIC};
use a4mer_runtime::device::inference_device;
use a4mer_runtime::{NUM_JOINTS, PoseFrame};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The artifact's envelope, as `artifact.rs` documents it.
#[derive(Serialize)]
struct Envelope<'a> {
    magic: &'a str,
    format_version: u32,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
    #[serde(with = "serde_bytes")]
    sha256: &'a [u8],
}

fn frames(n: usize) -> Vec<PoseFrame> {
    (0..n)
        .map(|t| {
            let s = t as f32 / 30.0;
            let joints = std::array::from_fn(|k| [0.6 * s + 0.01 * k as f32, 0.02 * k as f32, 0.9 + 0.04 * k as f32]);
            PoseFrame::new(t as i64 * 33_333_333, joints, [true; NUM_JOINTS])
        })
        .collect()
}

fuzz_target!(|payload: &[u8]| {
    let mut h = Sha256::new();
    h.update(FORMAT_VERSION.to_le_bytes());
    h.update(payload);
    let sha: [u8; 32] = h.finalize().into();
    let env = Envelope {
        magic: MAGIC,
        format_version: FORMAT_VERSION,
        payload,
        sha256: &sha,
    };
    let bytes = serde_cbor::to_vec(&env).expect("an envelope encodes");
    let Ok(art) = Artifact::from_bytes(&bytes, "fuzz.a4m") else {
        return;
    };
    let Ok(model) = art.into_model(&inference_device(), "fuzz.a4m") else {
        return;
    };
    if let Ok(f) = model.forecast(&frames(12)) {
        let _ = f;
    }
});
