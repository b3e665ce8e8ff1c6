//! Arbitrary bytes as a bare rosbag2 storage file (`.db3` when they start with the SQLite
//! header, `.mcap` otherwise): open, list topics, stream every message and adapt the pose
//! topics. Every path must end in messages or an error, never a panic, hang or huge
//! allocation.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use a4mer_ros::adapters::InputAdapter;
use a4mer_bag::BagReader;
use libfuzzer_sys::fuzz_target;

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("a4mer-fuzz-mcap-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join(if data.starts_with(SQLITE_MAGIC) {
        "bag.db3"
    } else {
        "bag.mcap"
    });
    std::fs::write(&path, data).expect("write temp bag");
    let Ok(reader) = BagReader::open(&path) else {
        return;
    };
    let mut adapters: Vec<(usize, InputAdapter)> = reader
        .pose_topics()
        .into_iter()
        .map(|(i, kind)| (i, InputAdapter::new(kind, &[], None).expect("built-in adapters")))
        .collect();
    for m in reader.messages() {
        let Ok(m) = m else { break };
        assert!(m.topic < reader.topics().len(), "message on an unlisted topic");
        if let Some((_, a)) = adapters.iter_mut().find(|(i, _)| *i == m.topic) {
            let _ = a.adapt_cdr(&m.data);
        }
    }
});
