//! Writes the seed corpora of the `cdr_decode`, `mcap_read`, `artifact_load` and
//! `artifact_payload` fuzz targets: real encoded messages, bags and model artifacts.
//!
//! `cargo run -p a4mer-bag --example fuzz_seeds -- fuzz/corpus [extra dir]`
//!
//! Poses come from the bundled mocap (`data/mocap/bvhtools_test.bvh`). ZED messages carry
//! those joints in the keypoint slots the built-in ZED maps read (there is no ZED recording
//! in the repository). Artifacts are fresh models with tiny configs: the shipped model is
//! 3.6 MB, too big to mutate quickly: with an extra directory, its payload is written there
//! (`shipped.cbor`, an extra corpus directory for `artifact_payload`; `models/` serves
//! `artifact_load`).

use std::path::{Path, PathBuf};
use std::{env, fs};

use a4mer_bag::{QosProfile, write_pose_frames};
use a4mer_burn_model::BurnArtifact;
use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::fresh_model;
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_ros::adapters::{ZedAdapter, skeleton_array};
use a4mer_ros::msg::zed::{Keypoint3D, Object};
use a4mer_ros::msg::{self, Header, ObjectsStamped, Point, Pose, PoseArray, RosMessage, Time};
use a4mer_runtime::artifact::{Artifact, Provenance};
use a4mer_runtime::model::A4merConfig;
use a4mer_runtime::model::segment::SegmenterConfig;
use a4mer_runtime::{NUM_JOINTS, PoseFrame};

/// Cut off on purpose: seeds stay small so mutations are fast.
const FRAMES: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(env::args().nth(1).ok_or("usage: fuzz_seeds <corpus dir>")?);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let motion = import_bvh(&root.join("data/mocap/bvhtools_test.bvh"), &ImportOptions::default())?;
    let frames: Vec<PoseFrame> = motion.frames.iter().take(FRAMES).cloned().collect();
    cdr_seeds(&out.join("cdr_decode"), &frames)?;
    bag_seeds(&out.join("mcap_read"), &frames)?;
    artifact_seeds(&out.join("artifact_load"), &out.join("artifact_payload"))?;
    if let Some(extra) = env::args().nth(2) {
        let art = Artifact::load(&root.join("models/a4mer-small.a4m"))?;
        write(
            Path::new(&extra),
            "shipped.cbor",
            &a4mer_runtime::codec::encode(&art.payload, "payload")?,
        )?;
    }
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)?;
    println!("{}: {} bytes", dir.join(name).display(), bytes.len());
    Ok(())
}

fn pose_array(f: &PoseFrame) -> PoseArray {
    PoseArray {
        header: Header {
            stamp: Time::from_ns(f.stamp_ns).unwrap_or_default(),
            frame_id: "world".into(),
        },
        poses: f
            .joints_in_world
            .iter()
            .map(|p| Pose {
                position: Point {
                    x: p[0] as f64,
                    y: p[1] as f64,
                    z: p[2] as f64,
                },
                ..Default::default()
            })
            .collect(),
    }
}

/// One ZED object per body format, keypoints filled from the frame through the built-in maps.
fn zed_objects(f: &PoseFrame) -> ObjectsStamped {
    let zed = ZedAdapter::new(None).expect("built-in ZED maps");
    let objects = (0..3)
        .map(|format| {
            let mut o = Object {
                label: "Person".into(),
                label_id: format as i16 + 1,
                confidence: 90.0,
                tracking_available: true,
                tracking_state: 1,
                skeleton_available: true,
                body_format: format as i8,
                ..Default::default()
            };
            for k in o.skeleton_3d.keypoints.iter_mut() {
                *k = Keypoint3D { kp: [f32::NAN; 3] };
            }
            let map = zed.joint_map(format).expect("three formats");
            for j in 0..NUM_JOINTS {
                if let Some(s) = map.source_of(j).filter(|&s| s < o.skeleton_3d.keypoints.len()) {
                    o.skeleton_3d.keypoints[s].kp = f.joints_in_world[j];
                }
            }
            o
        })
        .collect();
    ObjectsStamped {
        header: Header {
            stamp: Time::from_ns(f.stamp_ns).unwrap_or_default(),
            frame_id: "zed_left_camera_frame".into(),
        },
        objects,
    }
}

/// `cdr_decode` input: one selector byte (which adapter), then the CDR payload.
fn cdr_seeds(dir: &Path, frames: &[PoseFrame]) -> Result<(), Box<dyn std::error::Error>> {
    let (f0, f1) = (&frames[0], &frames[FRAMES - 1]);
    let seeds: [(&str, u8, Vec<u8>); 5] = [
        (
            "skeleton3d_array-1",
            0,
            msg::encode(&skeleton_array(f0.stamp_ns, "world", &[(1, f0)]).ok_or("stamp")?)?,
        ),
        (
            "skeleton3d_array-2",
            0,
            msg::encode(&skeleton_array(f1.stamp_ns, "world", &[(1, f1), (2, f0)]).ok_or("stamp")?)?,
        ),
        ("pose_array-smpl24", 1, msg::encode(&pose_array(f0))?),
        ("zed_objects-18-34-38", 2, msg::encode(&zed_objects(f0))?),
        (
            "pose_array-order",
            3,
            msg::encode(&PoseArray {
                poses: pose_array(f1).poses[..3].to_vec(),
                ..pose_array(f1)
            })?,
        ),
    ];
    for (name, selector, payload) in seeds {
        let mut bytes = vec![selector];
        bytes.extend_from_slice(&payload);
        write(dir, &format!("seed-{name}.bin"), &bytes)?;
    }
    Ok(())
}

fn bag_seeds(dir: &Path, frames: &[PoseFrame]) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = env::temp_dir().join(format!("a4mer-fuzz-seeds-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);

    // As `a4mer import --to-bag` writes it: zstd chunks, summary section.
    let bag = tmp.join("import");
    write_pose_frames(&bag, "/poses", "world", 1, frames)?;
    write(
        dir,
        "seed-import-zstd-chunks.mcap",
        &fs::read(bag.join("import_0.mcap"))?,
    )?;

    // Unchunked and uncompressed, every input type: mutations reach the records and the CDR
    // payloads instead of stopping at a chunk CRC or zstd frame.
    let mut w = mcap::WriteOptions::new()
        .profile("ros2")
        .use_chunks(false)
        .compression(None)
        .create(std::io::Cursor::new(Vec::new()))?;
    let qos = a4mer_bag::qos::qos_profiles_yaml(&[QosProfile::sensor_data()]);
    let mut channel = |topic: &str, type_name: &str, package: &str, name: &str| {
        let schema = w.add_schema(
            type_name,
            "ros2msg",
            msg::schema_text(package, name).unwrap_or_default().as_bytes(),
        )?;
        let meta = [("offered_qos_profiles".to_string(), qos.clone())]
            .into_iter()
            .collect();
        w.add_channel(schema, topic, "cdr", &meta)
    };
    let skel = channel(
        "/poses",
        &msg::Skeleton3DArray::ros_type_name(),
        "a4mer_msgs",
        "Skeleton3DArray",
    )?;
    let poses = channel("/pose_array", &PoseArray::ros_type_name(), "geometry_msgs", "PoseArray")?;
    let zed = channel(
        "/zed/body_trk/skeletons",
        &ObjectsStamped::ros_type_name(),
        "zed_msgs",
        "ObjectsStamped",
    )?;
    for (k, f) in frames.iter().take(3).enumerate() {
        let t = f.stamp_ns.max(0) as u64;
        let payloads = [
            (
                skel,
                msg::encode(&skeleton_array(f.stamp_ns, "world", &[(1, f)]).ok_or("stamp")?)?,
            ),
            (poses, msg::encode(&pose_array(f))?),
            (zed, msg::encode(&zed_objects(f))?),
        ];
        for (channel_id, data) in payloads {
            w.write_to_known_channel(
                &mcap::records::MessageHeader {
                    channel_id,
                    sequence: k as u32,
                    log_time: t,
                    publish_time: t,
                },
                &data,
            )?;
        }
    }
    w.finish()?;
    write(dir, "seed-three-types-plain.mcap", &w.into_inner().into_inner())?;

    // A Humble-style sqlite3 bag (schema of rosbag2_storage_default_plugins).
    fs::create_dir_all(&tmp)?;
    let db_path = tmp.join("humble_0.db3");
    let db = rusqlite::Connection::open(&db_path)?;
    db.execute_batch(
        "PRAGMA page_size = 1024;
         CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
         INSERT INTO schema VALUES (3, 'humble');
         CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
             serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
         CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
             timestamp INTEGER NOT NULL, data BLOB NOT NULL);",
    )?;
    db.execute(
        "INSERT INTO topics VALUES (1, '/poses', 'a4mer_msgs/msg/Skeleton3DArray', 'cdr', ?1)",
        [&qos],
    )?;
    db.execute(
        "INSERT INTO topics VALUES (2, '/pose_array', 'geometry_msgs/msg/PoseArray', 'cdr', '')",
        [],
    )?;
    for f in frames.iter().take(3) {
        let skel = msg::encode(&skeleton_array(f.stamp_ns, "world", &[(1, f)]).ok_or("stamp")?)?;
        db.execute(
            "INSERT INTO messages (topic_id, timestamp, data) VALUES (1, ?1, ?2)",
            rusqlite::params![f.stamp_ns, skel],
        )?;
        db.execute(
            "INSERT INTO messages (topic_id, timestamp, data) VALUES (2, ?1, ?2)",
            rusqlite::params![f.stamp_ns, msg::encode(&pose_array(f))?],
        )?;
    }
    drop(db);
    write(dir, "seed-humble.db3", &fs::read(&db_path)?)?;
    fs::remove_dir_all(&tmp)?;
    Ok(())
}

/// The smallest configs the model accepts, so a seed is a few KB and mutations are fast.
fn tiny_configs() -> [(&'static str, A4merConfig); 2] {
    let base = A4merConfig {
        d_model: 4,
        n_heads: 2,
        d_ff: 4,
        atom_layers: 1,
        motif_layers: 1,
        segmenter: SegmenterConfig {
            l_min: 2,
            l_max: 4,
            tau: 0.5,
        },
        n_atoms: 4,
        horizon: 2,
        obs_frames: 8,
        n_motifs: 3,
        motif_span: 2,
        motif_lookahead_frames: 3,
        head_hidden: 4,
    };
    let two_layers = A4merConfig {
        atom_layers: 2,
        motif_layers: 2,
        n_heads: 1,
        horizon: 1,
        ..base.clone()
    };
    [("tiny", base), ("tiny-2-layers", two_layers)]
}

fn artifact_seeds(load_dir: &Path, payload_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let device = inference_device();
    for (name, config) in tiny_configs() {
        let model = fresh_model(config, 7, &device);
        let art = Artifact::from_model(
            &model,
            Provenance {
                created_by: "fuzz_seeds".into(),
                seed: 7,
                damping_tau_s: Some(a4mer_runtime::stream::DAMPING_TAU_S),
                ..Default::default()
            },
        );
        write(load_dir, &format!("seed-{name}.a4m"), &art.to_bytes()?)?;
        write(
            payload_dir,
            &format!("seed-{name}.cbor"),
            &a4mer_runtime::codec::encode(&art.payload, "payload")?,
        )?;
    }
    Ok(())
}
