//! Deterministic replay of a recorded bag through the node's engine, for safety audits.
//!
//! The pose topic runs through the same adapters, `Tracks` and `Engine` as the node, driven
//! by message stamps (never wall time), in storage order. Everything in [`ReplayReport`]
//! except [`ReplayReport::timing`] and the output bag depends only on the bag and the
//! model, so two replays are byte-identical. Each forecast is scored against what the
//! person did later in the same bag, beside the zero- and constant-velocity baselines.
//!
//! Memory is bounded on long bags: per person only the last 1.2 s of frames and the
//! forecasts still waiting for their ground truth are kept; events are capped.

pub mod report;
mod scoring;
mod types;

pub use scoring::bag_sha256;
use scoring::{Pending, PersonScoring, Scorer, Sums, bank, percentile_from_histogram, scored_total};
pub use types::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use a4mer_runtime::Joints;
use a4mer_runtime::stream::{
    Engine, EngineConfig, GuardScores, HealthState, MotifScores, NUM_HORIZONS, OnlineReport, StreamError, Tracks,
    TracksConfig,
};

use a4mer_firmware::link::{Header as LinkHeader, LinkFrame};
use a4mer_firmware::monitor::{Command, Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;

use crate::adapters::{InputAdapter, InputMessage, InputType};
use crate::bag::{BagError, BagReader, BagWriter, TopicId};
use crate::link::{LinkPerson, RigidTransform, link_person, outgoing};
use crate::msg::{Header, MarkerArray, MotifAnticipation, PoseForecast, Time};
use crate::node::LoadedModel;
use crate::node::diagnostics::stream_error_kind;
use crate::outputs::{MarkerStyle, anticipation_forecast, forecast_markers, motif_anticipation};

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
    Adapter(crate::adapters::AdapterError),
    #[error("output: {0}")]
    Output(crate::outputs::OutputError),
    #[error("safety monitor: {0}")]
    Safety(String),
}

impl From<a4mer_runtime::stream::EngineError> for ReplayError {
    fn from(e: a4mer_runtime::stream::EngineError) -> Self {
        Self::Engine(e)
    }
}

impl From<crate::adapters::AdapterError> for ReplayError {
    fn from(e: crate::adapters::AdapterError) -> Self {
        Self::Adapter(e)
    }
}

impl From<crate::outputs::OutputError> for ReplayError {
    fn from(e: crate::outputs::OutputError) -> Self {
        Self::Output(e)
    }
}

/// The robot the audit's speed and separation monitoring assumes.
#[derive(Clone, Debug)]
pub struct SafetySetup {
    /// Pose of the pose frame in the robot base frame (as the node's `link.base_from_forecast`).
    pub base_from_forecast: RigidTransform,
    pub robot: RobotState,
    pub monitor: MonitorConfig,
}

pub struct ReplayOptions {
    pub topic: Option<String>,
    /// Run the firmware's monitor on the link frames the node would send.
    pub safety: Option<SafetySetup>,
    pub model: LoadedModel,
    pub engine: EngineConfig,
    pub tracks: TracksConfig,
    /// Write the input poses and our outputs to this new rosbag2 directory.
    pub out_dir: Option<PathBuf>,
    pub markers: MarkerStyle,
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
    let mut adapter = InputAdapter::new(input_type, &[], None)?;
    let proto = Engine::new(Arc::clone(&opts.model.stream), opts.engine.clone())?;
    let mut tracks: Tracks<Engine> = Tracks::new(opts.tracks.clone(), move || proto.clone());

    struct Out {
        writer: BagWriter,
        input: TopicId,
        forecast: TopicId,
        motifs: TopicId,
        markers: TopicId,
    }
    let mut out = match &opts.out_dir {
        Some(dir) => {
            let mut writer = BagWriter::create(dir)?;
            let schema = topic.definition.clone().unwrap_or_else(|| {
                let (pkg, name) = topic.type_name.split_once("/msg/").unwrap_or(("", ""));
                crate::msg::schema_text(pkg, name).unwrap_or_default()
            });
            let input = writer.add_topic_raw(&topic.name, &topic.type_name, &schema, &topic.offered_qos_profiles)?;
            let qos = [crate::bag::QosProfile::reliable(10)];
            let forecast = writer.add_topic::<PoseForecast>("/a4mer/forecast", &qos)?;
            let motifs = writer.add_topic::<MotifAnticipation>("/a4mer/motifs", &qos)?;
            let markers = writer.add_topic::<MarkerArray>("/a4mer/forecast_markers", &qos)?;
            Some(Out {
                writer,
                input,
                forecast,
                motifs,
                markers,
            })
        }
        None => None,
    };

    let mut report = ReplayReport {
        bag: bag.display().to_string(),
        bag_sha256: bag_sha256(bag)?,
        model: opts.model.origin.clone(),
        model_sha256: opts.model.sha256_hex.clone(),
        topic: topic.name.clone(),
        input_type: topic.type_name.clone(),
        mpjpe_mm: Scores {
            horizons_ms: HORIZONS_MS.to_vec(),
            ..Scores::default()
        },
        ..ReplayReport::default()
    };
    let mut people: BTreeMap<u32, PersonScoring> = BTreeMap::new();
    let mut scorer = Scorer {
        sums: Sums::default(),
        by_second: BTreeMap::new(),
        start_ns: 0,
    };
    let mut finished = (GuardScores::default(), MotifScores::default());
    let mut guard_by_second: BTreeMap<i64, ([f64; NUM_HORIZONS], u64, u64)> = BTreeMap::new();
    let mut first_ns: Option<i64> = None;
    let mut last_ns = 0i64;
    let mut hist = vec![0u64; 1001];
    let mut pushes = 0u64;
    let mut open_spans: BTreeMap<u32, (i32, i64)> = BTreeMap::new();
    let gap_ns = opts.engine.conditioner.gap_limit_ns;

    let mut monitor = match &opts.safety {
        Some(s) => Some(Monitor::new(s.monitor).map_err(|e| ReplayError::Safety(format!("{e:?}")))?),
        None => None,
    };
    let mut ssm = opts.safety.as_ref().map(|s| SsmSummary {
        robot_position_in_base_m: s.robot.position_in_base_m,
        programmed_speed_mps: s.robot.programmed_speed_mps,
        ..SsmSummary::default()
    });
    let mut last_decision: Option<(i64, Command)> = None;
    let mut link_seq = 0u32;

    let mut events: Vec<Event> = Vec::new();
    let mut dropped = 0u64;
    let mut event = |t_ns: i64, start: i64, person_id: Option<u32>, kind: &str, detail: String| {
        if events.len() < MAX_EVENTS {
            events.push(Event {
                t_s: (t_ns - start) as f64 / 1e9,
                person_id,
                kind: kind.into(),
                detail,
            });
        } else {
            dropped += 1;
        }
    };

    for item in reader.messages() {
        let msg = match item {
            Ok(m) => m,
            Err(e) => {
                report.stopped_at = Some(e.to_string());
                break;
            }
        };
        if msg.topic != topic_index {
            continue;
        }
        report.messages += 1;
        progress(report.messages, topic.message_count);
        if let Some(o) = out.as_mut() {
            o.writer.write_raw(o.input, msg.log_time_ns, &msg.data)?;
        }
        let decoded = InputMessage::decode(&msg.data, input_type).map_err(crate::adapters::InputError::from);
        let adapted = match decoded.and_then(|d| adapter.adapt(&d).map(|a| (a, d.header().frame_id.clone()))) {
            Ok(a) => a,
            Err(e) => {
                let start = first_ns.unwrap_or(msg.log_time_ns);
                event(msg.log_time_ns, start, None, "unusable_message", e.to_string());
                continue;
            }
        };
        let (adapted, frame_id) = adapted;
        let mut for_link: Vec<LinkPerson> = Vec::new();
        for r in &adapted.rejected {
            let start = first_ns.unwrap_or(msg.log_time_ns);
            event(msg.log_time_ns, start, None, "rejected_body", r.to_string());
        }
        for person in &adapted.people {
            let stamp = person.frame.stamp_ns;
            let start = *first_ns.get_or_insert(stamp);
            scorer.start_ns = start;
            last_ns = last_ns.max(stamp);
            let ps = people.entry(person.id).or_default();
            if let Some(prev) = ps.last_stamp_ns
                && stamp - prev > gap_ns
            {
                event(
                    stamp,
                    start,
                    Some(person.id),
                    "gap",
                    format!("{:.3} s without frames", (stamp - prev) as f64 / 1e9),
                );
            }
            ps.last_stamp_ns = Some(ps.last_stamp_ns.map_or(stamp, |p| p.max(stamp)));
            let Some(engine) = tracks.get_or_insert(u64::from(person.id), stamp) else {
                event(
                    stamp,
                    start,
                    Some(person.id),
                    "person_not_followed",
                    format!("{} people already in view (tracks.max)", opts.tracks.max_tracks),
                );
                continue;
            };
            let t = Instant::now();
            let result = engine.push_ref(&person.frame).map(|_| ());
            let us = t.elapsed().as_micros() as usize;
            hist[(us / 10).min(1000)] += 1;
            pushes += 1;
            let engine = &*engine;
            let scores = (*engine.guard_scores(), *engine.motif_scores());
            // A new engine for a returning id starts its counts afresh: bank the old one's.
            if scored_total(&scores) < scored_total(&ps.scores) {
                bank(&mut finished, &ps.scores);
            }
            ps.scores = scores;
            if let Err(e) = result {
                event(stamp, start, Some(person.id), stream_error_kind(&e), e.to_string());
                if matches!(e, StreamError::Teleport { .. } | StreamError::NonFiniteOutput { .. }) {
                    ps.last_health = None;
                }
                continue;
            }
            let Some(a) = engine.latest() else { continue };
            report.frames += 1;
            // Health transitions and resets.
            if a.health.resets > ps.last_resets {
                ps.last_resets = a.health.resets;
                event(
                    a.stamp_ns,
                    start,
                    Some(person.id),
                    "reset",
                    "stream restarted (warming up)".into(),
                );
            }
            if ps.last_health != Some(a.health.state) {
                let kind = match a.health.state {
                    HealthState::Warming => "warming_up",
                    HealthState::Ok => "ok",
                    HealthState::Degraded => "degraded",
                };
                let detail = a.health.last_error.map(|e| e.to_string()).unwrap_or_default();
                event(a.stamp_ns, start, Some(person.id), kind, detail);
                ps.last_health = Some(a.health.state);
            }
            // Motif timeline and transitions.
            let motif = a.motif_now.map(|m| i32::from(m.id)).unwrap_or(-1);
            match open_spans.get(&person.id) {
                Some((m, _)) if *m == motif => {}
                prev => {
                    if let Some((m, s)) = prev.copied() {
                        report.motif_timeline.push(MotifSpan {
                            person_id: person.id,
                            motif: m,
                            start_s: (s - start) as f64 / 1e9,
                            end_s: (a.stamp_ns - start) as f64 / 1e9,
                        });
                        if m >= 0 && motif >= 0 {
                            event(
                                a.stamp_ns,
                                start,
                                Some(person.id),
                                "motif_transition",
                                format!("{m} -> {motif}"),
                            );
                        }
                    }
                    open_spans.insert(person.id, (motif, a.stamp_ns));
                }
            }
            // Outputs, stamped with the input's log time so the output bag scrubs with it.
            let header = Header {
                stamp: Time::from_ns(a.stamp_ns).unwrap_or_default(),
                frame_id: frame_id.clone(),
            };
            if monitor.is_some() {
                for_link.push(link_person(person.id, &person.frame, a));
            }
            let motifs = motif_anticipation(header.clone(), person.id, a);
            let forecast = (a.health.state != HealthState::Warming && !a.forecast.is_empty())
                .then(|| anticipation_forecast(header, person.id, a))
                .transpose()?;
            if let Some(f) = &forecast {
                report.forecasts += 1;
                let sec = (a.stamp_ns - start).div_euclid(1_000_000_000);
                let slot = guard_by_second.entry(sec).or_insert(([0.0; NUM_HORIZONS], 0, 0));
                for (acc, w) in slot.0.iter_mut().zip(&a.guard.weights) {
                    *acc += f64::from(w[0]);
                }
                slot.1 += 1;
                slot.2 += u64::from(a.guard.model_losing_within(crate::link::LINK_REACH_STEPS));
                let steps: Vec<Joints> = a.forecast.iter().map(|s| s.joints_in_world).collect();
                let prev = ps.history.back().copied();
                let velocity = prev.filter(|p| p.stamp_ns < stamp).map(|p| {
                    let dt = (stamp - p.stamp_ns) as f32 / 1e9;
                    std::array::from_fn(|j| {
                        std::array::from_fn(|c| (person.frame.joints_in_world[j][c] - p.joints_in_world[j][c]) / dt)
                    })
                });
                ps.pending.push_back(Pending {
                    stamp_ns: a.stamp_ns,
                    steps,
                    valid: a.valid,
                    last: person.frame.joints_in_world,
                    velocity,
                    done: [false; HORIZONS_MS.len()],
                });
                if let Some(o) = out.as_mut() {
                    o.writer.write(o.forecast, msg.log_time_ns, f)?;
                    o.writer
                        .write(o.markers, msg.log_time_ns, &forecast_markers(f, &opts.markers)?)?;
                }
            }
            if let Some(o) = out.as_mut() {
                o.writer.write(o.motifs, msg.log_time_ns, &motifs)?;
            }
            scorer.observe(ps, &person.frame);
        }
        // The MCU's view, clocked by bag time: the frame the node would have sent now.
        if let (Some(m), Some(setup), Some(summary), Some(start)) =
            (monitor.as_mut(), &opts.safety, ssm.as_mut(), first_ns)
            && !for_link.is_empty()
        {
            let now_ns = last_ns;
            let now_us = ((now_ns - start).max(0) / 1000) as u64;
            if let Ok(out) = outgoing(&for_link, &setup.base_from_forecast, 0) {
                link_seq = link_seq.wrapping_add(1);
                m.accept_frame(
                    LinkFrame {
                        header: LinkHeader {
                            session: 1,
                            seq: link_seq,
                            sender_stamp_us: now_us,
                            pose_age_us: out.pose_age_us,
                        },
                        health: out.health,
                        step_ms: out.step_ms,
                        people: out.people,
                    },
                    now_us,
                );
            }
            let (command, _) = m.command(&setup.robot, now_us);
            let separation = m
                .assessment(&setup.robot, now_us)
                .map(|a| a.separation_m)
                .filter(|s| s.is_finite());
            if let Some((t, prev)) = last_decision {
                let dt = (now_ns - t).max(0) as f64 / 1e9;
                match prev {
                    Command::Run { .. } => summary.seconds_run += dt,
                    Command::Fallback { .. } => summary.seconds_fallback += dt,
                    Command::ProtectiveStop => summary.seconds_protective_stop += dt,
                }
                if std::mem::discriminant(&prev) != std::mem::discriminant(&command) {
                    event(
                        now_ns,
                        start,
                        None,
                        "ssm_mode",
                        format!("{:?} -> {:?}", m.mode(), command),
                    );
                }
            }
            last_decision = Some((now_ns, command));
            if let Some(sep) = separation {
                summary.min_separation_m = Some(summary.min_separation_m.map_or(sep, |m| m.min(sep)));
            }
            let t_s = ((now_ns - start) / 100_000_000) as f64 / 10.0;
            let mode = match command {
                Command::Run { .. } => "run",
                Command::Fallback { .. } => "fallback",
                Command::ProtectiveStop => "protective_stop",
            };
            match summary.timeline.last_mut() {
                Some(p) if p.t_s == t_s => {
                    if command.scale() < p.scale {
                        p.scale = command.scale();
                        p.mode = mode.into();
                    }
                    p.separation_m = match (p.separation_m, separation) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                _ => summary.timeline.push(SsmPoint {
                    t_s,
                    mode: mode.into(),
                    scale: command.scale(),
                    separation_m: separation,
                }),
            }
        }
        for (id, why) in tracks.drain_evictions() {
            let start = first_ns.unwrap_or(msg.log_time_ns);
            event(last_ns, start, Some(id as u32), "track_evicted", format!("{why:?}"));
        }
    }
    if report.messages == 0 && report.stopped_at.is_none() {
        report.stopped_at = Some(format!("{}: no messages on {}", bag.display(), topic.name));
    }
    let start = first_ns.unwrap_or(0);
    for (id, (m, s)) in open_spans {
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
    report.events = events;
    report.ssm = ssm;
    report.events_dropped = dropped;
    report.people = people.keys().copied().collect();
    report.duration_s = (last_ns - start).max(0) as f64 / 1e9;
    report.mpjpe_mm.scored = scorer.sums.acc.iter().map(|h| h[0][0].1).collect();
    report.mpjpe_mm.model = scorer.sums.table(0);
    report.mpjpe_mm.zero_velocity = scorer.sums.table(1);
    report.mpjpe_mm.constant_velocity = scorer.sums.table(2);
    report.error_over_time = scorer
        .by_second
        .iter()
        .map(|(sec, v)| ErrorOverTime {
            t_s: *sec as f64,
            mpjpe_400ms: (v[0].1 > 0).then(|| v[0].0 / v[0].1 as f64),
            mpjpe_1000ms: (v[1].1 > 0).then(|| v[1].0 / v[1].1 as f64),
        })
        .collect();
    for ps in people.values() {
        bank(&mut finished, &ps.scores);
    }
    let motif_horizon_s = opts.model.stream.config().motif_lookahead_frames as f32 / a4mer_runtime::FPS as f32;
    report.online = Some(OnlineReport::new(&finished.0, &finished.1, motif_horizon_s));
    report.guard_over_time = guard_by_second
        .iter()
        .map(|(sec, (w, n, losing))| GuardOverTime {
            t_s: *sec as f64,
            model_weight: w.iter().map(|v| v / *n as f64).collect(),
            model_losing: *losing as f64 / *n as f64,
        })
        .collect();
    if let Some(o) = out {
        let summary = o.writer.finish()?;
        report.output_bag = Some(summary.dir.display().to_string());
    }
    let wall_s = wall.elapsed().as_secs_f64();
    report.timing = Timing {
        pushes,
        push_p50_us: percentile_from_histogram(&hist, pushes, 0.5),
        push_p99_us: percentile_from_histogram(&hist, pushes, 0.99),
        push_max_us: hist.iter().rposition(|n| *n > 0).map(|i| i as u32 * 10 + 10),
        push_histogram_10us: hist,
        wall_s,
        realtime_factor: (wall_s > 0.0 && report.duration_s > 0.0).then(|| report.duration_s / wall_s),
    };
    Ok(report)
}
