//! The calibrated decode (`model::prior`): per regime and forecast step, the gains of the
//! recent velocities and of the head's residual, and the spread's factor, fitted on the
//! augmented training windows once the heads are trained.
//!
//! The gains minimise the mean joint error, the metric every report scores, by iteratively
//! reweighted least squares: a least-squares fit, then passes that weight each joint's
//! three coordinates by the inverse of its error under the previous gains. Squared errors
//! let the few fast joints whose acceleration carries on set a regime's gains, and at a
//! quarter of the recorded speed that cost a fifth over constant velocity at 100 ms.
//!
//! A regime with few windows is pulled towards the gains of its speed band, and a band
//! towards the gains pooled over all regimes (ridge with [`SHRINK_SAMPLES`]
//! pseudo-observations), so a rare regime cannot get wild gains. The pseudo-observations
//! are the regime's own: they carry its mean square regressors, not the pooled ones. Pooled
//! velocities are dominated by camera-jitter windows (metres per second of noise), so
//! pooled-scale pseudo-observations outweighed a slow regime's whole data a hundredfold
//! and held its gains at the jitter-damped pooled ones (about half of constant velocity's
//! at 100 ms, where its own windows want nearly all of it).

use a4mer_burn_model::{Model, host};
use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::features::POSE_DIM;
use a4mer_runtime::model::prior::{DECODE_TERMS, DecodeCalibration, Kinematics, PRIOR_FRAMES};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::dataset::{Clip, clips_with_a_window, for_each_future, slowed_for_decode};
use super::finetune::HeadSample;
use super::finetune::heads_samples;
use super::tensors::t2;
use super::{TrainConfig, TrainError};

/// Pseudo-observations (coordinates; a window holds about 66 per step) that pull a
/// regime's gains towards its speed band's, and a band's towards the pooled ones. Chosen
/// on the validation protocol (docs/model-selection.md) over 200, 2000 and 8000.
const SHRINK_SAMPLES: f64 = 500.0;
/// Pseudo-observations (joint errors) that pull a regime's spread factor towards the
/// pooled one.
const SPREAD_SHRINK_SAMPLES: f64 = 2000.0;

const T: usize = DECODE_TERMS;

/// Passes that reweight each joint's error by its inverse after the least-squares fit, so
/// the gains minimise what is scored, the mean joint error (metres, not squared): squared
/// errors let the fastest joints' acceleration set the gains of every joint in a regime.
const REWEIGHT_PASSES: usize = 6;
/// Joint errors below this count as this in the reweighting (m): an exact forecast must not
/// take the whole weight.
const REWEIGHT_FLOOR_M: f64 = 0.002;

/// A joint's weight in the next reweighting pass, from its error (m) under the current gains.
fn joint_weight(err_m: f64) -> f64 {
    1.0 / err_m.max(REWEIGHT_FLOOR_M)
}

#[derive(Clone)]
struct Normal {
    a: [[f64; T]; T],
    b: [f64; T],
    /// Observations.
    n: f64,
    /// Their summed weights.
    w: f64,
}

impl Normal {
    fn new() -> Self {
        Self {
            a: [[0.0; T]; T],
            b: [0.0; T],
            n: 0.0,
            w: 0.0,
        }
    }

    fn merge(&mut self, other: &Normal) {
        for r in 0..T {
            for c in 0..T {
                self.a[r][c] += other.a[r][c];
            }
            self.b[r] += other.b[r];
        }
        self.n += other.n;
        self.w += other.w;
    }

    fn add(&mut self, x: &[f64; T], y: f64, weight: f64) {
        for r in 0..T {
            for c in 0..T {
                self.a[r][c] += weight * x[r] * x[c];
            }
            self.b[r] += weight * x[r] * y;
        }
        self.n += 1.0;
        self.w += weight;
    }

    /// Gains minimising the weighted squared error plus `lambda` pseudo-observations of
    /// these regressors' own mean squares on the distance to `towards`: without data,
    /// `towards`. The weights are normalised to a mean of one, so the pull counts
    /// observations whatever their weights.
    fn solve(&self, lambda: f64, towards: &[f64; T]) -> Option<[f64; T]> {
        if self.n <= 0.0 || self.w <= 0.0 {
            return Some(*towards);
        }
        let f = self.n / self.w;
        let mut a = self.a.map(|row| row.map(|v| v * f));
        let mut b = self.b.map(|v| v * f);
        for k in 0..T {
            let d = lambda * a[k][k] / self.n + 1e-12;
            a[k][k] += d;
            b[k] += d * towards[k];
        }
        solve(a, b)
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: [[f64; T]; T], mut b: [f64; T]) -> Option<[f64; T]> {
    for col in 0..T {
        let piv = (col..T).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-15 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..T {
            let f = a[r][col] / a[col][col];
            for c in col..T {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; T];
    for r in (0..T).rev() {
        let s: f64 = (r + 1..T).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The regimes of the calibrated decode: upper band edges of the observed speed
/// (reference-body m/s) and of the velocities' roughness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodeEdges {
    pub speed_mps: Vec<f32>,
    pub roughness: Vec<f32>,
}

impl Default for DecodeEdges {
    /// Speed bands doubling from 5 cm/s (near-stillness apart from slow and ordinary
    /// motion); roughness bands doubling from 0.15 (the smoothest motion, whose velocity
    /// carries on longest, and clean mocap below 0.3; camera jitter of a few cm above
    /// 0.6). Chosen on the validation protocol (docs/model-selection.md) over equally
    /// populated bands, which lump all slow motion into one, and over bands from 0.3 or 0.1.
    fn default() -> Self {
        Self {
            speed_mps: vec![0.05, 0.1, 0.2, 0.4, 0.8],
            roughness: vec![0.15, 0.3, 0.6, 1.2],
        }
    }
}

/// What the fit saw: training windows per regime.
pub type RegimeWindows = Vec<u64>;

/// The heads' outputs on every sample, in chunks: `(sample index, residual, log spread)`.
fn for_each_output(
    model: &Model,
    samples: &[HeadSample],
    device: &Device,
    mut each: impl FnMut(usize, &[f32], &[f32]),
) {
    let h = model.config.horizon;
    for (c, chunk) in samples.chunks(256).enumerate() {
        let b = chunk.len();
        let dim = chunk[0].input.len();
        let x: Vec<f32> = chunk.iter().flat_map(|s| s.input.iter().copied()).collect();
        let (mean, log_spread) = model.net.forecast.forward(t2(x, [b, dim], device));
        let (mean, log_spread) = (host(mean), host(log_spread));
        for i in 0..b {
            each(
                c * 256 + i,
                &mean[i * h * POSE_DIM..(i + 1) * h * POSE_DIM],
                &log_spread[i * h..(i + 1) * h],
            );
        }
    }
}

/// One window's regressors: its kinematics and body scale.
fn window_kinematics(model: &Model, clip: &Clip, origin: usize) -> (Kinematics, f32) {
    let scale = model.norm.body_scale(&clip.raw[origin]);
    let recent = (0..PRIOR_FRAMES)
        .filter_map(|k| origin.checked_sub(k))
        .map(|k| &clip.raw[k]);
    (Kinematics::observe(recent, scale), scale)
}

/// Fit `model.norm.decode` on the heads' training windows (`samples` of `clips`) and, when
/// `cfg` augments, on the training recordings `train_recs` slowed for the decode
/// ([`slowed_for_decode`]).
pub(super) fn fit_decode_with_slowed(
    model: &mut Model,
    mut clips: Vec<Clip>,
    mut samples: Vec<HeadSample>,
    train_recs: &[Vec<PoseFrame>],
    cfg: &TrainConfig,
    device: &Device,
) -> Result<RegimeWindows, TrainError> {
    if cfg.augment {
        let slowed = train_recs.iter().flat_map(|r| slowed_for_decode(r));
        let mut slowed = clips_with_a_window(slowed, &model.config)?;
        let first = clips.len();
        samples.extend(heads_samples(model, &mut slowed, cfg, device).into_iter().map(|mut s| {
            s.win.clip += first;
            s
        }));
        clips.extend(slowed);
    }
    Ok(fit_decode(model, &samples, &clips, &cfg.decode_edges, device))
}

/// Per regime and step, the normal equations of the decode's gains over the training
/// windows, and the windows per regime. With `reweight`, each joint's observations are
/// weighted by the inverse of its error under the model's current decode.
fn normal_equations(
    model: &Model,
    samples: &[HeadSample],
    clips: &[Clip],
    cal: &DecodeCalibration,
    reweight: bool,
    device: &Device,
) -> (Vec<Normal>, RegimeWindows) {
    let h = model.config.horizon;
    let sources = model.norm.forecast_sources();
    let regimes = cal.regimes();
    let mut windows = vec![0u64; regimes];
    let mut cells = vec![Normal::new(); regimes * h];
    for_each_output(model, samples, device, |i, disp_norm, _| {
        let w = samples[i].win;
        let clip = &clips[w.clip];
        let (kin, scale) = window_kinematics(model, clip, w.origin);
        let regime = cal.regime(&kin);
        windows[regime] += 1;
        for_each_future(clip, w.origin, h, |s, j, d| {
            let src = sources[j];
            if !kin.moving[src] {
                return;
            }
            let std = &model.norm.disp_std[s * 3..s * 3 + 3];
            let xs: [[f64; T]; 3] = std::array::from_fn(|ax| {
                let mut x = [0.0f64; T];
                for (k, v) in kin.vel.iter().enumerate() {
                    x[k] = v[src][ax] as f64;
                }
                x[T - 1] = (disp_norm[s * POSE_DIM + src * 3 + ax] * std[ax] * scale) as f64;
                x
            });
            let weight = if reweight {
                let g = model.norm.decode_terms(regime, s);
                let e: f64 = (0..3)
                    .map(|ax| {
                        let p: f64 = xs[ax].iter().zip(&g).map(|(x, g)| x * *g as f64).sum();
                        (d[ax] as f64 - p).powi(2)
                    })
                    .sum::<f64>()
                    .sqrt();
                joint_weight(e)
            } else {
                1.0
            };
            for (ax, x) in xs.iter().enumerate() {
                cells[regime * h + s].add(x, d[ax] as f64, weight);
            }
        });
    });
    (cells, windows)
}

/// The gains of every regime and step (`regime * horizon * DECODE_TERMS`) from its normal
/// equations: a regime pulled towards its speed band's gains, a band towards the gains
/// pooled over all regimes, and those towards `uncalibrated` (the damped-velocity prior).
fn solve_gains(cells: &[Normal], uncalibrated: &[[f64; T]], rough_bands: usize) -> Vec<f32> {
    let h = uncalibrated.len();
    let regimes = cells.len() / h;
    let mut pool = vec![Normal::new(); h];
    for (c, cell) in cells.iter().enumerate() {
        pool[c % h].merge(cell);
    }
    let pooled: Vec<[f64; T]> = (0..h)
        .map(|s| pool[s].solve(1e-6, &uncalibrated[s]).unwrap_or(uncalibrated[s]))
        .collect();
    // Per speed band and step: the band's gains, pulled towards the pooled ones. A sparse
    // regime then borrows from motion at its own speed rather than from the jitter
    // windows that dominate the pool.
    let band_gains: Vec<[f64; T]> = (0..regimes / rough_bands * h)
        .map(|c| {
            let (band, s) = (c / h, c % h);
            let mut n = Normal::new();
            for q in 0..rough_bands {
                n.merge(&cells[(band * rough_bands + q) * h + s]);
            }
            n.solve(SHRINK_SAMPLES, &pooled[s]).unwrap_or(pooled[s])
        })
        .collect();
    let mut gain = Vec::with_capacity(regimes * h * T);
    for r in 0..regimes {
        for s in 0..h {
            let towards = band_gains[(r / rough_bands) * h + s];
            let g = cells[r * h + s].solve(SHRINK_SAMPLES, &towards).unwrap_or(towards);
            gain.extend(g.iter().map(|v| *v as f32));
        }
    }
    gain
}

/// Fit `model.norm.decode` on the training `samples` (windows of `clips` with the frozen
/// encoders' head inputs), with the model's trained heads, for the regimes `edges`
/// (speed in m/s, roughness) declare.
fn fit_decode(
    model: &mut Model,
    samples: &[HeadSample],
    clips: &[Clip],
    edges: &DecodeEdges,
    device: &Device,
) -> RegimeWindows {
    let h = model.config.horizon;
    let sources = model.norm.forecast_sources();
    // The uncalibrated decode: what the pooled fit starts from.
    model.norm.decode = None;
    let mut cal = DecodeCalibration {
        speed_edges_mps: edges.speed_mps.clone(),
        roughness_edges: edges.roughness.clone(),
        gain: Vec::new(),
        spread_gain: Vec::new(),
    };
    let regimes = cal.regimes();
    let uncalibrated: Vec<[f64; T]> = (0..h)
        .map(|s| model.norm.decode_terms(0, s).map(|g| g as f64))
        .collect();
    let (cells, windows) = normal_equations(model, samples, clips, &cal, false, device);
    cal.gain = solve_gains(&cells, &uncalibrated, cal.roughness_edges.len() + 1);
    cal.spread_gain = vec![1.0; regimes * h];
    for _ in 0..REWEIGHT_PASSES {
        model.norm.decode = Some(cal.clone());
        let (cells, _) = normal_equations(model, samples, clips, &cal, true, device);
        cal.gain = solve_gains(&cells, &uncalibrated, cal.roughness_edges.len() + 1);
    }
    model.norm.decode = Some(cal);

    // The spread: its mean against the calibrated decode's mean joint error, per cell. The
    // heads run again rather than keeping every window's residual from the first pass
    // (30 steps × 72 values per window would be hundreds of MB on the full corpus).
    let mut err = vec![0.0f64; regimes * h];
    let mut spread = vec![0.0f64; regimes * h];
    let mut n = vec![0.0f64; regimes * h];
    let norm = &model.norm;
    for_each_output(model, samples, device, |i, disp_norm, log_spread| {
        let w = samples[i].win;
        let clip = &clips[w.clip];
        let (kin, scale) = window_kinematics(model, clip, w.origin);
        let regime = norm.regime(&kin);
        for_each_future(clip, w.origin, h, |s, j, d| {
            let src = sources[j];
            let terms = norm.decode_terms(regime, s);
            let p = kin.prior_disp(src, &terms);
            let std = &norm.disp_std[s * 3..s * 3 + 3];
            let e: f32 = (0..3)
                .map(|ax| {
                    let r = disp_norm[s * POSE_DIM + src * 3 + ax] * std[ax] * scale * terms[T - 1];
                    (d[ax] - p[ax] - r).powi(2)
                })
                .sum::<f32>()
                .sqrt();
            let c = regime * h + s;
            err[c] += e as f64;
            spread[c] += (log_spread[s].exp() * scale) as f64;
            n[c] += 1.0;
        });
    });
    // Per step, the factor pooled over all regimes: where a sparse regime is pulled.
    let pooled_spread: Vec<f64> = (0..h)
        .map(|s| {
            let e_all: f64 = (0..regimes).map(|q| err[q * h + s]).sum();
            let s_all: f64 = (0..regimes).map(|q| spread[q * h + s]).sum();
            if s_all > 0.0 { e_all / s_all } else { 1.0 }
        })
        .collect();
    let mut gain = Vec::with_capacity(regimes * h);
    for r in 0..regimes {
        for (s, &pooled) in pooled_spread.iter().enumerate() {
            let c = r * h + s;
            let mean_spread = if n[c] > 0.0 { spread[c] / n[c] } else { 0.0 };
            let g = (err[c] + SPREAD_SHRINK_SAMPLES * pooled * mean_spread)
                / (spread[c] + SPREAD_SHRINK_SAMPLES * mean_spread);
            gain.push(if g.is_finite() && g > 0.0 {
                g as f32
            } else {
                pooled as f32
            });
        }
    }
    if let Some(d) = model.norm.decode.as_mut() {
        d.spread_gain = gain;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solver_recovers_exact_gains_and_refuses_a_singular_system() {
        let truth = [0.1, -0.05, 0.02, 0.0, 0.9];
        let mut n = Normal::new();
        let mut x = [0.0f64; T];
        for i in 0..200 {
            for (k, v) in x.iter_mut().enumerate() {
                *v = ((i * 7 + k * 13) % 17) as f64 - 8.0 + (k as f64) * 0.1 * (i as f64).sin();
            }
            let y: f64 = x.iter().zip(&truth).map(|(a, b)| a * b).sum();
            n.add(&x, y, 1.0);
        }
        let g = n.solve(0.0, &[0.0; T]).unwrap();
        for (a, b) in g.iter().zip(&truth) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
        // Shrinkage pulls towards the target.
        let pulled = n.solve(1e6, &[0.0; T]).unwrap();
        assert!(pulled.iter().all(|v| v.abs() < 0.05), "{pulled:?}");
        assert!(solve([[0.0; T]; T], [1.0; T]).is_none());
        // Without data: the target.
        assert_eq!(Normal::new().solve(500.0, &truth), Some(truth));
    }

    /// Reweighting by the inverse error turns the least-squares fit into the fit of the
    /// mean error: with a fifth of the observations far off (fast joints), least squares
    /// follows them part-way, the reweighted fit keeps the majority's gain.
    #[test]
    fn reweighting_fits_the_mean_joint_error_not_its_square() {
        let (majority, outliers) = (0.1, 0.5);
        let obs: Vec<([f64; T], f64)> = (0..500)
            .map(|i| {
                let mut x = [0.0f64; T];
                x[0] = 0.2 + ((i * 7) % 13) as f64 * 0.1;
                let g = if i % 5 == 0 { outliers } else { majority };
                (x, g * x[0])
            })
            .collect();
        let fit = |weights: &dyn Fn(&[f64; T], f64) -> f64| {
            let mut n = Normal::new();
            for (x, y) in &obs {
                n.add(x, *y, weights(x, *y));
            }
            n.solve(0.0, &[0.0; T]).unwrap()
        };
        let mut g = fit(&|_, _| 1.0);
        assert!(g[0] > 0.15, "least squares follows the outliers: {g:?}");
        for _ in 0..REWEIGHT_PASSES * 2 {
            let prev = g;
            g = fit(&|x, y| joint_weight((y - prev[0] * x[0]).abs()));
        }
        assert!((g[0] - majority).abs() < 0.01, "{g:?}");
        // Weights of one scale are no weights: the pull still counts observations.
        let mut plain = Normal::new();
        let mut scaled = Normal::new();
        for (x, y) in &obs {
            plain.add(x, *y, 1.0);
            scaled.add(x, *y, 1e3);
        }
        let towards = [0.0; T];
        let (a, b) = (
            plain.solve(500.0, &towards).unwrap(),
            scaled.solve(500.0, &towards).unwrap(),
        );
        assert!((a[0] - b[0]).abs() < 1e-9, "{a:?} {b:?}");
    }

    /// The pull is counted in the regime's own observations: a regime of slow motion
    /// (regressors a hundred times smaller than a noisy pool's) with as many observations
    /// as pseudo-observations ends half-way, whatever the scale of its regressors.
    #[test]
    fn the_pull_does_not_depend_on_the_scale_of_the_regressors() {
        let truth = [0.1, 0.0, 0.0, 0.0, 0.0];
        let towards = [0.05, 0.0, 0.0, 0.0, 0.0];
        for scale in [0.01, 1.0, 100.0] {
            let mut n = Normal::new();
            let mut x = [0.0f64; T];
            for i in 0..500 {
                for (k, v) in x.iter_mut().enumerate() {
                    *v = scale * ((((i * 7 + k * 13) % 17) as f64) - 8.0);
                }
                n.add(&x, x[0] * truth[0], 1.0);
            }
            let g = n.solve(500.0, &towards).unwrap();
            assert!((g[0] - 0.075).abs() < 0.01, "scale {scale}: {g:?}");
        }
    }
}
