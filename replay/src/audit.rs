//! Replay's side of the pipeline: what the node would have published goes to the output
//! bag, and every frame, forecast, health change and safety decision goes to the report.

use std::collections::BTreeMap;

use a4mer_firmware::link::{Header as LinkHeader, LinkFrame, PositionError};
use a4mer_firmware::monitor::{Command, Monitor};
use a4mer_runtime::Joints;
use a4mer_runtime::stream::{Eviction, GuardScores, HealthState, MotifScores, NUM_HORIZONS, StreamError};

use super::scoring::{Pending, PersonScoring, Scorer, bank, scored_total};
use super::{Event, HORIZONS_MS, MAX_EVENTS, MotifSpan, ReplayError, ReplayReport, SafetySetup, SsmPoint, SsmSummary};
use a4mer_bag::{BagWriter, TopicId};
use a4mer_ros::adapters::{AdapterError, Person};
use a4mer_ros::link::{HoldEvent, LinkSource, Outgoing};
use a4mer_ros::msg::{MarkerArray, MotifAnticipation, PoseForecast};
use a4mer_ros::pipeline::stream_error_kind;
use a4mer_ros::pipeline::{Pushed, Sink};
use a4mer_ros::tf::TfError;

/// The output bag and its topics.
pub(super) struct OutBag {
    pub(super) writer: BagWriter,
    pub(super) input: TopicId,
    pub(super) forecast: TopicId,
    pub(super) motifs: TopicId,
    pub(super) markers: TopicId,
}

impl OutBag {
    pub(super) fn create(dir: &std::path::Path, topic: &a4mer_bag::TopicInfo) -> Result<Self, ReplayError> {
        let mut writer = BagWriter::create(dir)?;
        let schema = topic.definition.clone().unwrap_or_else(|| {
            let (pkg, name) = topic.type_name.split_once("/msg/").unwrap_or(("", ""));
            a4mer_ros::msg::schema_text(pkg, name).unwrap_or_default()
        });
        let input = writer.add_topic_raw(&topic.name, &topic.type_name, &schema, &topic.offered_qos_profiles)?;
        let qos = [a4mer_bag::QosProfile::reliable(10)];
        Ok(Self {
            forecast: writer.add_topic::<PoseForecast>("/a4mer/forecast", &qos)?,
            motifs: writer.add_topic::<MotifAnticipation>("/a4mer/motifs", &qos)?,
            markers: writer.add_topic::<MarkerArray>("/a4mer/forecast_markers", &qos)?,
            writer,
            input,
        })
    }
}

/// The firmware's monitor, clocked by bag time, and what it decided.
pub(super) struct Safety<'a> {
    pub(super) setup: &'a SafetySetup,
    pub(super) monitor: Monitor,
    pub(super) summary: SsmSummary,
    pub(super) last_decision: Option<(i64, Command)>,
    pub(super) link_seq: u32,
}

/// Everything a replay accumulates, message by message.
pub(super) struct Audit<'a> {
    pub(super) report: ReplayReport,
    pub(super) out: Option<OutBag>,
    /// The first write error: it ends the replay.
    pub(super) failed: Option<ReplayError>,
    pub(super) safety: Option<Safety<'a>>,
    pub(super) people: BTreeMap<u32, PersonScoring>,
    pub(super) scorer: Scorer,
    /// Scores of engines that were replaced, and at the end of everyone.
    pub(super) finished: (GuardScores, MotifScores),
    pub(super) guard_by_second: BTreeMap<i64, ([f64; NUM_HORIZONS], u64, u64)>,
    pub(super) first_ns: Option<i64>,
    pub(super) last_ns: i64,
    /// The log time of the message being replayed.
    pub(super) log_ns: i64,
    pub(super) hist: Vec<u64>,
    pub(super) pushes: u64,
    pub(super) open_spans: BTreeMap<u32, (i32, i64)>,
    pub(super) gap_ns: i64,
    pub(super) events_dropped: u64,
    /// People going to the link without a forecast: why, and the stamp of the last such
    /// message (an event starts each run of them).
    pub(super) without_forecast: BTreeMap<u32, (LinkSource, i64)>,
}

impl Audit<'_> {
    pub(super) fn event(&mut self, t_ns: i64, person_id: Option<u32>, kind: &str, detail: String) {
        let start = self.first_ns.unwrap_or(self.log_ns);
        if self.report.events.len() < MAX_EVENTS {
            self.report.events.push(Event {
                t_s: (t_ns - start) as f64 / 1e9,
                person_id,
                kind: kind.into(),
                detail,
            });
        } else {
            self.events_dropped += 1;
        }
    }

    fn write<M: a4mer_ros::msg::RosMessage>(&mut self, topic: impl Fn(&OutBag) -> TopicId, msg: &M) {
        if let Some(o) = self.out.as_mut()
            && self.failed.is_none()
            && let Err(e) = o.writer.write(topic(o), self.log_ns, msg)
        {
            self.failed = Some(e.into());
        }
    }

    /// Health transitions, resets and the motif timeline of one anticipation.
    fn timeline(&mut self, person_id: u32, a: &a4mer_runtime::stream::Anticipation) {
        let Some(ps) = self.people.get_mut(&person_id) else {
            return;
        };
        let mut found = Vec::new();
        if a.health.resets > ps.last_resets {
            ps.last_resets = a.health.resets;
            found.push(("reset", "stream restarted (warming up)".to_string()));
        }
        if ps.last_health != Some(a.health.state) {
            let kind = match a.health.state {
                HealthState::Warming => "warming_up",
                HealthState::Ok => "ok",
                HealthState::Degraded => "degraded",
            };
            found.push((kind, a.health.last_error.map(|e| e.to_string()).unwrap_or_default()));
            ps.last_health = Some(a.health.state);
        }
        for (kind, detail) in found {
            self.event(a.stamp_ns, Some(person_id), kind, detail);
        }
        let start = self.first_ns.unwrap_or(a.stamp_ns);
        let motif = a.motif_now.map(|m| i32::from(m.id)).unwrap_or(-1);
        match self.open_spans.get(&person_id).copied() {
            Some((m, _)) if m == motif => {}
            prev => {
                if let Some((m, s)) = prev {
                    self.report.motif_timeline.push(MotifSpan {
                        person_id,
                        motif: m,
                        start_s: (s - start) as f64 / 1e9,
                        end_s: (a.stamp_ns - start) as f64 / 1e9,
                    });
                    if m >= 0 && motif >= 0 {
                        self.event(
                            a.stamp_ns,
                            Some(person_id),
                            "motif_transition",
                            format!("{m} -> {motif}"),
                        );
                    }
                }
                self.open_spans.insert(person_id, (motif, a.stamp_ns));
            }
        }
    }
}

impl Sink for Audit<'_> {
    fn unusable(&mut self, why: String) {
        self.event(self.log_ns, None, "unusable_message", why);
    }

    fn rejected_body(&mut self, why: &AdapterError) {
        self.event(self.log_ns, None, "rejected_body", why.to_string());
    }

    fn arrived(&mut self, person: &Person) {
        let stamp = person.frame.stamp_ns;
        let start = *self.first_ns.get_or_insert(stamp);
        self.scorer.start_ns = start;
        self.last_ns = self.last_ns.max(stamp);
        let ps = self.people.entry(person.id).or_default();
        let gap = ps.last_stamp_ns.map(|prev| stamp - prev).filter(|d| *d > self.gap_ns);
        ps.last_stamp_ns = Some(ps.last_stamp_ns.map_or(stamp, |p| p.max(stamp)));
        if let Some(d) = gap {
            let detail = format!("{:.3} s without frames", d as f64 / 1e9);
            self.event(stamp, Some(person.id), "gap", detail);
        }
    }

    fn not_followed(&mut self, person: &Person, max_tracks: usize) {
        let detail = format!("{max_tracks} people already in view (tracks.max)");
        self.event(person.frame.stamp_ns, Some(person.id), "person_not_followed", detail);
    }

    fn pushed(&mut self, step: Pushed<'_>) {
        let (person, stamp) = (step.person, step.person.frame.stamp_ns);
        self.hist[(step.took.as_micros() as usize / 10).min(1000)] += 1;
        self.pushes += 1;
        let scores = (*step.engine.guard_scores(), *step.engine.motif_scores());
        let Some(ps) = self.people.get_mut(&person.id) else {
            return;
        };
        // A new engine for a returning id starts its counts afresh: bank the old one's.
        if scored_total(&scores) < scored_total(&ps.scores) {
            bank(&mut self.finished, &ps.scores);
        }
        ps.scores = scores;
        let (a, out) = match step.result {
            Ok(r) => r,
            Err(e) => {
                if matches!(e, StreamError::Teleport { .. } | StreamError::NonFiniteOutput { .. }) {
                    ps.last_health = None;
                }
                return self.event(stamp, Some(person.id), stream_error_kind(&e), e.to_string());
            }
        };
        self.report.frames += 1;
        self.timeline(person.id, a);
        if let Some(f) = &out.forecast {
            self.report.forecasts += 1;
            let start = self.first_ns.unwrap_or(stamp);
            let sec = (a.stamp_ns - start).div_euclid(1_000_000_000);
            let slot = self.guard_by_second.entry(sec).or_insert(([0.0; NUM_HORIZONS], 0, 0));
            for (acc, w) in slot.0.iter_mut().zip(&a.guard.weights) {
                *acc += f64::from(w[0]);
            }
            slot.1 += 1;
            slot.2 += u64::from(a.guard.model_losing_within(a4mer_ros::link::LINK_REACH_STEPS));
            if let Some(ps) = self.people.get_mut(&person.id) {
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
            }
            self.write(|o| o.forecast, f);
            if let Some(m) = &out.markers {
                self.write(|o| o.markers, m);
            }
        }
        self.write(|o| o.motifs, &out.motifs);
        if let Some(ps) = self.people.get_mut(&person.id) {
            self.scorer.observe(ps, &person.frame);
        }
    }

    /// The MCU's view, clocked by bag time: the frame the node would have sent now.
    fn link_frame(&mut self, frame: Result<Outgoing, PositionError>) {
        let (Some(start), now_ns) = (self.first_ns, self.last_ns) else {
            return;
        };
        let Some(s) = self.safety.as_mut() else {
            return;
        };
        let now_us = ((now_ns - start).max(0) / 1000) as u64;
        let mut people_held = 0;
        if let Ok(out) = frame {
            people_held = out.people.iter().filter(|p| p.unseen_us > 0).count() as u32;
            s.link_seq = s.link_seq.wrapping_add(1);
            s.monitor.accept_frame(
                LinkFrame {
                    header: LinkHeader {
                        session: 1,
                        seq: s.link_seq,
                        sender_stamp_us: now_us,
                        pose_age_us: out.pose_age_us,
                    },
                    health: out.health,
                    step_ms: out.step_ms,
                    omitted: out.omitted,
                    people: out.people,
                },
                now_us,
            );
        }
        let robot = &s.setup.robot;
        let (command, _) = s.monitor.command(robot, now_us);
        let separation = s
            .monitor
            .assessment(robot, now_us)
            .map(|a| a.separation_m)
            .filter(|v| v.is_finite());
        let mut changed = None;
        if let Some((t, prev)) = s.last_decision {
            let dt = (now_ns - t).max(0) as f64 / 1e9;
            match prev {
                Command::Run { .. } => s.summary.seconds_run += dt,
                Command::Fallback { .. } => s.summary.seconds_fallback += dt,
                Command::ProtectiveStop => s.summary.seconds_protective_stop += dt,
            }
            if std::mem::discriminant(&prev) != std::mem::discriminant(&command) {
                changed = Some(format!("{:?} -> {:?}", s.monitor.mode(), command));
            }
        }
        s.last_decision = Some((now_ns, command));
        let summary = &mut s.summary;
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
                p.people_held = p.people_held.max(people_held);
            }
            _ => summary.timeline.push(SsmPoint {
                t_s,
                mode: mode.into(),
                scale: command.scale(),
                separation_m: separation,
                people_held,
            }),
        }
        if let Some(detail) = changed {
            self.event(now_ns, None, "ssm_mode", detail);
        }
    }

    fn baseline_forecast(&mut self, _person: &Person, forecast: PoseForecast) {
        self.report.forecasts_from_baselines += 1;
        self.write(|o| o.forecast, &forecast);
    }

    fn link_without_forecast(&mut self, person_id: u32, source: LinkSource) {
        let now = self.last_ns;
        let gap_ns = self.gap_ns;
        let starts = match self.without_forecast.insert(person_id, (source, now)) {
            Some((was, last)) => was != source || now - last > gap_ns,
            None => true,
        };
        if starts {
            let detail = match source {
                LinkSource::EngineRejected => "the engine refused the frame: sent to the MCU observed only, Degraded",
                LinkSource::NotFollowed => "not followed (tracks.max): sent to the MCU observed only, Degraded",
                LinkSource::BodyRejected => "body rejected by the adapter: sent to the MCU observed only, Degraded",
                LinkSource::Forecast | LinkSource::Held => "sent to the MCU without a forecast",
            };
            self.event(now, Some(person_id), "link_observed_only", detail.into());
        }
    }

    fn hold_event(&mut self, event: &HoldEvent) {
        let now = self.last_ns;
        match *event {
            HoldEvent::Held { id, last_seen_ns } => self.event(
                now,
                Some(id),
                "link_hold",
                format!(
                    "out of view: held at the last pose seen {:.3} s ago, Degraded",
                    (now - last_seen_ns) as f64 / 1e9
                ),
            ),
            HoldEvent::Reacquired { id, as_id, held_ns } => self.event(
                now,
                Some(id),
                "link_hold_end",
                format!("came back as person {as_id} after {:.3} s held", held_ns as f64 / 1e9),
            ),
            HoldEvent::Released { id, held_ns, why } => self.event(
                now,
                Some(id),
                "link_hold_end",
                format!(
                    "did not come back: released after {:.3} s held ({why:?})",
                    held_ns as f64 / 1e9
                ),
            ),
        }
    }

    fn transform_unavailable(&mut self, why: &TfError, people: usize) {
        self.report.unplaced_messages += 1;
        let detail = format!("{people} people not placed: {why}");
        self.event(self.log_ns, None, "transform_unavailable", detail);
    }

    fn evicted(&mut self, id: u32, why: Eviction, _max_tracks: usize) {
        self.event(self.last_ns, Some(id), "track_evicted", format!("{why:?}"));
    }
}
