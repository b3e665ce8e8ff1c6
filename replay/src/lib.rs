//! Deterministic replay of a recorded bag through the node's engine, for safety audits.
//!
//! The pose topic runs through the node's own [`Pipeline`], built from the node's
//! parameters, driven by message stamps (never wall time), in storage order. The bag's
//! `/tf` and `/tf_static` feed the same TF buffer the node keeps, in the same order, so
//! with `output.frame_id` the audit places every input as the robot did. Everything
//! in [`ReplayReport`] except [`ReplayReport::timing`] and the output bag's path depends
//! only on the bag, the model and the settings, so two replays are byte-identical. Each forecast is scored against what the
//! person did later in the same bag, beside the zero- and constant-velocity baselines.
//!
//! Memory is bounded on long bags: per person only the last 1.2 s of frames and the
//! forecasts still waiting for their ground truth are kept; events are capped.

mod audit;
pub mod report;
mod scoring;
mod types;

pub use scoring::bag_sha256;
use scoring::{Scorer, Sums, bank};
pub use types::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use a4mer_firmware::monitor::{Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;
use a4mer_runtime::stats::histogram_bin;
use a4mer_runtime::stream::{GuardScores, MotifScores, OnlineReport};

use a4mer_bag::{BagError, BagReader};
use a4mer_ros::adapters::{InputMessage, InputType};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::link::RigidTransform;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::pipeline::{Pipeline, PipelineError, engine_config};
use a4mer_ros::ros_args::Parameters;
use a4mer_ros::tf::TfBuffer;
use audit::{Audit, OutBag, Safety};

pub use a4mer_runtime::stream::HORIZONS_MS;
/// Most events listed; later ones are counted in `events_dropped`.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Bag(#[from] BagError),
    #[error("{path}: no pose topic; topics: {topics} (give one with --topic)")]
    NoPoseTopic { path: PathBuf, topics: String },
    #[error("{path}: topic {topic} not in the bag; topics: {topics}")]
    NoSuchTopic {
        path: PathBuf,
        topic: String,
        topics: String,
    },
    #[error("{path}: topic {topic} has type {type_name}, which is not a pose type the node reads")]
    UnknownType {
        path: PathBuf,
        topic: String,
        type_name: String,
    },
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("engine: {0}")]
    Engine(a4mer_runtime::stream::EngineError),
    #[error("adapter: {0}")]
    Adapter(a4mer_ros::adapters::AdapterError),
    #[error("output: {0}")]
    Output(a4mer_ros::outputs::OutputError),
    #[error("safety monitor: {0}")]
    Safety(String),
    #[error("{path}: topic {topic} has type {type_name}, but parameter `input.type` is {given}")]
    InputTypeMismatch {
        path: PathBuf,
        topic: String,
        type_name: String,
        given: String,
    },
}

impl From<PipelineError> for ReplayError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Input(e) => Self::Adapter(e),
            PipelineError::Engine(e) => Self::Engine(e),
        }
    }
}

impl From<a4mer_runtime::stream::EngineError> for ReplayError {
    fn from(e: a4mer_runtime::stream::EngineError) -> Self {
        Self::Engine(e)
    }
}

impl From<a4mer_ros::adapters::AdapterError> for ReplayError {
    fn from(e: a4mer_ros::adapters::AdapterError) -> Self {
        Self::Adapter(e)
    }
}

impl From<a4mer_ros::outputs::OutputError> for ReplayError {
    fn from(e: a4mer_ros::outputs::OutputError) -> Self {
        Self::Output(e)
    }
}

/// The robot the audit's speed and separation monitoring assumes.
#[derive(Clone, Debug)]
pub struct SafetySetup {
    /// Pose of the pose frame in the robot base frame (as the node's
    /// `link.base_from_forecast_xyz_rpy`).
    pub base_from_forecast: RigidTransform,
    pub robot: RobotState,
    pub monitor: MonitorConfig,
}

pub struct ReplayOptions {
    pub topic: Option<String>,
    /// Run the firmware's monitor on the link frames the node would send.
    pub safety: Option<SafetySetup>,
    pub model: LoadedModel,
    /// The node's settings: what its parameters file and `-p` overrides give. An
    /// `input.type` not set there follows the bag's pose topic.
    pub config: NodeConfig,
    /// Where each parameter was set.
    pub params: Parameters,
    /// Write the input poses and our outputs to this new rosbag2 directory.
    pub out_dir: Option<PathBuf>,
}

/// Replay `bag`. A bag error part-way (truncated file, bad chunk CRC) ends the replay with
/// `stopped_at` set and the report covering everything before it; errors before the
/// first message (no such bag, no pose topic) are returned.
pub fn replay(
    bag: &Path,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<ReplayReport, ReplayError> {
    let wall = Instant::now();
    let reader = BagReader::open(bag)?;
    let topics = reader.topics();
    let list = || {
        topics
            .iter()
            .map(|t| format!("{} ({})", t.name, t.type_name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let topic_index = match &opts.topic {
        Some(name) => reader.topic_index(name).ok_or_else(|| ReplayError::NoSuchTopic {
            path: bag.to_path_buf(),
            topic: name.clone(),
            topics: list(),
        })?,
        None => topics
            .iter()
            .position(|t| InputType::from_ros_type_name(&t.type_name).is_some())
            .ok_or_else(|| ReplayError::NoPoseTopic {
                path: bag.to_path_buf(),
                topics: list(),
            })?,
    };
    let topic = topics[topic_index].clone();
    let input_type = InputType::from_ros_type_name(&topic.type_name).ok_or_else(|| ReplayError::UnknownType {
        path: bag.to_path_buf(),
        topic: topic.name.clone(),
        type_name: topic.type_name.clone(),
    })?;
    let mut config = opts.config.clone();
    if opts.params.get("input.type").is_none() {
        config.input_type = input_type;
    } else if config.input_type != input_type {
        return Err(ReplayError::InputTypeMismatch {
            path: bag.to_path_buf(),
            topic: topic.name.clone(),
            type_name: topic.type_name.clone(),
            given: config.input_type.param_value().into(),
        });
    }
    // TF as the node subscribes to it: `/tf` and `/tf_static`, tf2_msgs/msg/TFMessage.
    let tf_topic = |name: &str| {
        topics
            .iter()
            .position(|t| t.name == name && t.type_name == "tf2_msgs/msg/TFMessage")
    };
    let (tf_index, tf_static_index) = (tf_topic("/tf"), tf_topic("/tf_static"));
    let mut tf = TfBuffer::new(config.tf_buffer_s);
    let link_base = opts.safety.as_ref().map(|s| s.base_from_forecast);
    let mut pipeline = Pipeline::new(&config, &opts.model, link_base)?;
    let out = match &opts.out_dir {
        Some(dir) => Some(OutBag::create(dir, &topic)?),
        None => None,
    };
    let mut audit = Audit {
        report: ReplayReport {
            bag: bag.display().to_string(),
            bag_sha256: bag_sha256(bag)?,
            model: opts.model.origin.clone(),
            model_sha256: opts.model.sha256_hex.clone(),
            damping_tau_s: opts.model.stream.damping_tau().seconds(),
            damping_tau_note: opts.model.stream.damping_tau().note(),
            anticipation_note: opts.model.stream.anticipation_note(),
            topic: topic.name.clone(),
            input_type: topic.type_name.clone(),
            settings: config.settings(&opts.params),
            mpjpe_mm: Scores {
                horizons_ms: HORIZONS_MS.to_vec(),
                ..Scores::default()
            },
            ..ReplayReport::default()
        },
        out,
        failed: None,
        safety: match &opts.safety {
            Some(setup) => Some(Safety {
                setup,
                monitor: Monitor::new(setup.monitor).map_err(|e| ReplayError::Safety(format!("{e:?}")))?,
                summary: SsmSummary {
                    robot_position_in_base_m: setup.robot.position_in_base_m,
                    programmed_speed_mps: setup.robot.programmed_speed_mps,
                    ..SsmSummary::default()
                },
                last_decision: None,
                link_seq: 0,
            }),
            None => None,
        },
        people: BTreeMap::new(),
        scorer: Scorer {
            sums: Sums::default(),
            by_second: BTreeMap::new(),
            start_ns: 0,
            damping_tau_s: opts.model.stream.damping_tau().seconds(),
        },
        finished: (GuardScores::default(), MotifScores::default()),
        guard_by_second: BTreeMap::new(),
        first_ns: None,
        last_ns: 0,
        log_ns: 0,
        hist: vec![0u64; 1001],
        pushes: 0,
        open_spans: BTreeMap::new(),
        gap_ns: engine_config(&config).conditioner.gap_limit_ns,
        events_dropped: 0,
        without_forecast: BTreeMap::new(),
    };

    for item in reader.messages() {
        let msg = match item {
            Ok(m) => m,
            Err(e) => {
                audit.report.stopped_at = Some(e.to_string());
                break;
            }
        };
        if msg.topic != topic_index {
            let is_static = Some(msg.topic) == tf_static_index;
            if is_static || Some(msg.topic) == tf_index {
                match a4mer_ros::msg::decode::<a4mer_ros::msg::TFMessage>(&msg.data) {
                    Ok(m) => tf.insert_message(&m, is_static),
                    Err(e) => audit.event(msg.log_time_ns, None, "malformed_tf", e.to_string()),
                }
            }
            continue;
        }
        audit.log_ns = msg.log_time_ns;
        audit.report.messages += 1;
        progress(audit.report.messages, topic.message_count);
        if let Some(o) = audit.out.as_mut() {
            o.writer.write_raw(o.input, msg.log_time_ns, &msg.data)?;
        }
        match InputMessage::decode(&msg.data, input_type) {
            Ok(decoded) => pipeline.on_message(&decoded, &tf, &mut audit),
            Err(e) => audit.event(msg.log_time_ns, None, "unusable_message", e.to_string()),
        }
        if let Some(e) = audit.failed.take() {
            return Err(e);
        }
    }
    let mut report = audit.report;
    if report.messages == 0 && report.stopped_at.is_none() {
        report.stopped_at = Some(format!("{}: no messages on {}", bag.display(), topic.name));
    }
    let (first_ns, last_ns) = (audit.first_ns, audit.last_ns);
    let start = first_ns.unwrap_or(0);
    for (id, (m, s)) in audit.open_spans {
        report.motif_timeline.push(MotifSpan {
            person_id: id,
            motif: m,
            start_s: (s - start) as f64 / 1e9,
            end_s: (last_ns - start) as f64 / 1e9,
        });
    }
    report.motif_timeline.sort_by(|a, b| {
        (a.person_id, a.start_s)
            .partial_cmp(&(b.person_id, b.start_s))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    report.ssm = audit.safety.map(|s| s.summary);
    report.events_dropped = audit.events_dropped;
    report.people = audit.people.keys().copied().collect();
    report.duration_s = (last_ns - start).max(0) as f64 / 1e9;
    let scorer = audit.scorer;
    report.mpjpe_mm.scored = scorer.sums.acc.iter().map(|h| h[0][0].1).collect();
    report.mpjpe_mm.model = scorer.sums.table(0);
    report.mpjpe_mm.zero_velocity = scorer.sums.table(1);
    report.mpjpe_mm.constant_velocity = scorer.sums.table(2);
    report.mpjpe_mm.damped_velocity = scorer.sums.table(3);
    report.error_over_time = scorer
        .by_second
        .iter()
        .map(|(sec, v)| ErrorOverTime {
            t_s: *sec as f64,
            mpjpe_400ms: (v[0].1 > 0).then(|| v[0].0 / v[0].1 as f64),
            mpjpe_1000ms: (v[1].1 > 0).then(|| v[1].0 / v[1].1 as f64),
        })
        .collect();
    let mut finished = audit.finished;
    for ps in audit.people.values() {
        bank(&mut finished, &ps.scores);
    }
    let motif_horizon_s = opts.model.stream.config().motif_lookahead_frames as f32 / a4mer_runtime::FPS as f32;
    report.online = Some(OnlineReport::new(&finished.0, &finished.1, motif_horizon_s));
    report.guard_over_time = audit
        .guard_by_second
        .iter()
        .map(|(sec, (w, n, losing))| GuardOverTime {
            t_s: *sec as f64,
            model_weight: w.iter().map(|v| v / *n as f64).collect(),
            model_losing: *losing as f64 / *n as f64,
        })
        .collect();
    if let Some(o) = audit.out {
        let summary = o.writer.finish()?;
        report.output_bag = Some(summary.dir.display().to_string());
    }
    let (hist, pushes) = (audit.hist, audit.pushes);
    let wall_s = wall.elapsed().as_secs_f64();
    report.timing = Timing {
        pushes,
        // Bin centres: the histogram counts 10 µs bins.
        push_p50_us: histogram_bin(&hist, 0.5).map(|i| i as u32 * 10 + 5),
        push_p99_us: histogram_bin(&hist, 0.99).map(|i| i as u32 * 10 + 5),
        push_max_us: hist.iter().rposition(|n| *n > 0).map(|i| i as u32 * 10 + 10),
        push_histogram_10us: hist,
        wall_s,
        realtime_factor: (wall_s > 0.0 && report.duration_s > 0.0).then(|| report.duration_s / wall_s),
    };
    Ok(report)
}
