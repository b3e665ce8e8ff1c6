//! `a4mer_node`: poses in, anticipation out.
//!
//! One thread runs the frame loop: a mio poll on the input subscription (ros2-client
//! subscriptions are mio event sources), so a message is handled as soon as it arrives,
//! with a timeout that drives `/diagnostics` and the watchdog. ros2-client's spinner (ROS
//! graph, `/clock` for `use_sim_time`, rosout), the `/diagnostics` publisher and the safety
//! link's writer run on three more threads; the frame loop runs at the `sched.*` policy
//! ([`sched`]). Each message goes through the [`Pipeline`] replay also runs.
//!
//! Start-up validates everything (arguments, names, parameters, model, joint map) before
//! any DDS entity exists: a bad parameter fails with its name, never half-started.
//!
//! This crate is the node's DDS side and nothing else: what a message means, how it is
//! adapted and what the pipeline does with it live in `a4mer-ros`, which replay and the
//! bag tools share without DDS.

pub mod dds;
pub mod demo;
pub mod demo_motifs;
pub mod diagnostics;
mod inputs;
pub mod lifecycle;
pub mod lifecycle_msgs;
pub mod link_diag;
pub mod link_sender;
mod motif_status;
pub mod params;
mod publish;
pub mod sched;
pub mod services;
pub mod tf_diag;
pub mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ros2_client::{NodeName, NodeOptions, Subscription};

use crate::dds::{DdsError, context, input_qos, output_qos, publisher, subscription};
use crate::link_sender::LinkSender;
use a4mer_ros::adapters::{AdapterError, InputMessage};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::model::{LoadedModel, ModelLoadError};
use a4mer_ros::msg::{Clock, Header, Time};
use a4mer_ros::pipeline::{Pipeline, PipelineError};
use a4mer_ros::ros_args::env::EnvError;
use a4mer_ros::ros_args::names::NameError;
use a4mer_ros::ros_args::params::ParamError;
use a4mer_ros::ros_args::{NodeNames, Parameters, RosEnv};
use a4mer_ros::security::{SecurityError, SecurityPlan};
use a4mer_ros::startup::{Startup, StartupError, startup_from_args};
use a4mer_ros::tf::TfBuffer;
use diagnostics::{Diagnostics, DiagnosticsWriter, GuardStatus, Identity};
use inputs::{InputSubscription, TfInput};
use lifecycle::{Primary, Step};
use link_diag::LinkDiagnostics;
use publish::{Outputs, Publish};
use services::{Control, Services};
use tf_diag::TfDiagnostics;
pub use topics::{Endpoint, Topics};

/// Most samples taken per wake-up before the loop checks its timers again, so a flood on
/// the input cannot starve `/diagnostics` or shutdown.
const MAX_TAKES_PER_WAKE: usize = 256;
/// The service thread's wake-up of the frame loop (parameter changes, lifecycle steps).
const WAKE: mio::Token = mio::Token(2);
/// Longest the loop sleeps before it looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Names(#[from] NameError),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    ModelLoad(#[from] ModelLoadError),
    #[error("parameter `input.joint_map` / `input.joint_order`: {0}")]
    Input(AdapterError),
    #[error(transparent)]
    Dds(#[from] DdsError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error("{what}: {reason}")]
    Ros { what: String, reason: String },
}

impl From<PipelineError> for NodeError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Input(e) => Self::Input(e),
            PipelineError::Engine(e) => Self::ModelLoad(ModelLoadError::Engine(e)),
        }
    }
}

impl From<AdapterError> for NodeError {
    fn from(e: AdapterError) -> Self {
        Self::Input(e)
    }
}

fn ros_err(what: impl Into<String>) -> impl FnOnce(String) -> NodeError {
    let what = what.into();
    move |reason| NodeError::Ros { what, reason }
}

/// Everything start-up decides, validated.
#[derive(Clone, Debug)]
pub struct NodeSetup {
    pub names: NodeNames,
    /// The parameters as given (read back by `get_parameters` as given).
    pub params: Parameters,
    pub config: NodeConfig,
    pub env: RosEnv,
    /// SROS2, from `ROS_SECURITY_*` and `--enclave`, checked before any DDS entity.
    pub security: SecurityPlan,
    pub topics: Topics,
    pub model: LoadedModel,
}

impl NodeSetup {
    /// From the command line (without the program name) and the ROS environment.
    pub fn from_args<S: AsRef<str>>(args: &[S], env: RosEnv) -> Result<Self, NodeError> {
        let Startup {
            names,
            params,
            config,
            enclave,
        } = startup_from_args(args)?;
        let security = a4mer_ros::security::plan(
            &env.security,
            enclave.as_deref(),
            dds::HAS_SECURITY,
            std::time::SystemTime::now(),
        )?;
        let topics = Topics {
            poses: names.resolve_topic("~/poses")?,
            forecast: names.resolve_topic("~/forecast")?,
            motifs: names.resolve_topic("~/motifs")?,
            markers: names.resolve_topic("~/forecast_markers")?,
            person_markers: names.resolve_topic("~/person_markers")?,
            diagnostics: names.resolve_topic("/diagnostics")?,
            tf: names.resolve_topic("/tf")?,
            tf_static: names.resolve_topic("/tf_static")?,
        };
        let model = LoadedModel::load(config.model.as_deref())?;
        // Fail now, naming the parameter, rather than on the first message.
        Pipeline::new(&config, &model, None)?;
        Ok(Self {
            names,
            params,
            config,
            env,
            security,
            topics,
            model,
        })
    }
}

fn wall_clock_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Counters at the end of a run (tests and the demo read them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    pub messages: u64,
    pub forecasts_published: u64,
    pub malformed_messages: u64,
    pub unusable_messages: u64,
    pub rejected_frames: u64,
}

/// The frame loop's state: the pipeline, counters, the link and the lifecycle state.
struct FrameLoop {
    /// The configuration with every accepted live change.
    config: NodeConfig,
    model: LoadedModel,
    /// Built by configure, dropped by cleanup and shutdown.
    pipeline: Option<Pipeline>,
    diag: Diagnostics,
    /// `/tf` and `/tf_static` (filled only with `output.frame_id`); kept across lifecycle
    /// transitions, since static transforms arrive once.
    tf: TfBuffer,
    tf_diag: TfDiagnostics,
    link: Option<LinkSender>,
    state: Primary,
    link_diag: LinkDiagnostics,
}

impl FrameLoop {
    /// `received`: when the sample was taken; `publish_ns`: its DDS source timestamp.
    fn on_message(&mut self, msg: &InputMessage, out: &Outputs, received: Instant, publish_ns: Option<i64>) {
        // Unconfigured or finalized: the sample is taken and dropped.
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        // Only the safety link reads the poses' age and frame.
        let (age_at_take_us, wrong_frame) = if self.link.is_some() {
            let header = msg.header();
            // Simulated time is no clock to measure a capture's age against.
            let capture_ns = (!self.config.use_sim_time).then(|| header.stamp.to_ns());
            let (age_ns, from) = link_diag::pose_age_at_take(capture_ns, publish_ns, wall_clock_ns());
            self.link_diag.age(from);
            // Without TF, link frames are placed from the one frame the link was told about.
            let wrong_frame = self.config.output_frame_id.is_empty() && !self.link_diag.input_frame(&header.frame_id);
            ((age_ns.max(0) / 1000) as u64, wrong_frame)
        } else {
            (0, false)
        };
        let mut sink = Publish {
            out,
            active: self.state == Primary::Active,
            diag: &mut self.diag,
            tf_diag: &mut self.tf_diag,
            link_diag: &mut self.link_diag,
            link: self.link.as_ref(),
            received,
            age_at_take_us,
            wrong_frame,
            sent: 0,
            failed: 0,
        };
        pipeline.on_message(msg, &self.tf, &mut sink);
        let (sent, failed) = (sink.sent, sink.failed);
        self.diag.published(sent, failed);
    }

    /// Carry out a lifecycle step.
    fn step(&mut self, step: Step) -> Result<(), String> {
        match step {
            Step::Configure => {
                let link_base = self.config.link.as_ref().map(|l| l.base_from_forecast);
                let pipeline = Pipeline::new(&self.config, &self.model, link_base).map_err(|e| e.to_string())?;
                let link = match &self.config.link {
                    Some(l) => Some(
                        LinkSender::start(l.clone(), std::process::id() ^ (wall_clock_ns() as u32))
                            .map_err(|e| format!("link.device {}: {e}", l.device.display()))?,
                    ),
                    None => None,
                };
                self.pipeline = Some(pipeline);
                self.link = link;
                self.state = Primary::Inactive;
            }
            Step::Activate => self.state = Primary::Active,
            Step::Deactivate => self.state = Primary::Inactive,
            Step::Cleanup | Step::Shutdown => {
                self.pipeline = None;
                self.link = None;
                self.diag.forget_people();
                self.state = if step == Step::Shutdown {
                    Primary::Finalized
                } else {
                    Primary::Unconfigured
                };
            }
        }
        Ok(())
    }

    /// A live parameter change (the diagnostics period is the loop's own).
    fn apply(&mut self, config: NodeConfig) {
        if let Some(p) = &mut self.pipeline {
            p.apply_live(&config);
        }
        self.config = config;
    }
}

/// Run the node until `stop` is set. Returns its counters.
pub fn run(setup: NodeSetup, stop: Arc<AtomicBool>) -> Result<RunSummary, NodeError> {
    let NodeSetup {
        names,
        params,
        config,
        env,
        security,
        topics,
        model,
    } = setup;
    // Before any DDS entity: RustDDS's threads, which carry every sample in and out,
    // inherit the frame loop's policy and CPUs.
    let sched = sched::apply_to_current_thread(&config.sched);
    eprintln!(
        "a4mer_node: frame loop and DDS threads at {} on CPUs {:?}; spinner and diagnostics at SCHED_OTHER",
        sched.policy, sched.cpus
    );
    if let Some(problem) = &sched.problem {
        eprintln!("a4mer_node: warning: {problem}");
    }
    let ctx = context(&env, &security)?;
    let node_name = NodeName::new(names.namespace(), names.name())
        .map_err(|e| ros_err(format!("node name {}", names.fully_qualified_name()))(format!("{e:?}")))?;
    // use_sim_time is ours: ros2-client's own /clock reader uses a type name
    // (builtin_interfaces/Time) that ROS 2 publishers of rosgraph_msgs/Clock do not match.
    // Parameter services are ours (`services`): ros2-client's describe no range, no
    // description and nothing read-only.
    let options = NodeOptions::new().enable_rosout(true).start_parameter_services(false);
    let mut node = ctx
        .new_node(node_name, options)
        .map_err(|e| ros_err("creating the node")(format!("{e:?}")))?;
    let spinner = node
        .spinner()
        .map_err(|e| ros_err("creating the node's spinner")(format!("{e:?}")))?;
    let spin_thread = std::thread::Builder::new()
        .name("a4mer-spin".into())
        .spawn(move || {
            // Graph and rosout bookkeeping: never ahead of a frame.
            let _ = sched::demote_current_thread();
            futures::executor::block_on(spinner.spin())
        })
        .map_err(|e| ros_err("starting the spinner thread")(e.to_string()))?;

    let out_qos = output_qos(config.output_queue_depth as usize);
    let outputs = Outputs {
        forecast: publisher(&mut node, &topics.forecast, &out_qos)?,
        motifs: publisher(&mut node, &topics.motifs, &out_qos)?,
        markers: publisher(&mut node, &topics.markers, &out_qos)?,
        person_markers: publisher(&mut node, &topics.person_markers, &out_qos)?,
    };
    let diagnostics_out = DiagnosticsWriter::start(publisher(&mut node, &topics.diagnostics, &out_qos)?)?;
    let in_qos = input_qos(config.input_queue_depth as usize);
    let input_type = config.input_type;
    let type_name = input_type.ros_type_name();
    let mut input = InputSubscription::new(&mut node, input_type, &topics.poses, &in_qos)?;

    let mut poll = mio::Poll::new().map_err(|e| ros_err("event loop")(e.to_string()))?;
    poll.registry()
        .register(input.source(), mio::Token(0), mio::Interest::READABLE)
        .map_err(|e| ros_err(format!("waiting on {}", topics.poses))(e.to_string()))?;
    // ROS 2's clock QoS: best effort, keep last 1 (matches reliable publishers too).
    let mut clock: Option<Subscription<Clock>> = if config.use_sim_time {
        let mut sub: Subscription<Clock> = subscription(&mut node, "/clock", &input_qos(1))?;
        poll.registry()
            .register(&mut sub, mio::Token(1), mio::Interest::READABLE)
            .map_err(|e| ros_err("waiting on /clock")(e.to_string()))?;
        Some(sub)
    } else {
        None
    };
    // Only a node that moves its outputs into another frame listens to TF.
    let tf_input = if config.output_frame_id.is_empty() {
        None
    } else {
        Some(TfInput::new(&mut node, &poll, &topics.tf, &topics.tf_static)?)
    };
    // Simulated time: zero until the first /clock message, as in rclcpp.
    let mut sim_now_ns = 0i64;

    let identity = Identity {
        node: names.fully_qualified_name(),
        input_topic: topics.poses.clone(),
        input_type: type_name.clone(),
        model: model.origin.clone(),
        model_sha256: model.sha256_hex.clone(),
        damping_tau: model.stream.damping_tau(),
        anticipation_note: model.stream.anticipation_note(),
        max_tracks: config.max_tracks,
        use_sim_time: config.use_sim_time,
    };
    let mut frames = FrameLoop {
        config: config.clone(),
        model,
        pipeline: None,
        diag: Diagnostics::new(Instant::now()),
        tf: TfBuffer::new(config.tf_buffer_s),
        tf_diag: TfDiagnostics::default(),
        link: None,
        state: Primary::Unconfigured,
        link_diag: LinkDiagnostics::default(),
    };
    if config.lifecycle_autostart {
        frames
            .step(Step::Configure)
            .map_err(ros_err("lifecycle.autostart: configure"))?;
        frames
            .step(Step::Activate)
            .map_err(ros_err("lifecycle.autostart: activate"))?;
    }
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(|e| ros_err("event loop")(e.to_string()))?);
    let (control_tx, control): (_, Receiver<Control>) = std::sync::mpsc::channel();
    let services = Services::new(
        &mut node,
        &ctx,
        &names.fully_qualified_name(),
        params::ParamStore::new(&params, &config),
        frames.state,
        control_tx,
        waker,
    )?;
    let services_stop = Arc::clone(&stop);
    let services_thread = std::thread::Builder::new()
        .name("a4mer-services".into())
        .spawn(move || {
            // Parameter and lifecycle requests: never ahead of a frame.
            let _ = sched::demote_current_thread();
            services.run(&services_stop)
        })
        .map_err(|e| ros_err("starting the services thread")(e.to_string()))?;
    let mut period = Duration::from_secs_f64(config.diagnostics_period_s);
    let mut next_report = Instant::now() + period;
    // systemd (Type=notify): ready once every DDS entity exists; the watchdog is fed from
    // the frame loop itself, so a stalled loop is restarted, not merely a live process.
    // Without NOTIFY_SOCKET these do nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut next_watchdog = Instant::now();
    let mut events = mio::Events::with_capacity(8);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Some(every) = watchdog
            && now >= next_watchdog
        {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            next_watchdog = now + every;
        }
        if now >= next_report {
            let now_ns = if clock.is_some() { sim_now_ns } else { wall_clock_ns() };
            let header = Header {
                stamp: Time::from_ns(now_ns).unwrap_or_default(),
                frame_id: String::new(),
            };
            let FrameLoop { diag, pipeline, .. } = &mut frames;
            let mut report = diag.report(now, header, &identity, &|pid| {
                pipeline.as_ref().and_then(|p| p.engine(pid)).map(GuardStatus::of)
            });
            if let Some(status) = report.status.first_mut() {
                status
                    .values
                    .push(diagnostics::kv("lifecycle_state", frames.state.state().label));
            }
            if let Some(link) = &frames.link {
                let status = link_diag::link_status(&identity, &link.stats(), &mut frames.link_diag);
                report.status.push(status);
            }
            report.status.push(tf_diag::sched_status(&identity, &sched));
            report.status.push(tf_diag::security_status(&identity, &security));
            if tf_input.is_some() {
                let FrameLoop {
                    tf_diag, tf, config, ..
                } = &mut frames;
                report
                    .status
                    .push(tf_diag.status(&identity.node, &config.output_frame_id, tf));
            }
            diagnostics_out.offer(report);
            // A failed send is visible in the next report's counters.
            frames.diag.published(0, diagnostics_out.take_failures());
            next_report = (next_report + period).max(now);
        }
        // Wake for the next report, the next watchdog ping (systemd will not wait) or a stop.
        let ping_in = watchdog.map_or(STOP_CHECK, |_| next_watchdog.saturating_duration_since(now));
        let timeout = next_report.saturating_duration_since(now).min(STOP_CHECK).min(ping_in);
        if let Err(e) = poll.poll(&mut events, Some(timeout))
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            return Err(ros_err("event loop")(e.to_string()));
        }
        loop {
            match control.try_recv() {
                Ok(Control::Config { config: c, changes }) => {
                    frames.diag.live_change(&changes);
                    let new_period = Duration::from_secs_f64(c.diagnostics_period_s);
                    if new_period != period {
                        period = new_period;
                        next_report = next_report.min(Instant::now() + period);
                    }
                    frames.apply(*c);
                }
                Ok(Control::Transition { step, done }) => {
                    // The service thread may have given up waiting; nothing more to do then.
                    let _ = done.try_send(frames.step(step));
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if let Some(c) = &clock {
            for _ in 0..MAX_TAKES_PER_WAKE {
                match c.take() {
                    Ok(Some((m, _))) => sim_now_ns = m.clock.to_ns(),
                    Ok(None) => break,
                    Err(e) => frames.diag.malformed(format!("/clock: {e:?}")),
                }
            }
        }
        if let Some(t) = &tf_input {
            t.drain(&mut frames.tf, &mut frames.tf_diag);
        }
        for _ in 0..MAX_TAKES_PER_WAKE {
            match input.take() {
                Ok(Some((msg, info))) => {
                    let taken = Instant::now();
                    let publish_ns = info.source_timestamp().map(|s| s.to_nanos());
                    let transport = publish_ns.and_then(|p| {
                        let ns = wall_clock_ns() - p;
                        (ns >= 0).then(|| Duration::from_nanos(ns as u64))
                    });
                    frames.diag.message(transport);
                    frames.on_message(&msg, &outputs, taken, publish_ns);
                    frames.diag.latency(taken.elapsed());
                }
                Ok(None) => break,
                Err(e) => {
                    frames.diag.message(None);
                    frames.diag.malformed(format!("{}: {e:?}", topics.poses));
                }
            }
        }
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let d = &frames.diag;
    let summary = RunSummary {
        messages: d.messages,
        forecasts_published: d.forecasts_published,
        malformed_messages: d.malformed_messages,
        unusable_messages: d.unusable_messages,
        rejected_frames: d.rejected_frames.values().sum(),
    };
    // The services answer until the stop flag, then end; they hold servers of `node`.
    match services_thread.join() {
        Ok(Err(e)) => eprintln!("a4mer_node: warning: services: {e}"),
        Err(_) => eprintln!("a4mer_node: warning: the services thread panicked"),
        Ok(Ok(())) => {}
    }
    drop(frames);
    drop(outputs);
    drop(diagnostics_out);
    drop(input);
    drop(tf_input);
    drop(clock.take());
    drop(node);
    let _ = spin_thread.join();
    Ok(summary)
}
