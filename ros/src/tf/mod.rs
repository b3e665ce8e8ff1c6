//! TF2 for the node: a bounded buffer of what `/tf` and `/tf_static` carry, and lookups
//! along the frame tree at a message's stamp.
//!
//! The node is a real-time node: a lookup never waits for a transform to arrive. At the
//! stamp asked for, each edge of the chain gives
//! - its static transform (from `/tf_static`), whatever the stamp;
//! - between two samples (from `/tf`), translation interpolated linearly and rotation by
//!   slerp;
//! - newer than its newest sample by at most `max_age_ns`: that newest sample (no
//!   extrapolation; the lookup says how old it was, the node counts it);
//! - newer than that, or older than the oldest sample kept: an error naming the edge and
//!   the age.
//!
//! Bounds: at most [`MAX_FRAMES`] child frames and [`MAX_SAMPLES_PER_FRAME`] samples per
//! frame, and only samples within `buffer_ns` of a frame's newest; what does not fit is
//! dropped and counted in [`TfStats`]. Frame names lose a leading `/`, as in tf2.

use std::collections::{HashMap, VecDeque};

use glam::{DQuat, DVec3};

use crate::msg::{TFMessage, TransformStamped};

#[cfg(test)]
mod tests;

/// Child frames kept; a transform for a new frame beyond this is dropped and counted.
pub const MAX_FRAMES: usize = 256;
/// Samples kept per child frame (10 s at 100 Hz); the oldest goes first.
pub const MAX_SAMPLES_PER_FRAME: usize = 1024;
/// Longest chain from a frame to its root; deeper (or a loop) is an error.
pub const MAX_DEPTH: usize = 32;
/// tf2's tolerance on a quaternion's squared norm before it normalises it.
const QUATERNION_NORM2_TOLERANCE: f64 = 1e-2;

/// A rigid transform `p_a = rotation * p_b + translation_m` (read `a_from_b`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Isometry {
    pub rotation: DQuat,
    pub translation_m: DVec3,
}

impl Isometry {
    pub const IDENTITY: Self = Self {
        rotation: DQuat::IDENTITY,
        translation_m: DVec3::ZERO,
    };

    /// `a_from_b.then(b_from_c)` is `a_from_c`.
    pub fn then(&self, inner: &Self) -> Self {
        Self {
            rotation: (self.rotation * inner.rotation).normalize(),
            translation_m: self.rotation.mul_vec3(inner.translation_m) + self.translation_m,
        }
    }

    /// `b_from_a` of `a_from_b`.
    pub fn inverse(&self) -> Self {
        let rotation = self.rotation.inverse();
        Self {
            rotation,
            translation_m: -rotation.mul_vec3(self.translation_m),
        }
    }

    pub fn apply_f64(&self, p: DVec3) -> DVec3 {
        self.rotation.mul_vec3(p) + self.translation_m
    }

    /// One point, computed in f64 and rounded once.
    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let q = self.apply_f64(DVec3::new(f64::from(p[0]), f64::from(p[1]), f64::from(p[2])));
        [q.x as f32, q.y as f32, q.z as f32]
    }

    /// `s` of the way from `self` to `to`: translation linear, rotation by slerp.
    pub fn interpolate(&self, to: &Self, s: f64) -> Self {
        Self {
            rotation: self.rotation.slerp(to.rotation, s).normalize(),
            translation_m: self.translation_m.lerp(to.translation_m, s),
        }
    }

    /// From a `geometry_msgs/Transform`; `None` for a non-finite value or a quaternion
    /// tf2 would refuse (squared norm off 1 by more than 1e-2); others are normalised.
    pub fn from_msg(t: &crate::msg::Transform) -> Option<Self> {
        let (v, q) = (&t.translation, &t.rotation);
        let values = [v.x, v.y, v.z, q.x, q.y, q.z, q.w];
        if values.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let rotation = DQuat::from_xyzw(q.x, q.y, q.z, q.w);
        if (rotation.length_squared() - 1.0).abs() > QUATERNION_NORM2_TOLERANCE {
            return None;
        }
        Some(Self {
            rotation: rotation.normalize(),
            translation_m: DVec3::new(v.x, v.y, v.z),
        })
    }

    /// From `[x, y, z, roll, pitch, yaw]` (metres, radians; R = Rz(yaw) Ry(pitch) Rx(roll),
    /// as `static_transform_publisher` and `link::RigidTransform::from_xyz_rpy` read them).
    pub fn from_xyz_rpy(v: [f64; 6]) -> Self {
        Self {
            rotation: DQuat::from_rotation_z(v[5]) * DQuat::from_rotation_y(v[4]) * DQuat::from_rotation_x(v[3]),
            translation_m: DVec3::new(v[0], v[1], v[2]),
        }
    }

    /// As a `geometry_msgs/Transform`.
    pub fn to_msg(&self) -> crate::msg::Transform {
        let (t, q) = (self.translation_m, self.rotation);
        crate::msg::Transform {
            translation: crate::msg::Vector3 { x: t.x, y: t.y, z: t.z },
            rotation: crate::msg::Quaternion {
                x: q.x,
                y: q.y,
                z: q.z,
                w: q.w,
            },
        }
    }

    /// As `link::RigidTransform` (rotation matrix).
    pub fn to_rigid(&self) -> crate::link::RigidTransform {
        let m = glam::DMat3::from_quat(self.rotation);
        crate::link::RigidTransform {
            rotation: std::array::from_fn(|r| std::array::from_fn(|c| m.col(c)[r])),
            translation_m: self.translation_m.to_array(),
        }
    }
}

/// Why a lookup failed. Each names the frames and, for time, how far off the stamp was.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TfError {
    #[error(
        "no transform from `{source_frame}` to `{target}`: `{source_frame}` leads to `{source_root}` and `{target}` to `{target_root}` in /tf and /tf_static, with no frame in common"
    )]
    NotConnected {
        source_frame: String,
        target: String,
        source_root: String,
        target_root: String,
    },
    #[error(
        "transform `{parent}` -> `{child}` is stale: its newest sample is {age_s:.3} s older than the message (tf.max_age_s {max_age_s})"
    )]
    Stale {
        parent: String,
        child: String,
        age_s: f64,
        max_age_s: f64,
    },
    #[error(
        "transform `{parent}` -> `{child}`: the message is {before_s:.3} s older than the oldest sample kept (tf.buffer_s)"
    )]
    TooOld {
        parent: String,
        child: String,
        before_s: f64,
    },
    #[error(
        "no transform from `{source_frame}` to `{target}`: the chain from `{at}` is deeper than {MAX_DEPTH} frames (a loop?)"
    )]
    TooDeep {
        source_frame: String,
        target: String,
        at: String,
    },
}

/// A transform found, and whether any edge on the way was held at its newest sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookup {
    pub target_from_source: Isometry,
    /// How much older than the stamp the oldest held sample was; 0 if none was held.
    pub held_ns: i64,
}

/// What went into the buffer and what did not, for `/diagnostics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TfStats {
    pub samples: u64,
    pub static_samples: u64,
    /// Non-finite values, a quaternion far from unit norm, an empty or self-parented frame.
    pub invalid: u64,
    /// A new frame while [`MAX_FRAMES`] were kept.
    pub frames_dropped: u64,
    /// Pushed out by [`MAX_SAMPLES_PER_FRAME`] newer samples.
    pub samples_dropped_full: u64,
    /// Older than the buffer's span behind the frame's newest sample when they arrived.
    pub samples_too_old: u64,
    /// A frame that changed parent, or between `/tf` and `/tf_static`: its history restarts.
    pub reparented: u64,
    pub last_rejected: Option<String>,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    stamp_ns: i64,
    parent_from_child: Isometry,
}

#[derive(Debug)]
enum Edge {
    Static(Isometry),
    /// Sorted by stamp, unique stamps.
    Dynamic(VecDeque<Sample>),
}

#[derive(Debug)]
struct Frame {
    parent: String,
    edge: Edge,
}

enum EdgeError {
    Stale(i64),
    TooOld(i64),
}

impl Frame {
    /// `parent_from_child` at `stamp_ns`, and how long it was held.
    fn at(&self, stamp_ns: i64, max_age_ns: i64) -> Result<(Isometry, i64), EdgeError> {
        let samples = match &self.edge {
            Edge::Static(t) => return Ok((*t, 0)),
            Edge::Dynamic(s) => s,
        };
        let (Some(oldest), Some(newest)) = (samples.front(), samples.back()) else {
            return Err(EdgeError::Stale(i64::MAX));
        };
        if stamp_ns >= newest.stamp_ns {
            let age = stamp_ns.saturating_sub(newest.stamp_ns);
            return if age <= max_age_ns {
                Ok((newest.parent_from_child, age))
            } else {
                Err(EdgeError::Stale(age))
            };
        }
        if stamp_ns < oldest.stamp_ns {
            return Err(EdgeError::TooOld(oldest.stamp_ns - stamp_ns));
        }
        // oldest <= stamp < newest: a bracketing pair exists.
        let after = samples.partition_point(|s| s.stamp_ns <= stamp_ns);
        let (a, b) = (&samples[after - 1], &samples[after]);
        if a.stamp_ns == stamp_ns {
            return Ok((a.parent_from_child, 0));
        }
        let s = (stamp_ns - a.stamp_ns) as f64 / (b.stamp_ns - a.stamp_ns) as f64;
        Ok((a.parent_from_child.interpolate(&b.parent_from_child, s), 0))
    }
}

/// Frame names as tf2 compares them: without a leading `/`.
pub fn frame_name(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// The transforms of `/tf` and `/tf_static`, bounded.
#[derive(Debug)]
pub struct TfBuffer {
    frames: HashMap<String, Frame>,
    buffer_ns: i64,
    stats: TfStats,
}

impl TfBuffer {
    /// Keeps `buffer_s` seconds behind each frame's newest sample (`tf.buffer_s`).
    pub fn new(buffer_s: f64) -> Self {
        Self {
            frames: HashMap::new(),
            buffer_ns: (buffer_s * 1e9).round() as i64,
            stats: TfStats::default(),
        }
    }

    pub fn stats(&self) -> &TfStats {
        &self.stats
    }

    /// Child frames known.
    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Every transform of a `/tf` (`is_static` false) or `/tf_static` message.
    pub fn insert_message(&mut self, msg: &TFMessage, is_static: bool) {
        for t in &msg.transforms {
            self.insert(t, is_static);
        }
    }

    fn reject(&mut self, why: String) {
        self.stats.invalid += 1;
        self.stats.last_rejected = Some(why);
    }

    /// One transform; anything unusable is counted, never stored.
    pub fn insert(&mut self, t: &TransformStamped, is_static: bool) {
        let parent = frame_name(&t.header.frame_id);
        let child = frame_name(&t.child_frame_id);
        if parent.is_empty() || child.is_empty() || parent == child {
            return self.reject(format!(
                "transform `{parent}` -> `{child}`: parent and child must be two named frames"
            ));
        }
        let Some(parent_from_child) = Isometry::from_msg(&t.transform) else {
            return self.reject(format!(
                "transform `{parent}` -> `{child}`: non-finite value or a rotation that is not a unit quaternion"
            ));
        };
        if !self.frames.contains_key(child) && self.frames.len() >= MAX_FRAMES {
            self.stats.frames_dropped += 1;
            self.stats.last_rejected = Some(format!(
                "transform `{parent}` -> `{child}`: {MAX_FRAMES} frames already kept"
            ));
            return;
        }
        if is_static {
            self.stats.static_samples += 1;
        } else {
            self.stats.samples += 1;
        }
        let frame = self.frames.entry(child.to_string()).or_insert_with(|| Frame {
            parent: parent.to_string(),
            edge: Edge::Dynamic(VecDeque::new()),
        });
        let same_kind = matches!(
            (&frame.edge, is_static),
            (Edge::Static(_), true) | (Edge::Dynamic(_), false)
        );
        let fresh = matches!(&frame.edge, Edge::Dynamic(s) if s.is_empty());
        if frame.parent != parent || (!same_kind && !fresh) {
            self.stats.reparented += 1;
        }
        if frame.parent != parent || !same_kind {
            frame.parent = parent.to_string();
            frame.edge = Edge::Dynamic(VecDeque::new());
        }
        let samples = match &mut frame.edge {
            edge @ Edge::Dynamic(_) if is_static => {
                *edge = Edge::Static(parent_from_child);
                return;
            }
            Edge::Static(s) => {
                *s = parent_from_child;
                return;
            }
            Edge::Dynamic(s) => s,
        };
        let stamp_ns = t.header.stamp.to_ns();
        let sample = Sample {
            stamp_ns,
            parent_from_child,
        };
        match samples.back() {
            None => samples.push_back(sample),
            Some(newest) if stamp_ns > newest.stamp_ns => samples.push_back(sample),
            Some(newest) if stamp_ns < newest.stamp_ns.saturating_sub(self.buffer_ns) => {
                self.stats.samples_too_old += 1;
                return;
            }
            Some(_) => {
                let at = samples.partition_point(|s| s.stamp_ns < stamp_ns);
                match samples.get_mut(at) {
                    Some(s) if s.stamp_ns == stamp_ns => *s = sample,
                    _ => samples.insert(at, sample),
                }
            }
        }
        let newest_ns = samples.back().map_or(stamp_ns, |s| s.stamp_ns);
        while samples
            .front()
            .is_some_and(|s| s.stamp_ns < newest_ns.saturating_sub(self.buffer_ns))
        {
            samples.pop_front();
        }
        while samples.len() > MAX_SAMPLES_PER_FRAME {
            samples.pop_front();
            self.stats.samples_dropped_full += 1;
        }
    }

    /// `target_from_source` at `stamp_ns`; an edge may be held at its newest sample for at
    /// most `max_age_ns`.
    pub fn lookup(&self, target: &str, source: &str, stamp_ns: i64, max_age_ns: i64) -> Result<Lookup, TfError> {
        let (target, source) = (frame_name(target), frame_name(source));
        // From `source` up to its root: each frame with `frame_from_source` and the
        // longest hold so far. An edge that fails ends the walk; its error matters only
        // if the common frame lies above it.
        let mut up: heapless::Vec<(&str, Isometry, i64), MAX_DEPTH> = heapless::Vec::new();
        let source_end = self.walk(source, stamp_ns, max_age_ns, &mut |name, iso, held| {
            up.push((name, iso, held)).is_ok()
        });
        let source_end = source_end.map_err(|at| self.too_deep(source, target, at))?;
        let mut found: Option<(Isometry, i64, Isometry, i64)> = None;
        let target_end = self.walk(target, stamp_ns, max_age_ns, &mut |name, iso, held| match up
            .iter()
            .find(|(n, _, _)| *n == name)
        {
            Some((_, a_from_source, source_held)) => {
                found = Some((*a_from_source, *source_held, iso, held));
                false
            }
            None => true,
        });
        let target_end = target_end.map_err(|at| self.too_deep(source, target, at))?;
        if let Some((a_from_source, source_held, a_from_target, target_held)) = found {
            return Ok(Lookup {
                target_from_source: a_from_target.inverse().then(&a_from_source),
                held_ns: source_held.max(target_held),
            });
        }
        // Not connected through working edges: a failed edge explains it first.
        for end in [&source_end, &target_end] {
            if let WalkEnd::Failed { child, parent, error } = end {
                return Err(match error {
                    EdgeError::Stale(age) => TfError::Stale {
                        parent: parent.to_string(),
                        child: child.to_string(),
                        age_s: *age as f64 / 1e9,
                        max_age_s: max_age_ns as f64 / 1e9,
                    },
                    EdgeError::TooOld(before) => TfError::TooOld {
                        parent: parent.to_string(),
                        child: child.to_string(),
                        before_s: *before as f64 / 1e9,
                    },
                });
            }
        }
        let root = |end: &WalkEnd<'_>| match end {
            WalkEnd::Root(r) => r.to_string(),
            WalkEnd::Failed { child, .. } | WalkEnd::Stopped(child) => child.to_string(),
        };
        Err(TfError::NotConnected {
            source_frame: source.to_string(),
            target: target.to_string(),
            source_root: root(&source_end),
            target_root: root(&target_end),
        })
    }

    fn too_deep(&self, source: &str, target: &str, at: &str) -> TfError {
        TfError::TooDeep {
            source_frame: source.to_string(),
            target: target.to_string(),
            at: at.to_string(),
        }
    }

    /// Visit `start` and its ancestors with `frame_from_start` and the longest hold so far,
    /// until `visit` returns false, the root, or an edge that fails. `Err(frame)` past
    /// [`MAX_DEPTH`].
    fn walk<'a>(
        &'a self,
        start: &'a str,
        stamp_ns: i64,
        max_age_ns: i64,
        visit: &mut dyn FnMut(&'a str, Isometry, i64) -> bool,
    ) -> Result<WalkEnd<'a>, &'a str> {
        let (mut name, mut acc, mut held) = (start, Isometry::IDENTITY, 0i64);
        for _ in 0..MAX_DEPTH {
            if !visit(name, acc, held) {
                return Ok(WalkEnd::Stopped(name));
            }
            let Some(frame) = self.frames.get(name) else {
                return Ok(WalkEnd::Root(name));
            };
            match frame.at(stamp_ns, max_age_ns) {
                Ok((parent_from_child, h)) => {
                    acc = parent_from_child.then(&acc);
                    held = held.max(h);
                    name = frame.parent.as_str();
                }
                Err(error) => {
                    return Ok(WalkEnd::Failed {
                        child: name,
                        parent: frame.parent.as_str(),
                        error,
                    });
                }
            }
        }
        Err(name)
    }
}

enum WalkEnd<'a> {
    /// A frame with no parent known.
    Root(&'a str),
    /// The visitor stopped here (the common frame).
    Stopped(&'a str),
    Failed {
        child: &'a str,
        parent: &'a str,
        error: EdgeError,
    },
}
