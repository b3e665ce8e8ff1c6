//! Resampling source frames to the model rate.

use a4mer_runtime::{FPS, Joints, NUM_JOINTS, PoseFrame, frame_period_ns};

/// Linear interpolation of joint positions from `source_fps` to the model rate, stamped
/// from zero. A joint is valid in an output frame only if it is valid in every source
/// frame the interpolation uses. A source already at the model rate passes unchanged.
pub fn resample_to_model_rate(source: &[(Joints, [bool; NUM_JOINTS])], source_fps: f64) -> Vec<PoseFrame> {
    if source.is_empty() || !(source_fps.is_finite() && source_fps > 0.0) {
        return Vec::new();
    }
    let same_rate = (source_fps - FPS as f64).abs() < 1e-9;
    let duration_s = (source.len() - 1) as f64 / source_fps;
    let out_len = if same_rate {
        source.len()
    } else {
        (duration_s * FPS as f64 + 1e-9).floor() as usize + 1
    };
    (0..out_len)
        .map(|k| {
            let stamp_ns = frame_period_ns(k as u64);
            if same_rate {
                let (joints, valid) = source[k];
                return PoseFrame::new(stamp_ns, joints, valid);
            }
            let x = k as f64 / FPS as f64 * source_fps;
            let i = (x.floor() as usize).min(source.len() - 1);
            let w = (x - i as f64) as f32;
            let (a, va) = &source[i];
            let Some((b, vb)) = source.get(i + 1).filter(|_| w > 1e-6) else {
                return PoseFrame::new(stamp_ns, *a, *va);
            };
            let joints = std::array::from_fn(|j| std::array::from_fn(|c| a[j][c] + w * (b[j][c] - a[j][c])));
            let valid = std::array::from_fn(|j| va[j] && vb[j]);
            PoseFrame::new(stamp_ns, joints, valid)
        })
        .collect()
}

/// Linear interpolation of joint positions sampled at the given times (seconds from the
/// first sample, increasing) to the model rate, stamped from zero: for sources whose frame
/// times vary. Validity follows the same rule as [`resample_to_model_rate`].
pub fn resample_timed(source: &[(f64, Joints, [bool; NUM_JOINTS])]) -> Vec<PoseFrame> {
    let Some(last) = source.last() else {
        return Vec::new();
    };
    let t0 = source[0].0;
    let duration_s = last.0 - t0;
    if !(duration_s.is_finite() && duration_s >= 0.0) {
        return Vec::new();
    }
    let out_len = (duration_s * FPS as f64 + 1e-9).floor() as usize + 1;
    let mut i = 0;
    (0..out_len)
        .map(|k| {
            let stamp_ns = frame_period_ns(k as u64);
            let t = t0 + k as f64 / FPS as f64;
            while i + 1 < source.len() && source[i + 1].0 <= t + 1e-9 {
                i += 1;
            }
            let (ta, a, va) = &source[i];
            let Some((tb, b, vb)) = source.get(i + 1) else {
                return PoseFrame::new(stamp_ns, *a, *va);
            };
            let w = ((t - ta) / (tb - ta)).clamp(0.0, 1.0) as f32;
            if w <= 1e-6 {
                return PoseFrame::new(stamp_ns, *a, *va);
            }
            let joints = std::array::from_fn(|j| std::array::from_fn(|c| a[j][c] + w * (b[j][c] - a[j][c])));
            let valid = std::array::from_fn(|j| va[j] && vb[j]);
            PoseFrame::new(stamp_ns, joints, valid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, fps: f64) -> Vec<(Joints, [bool; NUM_JOINTS])> {
        // Joint 0 moves at 1 m/s along x: position = t.
        (0..n)
            .map(|i| {
                let mut j = [[0.0f32; 3]; NUM_JOINTS];
                j[0][0] = (i as f64 / fps) as f32;
                (j, [true; NUM_JOINTS])
            })
            .collect()
    }

    #[test]
    fn resamples_120_24_and_60_hz_to_30_hz_exactly_on_a_ramp() {
        for fps in [120.0, 24.0, 60.0, 50.0] {
            let out = resample_to_model_rate(&ramp((fps * 2.0) as usize + 1, fps), fps);
            assert_eq!(out.len(), 61, "{fps} Hz");
            for (k, f) in out.iter().enumerate() {
                let t = k as f32 / 30.0;
                assert!((f.joints_in_world[0][0] - t).abs() < 1e-5, "{fps} Hz frame {k}");
                assert_eq!(f.stamp_ns, frame_period_ns(k as u64));
            }
        }
    }

    #[test]
    fn invalid_neighbour_invalidates_interpolated_joint() {
        let mut src = ramp(5, 24.0);
        src[1].1[3] = false;
        let out = resample_to_model_rate(&src, 24.0);
        // Output frame 1 (t = 1/30 s) sits between source frames 0 and 1.
        assert!(!out[1].valid[3]);
        assert!(out[1].valid[2]);
    }

    #[test]
    fn timed_resampling_follows_uneven_frame_times() {
        // Joint 0 at x = t, sampled at uneven times; 30 Hz output must read x = k/30.
        let times = [0.0, 0.02, 0.05, 0.051, 0.09, 0.13, 0.2];
        let src: Vec<_> = times
            .iter()
            .map(|&t| {
                let mut j = [[0.0f32; 3]; NUM_JOINTS];
                j[0][0] = t as f32;
                (t, j, [true; NUM_JOINTS])
            })
            .collect();
        let out = resample_timed(&src);
        assert_eq!(out.len(), 7);
        for (k, f) in out.iter().enumerate() {
            assert!((f.joints_in_world[0][0] - k as f32 / 30.0).abs() < 1e-6, "frame {k}");
        }
    }
}
