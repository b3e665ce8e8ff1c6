//! f32 beside int8, measured through the engine both run in deployment.

use std::sync::Arc;

use serde::Serialize;

use a4mer_burn_model::Model;
use a4mer_measure::bench::{Stats, bench_engine, median_round};
use a4mer_measure::eval::{HORIZONS_MS, Split, evaluate, evaluate_perturbations};
use a4mer_measure::forecaster::EngineForecaster;
use a4mer_motion::perturb::Perturbation;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::artifact::DampingTau;
use a4mer_runtime::stream::{Engine, EngineConfig, GuardConfig, StreamModel};

use crate::burn_int8::{self, BurnInt8Row};
use crate::{QuantError, Recording};

/// What an int8 model must hold against its f32 original: size, drift, latency.
pub const MAX_SIZE_RATIO: f64 = 0.30;
pub const MAX_DRIFT_PCT: f64 = 2.0;
pub const MIN_MOTIF_AGREEMENT: f64 = 0.95;
pub const MAX_P99_RATIO: f64 = 0.7;

pub struct ReportOptions {
    /// Recordings scored (the `split` part of each) and streamed by the latency bench.
    pub data: Vec<Recording>,
    pub split: Split,
    pub stride: usize,
    /// Frames per latency round; the bench alternates f32 and int8 for `bench_rounds`.
    pub bench_frames: usize,
    pub bench_rounds: usize,
    /// Also time burn's own int8 tensors against f32 on the engine's largest shapes.
    pub burn_int8: bool,
    /// Score the perturbation suite (built from `data`'s split) for both models.
    pub perturb: bool,
    /// Recordings the f32 model's training never read, scored whole beside the rest.
    pub unseen: Vec<Recording>,
}

/// f32 beside int8 under one condition: world MPJPE and the drift per horizon.
#[derive(Clone, Debug, Serialize)]
pub struct ConditionDrift {
    pub name: String,
    pub windows: usize,
    pub f32_world_mm: Vec<f64>,
    pub int8_world_mm: Vec<f64>,
    /// (int8 - f32) / f32 in percent, per horizon.
    pub drift_pct: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub size_bytes: u64,
    pub mpjpe_world_mm: Vec<f64>,
    pub mpjpe_pelvis_relative_mm: Vec<f64>,
    /// Per-frame `Engine::push`, microseconds (the round with the median p99).
    pub push_median_us: f64,
    pub push_p99_us: f64,
    /// Layers the engine runs in int8.
    pub int8_layers: usize,
    /// Evaluation windows the engine could not forecast (scored as zero velocity).
    pub forecast_failures: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Targets {
    pub size: bool,
    pub mpjpe_drift: bool,
    pub motif_agreement: bool,
    pub push_p99: bool,
    /// Every condition (perturbations, unseen recordings) within the drift bound.
    pub condition_drift: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub horizons_ms: Vec<u32>,
    pub split: Split,
    pub windows: usize,
    pub stride: usize,
    pub f32: Row,
    pub int8: Row,
    /// int8 size / f32 size.
    pub size_ratio: f64,
    /// (int8 - f32) / f32 in percent, per horizon.
    pub mpjpe_drift_pct_world: Vec<f64>,
    pub mpjpe_drift_pct_pelvis_relative: Vec<f64>,
    /// Share of frames (with an f32 motif) where int8 picks the same `motif_now`.
    pub motif_agreement: f64,
    pub motif_frames: u64,
    /// int8 p99 / f32 p99.
    pub p99_ratio: f64,
    pub bench_frames: usize,
    pub bench_rounds: usize,
    pub targets: Targets,
    /// `dynamic-per-vector` or `static-per-tensor`.
    pub activations: String,
    /// Calibration method of static scales; `none` for dynamic.
    pub method: String,
    pub calibration_frames: u64,
    pub kept_f32: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burn_int8: Option<Vec<BurnInt8Row>>,
    /// The perturbation suite and the unseen recordings, f32 beside int8.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionDrift>,
}

impl Report {
    /// Ratios and target checks from the rows.
    pub fn finish(&mut self) {
        self.size_ratio = self.int8.size_bytes as f64 / self.f32.size_bytes.max(1) as f64;
        self.mpjpe_drift_pct_world = drift(&self.f32.mpjpe_world_mm, &self.int8.mpjpe_world_mm);
        self.mpjpe_drift_pct_pelvis_relative =
            drift(&self.f32.mpjpe_pelvis_relative_mm, &self.int8.mpjpe_pelvis_relative_mm);
        self.p99_ratio = self.int8.push_p99_us / self.f32.push_p99_us.max(1e-9);
        self.targets = Targets {
            size: self.size_ratio <= MAX_SIZE_RATIO,
            mpjpe_drift: self
                .mpjpe_drift_pct_world
                .iter()
                .chain(&self.mpjpe_drift_pct_pelvis_relative)
                .all(|d| *d <= MAX_DRIFT_PCT),
            motif_agreement: self.motif_agreement >= MIN_MOTIF_AGREEMENT,
            push_p99: self.p99_ratio <= MAX_P99_RATIO,
            condition_drift: self
                .conditions
                .iter()
                .flat_map(|c| &c.drift_pct)
                .all(|d| d.abs() <= MAX_DRIFT_PCT),
        };
    }
}

/// Both engines in lockstep over each recording's `split` part: (agreeing, counted).
fn motif_agreement(
    f32: &Arc<StreamModel>,
    int8: &Arc<StreamModel>,
    data: &[Recording],
    split: Split,
) -> Result<(u64, u64), QuantError> {
    let (mut same, mut total) = (0u64, 0u64);
    for rec in data {
        // The models' own outputs: the guard would hide drift behind the baselines.
        let raw = EngineConfig {
            guard: GuardConfig::MODEL_ONLY,
            ..EngineConfig::default()
        };
        let mut a = Engine::new(f32.clone(), raw.clone())?;
        let mut b = Engine::new(int8.clone(), raw)?;
        for f in split.frames(&rec.frames) {
            let ma = a.push_ref(f).ok().and_then(|x| x.motif_now);
            let mb = b.push_ref(f).ok().and_then(|x| x.motif_now);
            if let Some(ma) = ma {
                total += 1;
                same += u64::from(mb.is_some_and(|mb| mb.id == ma.id));
            }
        }
    }
    Ok((same, total))
}

pub fn measure(
    f32_model: &Model,
    int8_model: &Model,
    damping_tau: DampingTau,
    f32_size: u64,
    int8_size: u64,
    opts: &ReportOptions,
) -> Result<Report, QuantError> {
    let f32_stream = Arc::new(a4mer_burn_model::stream_model(f32_model)?.with_damping_tau(damping_tau));
    let int8_stream = Arc::new(a4mer_burn_model::stream_model(int8_model)?.with_damping_tau(damping_tau));
    let motions: Vec<a4mer_motion::Motion> = opts.data.iter().map(to_motion).collect();
    // The models' own forecasts: the guard would hide drift behind the baselines.
    let raw = EngineConfig {
        guard: GuardConfig::MODEL_ONLY,
        ..EngineConfig::default()
    };
    let mut fa = EngineForecaster::with_config(f32_stream.clone(), raw.clone());
    let mut fb = EngineForecaster::with_config(int8_stream.clone(), raw);
    let ra = evaluate(&motions, opts.split, opts.stride, Some(&mut fa))?;
    let rb = evaluate(&motions, opts.split, opts.stride, Some(&mut fb))?;
    let (same, total) = motif_agreement(&f32_stream, &int8_stream, &opts.data, opts.split)?;

    let takes: Vec<&[PoseFrame]> = opts.data.iter().map(|r| r.frames.as_slice()).collect();
    let (mut fs, mut qs) = (Vec::new(), Vec::new());
    for _ in 0..opts.bench_rounds.max(1) {
        fs.push(bench_engine(f32_stream.clone(), &takes, opts.bench_frames)?.push_us);
        qs.push(bench_engine(int8_stream.clone(), &takes, opts.bench_frames)?.push_us);
    }
    let (fs, qs) = (median_round(fs), median_round(qs));
    let burn = opts.burn_int8.then(|| burn_int8::measure(&f32_model.device, 300));

    let row = |size, r: &a4mer_measure::eval::EvalReport, s: Stats, layers, failures| {
        let m = r.mpjpe_mm.model.clone();
        Row {
            size_bytes: size,
            mpjpe_world_mm: m.as_ref().map(|m| m.world.clone()).unwrap_or_default(),
            mpjpe_pelvis_relative_mm: m.map(|m| m.pelvis_relative).unwrap_or_default(),
            push_median_us: s.median,
            push_p99_us: s.p99,
            int8_layers: layers,
            forecast_failures: failures,
        }
    };
    let mut report = Report {
        horizons_ms: HORIZONS_MS.to_vec(),
        split: opts.split,
        windows: ra.windows,
        stride: opts.stride,
        f32: row(f32_size, &ra, fs, f32_stream.net().int8_layers(), fa.failures),
        int8: row(int8_size, &rb, qs, int8_stream.net().int8_layers(), fb.failures),
        size_ratio: 0.0,
        mpjpe_drift_pct_world: Vec::new(),
        mpjpe_drift_pct_pelvis_relative: Vec::new(),
        motif_agreement: if total > 0 { same as f64 / total as f64 } else { 0.0 },
        motif_frames: total,
        p99_ratio: 0.0,
        bench_frames: opts.bench_frames,
        bench_rounds: opts.bench_rounds.max(1),
        targets: Targets {
            size: false,
            mpjpe_drift: false,
            motif_agreement: false,
            push_p99: false,
            condition_drift: false,
        },
        activations: String::new(),
        method: String::new(),
        calibration_frames: 0,
        kept_f32: Vec::new(),
        burn_int8: burn,
        conditions: conditions(&motions, opts, &mut fa, &mut fb)?,
    };
    report.finish();
    Ok(report)
}

/// (int8 - f32) / f32 in percent, per horizon.
fn drift(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(f, q)| if *f > 0.0 { (q - f) / f * 100.0 } else { 0.0 })
        .collect()
}

/// The perturbation suite on the report's recordings and the unseen recordings whole,
/// each scored by both engines.
fn conditions(
    motions: &[a4mer_motion::Motion],
    opts: &ReportOptions,
    fa: &mut EngineForecaster,
    fb: &mut EngineForecaster,
) -> Result<Vec<ConditionDrift>, QuantError> {
    let world = |t: &a4mer_measure::eval::MpjpeTable| t.model.as_ref().map(|m| m.world.clone()).unwrap_or_default();
    let row = |name: String, windows, a: &a4mer_measure::eval::MpjpeTable, b: &a4mer_measure::eval::MpjpeTable| {
        let (wa, wb) = (world(a), world(b));
        ConditionDrift {
            name,
            windows,
            drift_pct: drift(&wa, &wb),
            f32_world_mm: wa,
            int8_world_mm: wb,
        }
    };
    let mut out = Vec::new();
    if !opts.unseen.is_empty() {
        let unseen: Vec<_> = opts.unseen.iter().map(to_motion).collect();
        let ra = evaluate(&unseen, Split::All, opts.stride, Some(fa))?;
        let rb = evaluate(&unseen, Split::All, opts.stride, Some(fb))?;
        out.push(row("unseen_recordings".into(), ra.windows, &ra.mpjpe_mm, &rb.mpjpe_mm));
    }
    if opts.perturb {
        let suite = Perturbation::suite();
        let pa = evaluate_perturbations(motions, opts.split, opts.stride, &suite, Some(fa), None);
        let pb = evaluate_perturbations(motions, opts.split, opts.stride, &suite, Some(fb), None);
        for (a, b) in pa.iter().zip(&pb) {
            out.push(row(a.name.clone(), a.windows, &a.mpjpe_mm, &b.mpjpe_mm));
        }
    }
    Ok(out)
}

fn to_motion(r: &Recording) -> a4mer_motion::Motion {
    use a4mer_motion::bvh::{ImportInfo, Units, UpAxis};
    use a4mer_runtime::{JointMap, Skeleton};
    a4mer_motion::Motion {
        source: r.source.clone().into(),
        frames: r.frames.clone(),
        info: ImportInfo {
            source_frames: r.frames.len(),
            source_fps: a4mer_runtime::FPS as f64,
            duration_s: r.frames.len() as f64 / a4mer_runtime::FPS as f64,
            units: Units::Metres,
            units_detected: false,
            up_axis: UpAxis::Z,
            up_axis_basis: "canonical",
            skeleton_height_m: 0.0,
            skeleton: Skeleton::smpl24(),
            joint_map: JointMap::identity(),
        },
    }
}

/// A fixed-width table of the report.
pub fn table(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let calib = if r.method == "none" {
        format!(
            "activations {}: a scale per input vector at run time, nothing calibrated (--method unused); {} frames streamed to check the f32 model",
            r.activations, r.calibration_frames
        )
    } else {
        format!(
            "activations {}: calibrated ({}) on {} frames",
            r.activations, r.method, r.calibration_frames
        )
    };
    let _ = writeln!(
        s,
        "a4mer quantize: {calib}; held-out {} windows (stride {}); latency {} frames x {} rounds per model",
        r.windows, r.stride, r.bench_frames, r.bench_rounds
    );
    let _ = write!(s, "{:<34}", "");
    let _ = writeln!(s, "{:>12} {:>12} {:>10}", "f32", "int8", "int8/f32");
    let _ = writeln!(
        s,
        "{:<34}{:>12} {:>12} {:>9.1}%",
        "artifact size (bytes)",
        r.f32.size_bytes,
        r.int8.size_bytes,
        r.size_ratio * 100.0
    );
    for (frame, fa, fb, d) in [
        (
            "world",
            &r.f32.mpjpe_world_mm,
            &r.int8.mpjpe_world_mm,
            &r.mpjpe_drift_pct_world,
        ),
        (
            "pelvis-rel",
            &r.f32.mpjpe_pelvis_relative_mm,
            &r.int8.mpjpe_pelvis_relative_mm,
            &r.mpjpe_drift_pct_pelvis_relative,
        ),
    ] {
        for (i, ms) in r.horizons_ms.iter().enumerate() {
            let (a, b, dd) = (
                fa.get(i).copied().unwrap_or(f64::NAN),
                fb.get(i).copied().unwrap_or(f64::NAN),
                d.get(i).copied().unwrap_or(f64::NAN),
            );
            let _ = writeln!(
                s,
                "{:<34}{:>12.1} {:>12.1} {:>+9.2}%",
                format!("MPJPE {frame} {ms} ms (mm)"),
                a,
                b,
                dd
            );
        }
    }
    let _ = writeln!(
        s,
        "{:<34}{:>12} {:>11.2}% {:>10}",
        "motif agreement with f32",
        "-",
        r.motif_agreement * 100.0,
        format!("{} fr", r.motif_frames)
    );
    let _ = writeln!(
        s,
        "{:<34}{:>12.1} {:>12.1} {:>9.2}x",
        "push median (us)",
        r.f32.push_median_us,
        r.int8.push_median_us,
        r.int8.push_median_us / r.f32.push_median_us.max(1e-9)
    );
    let _ = writeln!(
        s,
        "{:<34}{:>12.1} {:>12.1} {:>9.2}x",
        "push p99 (us)", r.f32.push_p99_us, r.int8.push_p99_us, r.p99_ratio
    );
    let _ = writeln!(
        s,
        "{:<34}{:>12} {:>12}",
        "layers run in int8", r.f32.int8_layers, r.int8.int8_layers
    );
    let t = &r.targets;
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let _ = writeln!(
        s,
        "targets: size <= {:.0}% {}; MPJPE drift <= {MAX_DRIFT_PCT}% {}; motif agreement >= {:.0}% {}; p99 <= {MAX_P99_RATIO}x {}",
        MAX_SIZE_RATIO * 100.0,
        mark(t.size),
        mark(t.mpjpe_drift),
        MIN_MOTIF_AGREEMENT * 100.0,
        mark(t.motif_agreement),
        mark(t.push_p99)
    );
    if !r.conditions.is_empty() {
        let _ = write!(s, "{:<34}{:>8}", "int8 drift vs f32, world", "windows");
        for ms in &r.horizons_ms {
            let _ = write!(s, "{:>10}", format!("{ms} ms"));
        }
        let _ = writeln!(s);
        for c in &r.conditions {
            let _ = write!(s, "{:<34}{:>8}", c.name, c.windows);
            for d in &c.drift_pct {
                let _ = write!(s, "{:>+9.2}%", d);
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "every condition within {MAX_DRIFT_PCT}%: {}",
            mark(t.condition_drift)
        );
    }
    if let Some(rows) = &r.burn_int8 {
        let _ = writeln!(s, "burn int8 tensors on ndarray (matmul, median us):");
        for b in rows {
            match &b.error {
                Some(e) => {
                    let _ = writeln!(s, "  [{}x{}]x[{}x{}]: failed: {e}", b.m, b.k, b.k, b.n);
                }
                None => {
                    let _ = writeln!(
                        s,
                        "  [{}x{}]x[{}x{}]  f32 {:>8.1}  int8 {:>8.1}  ({:.2}x; max |diff| {:.2e})",
                        b.m,
                        b.k,
                        b.k,
                        b.n,
                        b.f32_us.median,
                        b.int8_us.median,
                        b.int8_us.median / b.f32_us.median.max(1e-9),
                        b.max_abs_diff
                    );
                }
            }
        }
    }
    s
}
