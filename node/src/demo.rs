//! `a4mer demo`: the whole product on real DDS on loopback, in one command.
//!
//! Three DDS participants: a publisher replaying real mocap as `Skeleton3DArray` at its real
//! rate, the node (a thread running [`crate::run`], or the `a4mer_node` binary as a
//! child process), and a subscriber that scores every `PoseForecast` against what the
//! people then did and times it from pose publish to forecast receipt. With a
//! [`DemoCamera`], the poses go out in a camera frame with the camera's pose on
//! `/tf_static`, and the node (run with `output.frame_id`) brings them back through TF.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use a4mer_runtime::stream::{HORIZONS_MS, damped_frames};
use a4mer_runtime::{PoseFrame, frame_period_ns};
use ros2_client::{Context, NodeName, NodeOptions, Subscription};

use crate::dds::{self, DdsError, context, output_qos, subscription};
use crate::diagnostics::percentile_ms;
use crate::{NodeError, NodeSetup, RunSummary};
use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::msg::{Header, MotifAnticipation, PoseForecast, Skeleton3DArray, TFMessage, Time, TransformStamped};
use a4mer_ros::ros_args::RosEnv;
use a4mer_ros::security::SecurityPlan;
use a4mer_ros::tf::Isometry;

/// Horizons the live line and the summary score, seconds.
pub const HORIZONS_S: [f64; 3] = [
    HORIZONS_MS[0] as f64 / 1000.0,
    HORIZONS_MS[2] as f64 / 1000.0,
    HORIZONS_MS[4] as f64 / 1000.0,
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Dds(#[from] DdsError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("{what}: {reason}")]
    Setup { what: String, reason: String },
    #[error("demo input: {0}")]
    Input(String),
}

fn setup_err(what: &str) -> impl FnOnce(String) -> DemoError + '_ {
    move |reason| DemoError::Setup {
        what: what.into(),
        reason,
    }
}

/// How the node runs.
pub enum NodeLaunch {
    /// A thread of this process.
    InProcess(Box<NodeSetup>),
    /// The `a4mer_node` binary with these arguments (its start-up and memory are its own).
    Process { exe: PathBuf, args: Vec<String> },
}

/// Where the demo's camera sits in the frame the takes are in (the robot base).
#[derive(Clone, Debug)]
pub struct DemoCamera {
    /// The node's `output.frame_id`: the frame of the takes.
    pub base_frame: String,
    pub camera_frame: String,
    pub base_from_camera: Isometry,
}

impl DemoCamera {
    /// `a4mer demo --output-frame`'s camera: 2.5 m ahead of the base and 1.4 m up, turned
    /// to face it (yaw pi) and tilted 0.2 rad down.
    pub const XYZ_RPY: [f64; 6] = [2.5, 0.0, 1.4, 0.0, 0.2, std::f64::consts::PI];

    pub fn facing(base_frame: &str) -> Self {
        Self {
            base_frame: base_frame.into(),
            camera_frame: "a4mer_demo_camera".into(),
            base_from_camera: Isometry::from_xyz_rpy(Self::XYZ_RPY),
        }
    }
}

pub struct DemoConfig {
    /// One take per person, all the same length, on the 30 Hz grid.
    pub people: Vec<Vec<PoseFrame>>,
    pub node: NodeLaunch,
    /// The node's input and output topics.
    pub poses_topic: String,
    pub forecast_topic: String,
    pub motifs_topic: String,
    /// Domain and discovery for all three participants.
    pub env: RosEnv,
    /// SROS2 for the demo's own publisher and subscriber (the node's is its own setup's).
    pub peer_security: SecurityPlan,
    /// Publish in this camera's frame, its pose on `/tf_static`; `None`: in `world`.
    pub camera: Option<DemoCamera>,
    /// τ of the damped-velocity baseline the summary scores beside the forecasts: the
    /// node's model's.
    pub damping_tau_s: f32,
}

/// One line per second of the live view.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveLine {
    pub t_s: f64,
    pub person_id: u32,
    pub motif_now: Option<(i32, f32)>,
    /// The most likely motif `motif_ahead_s` from now (the current one included).
    pub motif_ahead: Option<(i32, f32)>,
    pub motif_ahead_s: f32,
    /// Probability of still being in the current motif then (None: not among the top-k).
    pub motif_stays: Option<f32>,
    pub transition_in_s: Option<f32>,
    pub health: Option<u8>,
    /// MPJPE so far at [`HORIZONS_S`], mm (None until scored).
    pub mpjpe_mm: Vec<Option<f64>>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub forecasts_per_s: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LatencyMs {
    pub count: usize,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl LatencyMs {
    fn of(mut us: Vec<u32>) -> Self {
        us.sort_unstable();
        Self {
            count: us.len(),
            p50: percentile_ms(&us, 0.5),
            p99: percentile_ms(&us, 0.99),
            max: percentile_ms(&us, 1.0),
        }
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DemoSummary {
    pub people: usize,
    pub frames_sent: u64,
    pub forecasts_received: u64,
    pub motif_messages_received: u64,
    /// Pose message published → its forecast received, over DDS on loopback.
    pub end_to_end_latency_ms: LatencyMs,
    pub horizons_s: Vec<f64>,
    pub mpjpe_mm: Vec<Option<f64>>,
    /// The three baselines, made from the same takes at each received forecast's origin and
    /// scored on the same joints: what the forecasts are worth.
    pub baselines_mpjpe_mm: Baselines,
    /// Node start → first forecast received; includes DDS discovery and the warm-up frames.
    pub first_forecast_s: Option<f64>,
    pub warmup_s: f64,
    /// Peak resident memory of the node process (`NodeLaunch::Process` only).
    pub node_peak_rss_mb: Option<f64>,
    pub node: Option<RunSummaryView>,
    /// The motifs received, each distribution scored when it fell due.
    pub motifs: Option<a4mer_runtime::stream::report::AnticipationReport>,
}

/// Per [`HORIZONS_S`], mm.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Baselines {
    pub zero_velocity: Vec<Option<f64>>,
    pub constant_velocity: Vec<Option<f64>>,
    pub damped_velocity: Vec<Option<f64>>,
    pub damping_tau_s: f32,
}

impl Baselines {
    /// Per horizon, the best of the three (None until all are scored).
    pub fn best(&self) -> Vec<Option<f64>> {
        (0..self.zero_velocity.len())
            .map(|h| {
                let v = [&self.zero_velocity, &self.constant_velocity, &self.damped_velocity].map(|b| b[h]);
                match v {
                    [Some(a), Some(b), Some(c)] => Some(a.min(b).min(c)),
                    _ => None,
                }
            })
            .collect()
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunSummaryView {
    pub messages: u64,
    pub forecasts_published: u64,
    pub rejected_frames: u64,
}

impl From<RunSummary> for RunSummaryView {
    fn from(s: RunSummary) -> Self {
        Self {
            messages: s.messages,
            forecasts_published: s.forecasts_published,
            rejected_frames: s.rejected_frames,
        }
    }
}

enum RunningNode {
    Thread(std::thread::JoinHandle<Result<RunSummary, NodeError>>),
    Child(Child),
}

/// Methods the summary scores: the forecasts received, then zero, constant and damped
/// velocity from the take at each forecast's origin.
const METHODS: usize = 4;

/// Score of forecasts against the takes: sum of per-forecast MPJPE at each horizon.
struct Scorer {
    start_ns: i64,
    damping_tau_s: f32,
    /// Per method, per horizon: (sum of per-forecast MPJPE in mm, forecasts).
    sums: [Vec<(f64, u64)>; METHODS],
}

impl Scorer {
    fn new(start_ns: i64, damping_tau_s: f32) -> Self {
        Self {
            start_ns,
            damping_tau_s,
            sums: std::array::from_fn(|_| vec![(0.0, 0); HORIZONS_S.len()]),
        }
    }

    fn score(&mut self, f: &PoseForecast, take: &[PoseFrame]) {
        let j = f.joint_names.len();
        let period = frame_period_ns(1);
        let base = (f.header.stamp.to_ns() - self.start_ns + period / 2).div_euclid(period);
        let at = |i: i64| usize::try_from(i).ok().and_then(|i| take.get(i));
        let (Some(last), prev) = (at(base), at(base - 1)) else {
            return;
        };
        for (h, horizon) in HORIZONS_S.iter().enumerate() {
            let step = (horizon * 30.0).round() as usize;
            if step == 0 || step > f.num_steps as usize || j == 0 {
                continue;
            }
            let Some(actual) = at(base + step as i64) else {
                continue;
            };
            let damped = damped_frames(step as f32, self.damping_tau_s);
            let pts = &f.points[(step - 1) * j..step * j];
            let mut sum = [0.0f64; METHODS];
            let mut n = 0;
            for (k, p) in pts.iter().enumerate().take(actual.valid.len()) {
                // Scored where the forecast, the truth and the origin all have the joint.
                if !(actual.valid[k] && last.valid[k] && p.x.is_finite()) {
                    continue;
                }
                let (a, z) = (actual.joints_in_world[k], last.joints_in_world[k]);
                let v: [f32; 3] = match prev {
                    Some(prev) if prev.valid[k] => std::array::from_fn(|c| z[c] - prev.joints_in_world[k][c]),
                    _ => [0.0; 3],
                };
                let guesses: [[f64; 3]; METHODS] = [
                    [p.x, p.y, p.z],
                    z.map(f64::from),
                    std::array::from_fn(|c| f64::from(z[c] + v[c] * step as f32)),
                    std::array::from_fn(|c| f64::from(z[c] + v[c] * damped)),
                ];
                for (s, g) in sum.iter_mut().zip(guesses) {
                    *s += (0..3).map(|c| (g[c] - f64::from(a[c])).powi(2)).sum::<f64>().sqrt();
                }
                n += 1;
            }
            if n > 0 {
                for (sums, s) in self.sums.iter_mut().zip(sum) {
                    sums[h].0 += s / n as f64 * 1000.0;
                    sums[h].1 += 1;
                }
            }
        }
    }

    fn mean_mm(&self, method: usize) -> Vec<Option<f64>> {
        self.sums[method]
            .iter()
            .map(|(s, n)| (*n > 0).then(|| s / *n as f64))
            .collect()
    }

    fn mpjpe_mm(&self) -> Vec<Option<f64>> {
        self.mean_mm(0)
    }

    fn baselines(&self) -> Baselines {
        Baselines {
            zero_velocity: self.mean_mm(1),
            constant_velocity: self.mean_mm(2),
            damped_velocity: self.mean_mm(3),
            damping_tau_s: self.damping_tau_s,
        }
    }
}

/// Run the demo for the length of the takes; `on_line` gets one line per second.
pub fn run(cfg: DemoConfig, on_line: &mut dyn FnMut(&LiveLine)) -> Result<DemoSummary, DemoError> {
    let n_people = cfg.people.len();
    let len = cfg.people.first().map(Vec::len).unwrap_or(0);
    if n_people == 0 || len == 0 || cfg.people.iter().any(|p| p.len() != len) {
        return Err(DemoError::Input(
            "need at least one person, all takes the same non-zero length".into(),
        ));
    }
    let start_ns = cfg.people[0][0].stamp_ns;

    // The node first: its start-up time counts from here.
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let node = match cfg.node {
        NodeLaunch::InProcess(setup) => {
            let stop = Arc::clone(&stop);
            RunningNode::Thread(
                std::thread::Builder::new()
                    .name("a4mer-node".into())
                    .spawn(move || crate::run(*setup, stop))
                    .map_err(|e| setup_err("starting the node thread")(e.to_string()))?,
            )
        }
        NodeLaunch::Process { exe, args } => RunningNode::Child({
            let mut cmd = Command::new(&exe);
            for (var, value) in cfg.env.security.vars() {
                match value {
                    Some(v) => cmd.env(var, v),
                    None => cmd.env_remove(var),
                };
            }
            cmd.args(&args)
                .env("ROS_DOMAIN_ID", cfg.env.domain_id.to_string())
                .env("ROS_LOCALHOST_ONLY", if cfg.env.localhost_only() { "1" } else { "0" })
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| setup_err(&exe.display().to_string())(e.to_string()))?
        }),
    };

    let sub_ctx: Context = context(&cfg.env, &cfg.peer_security)?;
    let mut sub_node = sub_ctx
        .new_node(
            NodeName::new("/", "a4mer_demo_subscriber").map_err(|e| setup_err("subscriber")(format!("{e:?}")))?,
            NodeOptions::new(),
        )
        .map_err(|e| setup_err("subscriber")(format!("{e:?}")))?;
    let mut forecasts: Subscription<PoseForecast> = subscription(&mut sub_node, &cfg.forecast_topic, &output_qos(100))?;
    let mut motifs: Subscription<MotifAnticipation> = subscription(&mut sub_node, &cfg.motifs_topic, &output_qos(100))?;

    // Publisher: its own participant and thread, pacing the takes at 30 Hz.
    let sent_at: Arc<Mutex<BTreeMap<i64, Instant>>> = Arc::default();
    let pub_ctx: Context = context(&cfg.env, &cfg.peer_security)?;
    let mut pub_node = pub_ctx
        .new_node(
            NodeName::new("/", "a4mer_demo_publisher").map_err(|e| setup_err("publisher")(format!("{e:?}")))?,
            NodeOptions::new(),
        )
        .map_err(|e| setup_err("publisher")(format!("{e:?}")))?;
    let publisher = dds::publisher::<Skeleton3DArray>(&mut pub_node, &cfg.poses_topic, &output_qos(10))?;
    // The camera's pose, once, latched (transient local) as tf2's static broadcaster does;
    // the takes as the camera sees them.
    let (pose_frame, seen) = match &cfg.camera {
        Some(c) => {
            let statics = dds::publisher::<TFMessage>(&mut pub_node, "/tf_static", &dds::tf_static_qos())?;
            let msg = TFMessage {
                transforms: vec![TransformStamped {
                    header: Header {
                        stamp: Time::from_ns(start_ns).unwrap_or_default(),
                        frame_id: c.base_frame.clone(),
                    },
                    child_frame_id: c.camera_frame.clone(),
                    transform: c.base_from_camera.to_msg(),
                }],
            };
            statics
                .publish(msg)
                .map_err(|e| setup_err("publishing /tf_static")(format!("{e:?}")))?;
            let camera_from_base = c.base_from_camera.inverse();
            let seen: Vec<Vec<PoseFrame>> = cfg
                .people
                .iter()
                .map(|take| {
                    take.iter()
                        .map(|f| PoseFrame {
                            joints_in_world: f.joints_in_world.map(|p| camera_from_base.apply(p)),
                            ..*f
                        })
                        .collect()
                })
                .collect();
            (c.camera_frame.clone(), Some((statics, seen)))
        }
        None => ("world".to_string(), None),
    };
    let people = Arc::new(cfg.people);
    let publisher_thread = {
        let (people, sent_at, stop) = (Arc::clone(&people), Arc::clone(&sent_at), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("a4mer-demo-pub".into())
            .spawn(move || {
                let _keep = pub_node;
                let (_statics, seen) = match seen {
                    Some((statics, seen)) => (Some(statics), Some(seen)),
                    None => (None, None),
                };
                let takes: &[Vec<PoseFrame>] = seen.as_deref().unwrap_or(people.as_slice());
                let mut sent = 0u64;
                let begin = Instant::now();
                for k in 0..len {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let due = begin + Duration::from_nanos(frame_period_ns(k as u64) as u64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let bodies: Vec<(u32, &PoseFrame)> = takes
                        .iter()
                        .enumerate()
                        .map(|(i, take)| (i as u32 + 1, &take[k]))
                        .collect();
                    let Some(msg) = skeleton_array(takes[0][k].stamp_ns, &pose_frame, &bodies) else {
                        continue;
                    };
                    if let Ok(mut m) = sent_at.lock() {
                        m.insert(people[0][k].stamp_ns, Instant::now());
                        while m.len() > 300 {
                            m.pop_first();
                        }
                    }
                    if publisher.publish(msg).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
            .map_err(|e| setup_err("starting the publisher thread")(e.to_string()))?
    };

    let mut poll = mio::Poll::new().map_err(|e| setup_err("event loop")(e.to_string()))?;
    poll.registry()
        .register(&mut forecasts, mio::Token(0), mio::Interest::READABLE)
        .map_err(|e| setup_err("event loop")(e.to_string()))?;
    poll.registry()
        .register(&mut motifs, mio::Token(1), mio::Interest::READABLE)
        .map_err(|e| setup_err("event loop")(e.to_string()))?;
    let mut events = mio::Events::with_capacity(8);

    let mut scorer = Scorer::new(start_ns, cfg.damping_tau_s);
    let (mut all_latency_us, mut window_latency_us) = (Vec::new(), Vec::new());
    let mut summary = DemoSummary {
        people: n_people,
        horizons_s: HORIZONS_S.to_vec(),
        warmup_s: 1.0,
        ..DemoSummary::default()
    };
    let mut last_motif: Option<MotifAnticipation> = None;
    let mut motif_scorer = crate::demo_motifs::MotifScorer::default();
    let mut window_forecasts = 0u64;
    let take_s = len as f64 / 30.0;
    let mut next_line = t0 + Duration::from_secs(1);
    // Run for the takes plus time to drain the last forecasts.
    let end = Instant::now() + Duration::from_secs_f64(take_s + 1.5);
    while Instant::now() < end {
        let _ = poll.poll(&mut events, Some(Duration::from_millis(20)));
        while let Ok(Some((f, _))) = forecasts.take() {
            let received = Instant::now();
            summary.forecasts_received += 1;
            window_forecasts += 1;
            summary.first_forecast_s.get_or_insert(t0.elapsed().as_secs_f64());
            let stamp = f.header.stamp.to_ns();
            // A forecast's stamp is the grid frame of its input, within 2 ms.
            if let Ok(m) = sent_at.lock()
                && let Some((_, at)) = m.range(stamp - 2_000_000..=stamp + 2_000_000).next()
            {
                let us = received.duration_since(*at).as_micros().min(u32::MAX as u128) as u32;
                all_latency_us.push(us);
                window_latency_us.push(us);
            }
            if let Some(take) = (f.person_id as usize).checked_sub(1).and_then(|i| people.get(i)) {
                scorer.score(&f, take);
            }
        }
        while let Ok(Some((m, _))) = motifs.take() {
            summary.motif_messages_received += 1;
            motif_scorer.on_message(&m);
            if m.person_id == 1 {
                last_motif = Some(m);
            }
        }
        if Instant::now() >= next_line {
            let lat = LatencyMs::of(std::mem::take(&mut window_latency_us));
            let m = last_motif.as_ref();
            on_line(&LiveLine {
                t_s: t0.elapsed().as_secs_f64().round(),
                person_id: 1,
                motif_now: m
                    .filter(|m| m.motif_now >= 0)
                    .map(|m| (m.motif_now, m.motif_now_confidence)),
                motif_ahead: m.and_then(|m| {
                    let top = m.next_motif_ids.first().zip(m.next_motif_probabilities.first());
                    top.map(|(id, p)| (*id, *p))
                }),
                motif_ahead_s: m.map(|m| m.next_motif_horizon_s).unwrap_or(0.0),
                motif_stays: m.and_then(|m| {
                    m.next_motif_ids
                        .iter()
                        .zip(&m.next_motif_probabilities)
                        .find(|(id, _)| **id == m.motif_now)
                        .map(|(_, p)| *p)
                }),
                transition_in_s: m.map(|m| m.expected_time_to_transition_s).filter(|t| t.is_finite()),
                health: m.map(|m| m.health),
                mpjpe_mm: scorer.mpjpe_mm(),
                latency_p50_ms: lat.p50,
                latency_p99_ms: lat.p99,
                forecasts_per_s: window_forecasts as f64,
            });
            window_forecasts = 0;
            next_line += Duration::from_secs(1);
        }
    }
    stop.store(true, Ordering::Relaxed);
    summary.frames_sent = publisher_thread.join().unwrap_or(0);
    summary.end_to_end_latency_ms = LatencyMs::of(all_latency_us);
    summary.mpjpe_mm = scorer.mpjpe_mm();
    summary.baselines_mpjpe_mm = scorer.baselines();
    summary.motifs = Some(crate::demo_motifs::summary(&motif_scorer));
    match node {
        RunningNode::Thread(h) => {
            let run = h.join().map_err(|_| setup_err("node thread")("panicked".into()))??;
            summary.node = Some(run.into());
        }
        RunningNode::Child(mut child) => {
            // The node runs until it is stopped, so one already gone failed: say how, rather
            // than leave only the missing forecasts (a loader that found no library, a
            // start-up error, or under qemu-user an exec that failed after spawn returned).
            if let Ok(Some(status)) = child.try_wait() {
                return Err(setup_err("a4mer_node")(format!(
                    "exited before the run ended ({status})"
                )));
            }
            summary.node_peak_rss_mb = a4mer_runtime::stats::rss_mib(Some(child.id()), true);
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(summary)
}
