//! A robot's frames for the TF tests: `base_link -> torso` static, `torso -> camera` moving
//! (turning about z at a constant rate while sliding along x), sampled at 20 Hz; and a
//! camera-frame take placed in `base_link` in closed form (f64, rounded to f32 once),
//! independent of the node's TF code. About one axis, slerp turns at a constant rate and
//! the translation moves linearly, so the closed form is what interpolation must give.

use std::sync::Arc;

use a4mer_ros::model::LoadedModel;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::{Engine, EngineConfig};
use serde_json::{Value, json};

/// `base_link -> torso`: x y z roll pitch yaw.
pub const STATIC_XYZ_RPY: [f64; 6] = [0.2, -0.1, 0.9, 0.05, -0.1, 0.6];
pub const YAW0: f64 = -0.3;
pub const YAW_RATE: f64 = 0.4;
pub const CAMERA_AT: [f64; 3] = [0.5, 0.2, 0.4];
pub const SLIDE_MPS: f64 = 0.3;
pub const SAMPLE_PERIOD_NS: i64 = 50_000_000;

/// Quaternion (x, y, z, w) of R = Rz(yaw) Ry(pitch) Rx(roll).
pub fn quaternion_rpy(roll: f64, pitch: f64, yaw: f64) -> [f64; 4] {
    let (sr, cr) = (roll / 2.0).sin_cos();
    let (sp, cp) = (pitch / 2.0).sin_cos();
    let (sy, cy) = (yaw / 2.0).sin_cos();
    [
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    ]
}

fn rotation_rpy(roll: f64, pitch: f64, yaw: f64) -> [[f64; 3]; 3] {
    let (sr, cr) = roll.sin_cos();
    let (sp, cp) = pitch.sin_cos();
    let (sy, cy) = yaw.sin_cos();
    [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
}

/// The camera in the torso frame `t_s` after the scene's start: translation and yaw.
pub fn camera_in_torso(t_s: f64) -> ([f64; 3], f64) {
    (
        [CAMERA_AT[0] + SLIDE_MPS * t_s, CAMERA_AT[1], CAMERA_AT[2]],
        YAW0 + YAW_RATE * t_s,
    )
}

/// A camera-frame point in base_link, the camera where it was `t_s` after the start.
pub fn camera_to_base(p: [f32; 3], t_s: f64) -> [f32; 3] {
    let (shift, yaw) = camera_in_torso(t_s);
    let (s, c) = yaw.sin_cos();
    let p = p.map(f64::from);
    let torso = [
        c * p[0] - s * p[1] + shift[0],
        s * p[0] + c * p[1] + shift[1],
        p[2] + shift[2],
    ];
    let [x, y, z, roll, pitch, yaw] = STATIC_XYZ_RPY;
    let r = rotation_rpy(roll, pitch, yaw);
    let t = [x, y, z];
    std::array::from_fn(|i| (r[i][0] * torso[0] + r[i][1] * torso[1] + r[i][2] * torso[2] + t[i]) as f32)
}

/// What the node is to do with each pose at `stamp_ns` when the moving transform stops
/// after `stop_after_ns` and may be held for `max_age_ns`: the camera's time to place it
/// with, or `None` (stale: not placed).
pub fn camera_time_s(stamp_ns: i64, t0_ns: i64, stop_after_ns: i64, max_age_ns: i64) -> Option<f64> {
    let last_ns = t0_ns + (stop_after_ns - t0_ns).div_euclid(SAMPLE_PERIOD_NS) * SAMPLE_PERIOD_NS;
    let at = if stamp_ns <= last_ns {
        stamp_ns
    } else if stamp_ns - last_ns <= max_age_ns {
        last_ns
    } else {
        return None;
    };
    Some((at - t0_ns) as f64 / 1e9)
}

/// `frames` (camera frame) placed in base_link, and which were placed at all.
pub fn place(frames: &[PoseFrame], t0_ns: i64, stop_after_ns: i64, max_age_ns: i64) -> Vec<Option<PoseFrame>> {
    frames
        .iter()
        .map(|f| {
            camera_time_s(f.stamp_ns, t0_ns, stop_after_ns, max_age_ns).map(|t_s| PoseFrame {
                joints_in_world: f.joints_in_world.map(|p| camera_to_base(p, t_s)),
                ..*f
            })
        })
        .collect()
}

/// The scene as the TF peers send it: the static transform, and the moving one every
/// 50 ms from 0.2 s before `t0_ns` to 0.5 s after `end_ns` (`stop_after_ns` and `lead_ns`
/// for the Cyclone peer).
pub fn tf_json(t0_ns: i64, end_ns: i64, stop_after_ns: i64, lead_ns: i64) -> Value {
    let [x, y, z, roll, pitch, yaw] = STATIC_XYZ_RPY;
    let mut moving = Vec::new();
    let mut ns = t0_ns - 4 * SAMPLE_PERIOD_NS;
    while ns <= end_ns + 10 * SAMPLE_PERIOD_NS {
        let (shift, yaw) = camera_in_torso((ns - t0_ns) as f64 / 1e9);
        moving.push(json!({
            "stamp_ns": ns, "parent": "torso", "child": "camera",
            "xyz": shift, "xyzw": quaternion_rpy(0.0, 0.0, yaw),
        }));
        ns += SAMPLE_PERIOD_NS;
    }
    json!({
        "static": [{
            "stamp_ns": t0_ns, "parent": "base_link", "child": "torso",
            "xyz": [x, y, z], "xyzw": quaternion_rpy(roll, pitch, yaw),
        }],
        "moving": moving,
        "stop_after_ns": stop_after_ns,
        "lead_ns": lead_ns,
    })
}

/// A forecast's points, step by step, joint by joint; `None` where unobserved.
pub type Points = Vec<Option<[f32; 3]>>;

/// The bundled model's engine over the placed frames (the unplaced are skipped, as the
/// node skips them): per stamp, the forecast's points once warm.
pub fn expected_forecasts(placed: &[Option<PoseFrame>]) -> Vec<(i64, Option<Points>)> {
    let model = LoadedModel::load(None).unwrap();
    let mut engine = Engine::new(Arc::clone(&model.stream), EngineConfig::default()).unwrap();
    placed
        .iter()
        .flatten()
        .map(|f| {
            let a = engine.push(f).unwrap();
            let warm = a.health.state != a4mer_runtime::stream::HealthState::Warming && !a.forecast.is_empty();
            let points = warm.then(|| {
                a.forecast
                    .iter()
                    .flat_map(|s| (0..24).map(move |j| a.valid[j].then_some(s.joints_in_world[j])))
                    .collect()
            });
            (f.stamp_ns, points)
        })
        .collect()
}
