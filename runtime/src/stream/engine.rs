//! The streaming engine: one person's pose frames in, one anticipation per frame out.
//!
//! Per model-rate frame the engine does the least the model allows:
//! - features of the new frame (they depend on that frame and the previous one only);
//! - the frame predictor's surprise, which may close the open segment;
//! - on a close: the closed segment's atom token, one cached step of the causal motif
//!   encoder (its key/value rings hold the last `n_atoms` atoms), the motif id;
//! - the open segment's token and the heads.
//!
//! Everything is sized when the engine is built; `push` allocates nothing. The node, the
//! replay tool, the benchmarks and the tests all run this one code path.

use std::sync::Arc;

pub use crate::model::ForecastStep;
use crate::model::config::head_input_dim;
use crate::model::features::{CONT_DIM, FEAT_DIM, KIN_DIM, POSE_DIM, frame_features};
use crate::model::native::NetState;
use crate::model::prior::Kinematics;
use crate::model::segment::Segmenter;
use crate::model::surprise_mask;
use crate::pose::{FPS, NUM_JOINTS, PoseFrame};

pub use super::anticipation::{
    Anticipation, AtomRecord, Health, HealthState, MAX_HORIZON, MAX_TOP_K, MotifBasis, MotifNext, MotifNow, StreamError,
};
use super::conditioner::{Conditioner, ConditionerConfig, ConfigError};
use super::guard::{Guard, GuardConfig, GuardScores, GuardView};
use super::motif_next::{MotifInputs, anticipate, top_k};
use super::motif_score::{MotifScorer, MotifScores, Published};
pub use super::stream_model::StreamModel;
pub use super::window::AtomBuffer;
use super::window::{FrameWindow, push_newest};

/// Longest segment the engine's frame window holds (the model's `l_max` must fit).
pub const MAX_SEGMENT: usize = 32;
/// Most atoms the atom buffer holds (the model's `n_atoms` must fit).
pub const MAX_ATOMS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EngineError {
    #[error("model config: {field} = {value} exceeds the engine's capacity {max}")]
    Capacity {
        field: &'static str,
        value: usize,
        max: usize,
    },
    #[error("engine config: {0}")]
    Conditioner(ConfigError),
    #[error("engine config: top_k = {0}: must be 1..={MAX_TOP_K}")]
    TopK(usize),
    #[error("engine config: max_pelvis_speed_mps = {0}: must be finite and > 0")]
    MaxSpeed(f32),
    #[error("int8 model: {0}")]
    Int8(String),
    #[error("model weights: {0}")]
    Weights(crate::model::tensors::FillError),
    #[error("anticipation prior: {0}")]
    Anticipation(String),
}

impl From<ConfigError> for EngineError {
    fn from(e: ConfigError) -> Self {
        Self::Conditioner(e)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub conditioner: ConditionerConfig,
    /// Model frames after a (re)start before anticipations count as `Ok`.
    pub warmup_frames: u32,
    /// Model frames after a dropped frame during which the stream counts as `Degraded`.
    pub degraded_hold_frames: u32,
    /// Next-motif candidates reported.
    pub top_k: usize,
    /// A pelvis faster than this between inputs is a different person or a tracking
    /// error: the stream restarts rather than feed the model a jump.
    pub max_pelvis_speed_mps: f32,
    /// What the published forecast and spread make of the live scores (see [`Guard`]).
    pub guard: GuardConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            conditioner: ConditionerConfig::default(),
            warmup_frames: FPS,
            degraded_hold_frames: FPS,
            top_k: 3,
            max_pelvis_speed_mps: 20.0,
            guard: GuardConfig::default(),
        }
    }
}

/// Coordinates beyond this (metres from the world origin) are not a person in a work cell;
/// f32 positions also lose millimetres out there.
const MAX_DISTANCE_M: f32 = 100_000.0;

/// One person's streaming state. Cloning a fresh engine is how a track table makes one per
/// person without re-validating its configuration.
#[derive(Clone)]
pub struct Engine {
    model: Arc<StreamModel>,
    config: EngineConfig,
    conditioner: Conditioner,
    net: NetState,
    segmenter: Segmenter,
    window: FrameWindow,
    atoms: AtomBuffer,
    /// The newest `motif_span` atom states (ring) and how many are filled.
    states: Vec<f32>,
    states_len: usize,
    states_next: usize,
    last_state: Vec<f32>,
    token: Vec<f32>,
    head_in: Vec<f32>,
    mean: Vec<f32>,
    log_spread: Vec<f32>,
    /// The next-motif head's distribution, and the model's (prior and head) made from it.
    probs: Vec<f32>,
    model_probs: Vec<f32>,
    motif_now: Option<MotifNow>,
    /// Stamp of the frame at which the current motif became current.
    motif_since_ns: i64,
    /// RMS joint speed the heads last saw (m/s).
    speed_mps: f32,
    atoms_closed: u64,
    frames_since_reset: u64,
    frames_since_drop: u64,
    started: bool,
    last_input_pelvis: Option<(i64, [f32; 3])>,
    health: Health,
    guard: Guard,
    motif_scores: MotifScorer,
    out: Anticipation,
}

impl Engine {
    pub fn new(model: Arc<StreamModel>, config: EngineConfig) -> Result<Self, EngineError> {
        if !(1..=MAX_TOP_K).contains(&config.top_k) {
            return Err(EngineError::TopK(config.top_k));
        }
        if !(config.max_pelvis_speed_mps.is_finite() && config.max_pelvis_speed_mps > 0.0) {
            return Err(EngineError::MaxSpeed(config.max_pelvis_speed_mps));
        }
        let conditioner = Conditioner::new(config.conditioner.clone())?;
        let c = &model.config;
        let d = c.d_model;
        let health = Health {
            state: HealthState::Warming,
            frames_dropped: 0,
            resets: 0,
            last_error: None,
        };
        Ok(Self {
            net: model.net.new_state(),
            conditioner,
            segmenter: Segmenter::new(),
            window: FrameWindow::new(),
            atoms: AtomBuffer {
                atoms: heapless::Deque::new(),
                capacity: c.n_atoms,
            },
            states: vec![0.0; c.motif_span * d],
            states_len: 0,
            states_next: 0,
            last_state: vec![0.0; d],
            token: vec![0.0; d],
            head_in: vec![0.0; head_input_dim(d)],
            mean: vec![0.0; c.horizon * POSE_DIM],
            log_spread: vec![0.0; c.horizon],
            probs: vec![0.0; c.n_motifs],
            model_probs: vec![0.0; c.n_motifs],
            motif_now: None,
            motif_since_ns: 0,
            speed_mps: 0.0,
            atoms_closed: 0,
            frames_since_reset: 0,
            frames_since_drop: u64::MAX,
            started: false,
            last_input_pelvis: None,
            health,
            guard: Guard::new(config.guard, c.horizon, model.damping_tau.seconds()),
            motif_scores: MotifScorer::new(c.motif_lookahead_frames, c.n_motifs),
            out: Anticipation {
                stamp_ns: 0,
                model_frames: 0,
                forecast: heapless::Vec::new(),
                valid: [false; NUM_JOINTS],
                motif_now: None,
                motif_next: MotifNext {
                    top: heapless::Vec::new(),
                    horizon_s: c.motif_lookahead_frames as f32 / FPS as f32,
                    transition_in_s: None,
                    basis: MotifBasis::Head,
                },
                health,
                body_scale: 1.0,
                guard: GuardView::default(),
            },
            model,
            config,
        })
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn atoms(&self) -> &AtomBuffer {
        &self.atoms
    }

    /// Atoms closed since the engine was built (a counter: the buffer itself is bounded).
    pub fn atoms_closed(&self) -> u64 {
        self.atoms_closed
    }

    /// Frames in the open segment.
    pub fn open_len(&self) -> usize {
        self.window.open.len()
    }

    /// The published forecasts' scores since the engine was built.
    pub fn guard_scores(&self) -> &GuardScores {
        self.guard.scores()
    }

    /// The guard itself: its live errors and which horizons it scores.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The next-motif distributions' scores since the engine was built.
    pub fn motif_scores(&self) -> &MotifScores {
        self.motif_scores.scores()
    }

    /// Whether the model's next-motif distribution is losing to "it stays" on this track
    /// (then "it stays" is published), and the live Brier scores of both.
    pub fn motif_live(&self) -> (bool, Option<(f64, f64)>) {
        (self.motif_scores.losing(), self.motif_scores.live_brier())
    }

    /// What the next-motif output was made from on the last frame: the current motif, the
    /// time spent in it (s), the speed (m/s) and the head's distribution (fitting the
    /// anticipation prior reads these).
    pub fn motif_inputs(&self) -> (Option<u16>, f32, f32, &[f32]) {
        let now = self.motif_now.map(|m| m.id);
        let age_s = (self.out.stamp_ns - self.motif_since_ns) as f32 / 1e9;
        (now, age_s.max(0.0), self.speed_mps, &self.probs)
    }

    /// The newest anticipation (also what the last successful `push` returned).
    pub fn latest(&self) -> Option<&Anticipation> {
        self.started.then_some(&self.out)
    }

    fn drop_frame(&mut self, e: StreamError) -> StreamError {
        self.health.frames_dropped += 1;
        self.health.last_error = Some(e);
        self.frames_since_drop = 0;
        e
    }

    fn restart(&mut self) {
        self.net.reset();
        self.segmenter = Segmenter::new();
        self.window.clear();
        self.atoms.atoms.clear();
        self.states_len = 0;
        self.states_next = 0;
        self.last_state.fill(0.0);
        self.motif_now = None;
        self.frames_since_reset = 0;
        self.guard.restart();
        self.motif_scores.restart();
    }

    /// Feed one input frame (any rate, any order); get the anticipation as of its stamp.
    pub fn push(&mut self, frame: &PoseFrame) -> Result<Anticipation, StreamError> {
        self.push_ref(frame).cloned()
    }

    /// [`Engine::push`] without copying the anticipation out.
    pub fn push_ref(&mut self, frame: &PoseFrame) -> Result<&Anticipation, StreamError> {
        let Some(pelvis) = frame.pelvis().filter(|p| p.iter().all(|c| c.is_finite())) else {
            return Err(self.drop_frame(StreamError::NoPelvis {
                stamp_ns: frame.stamp_ns,
            }));
        };
        for (j, p) in frame.joints_in_world.iter().enumerate() {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            if frame.valid[j] && r > MAX_DISTANCE_M {
                return Err(self.drop_frame(StreamError::OutOfRange {
                    stamp_ns: frame.stamp_ns,
                    joint: j,
                    distance_m: r,
                    limit_m: MAX_DISTANCE_M,
                }));
            }
        }
        let newest = self.conditioner.newest_ns();
        if let (Some((t0, p0)), Some(newest)) = (self.last_input_pelvis, newest)
            && frame.stamp_ns > newest
        {
            let dt_s = (frame.stamp_ns - t0) as f64 / 1e9;
            let dist = ((pelvis[0] - p0[0]).powi(2) + (pelvis[1] - p0[1]).powi(2) + (pelvis[2] - p0[2]).powi(2)).sqrt();
            let speed_mps = (dist as f64 / dt_s) as f32;
            if speed_mps > self.config.max_pelvis_speed_mps {
                self.conditioner.reset();
                self.health.last_error = Some(StreamError::Teleport {
                    stamp_ns: frame.stamp_ns,
                    speed_mps,
                });
            }
        }
        let conditioned = match self.conditioner.push(frame) {
            Ok(c) => c,
            Err(r) => return Err(self.drop_frame(r.into())),
        };
        self.last_input_pelvis = Some((frame.stamp_ns, pelvis));
        if conditioned.reset {
            if self.started {
                self.health.resets += 1;
            }
            self.restart();
        }
        self.started = true;
        let n = conditioned.frames.len();
        for (i, f) in conditioned.frames.iter().enumerate() {
            if let Err(e) = self.step(f, i + 1 == n) {
                self.conditioner.reset();
                self.restart();
                self.health.resets += 1;
                return Err(self.drop_frame(e));
            }
        }
        self.out.model_frames = n.min(u8::MAX as usize) as u8;
        self.update_health();
        self.out.health = self.health;
        Ok(&self.out)
    }

    fn update_health(&mut self) {
        let known = self.model.trained_count;
        let seen = (0..NUM_JOINTS)
            .filter(|&j| self.model.trained[j] && self.out.valid[j])
            .count();
        self.health.state = if self.frames_since_reset < self.config.warmup_frames as u64 {
            HealthState::Warming
        } else if self.frames_since_drop < self.config.degraded_hold_frames as u64 || 4 * seen < 3 * known {
            HealthState::Degraded
        } else {
            HealthState::Ok
        };
    }

    /// One model-rate frame. Heads run only when `emit` (the last grid frame of an input).
    fn step(&mut self, f: &PoseFrame, emit: bool) -> Result<(), StreamError> {
        let model = Arc::clone(&self.model);
        let cfg = &model.config;
        let raw = frame_features(f, self.window.last.as_ref().zip(self.window.raw.front()))?;
        let mut feat = [0.0f32; FEAT_DIM];
        model.norm.normalize_feat_with(&raw, &model.trained, &mut feat);

        let surprise = match (self.window.recent.front(), self.window.recent.back()) {
            (Some(p1), Some(p2)) if self.window.recent.len() == 2 => {
                let mask = surprise_mask(p2, p1, &feat);
                let pred = model.net.predict_frame(p1, p2, &mut self.net);
                let (mut err, mut cnt) = (0.0f32, 0.0f32);
                for i in 0..CONT_DIM {
                    err += (pred[i] - feat[i]) * (pred[i] - feat[i]) * mask[i];
                    cnt += mask[i];
                }
                if cnt > 0.0 { err / cnt } else { 0.0 }
            }
            _ => 0.0,
        };

        if let Some(len) = self.segmenter.push(&cfg.segmenter, surprise) {
            self.close_segment(&model, len, f.stamp_ns);
        }
        if self.window.open.is_empty() {
            self.window.open_start_ns = f.stamp_ns;
        }
        // The segmenter closes at l_max <= MAX_SEGMENT, so there is always room.
        let _ = self.window.open.push(feat);
        push_newest(&mut self.window.recent, feat);
        push_newest(&mut self.window.raw, raw);
        self.window.last = Some(*f);
        self.frames_since_reset += 1;
        self.frames_since_drop = self.frames_since_drop.saturating_add(1);
        self.guard.on_frame(f);
        self.motif_scores.on_frame(f.stamp_ns, self.motif_now);
        if emit { self.heads(&model, f) } else { Ok(()) }
    }

    fn close_segment(&mut self, model: &StreamModel, len: usize, next_start_ns: i64) {
        let d = model.config.d_model;
        let frames = self.window.open.as_flattened();
        debug_assert_eq!(frames.len(), len * FEAT_DIM);
        model.net.encode_atom(frames, &mut self.net, &mut self.token);
        model.net.motif_step(&self.token, &mut self.net, &mut self.last_state);
        let span = model.config.motif_span;
        self.states[self.states_next * d..(self.states_next + 1) * d].copy_from_slice(&self.last_state);
        self.states_next = (self.states_next + 1) % span;
        self.states_len = (self.states_len + 1).min(span);
        // Motif embedding: mean state over the newest `motif_span` atoms, into `token`
        // (free again once the motif step is done).
        self.token.fill(0.0);
        let m = self.states_len as f32;
        for s in self.states.chunks_exact(d).take(self.states_len) {
            for (e, v) in self.token.iter_mut().zip(s) {
                *e += v / m;
            }
        }
        let (id, confidence) = model.vocab.assign(&self.token);
        if self.motif_now.map(|m| m.id as usize) != Some(id) {
            self.motif_since_ns = next_start_ns;
        }
        let now = MotifNow {
            id: id as u16,
            confidence,
        };
        self.motif_now = Some(now);
        self.atoms_closed += 1;
        self.atoms.push(AtomRecord {
            start_ns: self.window.open_start_ns,
            end_ns: next_start_ns,
            frames: len as u16,
            motif: now,
        });
        self.window.open.clear();
    }

    fn heads(&mut self, model: &StreamModel, f: &PoseFrame) -> Result<(), StreamError> {
        let cfg = &model.config;
        let d = cfg.d_model;
        let net = &model.net;
        net.encode_atom(self.window.open.as_flattened(), &mut self.net, &mut self.token);
        let Some(raw) = self.window.raw.front() else {
            return Ok(());
        };
        let Some(feat) = self.window.recent.front() else {
            return Ok(());
        };
        let (state, rest) = self.head_in.split_at_mut(d);
        let (open, rest) = rest.split_at_mut(d);
        let (last_feat, kin) = rest.split_at_mut(FEAT_DIM);
        state.copy_from_slice(&self.last_state);
        open.copy_from_slice(&self.token);
        last_feat.copy_from_slice(feat);
        model.norm.normalize_kin_with(raw, &model.trained, &mut kin[..KIN_DIM]);
        net.forecast(&self.head_in, &mut self.net, &mut self.mean, &mut self.log_spread);
        net.next_motif(&self.last_state, &self.token, &mut self.net, &mut self.probs);

        let out = &mut self.out;
        out.stamp_ns = f.stamp_ns;
        out.valid = f.valid;
        out.forecast.clear();
        let scale = model.norm.body_scale(raw);
        out.body_scale = scale;
        let kin = Kinematics::observe(self.window.raw.iter(), scale);
        self.speed_mps = kin.speed_mps;
        let regime = model.norm.regime(&kin);
        for s in 0..cfg.horizon {
            let joints = model.norm.decode_forecast_step(
                &f.joints_in_world,
                &model.sources,
                &self.mean,
                s,
                &kin,
                regime,
                raw.yaw_rad,
                scale,
            );
            let step = ForecastStep {
                dt_s: (s + 1) as f32 / FPS as f32,
                joints_in_world: joints,
                spread_m: self.log_spread[s].exp() * scale * model.norm.spread_gain(regime, s),
            };
            // horizon <= MAX_HORIZON (checked in StreamModel::new).
            let _ = out.forecast.push(step);
        }
        let warm = self.frames_since_reset >= self.config.warmup_frames as u64;
        self.guard.publish(&mut out.forecast, warm);
        out.guard = *self.guard.view();
        // A non-finite model output stays non-finite through the guard's blend and scaling,
        // so one check of what is published covers both.
        if !out
            .forecast
            .iter()
            .all(|s| s.spread_m.is_finite() && s.joints_in_world.iter().flatten().all(|c| c.is_finite()))
        {
            return Err(StreamError::NonFiniteOutput { stamp_ns: f.stamp_ns });
        }
        out.motif_now = self.motif_now;
        let now = self.motif_now.map(|m| m.id);
        let made = anticipate(
            model.anticipation.as_ref(),
            MotifInputs {
                now,
                age_s: ((f.stamp_ns - self.motif_since_ns) as f32 / 1e9).max(0.0),
                speed_mps: self.speed_mps,
                head: &self.probs,
                horizon_s: out.motif_next.horizon_s,
            },
            &mut self.model_probs,
        );
        let losing = made.basis == MotifBasis::Model && self.motif_scores.losing();
        out.motif_next.basis = if losing { MotifBasis::StaysLosing } else { made.basis };
        out.motif_next.transition_in_s = made.transition_in_s;
        let stays = matches!(out.motif_next.basis, MotifBasis::StaysLosing | MotifBasis::StaysNoPrior);
        match now {
            // "It stays" is one entry: the motifs at 0 behind it would say nothing.
            Some(id) if stays => {
                out.motif_next.top.clear();
                // Capacity MAX_TOP_K >= 1.
                let _ = out.motif_next.top.push((id, 1.0));
            }
            _ => top_k(&self.model_probs, self.config.top_k, &mut out.motif_next.top),
        }
        self.motif_scores.publish(Published {
            model: &self.model_probs,
            stays,
            motif_now: self.motif_now,
            transition_s: made.transition_scored_s,
        });
        Ok(())
    }
}
