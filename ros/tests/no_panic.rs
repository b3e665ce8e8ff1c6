//! Malformed input of every kind gives errors, never panics: mutated CDR payloads for every
//! message type and input adapter, and mutated MCAP and sqlite3 bag files.
//!
//! Deterministic (a fixed-seed xorshift), so a failure reproduces.

use std::path::Path;

use a4mer_ros::adapters::{InputAdapter, InputType, skeleton_array};
use a4mer_ros::bag::{BagReader, BagWriter, QosProfile};
use a4mer_ros::msg::{
    self, DiagnosticArray, MarkerArray, MotifAnticipation, ObjectsStamped, PoseArray, PoseForecast, RosMessage,
    Skeleton3DArray,
};
use a4mer_runtime::PoseFrame;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flip, overwrite with extreme values, truncate or extend.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // A length or count field turned huge.
            let i = rng.below(out.len().saturating_sub(4)) & !3;
            if i + 4 <= out.len() {
                out[i..i + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
            }
        }
        2 => out.truncate(rng.below(out.len())),
        _ => out.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
    }
    out
}

fn frame(k: i64) -> PoseFrame {
    let joints = std::array::from_fn(|j| [j as f32 * 0.1 + k as f32 * 1e-3, 0.2, 1.0]);
    PoseFrame::new(1_000_000_000 + k * 33_333_333, joints, [true; 24])
}

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

    // The adapters get whatever decodes.
    let payloads = [
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
    for _ in 0..100 {
        std::fs::write(&target, mutate(&mut rng, &db3)).unwrap();
        let _ = read_all(&target);
    }
}
