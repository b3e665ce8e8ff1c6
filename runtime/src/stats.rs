//! The few statistics every report computes the same way: the mean per-joint position
//! error, nearest-rank percentiles of sorted samples or of a histogram, and a process's
//! memory from `/proc`.

use crate::{Joints, NUM_JOINTS};

/// Mean per-joint position error in metres over the joints in `mask`, in the world frame or
/// with each pose taken relative to its own pelvis. `None` when no joint is scored.
pub fn mpjpe_m(pred: &Joints, truth: &Joints, mask: &[bool; NUM_JOINTS], pelvis_relative: bool) -> Option<f64> {
    let (mut sum, mut n) = (0.0f64, 0u32);
    for j in (0..NUM_JOINTS).filter(|&j| mask[j]) {
        let d2: f64 = (0..3)
            .map(|c| {
                let (mut p, mut t) = (f64::from(pred[j][c]), f64::from(truth[j][c]));
                if pelvis_relative {
                    p -= f64::from(pred[0][c]);
                    t -= f64::from(truth[0][c]);
                }
                (p - t).powi(2)
            })
            .sum();
        sum += d2.sqrt();
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// The `q` quantile (0..=1) of ascending samples by nearest rank: the sample at
/// `round((n - 1) q)`. `None` for no samples.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get((last as f64 * q.clamp(0.0, 1.0)).round() as usize).copied()
}

/// The bin holding the `q` quantile of the samples a histogram counts (the sample of rank
/// `round((total - 1) q)`, as [`nearest_rank`]). `None` for an empty histogram.
pub fn histogram_bin(hist: &[u64], q: f64) -> Option<usize> {
    let total: u64 = hist.iter().sum();
    let rank = ((total.checked_sub(1)? as f64) * q.clamp(0.0, 1.0)).round() as u64;
    let mut seen = 0;
    hist.iter().position(|n| {
        seen += n;
        seen > rank
    })
}

/// Resident memory of a process (`None`: this process) in MiB: `VmRSS` now, or `VmHWM`,
/// its peak, when `peak`. `None` where `/proc` has no such process or field (not Linux).
pub fn rss_mib(pid: Option<u32>, peak: bool) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let field = if peak { "VmHWM:" } else { "VmRSS:" };
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpjpe_is_the_mean_distance_over_scored_joints_in_either_frame() {
        let truth: Joints = std::array::from_fn(|j| [j as f32, 0.0, 1.0]);
        let mut pred = truth;
        pred[1][1] += 0.3; // 0.3 m off
        pred[2][2] -= 0.4; // 0.4 m off, not scored below
        let mut mask = [false; NUM_JOINTS];
        mask[..2].fill(true);
        assert!(
            (mpjpe_m(&pred, &truth, &mask, false).unwrap() - 0.15).abs() < 1e-6,
            "f32 inputs"
        );
        // The whole prediction shifted by 1 m: the world error is 1 m, relative to each
        // pose's pelvis it is none.
        let shifted: Joints = std::array::from_fn(|j| [truth[j][0] + 1.0, truth[j][1], truth[j][2]]);
        assert!((mpjpe_m(&shifted, &truth, &mask, false).unwrap() - 1.0).abs() < 1e-6);
        assert!(mpjpe_m(&shifted, &truth, &mask, true).unwrap() < 1e-6);
        assert_eq!(mpjpe_m(&pred, &truth, &[false; NUM_JOINTS], false), None);
    }

    #[test]
    fn percentiles_by_nearest_rank_agree_for_samples_and_histograms() {
        let samples: Vec<u32> = (1..=200).collect();
        assert_eq!(nearest_rank(&samples, 0.5), Some(101));
        assert_eq!(nearest_rank(&samples, 0.99), Some(198));
        assert_eq!(nearest_rank(&samples, 1.0), Some(200));
        assert_eq!(nearest_rank::<u32>(&[], 0.5), None);
        // The same samples in bins of 10: 1..=9 in bin 0, 10..=19 in bin 1, ...
        let mut hist = vec![0u64; 21];
        for s in &samples {
            hist[(*s / 10) as usize] += 1;
        }
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let want = nearest_rank(&samples, q).map(|s| (s / 10) as usize);
            assert_eq!(histogram_bin(&hist, q), want, "q = {q}");
        }
        assert_eq!(histogram_bin(&[0, 0], 0.5), None);
    }

    #[test]
    fn this_process_has_resident_memory_and_a_peak_at_least_as_high() {
        let (now, peak) = (rss_mib(None, false), rss_mib(None, true));
        if cfg!(target_os = "linux") {
            let (now, peak) = (now.unwrap(), peak.unwrap());
            assert!(now > 0.0 && peak >= now, "{now} {peak}");
        }
        assert_eq!(rss_mib(Some(u32::MAX), false), None);
    }
}
