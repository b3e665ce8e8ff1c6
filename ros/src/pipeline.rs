//! One input message through everything the node does with it: the adapter, the move into
//! `output.frame_id` through TF, one engine per person (`Tracks<Engine>`), the output
//! messages and the frame for the safety link.
//!
//! The move into the output frame comes before the engines: a person's history must stay
//! in one fixed frame while the camera moves, so each frame is placed at its own stamp.
//!
//! The node runs it on live samples and replay on recorded ones, both built from one
//! [`NodeConfig`], so a safety audit runs the code and the settings the robot runs. What
//! happens to the results (publishing, counting, writing a bag, scoring) is the caller's,
//! through a [`Sink`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use a4mer_firmware::link::PositionError;
use a4mer_runtime::stream::{
    Anticipation, ConditionerConfig, Engine, EngineConfig, EngineError, Eviction, GuardConfig, HealthState, Reject,
    StreamError, Tracks, TracksConfig,
};

use crate::adapters::{AdapterError, InputAdapter, InputMessage, MapFile, Person};
use crate::config::NodeConfig;
use crate::link::{
    Hold, HoldEvent, LinkPerson, LinkSource, Monitored, Outgoing, Placed, RigidTransform, link_person, observed_person,
    outgoing, unplaced,
};
use crate::model::LoadedModel;
use crate::msg::{Header, MarkerArray, MotifAnticipation, PoseForecast, Time};
use crate::outputs::{MarkerStyle, anticipation_forecast, baseline_forecast, forecast_markers, motif_anticipation};
use crate::tf::{TfBuffer, TfError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("parameter `input.joint_map` / `input.joint_order`: {0}")]
    Input(AdapterError),
    #[error("parameter `model`: {0}")]
    Engine(EngineError),
}

/// The engine settings the node's parameters give.
pub fn engine_config(config: &NodeConfig) -> EngineConfig {
    EngineConfig {
        conditioner: ConditionerConfig {
            gap_limit_ns: (config.gap_limit_s * 1e9).round() as i64,
            ..ConditionerConfig::default()
        },
        guard: GuardConfig {
            adapt: config.guard_adapt,
            ..GuardConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// The input adapter the node's parameters give.
pub fn input_adapter(config: &NodeConfig) -> Result<InputAdapter, AdapterError> {
    let map = config.input_joint_map.as_deref().map(MapFile::read).transpose()?;
    let mut adapter = InputAdapter::new(config.input_type, &config.input_joint_order, map)?;
    if let InputAdapter::Skeleton3DArray(a) = &mut adapter {
        a.min_confidence = config.input_min_confidence;
    }
    Ok(adapter)
}

/// What goes out for one person after one frame.
pub struct PersonOutputs {
    pub motifs: MotifAnticipation,
    /// `None` while the engine warms up.
    pub forecast: Option<PoseForecast>,
    pub markers: Option<MarkerArray>,
}

/// One person's frame after the engine took it.
pub struct Pushed<'a> {
    pub person: &'a Person,
    pub engine: &'a Engine,
    /// The engine's `push`, alone.
    pub took: Duration,
    /// The anticipation and the messages built from it, or why the engine refused the frame.
    pub result: Result<(&'a Anticipation, PersonOutputs), StreamError>,
}

/// Where the pipeline's results go. Every method is called in message order.
pub trait Sink {
    /// The message (or an output built from it) could not be used; nothing else was lost.
    fn unusable(&mut self, why: String);
    /// One body in the message could not be used.
    fn rejected_body(&mut self, why: &AdapterError);
    /// A person's frame, before it reaches their engine.
    fn arrived(&mut self, _person: &Person) {}
    /// No room for this person: `tracks.max` people are already followed.
    fn not_followed(&mut self, person: &Person, max_tracks: usize);
    fn pushed(&mut self, step: Pushed<'_>);
    /// The safety link's frame for this message. `pose_age_us` is how much older than this
    /// message the people in it are (0 but after a failed transform lookup or a transform
    /// held past its newest sample); the caller adds the message's own age.
    fn link_frame(&mut self, _frame: Result<Outgoing, PositionError>) {}
    /// A person goes to the safety link with their observed pose only (`source` says why).
    fn link_without_forecast(&mut self, _person_id: u32, _source: LinkSource) {}
    /// A person left the message and is held, came back, or was released.
    fn hold_event(&mut self, _event: &HoldEvent) {}
    /// The engine refused this person's frame for too few joints: the forecast published
    /// instead, from the baselines (`outputs::baseline_forecast`).
    fn baseline_forecast(&mut self, _person: &Person, _forecast: PoseForecast) {}
    /// The message's frame could not be placed in `output.frame_id`: its `people` were not
    /// pushed and no output was built for them.
    fn transform_unavailable(&mut self, why: &TfError, people: usize);
    /// The transform was its newest sample, `age_ns` older than the message.
    fn transform_held(&mut self, _age_ns: i64) {}
    /// `id`'s track was dropped (idle, or to make room at `max_tracks`).
    fn evicted(&mut self, id: u32, why: Eviction, max_tracks: usize);
}

pub struct Pipeline {
    adapter: InputAdapter,
    tracks: Tracks<Engine>,
    markers: MarkerStyle,
    /// Frame of the outputs, placed through TF; empty: the input header's, untouched.
    output_frame: String,
    /// A transform may be held at its newest sample this long (`tf.max_age_s`).
    tf_max_age_ns: i64,
    /// The last link frame's people and their message's stamp.
    placed: Option<Placed>,
    /// The forecast frame in the robot base frame, when link frames are built.
    link_base: Option<RigidTransform>,
    monitored: Monitored,
    hold: Hold,
    max_tracks: usize,
    for_link: Vec<LinkPerson>,
    /// Each person's frame in the previous message (the baselines' velocity).
    previous: Vec<Person>,
    current: Vec<Person>,
    gap_limit_ns: i64,
}

impl Pipeline {
    /// Link frames are built when `link_base` is given (the node: `link.base_from_forecast`
    /// with `link.device` set; replay: when it runs the safety monitor).
    pub fn new(
        config: &NodeConfig,
        model: &LoadedModel,
        link_base: Option<RigidTransform>,
    ) -> Result<Self, PipelineError> {
        let proto = Engine::new(Arc::clone(&model.stream), engine_config(config)).map_err(PipelineError::Engine)?;
        Ok(Self {
            adapter: input_adapter(config).map_err(PipelineError::Input)?,
            tracks: Tracks::new(
                TracksConfig {
                    max_tracks: config.max_tracks,
                    ..TracksConfig::default()
                },
                move || proto.clone(),
            ),
            markers: MarkerStyle {
                stride: config.marker_stride,
                ..MarkerStyle::default()
            },
            output_frame: config.output_frame_id.clone(),
            tf_max_age_ns: tf_max_age_ns(config),
            placed: None,
            link_base,
            monitored: config.link_placement.monitored.clone(),
            hold: Hold::new(config.link_placement.hold),
            max_tracks: config.max_tracks,
            for_link: Vec::new(),
            previous: Vec::new(),
            current: Vec::new(),
            gap_limit_ns: engine_config(config).conditioner.gap_limit_ns,
        })
    }

    /// The settings a running node may change (`markers.stride`, `input.min_confidence`,
    /// `tf.max_age_s`), from the next message on; the engines keep their state.
    pub fn apply_live(&mut self, config: &NodeConfig) {
        self.markers.stride = config.marker_stride;
        self.tf_max_age_ns = tf_max_age_ns(config);
        if let InputAdapter::Skeleton3DArray(a) = &mut self.adapter {
            a.min_confidence = config.input_min_confidence;
        }
    }

    /// The engine following `person_id`, if any.
    pub fn engine(&self, person_id: u32) -> Option<&Engine> {
        self.tracks.get(u64::from(person_id))
    }

    /// One message; `tf` places it in `output.frame_id` (unused when that is empty).
    pub fn on_message(&mut self, msg: &InputMessage, tf: &TfBuffer, sink: &mut impl Sink) {
        let mut adapted = match self.adapter.adapt(msg) {
            Ok(a) => a,
            Err(e) => return sink.unusable(e.to_string()),
        };
        for r in &adapted.rejected {
            sink.rejected_body(r);
        }
        let header = msg.header();
        let input_frame = crate::tf::frame_name(&header.frame_id);
        let frame_id = if self.output_frame.is_empty() {
            &header.frame_id
        } else {
            &self.output_frame
        };
        let has_people = !adapted.people.is_empty() || !adapted.observed_only.is_empty();
        // A transform held past its newest sample: its age is the poses' too.
        let mut tf_held_ns = 0;
        if !self.output_frame.is_empty() && input_frame != self.output_frame && has_people {
            let stamp_ns = header.stamp.to_ns();
            match tf.lookup(&self.output_frame, input_frame, stamp_ns, self.tf_max_age_ns) {
                Ok(found) => {
                    if found.held_ns > 0 {
                        sink.transform_held(found.held_ns);
                        tf_held_ns = found.held_ns;
                    }
                    let to_output = found.target_from_source;
                    for person in adapted.people.iter_mut().chain(&mut adapted.observed_only) {
                        for p in &mut person.frame.joints_in_world {
                            *p = to_output.apply(*p);
                        }
                    }
                }
                Err(e) => {
                    sink.transform_unavailable(&e, adapted.people.len() + adapted.observed_only.len());
                    if self.link_base.is_some() {
                        sink.link_frame(Ok(unplaced(self.placed.as_ref(), stamp_ns)));
                    }
                    return self.report_evictions(sink);
                }
            }
        }
        let linking = self.link_base.is_some();
        self.for_link.clear();
        for person in &adapted.people {
            sink.arrived(person);
            let Some(engine) = self.tracks.get_or_insert(u64::from(person.id), person.frame.stamp_ns) else {
                sink.not_followed(person, self.max_tracks);
                // Not followed is not invisible: the MCU still sees where they are.
                if linking && let Some(p) = observed_person(person.id, &person.frame, LinkSource::NotFollowed) {
                    sink.link_without_forecast(person.id, p.source);
                    self.for_link.push(p);
                }
                continue;
            };
            let started = Instant::now();
            let pushed = engine.push_ref(&person.frame).map(|_| ());
            let took = started.elapsed();
            let engine = &*engine;
            let result = match (pushed, engine.latest()) {
                (Ok(()), Some(a)) => {
                    if linking && let Some(p) = link_person(person.id, &person.frame, a) {
                        self.for_link.push(p);
                    }
                    Ok((a, person_outputs(person.id, a, frame_id, &self.markers, sink)))
                }
                (Err(e), _) => {
                    if let StreamError::Rejected(Reject::TooFewValidJoints { .. }) = e {
                        let previous = self.previous.iter().find(|p| p.id == person.id).map(|p| &p.frame);
                        let header = Header {
                            stamp: header.stamp,
                            frame_id: frame_id.to_owned(),
                        };
                        let speed = self.monitored.human_speed_mps;
                        match baseline_forecast(header, person.id, &person.frame, previous, self.gap_limit_ns, speed) {
                            Ok(f) => sink.baseline_forecast(person, f),
                            Err(e) => sink.unusable(e.to_string()),
                        }
                    }
                    // A frame the engine refuses (too few joints, a stamp going back) still
                    // places the person for the MCU.
                    if linking && let Some(p) = observed_person(person.id, &person.frame, LinkSource::EngineRejected) {
                        sink.link_without_forecast(person.id, p.source);
                        self.for_link.push(p);
                    }
                    Err(e)
                }
                // A successful push always leaves an anticipation.
                (Ok(()), None) => continue,
            };
            sink.pushed(Pushed {
                person,
                engine,
                took,
                result,
            });
        }
        self.current.clear();
        self.current.extend(adapted.people.iter().cloned());
        std::mem::swap(&mut self.previous, &mut self.current);
        if let Some(base) = &self.link_base {
            for body in &adapted.observed_only {
                if let Some(p) = observed_person(body.id, &body.frame, LinkSource::BodyRejected) {
                    sink.link_without_forecast(body.id, p.source);
                    self.for_link.push(p);
                }
            }
            let stamp_ns = header.stamp.to_ns();
            self.hold.update(stamp_ns, &mut self.for_link, |e| sink.hold_event(&e));
            if !self.for_link.is_empty() {
                let tf_held_us = (tf_held_ns.max(0) / 1000) as u64;
                let frame = outgoing(&self.for_link, base, &self.monitored, tf_held_us, tf_held_ns > 0);
                // Kept only for a failed lookup, which needs TF.
                if let Ok(f) = &frame
                    && !self.output_frame.is_empty()
                {
                    self.placed = Some(Placed {
                        people: f.people.clone(),
                        stamp_ns,
                    });
                }
                sink.link_frame(frame);
            }
        }
        self.report_evictions(sink);
    }

    fn report_evictions(&mut self, sink: &mut impl Sink) {
        for (id, why) in self.tracks.drain_evictions() {
            sink.evicted(id as u32, why, self.max_tracks);
        }
    }
}

fn tf_max_age_ns(config: &NodeConfig) -> i64 {
    (config.tf_max_age_s * 1e9).round() as i64
}

fn person_outputs(
    person_id: u32,
    a: &Anticipation,
    frame_id: &str,
    style: &MarkerStyle,
    sink: &mut impl Sink,
) -> PersonOutputs {
    let header = Header {
        stamp: Time::from_ns(a.stamp_ns).unwrap_or_default(),
        frame_id: frame_id.to_owned(),
    };
    let forecast = (a.health.state != HealthState::Warming && !a.forecast.is_empty())
        .then(|| anticipation_forecast(header.clone(), person_id, a))
        .and_then(|f| {
            f.map_err(|e| sink.unusable(format!("person {person_id}: forecast: {e}")))
                .ok()
        });
    let markers = forecast.as_ref().and_then(|f| {
        forecast_markers(f, style)
            .map_err(|e| sink.unusable(format!("person {person_id}: markers: {e}")))
            .ok()
    });
    PersonOutputs {
        motifs: motif_anticipation(header, person_id, a),
        forecast,
        markers,
    }
}

/// A short, stable name for why the engine did not use a frame.
pub fn stream_error_kind(e: &StreamError) -> &'static str {
    match e {
        StreamError::Rejected(Reject::Duplicate { .. }) => "duplicate_stamp",
        StreamError::Rejected(Reject::OutOfOrder { .. }) => "stamp_backwards",
        StreamError::Rejected(Reject::TooFewValidJoints { .. }) => "too_few_valid_joints",
        StreamError::NoPelvis { .. } => "no_pelvis",
        StreamError::OutOfRange { .. } => "joint_out_of_range",
        StreamError::Feature(_) => "feature_error",
        StreamError::Teleport { .. } => "teleport_reset",
        StreamError::NonFiniteOutput { .. } => "non_finite_output",
    }
}
