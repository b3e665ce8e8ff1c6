//! What the node reports on `/diagnostics`: counters since start, rates and latency over
//! the last period, and one status per tracked person.
//!
//! Every kind of bad input has its own counter, so an integrator can tell a publisher with
//! the wrong joint order from one with a drifting clock without reading logs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use a4mer_runtime::artifact::DampingTau;
use a4mer_runtime::stream::guard::LiveErrors;
use a4mer_runtime::stream::{Engine, GuardView, HORIZONS_MS, Health, HealthState, NUM_HORIZONS, SOURCES, StreamError};

pub use super::motif_status::MotifStatus;

use a4mer_ros::msg::{DiagnosticArray, DiagnosticStatus, Header, KeyValue};
use a4mer_ros::pipeline::stream_error_kind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

use ros2_client::Publisher;

use super::{NodeError, ros_err, sched};

/// Counters and the current reporting window. Owned by the frame loop; nothing here blocks.
#[derive(Debug)]
pub struct Diagnostics {
    started: Instant,
    window_start: Instant,
    /// Messages taken from the input topic.
    pub messages: u64,
    /// Samples that did not decode as the configured input type.
    pub malformed_messages: u64,
    /// Decoded messages unusable as a whole (e.g. wrong pose count for `pose_array`).
    pub unusable_messages: u64,
    /// Bodies left out of a multi-person message (e.g. confidences of the wrong length).
    pub rejected_bodies: u64,
    /// Frames the engine did not use, by reason.
    pub rejected_frames: BTreeMap<&'static str, u64>,
    pub forecasts_published: u64,
    /// Forecasts published from the baselines for frames the engine refused.
    pub forecasts_from_baselines: u64,
    pub publish_failures: u64,
    pub tracks_evicted: u64,
    /// Person-frames not followed: `tracks.max` people were already in view.
    pub people_not_followed: u64,
    pub last_error: Option<String>,
    /// Parameter changes accepted while running, and the latest (`name:=value`, ...).
    pub live_parameter_changes: u64,
    pub last_live_change: Option<String>,
    window_messages: u64,
    window_forecasts: u64,
    window_bad: u64,
    /// Take → last output published, per message in this window.
    latencies_us: Vec<u32>,
    /// Source stamp → take (DDS transport), per message in this window.
    transport_us: Vec<u32>,
    people: BTreeMap<u32, PersonStatus>,
}

#[derive(Clone, Debug)]
struct PersonStatus {
    health: Health,
    motif_now: i32,
    atoms_closed: u64,
    /// Against the model's training reference (bone lengths); 1 for a model without one.
    body_scale: f32,
}

/// One person's guard as `/diagnostics` shows it: the live error of each source, the
/// weights published, and the coverage of the 90 % radius so far.
#[derive(Clone, Copy, Debug)]
pub struct GuardStatus {
    pub live_m: LiveErrors,
    pub view: GuardView,
    pub coverage: [Option<f64>; NUM_HORIZONS],
    pub active: [bool; NUM_HORIZONS],
    pub motifs: MotifStatus,
}

impl GuardStatus {
    pub fn of(engine: &Engine) -> Self {
        Self {
            live_m: engine.guard().live_errors_m(),
            view: *engine.guard().view(),
            coverage: engine.guard_scores().coverage(),
            active: *engine.guard().active(),
            motifs: MotifStatus::of(engine),
        }
    }

    fn values(&self) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for (h, ms) in HORIZONS_MS.iter().enumerate().filter(|(h, _)| self.active[*h]) {
            let errors: Vec<String> = SOURCES
                .iter()
                .zip(self.live_m[h])
                .map(|(s, e)| match e {
                    Some(e) => format!("{s} {:.1} mm", e * 1000.0),
                    None => format!("{s} n/a"),
                })
                .collect();
            let weights: Vec<String> = self.view.weights[h].iter().map(|w| format!("{w:.2}")).collect();
            out.push(kv(
                &format!("guard.{ms}ms"),
                format!(
                    "{}; weights {}{}",
                    errors.join(", "),
                    weights.join(" "),
                    match (self.view.model_losing[h], self.view.published_losing[h]) {
                        (_, true) => "; published losing to all three baselines (link Degraded)",
                        (true, false) => "; model losing (outvoted by the blend)",
                        _ => "",
                    }
                ),
            ));
            out.push(kv(
                &format!("coverage.{ms}ms"),
                match self.coverage[h] {
                    Some(c) => format!(
                        "{:.1} % (nominal 90 %, radius {:.3} x spread)",
                        c * 100.0,
                        self.view.radius_scale[h]
                    ),
                    None => "n/a".into(),
                },
            ));
        }
        out.extend(self.motifs.values());
        out
    }
}
/// The `q` quantile (nearest rank) of ascending microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> Option<f64> {
    a4mer_runtime::stats::nearest_rank(sorted_us, q).map(|us| f64::from(us) / 1000.0)
}

pub(crate) fn kv(key: &str, value: impl ToString) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.to_string(),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into())
}

/// What is fixed for the node's life, shown in every report.
#[derive(Clone, Debug)]
pub struct Identity {
    pub node: String,
    pub input_topic: String,
    pub input_type: String,
    pub model: String,
    pub model_sha256: String,
    /// τ of the guard's damped-velocity source, and whether the model stated it.
    pub damping_tau: DampingTau,
    /// Set when the model has no anticipation prior: its motifs go out as "it stays".
    pub anticipation_note: Option<String>,
    pub max_tracks: usize,
    pub use_sim_time: bool,
}

impl Diagnostics {
    pub fn new(now: Instant) -> Self {
        Self {
            started: now,
            window_start: now,
            messages: 0,
            malformed_messages: 0,
            unusable_messages: 0,
            rejected_bodies: 0,
            rejected_frames: BTreeMap::new(),
            forecasts_published: 0,
            forecasts_from_baselines: 0,
            publish_failures: 0,
            tracks_evicted: 0,
            people_not_followed: 0,
            last_error: None,
            live_parameter_changes: 0,
            last_live_change: None,
            window_messages: 0,
            window_forecasts: 0,
            window_bad: 0,
            latencies_us: Vec::with_capacity(4096),
            transport_us: Vec::with_capacity(4096),
            people: BTreeMap::new(),
        }
    }

    fn error(&mut self, e: String) {
        self.window_bad += 1;
        self.last_error = Some(e);
    }

    pub fn message(&mut self, transport: Option<Duration>) {
        self.messages += 1;
        self.window_messages += 1;
        if let Some(t) = transport
            && self.transport_us.len() < self.transport_us.capacity()
        {
            self.transport_us.push(t.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    /// An accepted parameter change (one `set_parameters` call), also said on stderr for
    /// the journal.
    pub fn live_change(&mut self, changes: &[String]) {
        self.live_parameter_changes += 1;
        let said = changes.join(", ");
        eprintln!("a4mer_node: parameters changed while running: {said}");
        self.last_live_change = Some(said);
    }

    pub fn malformed(&mut self, e: String) {
        self.malformed_messages += 1;
        self.error(format!("malformed message: {e}"));
    }

    pub fn unusable(&mut self, e: String) {
        self.unusable_messages += 1;
        self.error(e);
    }

    pub fn rejected_body(&mut self, e: String) {
        self.rejected_bodies += 1;
        self.error(e);
    }

    pub fn rejected_frame(&mut self, person_id: u32, e: &StreamError) {
        *self.rejected_frames.entry(stream_error_kind(e)).or_default() += 1;
        self.error(format!("person {person_id}: {e}"));
    }

    pub fn published(&mut self, forecasts: u64, failures: u64) {
        self.forecasts_published += forecasts;
        self.window_forecasts += forecasts;
        if failures > 0 {
            self.publish_failures += failures;
            self.error(format!(
                "{failures} output messages could not be sent (reader too slow?)"
            ));
        }
    }

    pub fn person(&mut self, id: u32, health: Health, motif_now: i32, atoms_closed: u64, body_scale: f32) {
        self.people.insert(
            id,
            PersonStatus {
                health,
                motif_now,
                atoms_closed,
                body_scale,
            },
        );
    }

    pub fn person_not_followed(&mut self, id: u32, max_tracks: usize) {
        self.people_not_followed += 1;
        self.error(format!(
            "person {id} not followed: tracks.max = {max_tracks} people already in view"
        ));
    }

    /// Every track was dropped (lifecycle cleanup or shutdown).
    pub fn forget_people(&mut self) {
        self.people.clear();
    }

    pub fn evicted(&mut self, id: u32) {
        self.tracks_evicted += 1;
        self.people.remove(&id);
    }

    /// Time from taking a message to having published its outputs.
    pub fn latency(&mut self, d: Duration) {
        if self.latencies_us.len() < self.latencies_us.capacity() {
            self.latencies_us.push(d.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    /// The report for the window ending `now`; starts the next window.
    /// The report for the period now ending; `guard_of` gives a person's guard as it
    /// stands (read once per report rather than copied on every message).
    pub fn report(
        &mut self,
        now: Instant,
        header: Header,
        id: &Identity,
        guard_of: &dyn Fn(u32) -> Option<GuardStatus>,
    ) -> DiagnosticArray {
        let window_s = now.duration_since(self.window_start).as_secs_f64().max(1e-3);
        self.latencies_us.sort_unstable();
        self.transport_us.sort_unstable();
        let lat = &self.latencies_us;
        let input_hz = self.window_messages as f64 / window_s;
        let (level, message) = if self.window_messages == 0 {
            (DiagnosticStatus::WARN, format!("no input on {}", id.input_topic))
        } else if self.window_bad > 0 {
            (
                DiagnosticStatus::WARN,
                format!("{} bad inputs in the last {window_s:.1} s", self.window_bad),
            )
        } else if self.people.values().any(|p| p.health.state == HealthState::Degraded) {
            (DiagnosticStatus::WARN, "a track is degraded".into())
        } else {
            (DiagnosticStatus::OK, "running".into())
        };
        let mut values = vec![
            kv("input_topic", &id.input_topic),
            kv("input_type", &id.input_type),
            kv("input_rate_hz", format!("{input_hz:.1}")),
            kv(
                "forecast_rate_hz",
                format!("{:.1}", self.window_forecasts as f64 / window_s),
            ),
            kv("latency_p50_ms", ms(percentile_ms(lat, 0.5))),
            kv("latency_p99_ms", ms(percentile_ms(lat, 0.99))),
            kv("latency_max_ms", ms(percentile_ms(lat, 1.0))),
            kv("transport_p50_ms", ms(percentile_ms(&self.transport_us, 0.5))),
            kv("transport_p99_ms", ms(percentile_ms(&self.transport_us, 0.99))),
            kv("tracks", self.people.len()),
            kv("tracks_max", id.max_tracks),
            kv("tracks_evicted", self.tracks_evicted),
            kv("people_not_followed", self.people_not_followed),
            kv("messages", self.messages),
            kv("malformed_messages", self.malformed_messages),
            kv("unusable_messages", self.unusable_messages),
            kv("rejected_bodies", self.rejected_bodies),
            kv("rejected_frames", self.rejected_frames.values().sum::<u64>()),
        ];
        values.extend(
            self.rejected_frames
                .iter()
                .map(|(k, n)| kv(&format!("rejected_frames.{k}"), n)),
        );
        values.extend([
            kv(
                "frames_dropped",
                self.people.values().map(|p| p.health.frames_dropped).sum::<u64>(),
            ),
            kv(
                "stream_resets",
                self.people.values().map(|p| p.health.resets).sum::<u64>(),
            ),
            kv("forecasts_published", self.forecasts_published),
            kv("forecasts_from_baselines", self.forecasts_from_baselines),
            kv("publish_failures", self.publish_failures),
            kv("last_error", self.last_error.as_deref().unwrap_or("")),
            kv("live_parameter_changes", self.live_parameter_changes),
            kv("last_live_change", self.last_live_change.as_deref().unwrap_or("")),
            kv("model", &id.model),
            kv("model_sha256", &id.model_sha256),
            kv(
                "damping_tau_s",
                match id.damping_tau {
                    DampingTau::Fitted(t) => format!("{t} (fitted on the model's training recordings)"),
                    DampingTau::Default(t) => format!("{t} (documented default: the model predates a fitted one)"),
                },
            ),
            kv(
                "motif_anticipation",
                id.anticipation_note
                    .as_deref()
                    .unwrap_or("prior fitted on the model's training recordings, mixed with the head; \"it stays\" where the model loses to it live"),
            ),
            kv("use_sim_time", id.use_sim_time),
            kv(
                "uptime_s",
                format!("{:.1}", now.duration_since(self.started).as_secs_f64()),
            ),
        ]);
        let hardware_id = format!("model sha256 {}", &id.model_sha256[..id.model_sha256.len().min(16)]);
        let mut status = vec![DiagnosticStatus {
            level,
            name: format!("{}: anticipation", id.node),
            message,
            hardware_id: hardware_id.clone(),
            values,
        }];
        for (pid, p) in &self.people {
            let (level, message) = match p.health.state {
                HealthState::Ok => (DiagnosticStatus::OK, "ok"),
                HealthState::Warming => (DiagnosticStatus::OK, "warming up"),
                HealthState::Degraded => (DiagnosticStatus::WARN, "degraded"),
            };
            status.push(DiagnosticStatus {
                level,
                name: format!("{}: person {pid}", id.node),
                message: message.into(),
                hardware_id: hardware_id.clone(),
                values: [
                    kv("motif_now", p.motif_now),
                    kv("atoms_closed", p.atoms_closed),
                    kv("body_scale", format!("{:.3}", p.body_scale)),
                    kv("frames_dropped", p.health.frames_dropped),
                    kv("resets", p.health.resets),
                    kv(
                        "last_error",
                        p.health.last_error.map(|e| e.to_string()).unwrap_or_default(),
                    ),
                ]
                .into_iter()
                .chain(guard_of(*pid).map(|g| g.values()).unwrap_or_default())
                .collect(),
            });
        }
        self.window_start = now;
        self.window_messages = 0;
        self.window_forecasts = 0;
        self.window_bad = 0;
        self.latencies_us.clear();
        self.transport_us.clear();
        DiagnosticArray { header, status }
    }
}

/// `/diagnostics` from a thread of its own at `SCHED_OTHER`: serializing and writing a
/// report of every counter never delays a frame. The frame loop hands over a report
/// without waiting; one still unsent is replaced by a newer one (and counted as a failure).
pub(super) struct DiagnosticsWriter {
    to_thread: Option<SyncSender<DiagnosticArray>>,
    failures: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiagnosticsWriter {
    pub(super) fn start(publisher: Publisher<DiagnosticArray>) -> Result<Self, NodeError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<DiagnosticArray>(1);
        let failures = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&failures);
        let thread = std::thread::Builder::new()
            .name("a4mer-diag".into())
            .spawn(move || {
                // Failing to lower itself leaves the thread at the frame loop's policy:
                // slower frames at worst, so not worth stopping for.
                let _ = sched::demote_current_thread();
                for report in rx {
                    if publisher.publish(report).is_err() {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| ros_err("starting the diagnostics thread")(e.to_string()))?;
        Ok(Self {
            to_thread: Some(tx),
            failures,
            thread: Some(thread),
        })
    }

    pub(super) fn offer(&self, report: DiagnosticArray) {
        if let Some(tx) = &self.to_thread
            && let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(report)
        {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publish failures since the last call.
    pub(super) fn take_failures(&self) -> u64 {
        self.failures.swap(0, Ordering::Relaxed)
    }
}

impl Drop for DiagnosticsWriter {
    fn drop(&mut self) {
        drop(self.to_thread.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use a4mer_runtime::stream::Reject;

    fn identity() -> Identity {
        Identity {
            node: "/a4mer_node".into(),
            input_topic: "/a4mer_node/poses".into(),
            input_type: "a4mer_msgs/msg/Skeleton3DArray".into(),
            model: "m.a4m".into(),
            model_sha256: "ab".repeat(32),
            damping_tau: DampingTau::Fitted(0.5),
            anticipation_note: None,
            max_tracks: 4,
            use_sim_time: false,
        }
    }

    fn value<'a>(a: &'a DiagnosticArray, key: &str) -> &'a str {
        a.status[0]
            .values
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
            .unwrap_or_else(|| panic!("no {key}"))
    }

    #[test]
    fn window_rates_percentiles_and_bad_input_levels() {
        let t0 = Instant::now();
        let mut d = Diagnostics::new(t0);
        let quiet = d.report(t0 + Duration::from_secs(1), Header::default(), &identity(), &|_| None);
        assert_eq!(quiet.status[0].level, DiagnosticStatus::WARN);
        assert!(quiet.status[0].message.contains("no input"));

        for k in 1..=100u64 {
            d.message(None);
            d.latency(Duration::from_micros(k * 10));
        }
        d.published(100, 0);
        let e = StreamError::Rejected(Reject::OutOfOrder {
            stamp_ns: 1,
            newest_ns: 2,
        });
        d.rejected_frame(3, &e);
        let r = d.report(t0 + Duration::from_secs(3), Header::default(), &identity(), &|_| None);
        assert_eq!(value(&r, "input_rate_hz"), "50.0", "100 messages over 2 s");
        assert_eq!(value(&r, "latency_p50_ms"), "0.510");
        assert_eq!(value(&r, "latency_p99_ms"), "0.990");
        assert_eq!(value(&r, "latency_max_ms"), "1.000");
        assert_eq!(value(&r, "rejected_frames.stamp_backwards"), "1");
        assert_eq!(
            value(&r, "damping_tau_s"),
            "0.5 (fitted on the model's training recordings)"
        );
        assert!(value(&r, "motif_anticipation").starts_with("prior fitted"));
        let old = Identity {
            anticipation_note: Some("the model predates the anticipation prior".into()),
            ..identity()
        };
        let r = d.report(t0 + Duration::from_secs(3), Header::default(), &old, &|_| None);
        assert!(value(&r, "motif_anticipation").contains("predates"));
        assert!(value(&r, "last_error").contains("person 3"));
        assert_eq!(r.status[0].level, DiagnosticStatus::WARN, "bad input in the window");

        d.message(None);
        let r = d.report(t0 + Duration::from_secs(4), Header::default(), &identity(), &|_| None);
        assert_eq!(r.status[0].level, DiagnosticStatus::OK, "a clean window");
        assert_eq!(value(&r, "rejected_frames"), "1", "totals are kept across windows");
        assert_eq!(value(&r, "latency_p99_ms"), "n/a");
    }
}
