//! Repairing a recording's gaps (frames a camera dropped), per gap length as the model's
//! interpolation calibration says (`a4mer train` fits it on the training recordings'
//! validation part, `interp_eval::fit_interpolation`): linear interpolation, a Hermite curve
//! through the end velocities, or that curve plus a share of the interpolation head's
//! residual. A model from before the calibration uses its head from [`HEAD_MIN_GAP_FRAMES`]
//! on and linear interpolation below. Gaps longer than the head takes are listed, not
//! filled: inventing a second of motion is not a repair.

use a4mer_burn_model::Model;
use a4mer_runtime::model::interp_base;
use a4mer_runtime::{Joints, PoseFrame, frame_period_ns};
use serde::Serialize;

/// For a model without an interpolation calibration: the shortest gap (missing frames) its
/// head fills; shorter ones are linear.
pub const HEAD_MIN_GAP_FRAMES: usize = 9;
/// History the head is given before a gap (2 s, as in evaluation), when the recording has it.
const HISTORY_FRAMES: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMethod {
    /// The head's residual (whole, or the calibrated share) on the interpolant.
    InterpolationHead,
    /// The Hermite curve through the end velocities, without the head.
    Curve,
    Linear,
    /// Longer than the head takes: left as a gap.
    NotFilled,
}

/// One gap and what was done with it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// Stamps of the frames either side of the gap.
    pub after_ns: i64,
    pub before_ns: i64,
    /// Frames missing at the recording's 30 Hz.
    pub frames: usize,
    pub method: FillMethod,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GapError {
    #[error("{source_name}: gap filling needs a 30 Hz recording; its frames are {interval_ms:.1} ms apart (median)")]
    Rate { source_name: String, interval_ms: f64 },
    #[error("{source_name}: stamps go backwards at frame {index}")]
    Order { source_name: String, index: usize },
}

/// Fill the gaps of one person's frames (30 Hz, in stamp order). Returns the frames with
/// the filled ones in place and every gap found.
pub fn fill_gaps(
    model: &Model,
    frames: &[PoseFrame],
    source_name: &str,
) -> Result<(Vec<PoseFrame>, Vec<Gap>), GapError> {
    let period = frame_period_ns(1);
    let mut intervals: Vec<i64> = frames.windows(2).map(|w| w[1].stamp_ns - w[0].stamp_ns).collect();
    if let Some(index) = intervals.iter().position(|d| *d <= 0) {
        return Err(GapError::Order {
            source_name: source_name.into(),
            index: index + 1,
        });
    }
    intervals.sort_unstable();
    if let Some(median) = intervals.get(intervals.len() / 2)
        && (*median as f64 - period as f64).abs() > 0.1 * period as f64
    {
        return Err(GapError::Rate {
            source_name: source_name.into(),
            interval_ms: *median as f64 / 1e6,
        });
    }
    let max_head = model.config.horizon.saturating_sub(1);
    let mut out: Vec<PoseFrame> = Vec::with_capacity(frames.len());
    let mut gaps = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if let Some(last) = out.last().copied() {
            let dt = f.stamp_ns - last.stamp_ns;
            let missing = ((dt as f64 / period as f64).round() as usize).saturating_sub(1);
            if missing > 0 {
                let history = &out[out.len().saturating_sub(HISTORY_FRAMES)..];
                let (method, filled) = if missing > max_head {
                    (FillMethod::NotFilled, Vec::new())
                } else {
                    fill_one(model, history, f, frames.get(i + 1), missing)
                };
                let valid = std::array::from_fn(|j| last.valid[j] && f.valid[j]);
                for (k, joints) in filled.into_iter().enumerate() {
                    out.push(PoseFrame {
                        // Rounded, so a 30 Hz grid's stamps come back as they were.
                        stamp_ns: last.stamp_ns
                            + ((k as i64 + 1) * dt + (missing as i64 + 1) / 2) / (missing as i64 + 1),
                        joints_in_world: joints,
                        valid,
                    });
                }
                gaps.push(Gap {
                    after_ns: last.stamp_ns,
                    before_ns: f.stamp_ns,
                    frames: missing,
                    method,
                });
            }
        }
        out.push(*f);
    }
    Ok((out, gaps))
}

/// One gap of `missing` frames after `history` and before `after`, and how it was filled
/// (a head that refuses the window leaves it to the curve or the line, and the list says so).
fn fill_one(
    model: &Model,
    history: &[PoseFrame],
    after: &PoseFrame,
    after_next: Option<&PoseFrame>,
    missing: usize,
) -> (FillMethod, Vec<Joints>) {
    let Some(last) = history.last() else {
        return (FillMethod::Linear, Vec::new());
    };
    if model.interpolation.is_none() && missing < HEAD_MIN_GAP_FRAMES {
        return (FillMethod::Linear, interp_base(last, after, missing));
    }
    match model.fill_gap(history, after, after_next, missing) {
        Ok((filled, choice)) if choice.head_scale > 0.0 => (FillMethod::InterpolationHead, filled),
        Ok((filled, choice)) if choice.tangent_scale > 0.0 => (FillMethod::Curve, filled),
        Ok((filled, _)) => (FillMethod::Linear, filled),
        Err(_) => (FillMethod::Linear, interp_base(last, after, missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use a4mer_burn_model::device::inference_device;
    use a4mer_burn_model::load_model;

    use a4mer_motion::bvh::{ImportOptions, import_bvh};

    fn repo() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn short_gaps_are_linear_long_ones_the_head_and_too_long_ones_listed() {
        let (model, _) = load_model(&repo().join("models/a4mer-small.a4m"), &inference_device()).unwrap();
        let take = import_bvh(&repo().join("data/mocap/bvhtools_test2.bvh"), &ImportOptions::default())
            .unwrap()
            .frames;
        let take = &take[..400];
        // Drop 4 frames after 100, 15 after 200 and 45 after 300.
        let kept: Vec<PoseFrame> = take
            .iter()
            .enumerate()
            .filter(|(i, _)| !((101..105).contains(i) || (201..216).contains(i) || (301..346).contains(i)))
            .map(|(_, f)| *f)
            .collect();
        let (filled, gaps) = fill_gaps(&model, &kept, "take").unwrap();
        let summary: Vec<(usize, FillMethod)> = gaps.iter().map(|g| (g.frames, g.method)).collect();
        assert_eq!(
            summary,
            vec![
                (4, FillMethod::Linear),
                (15, FillMethod::InterpolationHead),
                (45, FillMethod::NotFilled)
            ]
        );
        assert_eq!(filled.len(), kept.len() + 4 + 15);
        // The filled frames sit on the original grid and stay near what was there.
        for i in (101..105).chain(201..216) {
            let f = filled
                .iter()
                .find(|f| (f.stamp_ns - take[i].stamp_ns).abs() < 1_000_000)
                .expect("on the grid");
            let err = (0..3)
                .map(|c| (f.joints_in_world[0][c] - take[i].joints_in_world[0][c]).powi(2))
                .sum::<f32>()
                .sqrt();
            assert!(err < 0.3, "frame {i}: pelvis {err} m off");
        }
    }

    #[test]
    fn a_calibrated_model_fills_each_length_as_its_calibration_says() {
        use a4mer_runtime::model::interp::{GapFit, InterpCalibration};
        let (mut model, _) = load_model(&repo().join("models/a4mer-small.a4m"), &inference_device()).unwrap();
        let fit = |gap_frames, tangent_scale, head_scale| GapFit {
            gap_frames,
            tangent_scale,
            head_scale,
            windows: 1,
        };
        // A steady turn: every joint on a parabola, 30 Hz, with a gap of 4 and one of 15.
        let at = |k: i64| {
            let t = k as f32 / 30.0;
            let mut joints = [[0.0f32; 3]; 24];
            for (j, p) in joints.iter_mut().enumerate() {
                *p = [
                    0.8 * t + 0.3 * t * t,
                    0.05 * j as f32 - 0.2 * t * t,
                    0.9 + 0.01 * j as f32,
                ];
            }
            PoseFrame::new(1_000_000_000 + k * frame_period_ns(1), joints, [true; 24])
        };
        let take: Vec<PoseFrame> = (0..200).map(at).collect();
        let kept: Vec<PoseFrame> = take
            .iter()
            .enumerate()
            .filter(|(i, _)| !((101..105).contains(i) || (151..166).contains(i)))
            .map(|(_, f)| *f)
            .collect();
        let methods = |model: &Model| {
            let (filled, gaps) = fill_gaps(model, &kept, "turn").unwrap();
            (gaps.iter().map(|g| (g.frames, g.method)).collect::<Vec<_>>(), filled)
        };
        model.interpolation = Some(InterpCalibration {
            gaps: vec![fit(4, 1.0, 0.0), fit(15, 0.0, 1.0)],
        });
        let (m, _) = methods(&model);
        assert_eq!(m, vec![(4, FillMethod::Curve), (15, FillMethod::InterpolationHead)]);
        model.interpolation = Some(InterpCalibration {
            gaps: vec![fit(4, 0.0, 0.0), fit(15, 1.0, 0.0)],
        });
        let (m, filled) = methods(&model);
        assert_eq!(m, vec![(4, FillMethod::Linear), (15, FillMethod::Curve)]);
        // On a parabola the curve lands nearer the truth than the line through the gap.
        let mid = filled
            .iter()
            .find(|f| f.stamp_ns == take[158].stamp_ns)
            .expect("on the grid");
        let line = interp_base(&take[150], &take[166], 15);
        let off = |p: &[f32; 3]| {
            (0..3)
                .map(|c| (p[c] - take[158].joints_in_world[0][c]).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        assert!(
            off(&mid.joints_in_world[0]) < 0.5 * off(&line[7][0]),
            "curve {} vs line {}",
            off(&mid.joints_in_world[0]),
            off(&line[7][0])
        );
    }

    #[test]
    fn other_rates_and_backwards_stamps_are_refused_naming_the_source() {
        let (model, _) = load_model(&repo().join("models/a4mer-small.a4m"), &inference_device()).unwrap();
        let at = |ns: i64| PoseFrame::new(ns, [[0.0; 3]; 24], [true; 24]);
        let fifteen_hz: Vec<PoseFrame> = (0..10).map(|k| at(k * 66_666_667)).collect();
        let e = fill_gaps(&model, &fifteen_hz, "cam.bag").unwrap_err();
        assert!(
            e.to_string().contains("cam.bag") && e.to_string().contains("66.7 ms"),
            "{e}"
        );
        let backwards = vec![at(0), at(33_333_333), at(10)];
        assert!(matches!(
            fill_gaps(&model, &backwards, "x"),
            Err(GapError::Order { index: 2, .. })
        ));
    }
}
