//! Arbitrary bytes as the *payload* of an `.a4m` file, sealed in a valid envelope with the
//! SHA-256 recomputed, so mutations reach the config, skeleton, normalization, vocabulary
//! and tensor checks. A model that loads must also run: one forecast on a moving body.
#![no_main]

use a4mer_burn_model::BurnArtifact;
use a4mer_runtime::artifact::{Artifact, FORMAT_VERSION, MAGIC};
use a4mer_burn_model::device::inference_device;
use a4mer_runtime::{NUM_JOINTS, PoseFrame};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// CBOR head of major type `major` with argument `n` (RFC 8949 3.1).
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// The artifact's envelope as `artifact.rs` documents it, encoded by hand (the fuzz crate
/// keeps the dependency set the sanitizer build of burn was made with).
fn envelope(payload: &[u8], sha256: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 96);
    head(&mut out, 5, 4);
    text(&mut out, "magic");
    text(&mut out, MAGIC);
    text(&mut out, "format_version");
    head(&mut out, 0, FORMAT_VERSION as u64);
    text(&mut out, "payload");
    bytes(&mut out, payload);
    text(&mut out, "sha256");
    bytes(&mut out, sha256);
    out
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
    let Ok(art) = Artifact::from_bytes(&envelope(payload, &sha), "fuzz.a4m") else {
        return;
    };
    let Ok(model) = art.into_model(&inference_device(), "fuzz.a4m") else {
        return;
    };
    if let Ok(f) = model.forecast(&frames(12)) {
        let _ = f;
    }
});
