//! Malformed bag files give errors, never panics: mutated MCAP and sqlite3 bags (mutated CDR
//! payloads: a4mer-ros's `no_panic`).
//!
//! Deterministic (a fixed-seed xorshift), so a failure reproduces.

#[path = "../../node/tests/common/mod.rs"]
mod common;

use std::path::Path;

use a4mer_bag::{BagReader, BagWriter, QosProfile};
use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::msg::{self, Skeleton3DArray};

use common::mutate::{Rng, frame, mutate};

/// Mutated sqlite3 files (of 100) the reader must reject: 35 with this seed; most damage
/// inside SQLite's pages still reads as a database, so this stays well under the MCAP rate.
const SQLITE_REJECTED_AT_LEAST: usize = 25;

/// Read and decode everything; false at the first error.
fn read_all(path: &Path) -> bool {
    let Ok(reader) = BagReader::open(path) else {
        return false;
    };
    for m in reader.messages() {
        let Ok(m) = m else { return false };
        if reader.decode::<Skeleton3DArray>(&m).is_err() {
            return false;
        }
    }
    true
}

#[test]
fn mutated_bag_files_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("small");
    let mut w = BagWriter::create(&dir).unwrap();
    let t = w
        .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
        .unwrap();
    for k in 0..40 {
        let f = frame(k);
        w.write(t, f.stamp_ns, &skeleton_array(f.stamp_ns, "world", &[(1, &f)]).unwrap())
            .unwrap();
    }
    let mcap_path = w.finish().unwrap().mcap_file;
    let mcap = std::fs::read(&mcap_path).unwrap();

    let db_path = tmp.path().join("small.db3");
    let db = rusqlite::Connection::open(&db_path).unwrap();
    db.execute_batch(
        "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT, type TEXT, serialization_format TEXT,
             offered_qos_profiles TEXT);
         CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER, timestamp INTEGER, data BLOB);
         INSERT INTO topics VALUES (1, '/poses', 'a4mer_msgs/msg/Skeleton3DArray', 'cdr', '');",
    )
    .unwrap();
    for k in 0..40 {
        let f = frame(k);
        let data = msg::encode(&skeleton_array(f.stamp_ns, "world", &[(1, &f)]).unwrap()).unwrap();
        db.execute(
            "INSERT INTO messages (topic_id, timestamp, data) VALUES (1, ?1, ?2)",
            rusqlite::params![f.stamp_ns, data],
        )
        .unwrap();
    }
    drop(db);
    let db3 = std::fs::read(&db_path).unwrap();

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let target = tmp.path().join("m.mcap");
    let mut failed = 0;
    for _ in 0..400 {
        std::fs::write(&target, mutate(&mut rng, &mcap)).unwrap();
        failed += usize::from(!read_all(&target));
    }
    eprintln!("mutated MCAP files rejected: {failed} of 400");
    // Appended bytes after the end magic are harmless; nearly everything else is caught.
    assert!(failed > 200, "only {failed} of 400 mutated MCAP files were rejected");
    let target = tmp.path().join("m.db3");
    let mut failed = 0;
    for _ in 0..100 {
        std::fs::write(&target, mutate(&mut rng, &db3)).unwrap();
        failed += usize::from(!read_all(&target));
    }
    eprintln!("mutated sqlite3 files rejected: {failed} of 100");
    // A reader that ignored the file's damage (or read nothing and called it fine) would
    // reject none. The seed is fixed: this count only moves when the reader or the
    // mutations change.
    assert!(
        failed > SQLITE_REJECTED_AT_LEAST,
        "only {failed} of 100 mutated sqlite3 files were rejected"
    );
}
