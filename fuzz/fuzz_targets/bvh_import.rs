//! The whole BVH import path on arbitrary bytes: parse, FK, unit/up detection, joint
//! mapping, resampling. It must return an error or a motion, never panic, hang or
//! allocate without bound.
#![no_main]

use std::path::Path;

use a4mer_motion::bvh::{ImportOptions, import_bvh_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(motion) = import_bvh_str(&text, Path::new("fuzz.bvh"), &ImportOptions::default()) {
        for f in &motion.frames {
            for (j, p) in f.joints_in_world.iter().enumerate() {
                // Valid joints are finite; that is the importer's promise downstream.
                assert!(!f.valid[j] || p.iter().all(|c| c.is_finite()), "non-finite valid joint");
            }
        }
    }
});
