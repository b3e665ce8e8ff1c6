//! Output messages built from forecasts: `PoseForecast`, `MotifAnticipation` and the
//! RViz/Foxglove markers.
//!
//! Pure functions of their inputs, shared by the node and the replay so both publish
//! exactly the same messages.

use a4mer_runtime::skeleton::SMPL24_PARENTS;
use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame, SMPL24};

use a4mer_runtime::stream::{Anticipation, HORIZONS_MS, HealthState, NUM_SOURCES, SOURCES, horizon_step};

use crate::msg::{
    ColorRGBA, Duration, Header, Marker, MarkerArray, MotifAnticipation, Point, Pose, PoseForecast, Time, Vector3,
};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OutputError {
    #[error("forecast for person {person_id}: {what}")]
    Forecast { person_id: u32, what: String },
}

/// A `PoseForecast` from H predicted SMPL-24 poses (`steps[k]` at stamp + (k+1) · period).
pub fn pose_forecast(
    header: Header,
    person_id: u32,
    step_period_ns: i64,
    steps: &[Joints],
    spread_m: &[f32],
) -> Result<PoseForecast, OutputError> {
    let bad = |what: String| OutputError::Forecast { person_id, what };
    if spread_m.len() != steps.len() {
        return Err(bad(format!(
            "{} spread values for {} steps",
            spread_m.len(),
            steps.len()
        )));
    }
    let step_period = Duration::from_ns(step_period_ns)
        .filter(|_| step_period_ns > 0)
        .ok_or_else(|| bad(format!("step period {step_period_ns} ns is not a positive duration")))?;
    let num_steps = u32::try_from(steps.len()).map_err(|_| bad(format!("{} steps", steps.len())))?;
    Ok(PoseForecast {
        header,
        person_id,
        step_period,
        joint_names: SMPL24.iter().map(|s| s.to_string()).collect(),
        num_steps,
        points: steps
            .iter()
            .flat_map(|pose| pose.iter())
            .map(|p| Point {
                x: p[0] as f64,
                y: p[1] as f64,
                z: p[2] as f64,
            })
            .collect(),
        spread_m: spread_m.to_vec(),
        ..PoseForecast::default()
    })
}

/// The engine's forecast as a `PoseForecast`. Joints the input did not observe are NaN:
/// a consumer must not act on a position the model only guessed from other joints.
pub fn anticipation_forecast(header: Header, person_id: u32, a: &Anticipation) -> Result<PoseForecast, OutputError> {
    // Steps are at the model rate (`dt_s` of step k is (k + 1) model periods, rounded to f32).
    let step_period_ns = a4mer_runtime::frame_period_ns(1);
    let steps: Vec<Joints> = a
        .forecast
        .iter()
        .map(|s| {
            std::array::from_fn(|j| {
                if a.valid[j] {
                    s.joints_in_world[j]
                } else {
                    [f32::NAN; 3]
                }
            })
        })
        .collect();
    let spread: Vec<f32> = a.forecast.iter().map(|s| s.spread_m).collect();
    let mut msg = pose_forecast(header, person_id, step_period_ns, &steps, &spread)?;
    let reached = |ms: u32| horizon_step(ms) <= a.forecast.len();
    msg.guard_sources = SOURCES.iter().map(|s| s.to_string()).collect();
    for (h, ms) in HORIZONS_MS.iter().enumerate().filter(|(_, ms)| reached(**ms)) {
        msg.guard_horizons_s.push(*ms as f32 / 1000.0);
        msg.guard_weights.extend_from_slice(&a.guard.weights[h]);
        msg.model_losing.push(a.guard.model_losing[h]);
    }
    Ok(msg)
}

/// The forecast published for a frame the engine refuses (too few joints to be a body for
/// the model): the joints it has, carried on at constant velocity from the same person's
/// previous frame (`previous`, if it is at most `max_gap_ns` older; else held), their spread
/// the distance a person covers at `human_speed_mps` (ISO 13855) by each step, the guard's
/// weights all on that baseline and the model marked losing at every horizon. Joints the
/// frame lacks are NaN, as in every forecast.
pub fn baseline_forecast(
    header: Header,
    person_id: u32,
    now: &a4mer_runtime::PoseFrame,
    previous: Option<&a4mer_runtime::PoseFrame>,
    max_gap_ns: i64,
    human_speed_mps: f32,
) -> Result<PoseForecast, OutputError> {
    let steps_n = horizon_step(HORIZONS_MS[HORIZONS_MS.len() - 1]);
    let period_ns = a4mer_runtime::frame_period_ns(1);
    let dt_s = previous
        .map(|p| now.stamp_ns - p.stamp_ns)
        .filter(|d| *d > 0 && *d <= max_gap_ns)
        .map(|d| d as f32 / 1e9);
    let velocity: [[f32; 3]; a4mer_runtime::NUM_JOINTS] = std::array::from_fn(|j| match (previous, dt_s) {
        (Some(p), Some(dt)) if now.is_seen(j) && p.is_seen(j) => {
            std::array::from_fn(|c| (now.joints_in_world[j][c] - p.joints_in_world[j][c]) / dt)
        }
        _ => [0.0; 3],
    });
    let t_s = |k: usize| (k + 1) as f32 * period_ns as f32 / 1e9;
    let steps: Vec<Joints> = (0..steps_n)
        .map(|k| {
            std::array::from_fn(|j| {
                if now.is_seen(j) {
                    std::array::from_fn(|c| now.joints_in_world[j][c] + velocity[j][c] * t_s(k))
                } else {
                    [f32::NAN; 3]
                }
            })
        })
        .collect();
    let spread: Vec<f32> = (0..steps_n).map(|k| human_speed_mps * t_s(k)).collect();
    let mut msg = pose_forecast(header, person_id, period_ns, &steps, &spread)?;
    msg.guard_sources = SOURCES.iter().map(|s| s.to_string()).collect();
    // All on constant velocity (zero velocity without a previous frame), in SOURCES' order.
    let weights: [f32; NUM_SOURCES] = if dt_s.is_some() {
        [0.0, 0.0, 1.0, 0.0]
    } else {
        [0.0, 1.0, 0.0, 0.0]
    };
    for ms in HORIZONS_MS {
        msg.guard_horizons_s.push(ms as f32 / 1000.0);
        msg.guard_weights.extend_from_slice(&weights);
        msg.model_losing.push(true);
    }
    Ok(msg)
}

/// The engine's motif output and health as a `MotifAnticipation`.
pub fn motif_anticipation(header: Header, person_id: u32, a: &Anticipation) -> MotifAnticipation {
    let (motif_now, motif_now_confidence) = a
        .motif_now
        .map(|m| (i32::from(m.id), m.confidence))
        .unwrap_or((-1, 0.0));
    MotifAnticipation {
        header,
        person_id,
        motif_now,
        motif_now_confidence,
        next_motif_ids: a.motif_next.top.iter().map(|(id, _)| i32::from(*id)).collect(),
        next_motif_probabilities: a.motif_next.top.iter().map(|(_, p)| *p).collect(),
        expected_time_to_transition_s: a.motif_next.transition_in_s.unwrap_or(f32::NAN),
        health: match a.health.state {
            HealthState::Warming => MotifAnticipation::HEALTH_WARMING_UP,
            HealthState::Ok => MotifAnticipation::HEALTH_OK,
            HealthState::Degraded => MotifAnticipation::HEALTH_DEGRADED,
        },
        next_motif_horizon_s: a.motif_next.horizon_s,
    }
}

/// How forecast markers look.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkerStyle {
    /// Draw every `stride`-th step (1 = all); the last step is always drawn.
    pub stride: usize,
    /// Line width, metres.
    pub line_width_m: f64,
    pub color: ColorRGBA,
    /// Opacity of the first and of the last drawn step; the steps between fade linearly.
    pub alpha_first: f32,
    pub alpha_last: f32,
    /// Markers disappear after this unless a newer forecast replaces them.
    pub lifetime_ns: i64,
}

impl Default for MarkerStyle {
    fn default() -> Self {
        Self {
            stride: 5,
            line_width_m: 0.02,
            color: ColorRGBA {
                r: 1.0,
                g: 0.45,
                b: 0.0,
                a: 1.0,
            },
            alpha_first: 0.9,
            alpha_last: 0.15,
            lifetime_ns: 500_000_000,
        }
    }
}

/// The predicted skeleton as one `LINE_LIST` per drawn step, fading over the horizon, in
/// namespace `a4mer/forecast/<person_id>` with the step index as marker id (a newer
/// forecast of the same person replaces the older one). Bones with a non-finite end are
/// left out.
pub fn forecast_markers(forecast: &PoseForecast, style: &MarkerStyle) -> Result<MarkerArray, OutputError> {
    let bad = |what: String| OutputError::Forecast {
        person_id: forecast.person_id,
        what,
    };
    let j = forecast.joint_names.len();
    let h = forecast.num_steps as usize;
    if j != NUM_JOINTS || forecast.points.len() != h * j {
        return Err(bad(format!(
            "{} points for {h} steps of {j} joints (markers need SMPL-24)",
            forecast.points.len()
        )));
    }
    let stride = style.stride.max(1);
    let mut drawn: Vec<usize> = (0..h).step_by(stride).collect();
    if h > 0 && drawn.last() != Some(&(h - 1)) {
        drawn.push(h - 1);
    }
    let markers = drawn
        .iter()
        .enumerate()
        .map(|(n, &k)| {
            let t = if drawn.len() > 1 {
                n as f32 / (drawn.len() - 1) as f32
            } else {
                0.0
            };
            let color = ColorRGBA {
                a: style.alpha_first + (style.alpha_last - style.alpha_first) * t,
                ..style.color
            };
            bones_marker(
                forecast.header.clone(),
                format!("a4mer/forecast/{}", forecast.person_id),
                k as i32,
                &forecast.points[k * j..(k + 1) * j],
                color,
                style,
            )
        })
        .collect();
    Ok(MarkerArray { markers })
}

/// One SMPL-24 pose as a `LINE_LIST` of its bones; a bone with a non-finite end is left out.
fn bones_marker(header: Header, ns: String, id: i32, pose: &[Point], color: ColorRGBA, style: &MarkerStyle) -> Marker {
    let finite = |p: &Point| p.x.is_finite() && p.y.is_finite() && p.z.is_finite();
    let points = SMPL24_PARENTS
        .iter()
        .enumerate()
        .filter_map(|(child, parent)| parent.map(|p| (pose[p], pose[child])))
        .filter(|(a, b)| finite(a) && finite(b))
        .flat_map(|(a, b)| [a, b])
        .collect();
    Marker {
        header,
        ns,
        id,
        type_: Marker::LINE_LIST,
        action: Marker::ADD,
        scale: Vector3 {
            x: style.line_width_m,
            y: 0.0,
            z: 0.0,
        },
        color,
        lifetime: Duration::from_ns(style.lifetime_ns.max(0)).unwrap_or_default(),
        points,
        ..Default::default()
    }
}

/// Colour of the observed skeleton: apart from the forecast's, whatever its style.
const OBSERVED_COLOR: ColorRGBA = ColorRGBA {
    r: 0.2,
    g: 0.8,
    b: 1.0,
    a: 1.0,
};
/// Height of the motif text's letters, and how far above the head it floats (REP-103: z up).
const TEXT_HEIGHT_M: f64 = 0.08;
const TEXT_ABOVE_HEAD_M: f64 = 0.35;
const HEAD: usize = 15;

/// What a viewer shows of one person besides the forecast: the observed skeleton (one
/// `LINE_LIST` in `a4mer/observed/<person_id>`, stamped with the input frame's stamp) and
/// a text above the head (`a4mer/motif/<person_id>`): the motif now and the likeliest next
/// ones with their probabilities and time to transition, the health, and the horizons at
/// which the guard finds the model losing to its baselines. Both in the frame of the
/// motif message, so they overlay the forecast markers; the text is left out when no joint
/// was observed.
pub fn person_markers(
    motifs: &MotifAnticipation,
    forecast: Option<&PoseForecast>,
    observed: &PoseFrame,
    style: &MarkerStyle,
) -> MarkerArray {
    // Unobserved joints as NaN, so their bones are left out.
    let pose: Vec<Point> = (0..NUM_JOINTS)
        .map(|j| {
            let p = if observed.is_seen(j) {
                observed.joints_in_world[j]
            } else {
                [f32::NAN; 3]
            };
            Point {
                x: p[0] as f64,
                y: p[1] as f64,
                z: p[2] as f64,
            }
        })
        .collect();
    let header = Header {
        stamp: Time::from_ns(observed.stamp_ns).unwrap_or_default(),
        frame_id: motifs.header.frame_id.clone(),
    };
    let ns = format!("a4mer/observed/{}", motifs.person_id);
    let mut markers = vec![bones_marker(header, ns, 0, &pose, OBSERVED_COLOR, style)];
    // Above the head, or above the highest joint seen when the head was not.
    let anchor = if observed.is_seen(HEAD) {
        Some(pose[HEAD])
    } else {
        (0..NUM_JOINTS)
            .filter(|&j| observed.is_seen(j))
            .map(|j| pose[j])
            .max_by(|a, b| a.z.total_cmp(&b.z))
    };
    if let Some(at) = anchor {
        markers.push(Marker {
            header: motifs.header.clone(),
            ns: format!("a4mer/motif/{}", motifs.person_id),
            id: 0,
            type_: Marker::TEXT_VIEW_FACING,
            action: Marker::ADD,
            pose: Pose {
                position: Point {
                    z: at.z + TEXT_ABOVE_HEAD_M,
                    ..at
                },
                ..Default::default()
            },
            scale: Vector3 {
                x: 0.0,
                y: 0.0,
                z: TEXT_HEIGHT_M,
            },
            color: ColorRGBA {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            },
            lifetime: Duration::from_ns(style.lifetime_ns.max(0)).unwrap_or_default(),
            text: motif_text(motifs, forecast),
            ..Default::default()
        });
    }
    MarkerArray { markers }
}

/// The text of `person_markers`, for example
/// `person 3: motif 4 (82 %) · OK` / `next 7 61 %, 2 20 % in 0.8 s` /
/// `model losing at 1.0 s` (that line only when it is).
pub fn motif_text(m: &MotifAnticipation, forecast: Option<&PoseForecast>) -> String {
    let pct = |p: f32| format!("{:.0} %", p * 100.0);
    let now = if m.motif_now >= 0 {
        format!("motif {} ({})", m.motif_now, pct(m.motif_now_confidence))
    } else {
        "no motif yet".to_string()
    };
    let health = match m.health {
        MotifAnticipation::HEALTH_OK => "OK",
        MotifAnticipation::HEALTH_WARMING_UP => "warming up",
        MotifAnticipation::HEALTH_DEGRADED => "degraded",
        MotifAnticipation::HEALTH_STALE => "stale",
        _ => "unknown health",
    };
    let mut lines = vec![format!("person {}: {now} · {health}", m.person_id)];
    if !m.next_motif_ids.is_empty() {
        let next: Vec<String> = m
            .next_motif_ids
            .iter()
            .zip(&m.next_motif_probabilities)
            .map(|(id, p)| format!("{id} {}", pct(*p)))
            .collect();
        let when = if m.expected_time_to_transition_s.is_finite() {
            format!(" in {:.1} s", m.expected_time_to_transition_s)
        } else {
            String::new()
        };
        lines.push(format!("next {}{when}", next.join(", ")));
    }
    if let Some(f) = forecast {
        let losing: Vec<String> = f
            .guard_horizons_s
            .iter()
            .zip(&f.model_losing)
            .filter(|(_, losing)| **losing)
            .map(|(h, _)| format!("{h:.1} s"))
            .collect();
        if !losing.is_empty() {
            lines.push(format!("model losing at {}", losing.join(", ")));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Time;

    fn steps(h: usize) -> Vec<Joints> {
        (0..h)
            .map(|k| std::array::from_fn(|j| [k as f32 * 0.1, j as f32 * 0.01, 1.0]))
            .collect()
    }

    fn header() -> Header {
        Header {
            stamp: Time { sec: 3, nanosec: 0 },
            frame_id: "base_link".into(),
        }
    }

    #[test]
    fn forecast_is_step_major_with_its_period() {
        let f = pose_forecast(header(), 7, 33_333_333, &steps(30), &[0.05; 30]).unwrap();
        assert_eq!(f.num_steps, 30);
        assert_eq!(f.points.len(), 30 * 24);
        assert_eq!(f.points[2 * 24 + 5].x, (2.0f32 * 0.1) as f64);
        assert_eq!(f.points[2 * 24 + 5].y, (5.0f32 * 0.01) as f64);
        assert_eq!(
            f.step_period,
            Duration {
                sec: 0,
                nanosec: 33_333_333
            }
        );
        assert_eq!(f.joint_names[15], "head");

        let e = pose_forecast(header(), 7, 33_333_333, &steps(30), &[0.05; 29]).unwrap_err();
        assert!(
            e.to_string().contains("person 7") && e.to_string().contains("29 spread"),
            "{e}"
        );
        assert!(pose_forecast(header(), 7, 0, &steps(3), &[0.0; 3]).is_err());
    }

    #[test]
    fn markers_fade_over_the_horizon_and_skip_broken_bones() {
        let mut f = pose_forecast(header(), 2, 33_333_333, &steps(30), &[0.0; 30]).unwrap();
        f.points[15].z = f64::NAN; // step 0 head: the neck-head bone goes
        let m = forecast_markers(&f, &MarkerStyle::default()).unwrap();
        let ids: Vec<i32> = m.markers.iter().map(|m| m.id).collect();
        assert_eq!(ids, [0, 5, 10, 15, 20, 25, 29]);
        assert_eq!(m.markers[0].points.len(), 2 * 22);
        assert_eq!(m.markers[1].points.len(), 2 * 23);
        let alphas: Vec<f32> = m.markers.iter().map(|m| m.color.a).collect();
        assert!(alphas.windows(2).all(|w| w[0] > w[1]), "{alphas:?}");
        assert!((alphas[0] - 0.9).abs() < 1e-6 && (alphas[6] - 0.15).abs() < 1e-6);
        assert!(
            m.markers
                .iter()
                .all(|x| x.header == header() && x.ns == "a4mer/forecast/2")
        );
        assert_eq!(m.markers[0].type_, Marker::LINE_LIST);

        f.points.pop();
        let e = forecast_markers(&f, &MarkerStyle::default()).unwrap_err();
        assert!(e.to_string().contains("719 points for 30 steps"), "{e}");
    }

    #[test]
    fn person_markers_draw_what_was_seen_and_say_the_motifs() {
        let mut joints: Joints = std::array::from_fn(|j| [j as f32 * 0.01, 0.0, 1.0 + j as f32 * 0.02]);
        let mut valid = [true; NUM_JOINTS];
        valid[20] = false; // left wrist: its two bones go
        joints[15] = [0.5, 0.25, 1.75]; // head
        let observed = PoseFrame::new(2_500_000_000, joints, valid);
        let motifs = MotifAnticipation {
            header: header(),
            person_id: 4,
            motif_now: 3,
            motif_now_confidence: 0.82,
            next_motif_ids: vec![7, 2],
            next_motif_probabilities: vec![0.61, 0.2],
            expected_time_to_transition_s: 0.84,
            health: MotifAnticipation::HEALTH_OK,
            next_motif_horizon_s: 1.0,
        };
        let mut f = pose_forecast(header(), 4, 33_333_333, &steps(30), &[0.0; 30]).unwrap();
        f.guard_horizons_s = vec![0.5, 1.0];
        f.model_losing = vec![false, true];
        let m = person_markers(&motifs, Some(&f), &observed, &MarkerStyle::default());
        assert_eq!(m.markers.len(), 2);
        let bones = &m.markers[0];
        assert_eq!(
            (bones.ns.as_str(), bones.type_),
            ("a4mer/observed/4", Marker::LINE_LIST)
        );
        assert_eq!(bones.points.len(), 2 * 21);
        assert_eq!(
            bones.header.stamp,
            Time {
                sec: 2,
                nanosec: 500_000_000
            }
        );
        assert_eq!(bones.header.frame_id, "base_link");
        let text = &m.markers[1];
        assert_eq!(
            (text.ns.as_str(), text.type_),
            ("a4mer/motif/4", Marker::TEXT_VIEW_FACING)
        );
        assert_eq!(text.header, header());
        let at = &text.pose.position;
        assert!((at.x - 0.5).abs() < 1e-6 && (at.y - 0.25).abs() < 1e-6 && (at.z - 2.1).abs() < 1e-6);
        assert_eq!(
            text.text,
            "person 4: motif 3 (82 %) · OK\nnext 7 61 %, 2 20 % in 0.8 s\nmodel losing at 1.0 s"
        );

        // Nothing seen: no bones and no text to place; nothing current, nothing next.
        let unseen = PoseFrame::new(0, joints, [false; NUM_JOINTS]);
        let quiet = MotifAnticipation {
            motif_now: -1,
            next_motif_ids: vec![],
            next_motif_probabilities: vec![],
            health: MotifAnticipation::HEALTH_WARMING_UP,
            ..motifs.clone()
        };
        let m = person_markers(&quiet, None, &unseen, &MarkerStyle::default());
        assert_eq!(m.markers.len(), 1);
        assert!(m.markers[0].points.is_empty());
        assert_eq!(motif_text(&quiet, None), "person 4: no motif yet · warming up");
    }
}
