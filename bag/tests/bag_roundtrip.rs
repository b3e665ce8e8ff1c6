//! Bags we write read back with our reader; corrupt bags give named errors, never panics.

use std::path::{Path, PathBuf};

use a4mer_bag::{BagError, BagReader, BagWriter, QosProfile, Storage};
use a4mer_ros::msg::{
    DiagnosticArray, DiagnosticStatus, Header, KeyValue, Point, PoseArray, Skeleton3D, Skeleton3DArray, Time,
};

fn skeletons(k: i64) -> Skeleton3DArray {
    Skeleton3DArray {
        header: Header {
            stamp: Time::from_ns(1_700_000_000_000_000_000 + k * 33_333_333).unwrap(),
            frame_id: "world".into(),
        },
        bodies: vec![Skeleton3D {
            id: 7,
            layout: "smpl24".into(),
            joint_names: vec![],
            joints: (0..24)
                .map(|j| Point {
                    x: j as f64 + k as f64 * 0.01,
                    y: -(j as f64),
                    z: 1.0,
                })
                .collect(),
            confidences: vec![1.0; 24],
        }],
    }
}

/// A bag of 300 skeleton frames (enough for several zstd chunks) and 3 diagnostics.
fn write_bag(dir: &Path) -> PathBuf {
    let bag_dir = dir.join("poses_bag");
    let mut w = BagWriter::create(&bag_dir).unwrap();
    let poses = w
        .add_topic::<Skeleton3DArray>("/a4mer/poses", &[QosProfile::sensor_data()])
        .unwrap();
    let diag = w
        .add_topic::<DiagnosticArray>("/diagnostics", &[QosProfile::reliable(10)])
        .unwrap();
    for k in 0..300 {
        let msg = skeletons(k);
        w.write(poses, msg.header.stamp.to_ns(), &msg).unwrap();
        if k % 100 == 0 {
            let d = DiagnosticArray {
                header: msg.header.clone(),
                status: vec![DiagnosticStatus {
                    level: DiagnosticStatus::OK,
                    name: "a4mer".into(),
                    message: format!("frame {k}"),
                    hardware_id: String::new(),
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: k.to_string(),
                    }],
                }],
            };
            w.write(diag, msg.header.stamp.to_ns(), &d).unwrap();
        }
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.message_count, 303);
    assert_eq!(summary.duration_ns, 299 * 33_333_333);
    bag_dir
}

#[test]
fn written_bag_reads_back_exactly_as_dir_and_bare_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bag_dir = write_bag(tmp.path());
    assert!(bag_dir.join("metadata.yaml").exists());

    for path in [bag_dir.clone(), bag_dir.join("poses_bag_0.mcap")] {
        let reader = BagReader::open(&path).unwrap();
        assert_eq!(reader.storage(), Storage::Mcap);
        let topics = reader.topics();
        assert_eq!(topics.len(), 2, "{path:?}");
        let p = reader.topic_index("/a4mer/poses").unwrap();
        assert_eq!(
            reader.pose_topics(),
            [(p, a4mer_ros::adapters::InputType::Skeleton3DArray)],
            "diagnostics are not a pose topic"
        );
        assert_eq!(topics[p].type_name, "a4mer_msgs/msg/Skeleton3DArray");
        assert_eq!(topics[p].message_count, Some(300));
        assert_eq!(topics[p].offered_qos_profiles, [QosProfile::sensor_data()]);
        let def = topics[p].definition.as_deref().unwrap();
        assert!(def.contains("MSG: a4mer_msgs/Skeleton3D\n") && def.contains("MSG: geometry_msgs/Point\n"));

        let mut k = 0;
        let mut diagnostics = 0;
        for m in reader.messages() {
            let m = m.unwrap();
            if m.topic == p {
                let msg: Skeleton3DArray = reader.decode(&m).unwrap();
                assert_eq!(msg, skeletons(k));
                assert_eq!(m.log_time_ns, msg.header.stamp.to_ns());
                assert_eq!(m.index_on_topic, k as u64);
                k += 1;
            } else {
                let d: DiagnosticArray = reader.decode(&m).unwrap();
                assert_eq!(d.status[0].message, format!("frame {}", diagnostics * 100));
                diagnostics += 1;
            }
        }
        assert_eq!((k, diagnostics), (300, 3));
    }
}

#[test]
fn writing_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let da = write_bag(a.path());
    let db = write_bag(b.path());
    for f in ["metadata.yaml", "poses_bag_0.mcap"] {
        assert_eq!(
            std::fs::read(da.join(f)).unwrap(),
            std::fs::read(db.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn decoding_as_the_wrong_type_names_topic_and_types() {
    let tmp = tempfile::tempdir().unwrap();
    let reader = BagReader::open(&write_bag(tmp.path())).unwrap();
    let first = reader.messages().next().unwrap().unwrap();
    let e = reader.decode::<PoseArray>(&first).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("/a4mer/poses") && s.contains("geometry_msgs/msg/PoseArray") && s.contains("Skeleton3DArray"),
        "{s}"
    );
}

#[test]
fn refuses_to_overwrite_a_bag() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_bag(tmp.path());
    let e = BagWriter::create(&dir).err().unwrap();
    assert!(e.to_string().contains("not empty"), "{e}");
}

fn collect(path: &Path) -> (usize, Option<BagError>) {
    let reader = match BagReader::open(path) {
        Ok(r) => r,
        Err(e) => return (0, Some(e)),
    };
    let mut n = 0;
    for m in reader.messages() {
        match m {
            Ok(_) => n += 1,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[test]
fn corrupt_bags_give_errors_that_say_where() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_bag(tmp.path());
    let mcap = std::fs::read(dir.join("poses_bag_0.mcap")).unwrap();

    // Truncated in the middle: what came before is read, then an error naming the file.
    let cut = tmp.path().join("cut.mcap");
    std::fs::write(&cut, &mcap[..mcap.len() * 2 / 3]).unwrap();
    let (n, e) = collect(&cut);
    let e = e.expect("a truncated file must not read cleanly");
    let s = e.to_string();
    assert!(s.contains("cut.mcap"), "{s}");
    // The cut falls after the last chunk (in the summary): every message is read first.
    assert!(n > 0 && n <= 303, "{n}");

    // A flipped byte inside the first chunk's compressed data: the CRC check catches it.
    let flipped = tmp.path().join("flipped.mcap");
    let mut bad = mcap.clone();
    // Magic (8), then the header record (opcode, u64 length, body); the first chunk follows.
    let header_len = u64::from_le_bytes(bad[9..17].try_into().unwrap()) as usize;
    let chunk_at = 8 + 9 + header_len;
    assert_eq!(bad[chunk_at], 0x06, "expected a chunk record after the header");
    bad[chunk_at + 200] ^= 0xff;
    std::fs::write(&flipped, &bad).unwrap();
    let (_, e) = collect(&flipped);
    let s = e.expect("a corrupted chunk must be reported").to_string();
    assert!(s.contains("flipped.mcap") && s.contains("near byte"), "{s}");

    // Empty and garbage files.
    let empty = tmp.path().join("empty.mcap");
    std::fs::write(&empty, b"").unwrap();
    let s = collect(&empty).1.unwrap().to_string();
    assert!(s.contains("empty.mcap") && s.contains("too short"), "{s}");
    let junk = tmp.path().join("junk.db3");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let s = collect(&junk).1.unwrap().to_string();
    assert!(s.contains("junk.db3"), "{s}");

    // metadata.yaml naming a file that is gone.
    std::fs::remove_file(dir.join("poses_bag_0.mcap")).unwrap();
    let s = collect(&dir).1.unwrap().to_string();
    assert!(s.contains("metadata.yaml") && s.contains("does not exist"), "{s}");
}

#[test]
fn empty_bag_has_topics_and_no_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("empty");
    let mut w = BagWriter::create(&dir).unwrap();
    w.add_topic::<PoseArray>("/poses", &[QosProfile::sensor_data()])
        .unwrap();
    w.finish().unwrap();
    let r = BagReader::open(&dir).unwrap();
    assert_eq!(r.topics().len(), 1);
    assert_eq!(r.topics()[0].message_count, Some(0));
    assert_eq!(r.messages().count(), 0);
}

/// A Humble-style sqlite3 bag, built with the schema rosbag2_storage_default_plugins uses,
/// read without metadata.yaml (bare .db3) and with one.
#[test]
fn reads_a_humble_sqlite3_bag() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("humble");
    std::fs::create_dir(&dir).unwrap();
    let db_path = dir.join("humble_0.db3");
    let db = rusqlite::Connection::open(&db_path).unwrap();
    db.execute_batch(
        "CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
         INSERT INTO schema VALUES (3, 'humble');
         CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
             serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
         CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
             timestamp INTEGER NOT NULL, data BLOB NOT NULL);",
    )
    .unwrap();
    let qos = "- history: 1\n  depth: 5\n  reliability: 2\n  durability: 2\n  deadline:\n    sec: 0\n    nsec: 0\n";
    db.execute(
        "INSERT INTO topics VALUES (1, '/poses', 'a4mer_msgs/msg/Skeleton3DArray', 'cdr', ?1)",
        [qos],
    )
    .unwrap();
    // 1200 messages (more than one page), inserted out of time order: reading is by timestamp.
    let n = 1200;
    db.execute_batch("BEGIN").unwrap();
    for k in (0..n).rev() {
        let data = a4mer_ros::msg::encode(&skeletons(k)).unwrap();
        db.execute(
            "INSERT INTO messages (topic_id, timestamp, data) VALUES (1, ?1, ?2)",
            rusqlite::params![skeletons(k).header.stamp.to_ns(), data],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    drop(db);

    let check = |path: &Path| {
        let r = BagReader::open(path).unwrap();
        assert_eq!(r.storage(), Storage::Sqlite3);
        assert_eq!(r.topics()[0].message_count, Some(n as u64));
        assert_eq!(
            r.topics()[0].offered_qos_profiles,
            [QosProfile {
                depth: 5,
                ..QosProfile::sensor_data()
            }]
        );
        let mut k = 0;
        for m in r.messages() {
            let msg: Skeleton3DArray = r.decode(&m.unwrap()).unwrap();
            assert_eq!(msg, skeletons(k));
            k += 1;
        }
        assert_eq!(k, n);
    };
    check(&db_path);
    std::fs::write(
        dir.join("metadata.yaml"),
        "rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: sqlite3\n  relative_file_paths:\n    - humble_0.db3\n  \
         topics_with_message_count:\n    - topic_metadata:\n        name: /poses\n        type: a4mer_msgs/msg/Skeleton3DArray\n        \
         serialization_format: cdr\n        offered_qos_profiles: \"\"\n      message_count: 1200\n  compression_format: \"\"\n  compression_mode: \"\"\n",
    )
    .unwrap();
    check(&dir);
}
