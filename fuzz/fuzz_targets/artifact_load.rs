//! Arbitrary bytes as an `.a4m` file: envelope, magic, version, hash, payload, config and
//! tensors. Random bytes rarely get past the SHA-256; `artifact_payload` covers what lies
//! behind it. Loading must return an error or a model, never panic or allocate without bound.
#![no_main]

use a4mer_burn_model::BurnArtifact;
use a4mer_runtime::artifact::Artifact;
use a4mer_burn_model::device::inference_device;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(art) = Artifact::from_bytes(data, "fuzz.a4m") {
        let _ = art.into_model(&inference_device(), "fuzz.a4m");
    }
});
