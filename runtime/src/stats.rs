//! The few statistics every report computes the same way: nearest-rank percentiles of
//! sorted samples or of a histogram, and a process's memory from `/proc`.

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
