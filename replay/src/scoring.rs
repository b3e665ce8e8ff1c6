//! Scoring the published forecasts against what each person did later in the bag, beside
//! the zero-, constant- and damped-velocity baselines; the bag's hash; the push-time percentiles.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

use a4mer_runtime::stats::mpjpe_m;
use a4mer_runtime::stream::{GuardScores, HORIZONS_MS, HealthState, MotifScores, NUM_SOURCES, damped_frames};
use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame};
use sha2::{Digest, Sha256};

use super::{ErrorTable, ReplayError};

/// A ground-truth frame within half a model period of a forecast's target time scores it.
const MATCH_NS: i64 = 16_666_667;
const HISTORY_NS: i64 = 1_200_000_000;

/// SHA-256 over a bag: the file, or every file of the directory in name order (names
/// included), read in blocks.
pub fn bag_sha256(path: &Path) -> Result<String, ReplayError> {
    let io = |source| ReplayError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut files = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for f in files.drain(..) {
        if path.is_dir() {
            h.update(f.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        }
        let mut file = std::fs::File::open(&f).map_err(|source| ReplayError::Io {
            path: f.clone(),
            cause: source,
        })?;
        loop {
            let n = file.read(&mut buf).map_err(|source| ReplayError::Io {
                path: f.clone(),
                cause: source,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// A forecast waiting for what the person then did.
pub(super) struct Pending {
    pub(super) stamp_ns: i64,
    pub(super) steps: Vec<Joints>,
    pub(super) valid: [bool; NUM_JOINTS],
    pub(super) last: Joints,
    /// Metres per second from the last two observed frames.
    pub(super) velocity: Option<Joints>,
    pub(super) done: [bool; HORIZONS_MS.len()],
}

#[derive(Default)]
pub(super) struct Sums {
    // [horizon] -> (sum mm, count) for model/zv/cv × world/pelvis.
    pub(super) acc: [[[(f64, u64); 2]; 4]; HORIZONS_MS.len()],
}

impl Sums {
    pub(super) fn table(&self, method: usize) -> ErrorTable {
        let col = |frame: usize| {
            self.acc
                .iter()
                .map(|h| {
                    let (s, n) = h[method][frame];
                    (n > 0).then(|| s / n as f64)
                })
                .collect()
        };
        ErrorTable {
            world: col(0),
            pelvis_relative: col(1),
        }
    }
}

/// Per-person scoring state.
#[derive(Default)]
pub(super) struct PersonScoring {
    pub(super) history: VecDeque<PoseFrame>,
    pub(super) pending: VecDeque<Pending>,
    pub(super) last_health: Option<HealthState>,
    pub(super) last_resets: u64,
    pub(super) last_stamp_ns: Option<i64>,
    /// The live scores of this person's engine as of its last frame.
    pub(super) scores: (GuardScores, MotifScores),
}

pub(super) struct Scorer {
    pub(super) sums: Sums,
    pub(super) by_second: BTreeMap<i64, [(f64, u64); 2]>,
    pub(super) start_ns: i64,
    /// τ of the damped-velocity baseline: the model's.
    pub(super) damping_tau_s: f32,
}

impl Scorer {
    pub(super) fn observe(&mut self, p: &mut PersonScoring, f: &PoseFrame) {
        while p.history.front().is_some_and(|h| f.stamp_ns - h.stamp_ns > HISTORY_NS) {
            p.history.pop_front();
        }
        p.history.push_back(*f);
        for pend in p.pending.iter_mut() {
            for (h, ms) in HORIZONS_MS.iter().enumerate() {
                if pend.done[h] {
                    continue;
                }
                let target = pend.stamp_ns + *ms as i64 * 1_000_000;
                if f.stamp_ns < target - MATCH_NS {
                    continue;
                }
                pend.done[h] = true;
                if f.stamp_ns > target + MATCH_NS {
                    continue; // no frame near the target (a gap): not scored
                }
                let step = ((*ms as i64 * 30 + 500) / 1000) as usize;
                let Some(pred) = pend.steps.get(step - 1) else {
                    continue;
                };
                let mask: [bool; NUM_JOINTS] = std::array::from_fn(|j| pend.valid[j] && f.valid[j]);
                let dt_s = (f.stamp_ns - pend.stamp_ns) as f32 / 1e9;
                let cv: Joints = match pend.velocity {
                    Some(v) => std::array::from_fn(|j| std::array::from_fn(|c| pend.last[j][c] + v[j][c] * dt_s)),
                    None => pend.last,
                };
                // The guard's damped velocity: dt_s of velocity shortened to τ (1 − e^(−dt/τ)).
                let damped_s = damped_frames(dt_s * 30.0, self.damping_tau_s) / 30.0;
                let dv: Joints = match pend.velocity {
                    Some(v) => std::array::from_fn(|j| std::array::from_fn(|c| pend.last[j][c] + v[j][c] * damped_s)),
                    None => pend.last,
                };
                for (m, guess) in [pred, &pend.last, &cv, &dv].into_iter().enumerate() {
                    for (fr, rel) in [false, true].into_iter().enumerate() {
                        if let Some(e) = mpjpe_m(guess, &f.joints_in_world, &mask, rel).map(|m| m * 1000.0) {
                            let acc = &mut self.sums.acc[h][m][fr];
                            acc.0 += e;
                            acc.1 += 1;
                            if m == 0 && !rel && (*ms == 400 || *ms == 1000) {
                                let sec = (pend.stamp_ns - self.start_ns).div_euclid(1_000_000_000);
                                let slot = &mut self.by_second.entry(sec).or_default()[usize::from(*ms == 1000)];
                                slot.0 += e;
                                slot.1 += 1;
                            }
                        }
                    }
                }
            }
        }
        while p.pending.front().is_some_and(|x| x.done.iter().all(|d| *d)) {
            p.pending.pop_front();
        }
    }
}

/// Everything one engine has scored or dropped so far (grows with every frame it sees).
pub(super) fn scored_total(s: &(GuardScores, MotifScores)) -> u64 {
    let g: u64 = s.0.error_m.iter().map(|h| h[NUM_SOURCES].count).sum();
    g + s.0.discarded + s.1.scored + s.1.unscored
}

pub(super) fn bank(into: &mut (GuardScores, MotifScores), s: &(GuardScores, MotifScores)) {
    into.0.merge(&s.0);
    into.1.merge(&s.1);
}
