//! int8 post-training quantization of `.a4m` artifacts (`a4mer quantize`).
//!
//! 1. [`calibrate`]: real recordings stream through the real [`Engine`] (f32) with an
//!    observer on the input of every layer it runs, so the activation ranges are those of
//!    deployment: the same conditioner, segmenter, caches and heads.
//!    With dynamic activations (the default) no scale comes from it: it checks that the
//!    f32 model is finite and every layer live on real data, and is recorded as provenance.
//! 2. [`scheme::quantize_artifact`]: weights int8 per output channel; each layer input
//!    int8 with its own scale per vector at run time (or, `Activations::Static`, one
//!    calibrated scale per tensor); the rest f32 (see `ARCHITECTURE.md`).
//! 3. [`report`]: f32 and int8 side by side: size, held-out MPJPE through the engine,
//!    motif agreement, per-frame `push` latency.
//!
//! Nothing is written until everything above has succeeded, and then through a temporary
//! file renamed into place.

pub mod burn_int8;
pub mod report;
pub mod scheme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use a4mer_burn_model::Model;
use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::{BurnArtifact, fresh_model};
use a4mer_runtime::PoseFrame;
use a4mer_runtime::artifact::{
    ACTIVATIONS_DYNAMIC, ACTIVATIONS_STATIC, Artifact, ArtifactError, DataFile, Quantization,
};
use a4mer_runtime::model::quant::QMAX;
use a4mer_runtime::stream::{Engine, EngineConfig, EngineError};

pub use report::{Report, ReportOptions};

/// Model-rate frames calibration must stream, at least (20 s at 30 Hz).
pub const MIN_CALIB_FRAMES: u64 = 600;
/// Percentile of |x| used by `--method percentile`.
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// The engine layer kept in f32 by default, and why (measured on the shipped model).
pub const FRAME_PRED_REASON: &str =
    "sensitive: its surprise places atom boundaries; in int8 motif agreement with f32 fell from 97 % to 90 %";

/// The default `--keep-f32`: the frame predictor.
pub fn default_keep_f32() -> BTreeMap<String, String> {
    BTreeMap::from([("frame_pred".to_string(), FRAME_PRED_REASON.to_string())])
}

#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{path}: cannot read: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error(
        "tensor `{name}` (shape {shape:?}) is not known to the int8 scheme: refusing to guess how to quantize it (a newer model layout needs a newer quantizer)"
    )]
    UnknownTensor { name: String, shape: Vec<u64> },
    #[error("tensor `{name}` is already int8: quantize the f32 model")]
    AlreadyInt8 { name: String },
    #[error("tensor `{name}`: {message}")]
    Tensor { name: String, message: String },
    #[error("layer `{layer}` has no calibrated activation scale")]
    NoScale { layer: String },
    #[error("--keep-f32 {layer}: not a layer the engine runs (layers: {known})")]
    KeepUnknown { layer: String, known: String },
    #[error("no calibration data: give BVH files or directories, or rosbag2 bags, with --calib")]
    NoCalibration,
    #[error(
        "calibration set too small: {frames} model-rate frames streamed ({atoms} atoms closed) from {recordings} recording(s); at least {MIN_CALIB_FRAMES} frames ({} s at 30 Hz) and {min_atoms} atoms are needed so every layer sees deployment-like inputs",
        MIN_CALIB_FRAMES / 30
    )]
    TooSmall {
        frames: u64,
        atoms: u64,
        recordings: usize,
        min_atoms: u64,
    },
    #[error("calibration: layer `{layer}` saw {count} inputs, all zero: no scale can be calibrated")]
    DeadLayer { layer: String, count: u64 },
    #[error(
        "calibration: layer `{layer}` saw {non_finite} non-finite inputs (NaN/Inf): the f32 model is broken on this data"
    )]
    NonFinite { layer: String, non_finite: u64 },
    #[error("--percentile {0}: must be in (50, 100]")]
    Percentile(f64),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Eval(#[from] a4mer_measure::eval::EvalError),
    #[error(transparent)]
    Bench(#[from] a4mer_measure::bench::BenchError),
    #[error("cannot encode the report: {0}")]
    Json(String),
}

/// How activation ranges become scales.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// scale = max |x| / 127: nothing clips, outliers cost resolution.
    MinMax,
    /// scale = (the given percentile of |x|) / 127: the top values clip.
    Percentile(f64),
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::MinMax => "minmax",
            Method::Percentile(_) => "percentile",
        }
    }
}

/// How the input of each int8 layer is quantized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activations {
    /// Each input vector with its own scale, `max|x| / 127`, at run time: nothing clips,
    /// on any body, rig or speed.
    Dynamic,
    /// One scale per layer input, calibrated with this method: clips what calibration did
    /// not see. Kept to compare against and to reproduce artifacts made before dynamic.
    Static(Method),
}

impl Activations {
    /// The artifact's `quantization.activations`.
    pub fn artifact_name(&self) -> &'static str {
        match self {
            Activations::Dynamic => ACTIVATIONS_DYNAMIC,
            Activations::Static(_) => ACTIVATIONS_STATIC,
        }
    }

    /// The calibration method behind the scales; `none` for dynamic.
    pub fn method_name(&self) -> &'static str {
        match self {
            Activations::Dynamic => "none",
            Activations::Static(m) => m.name(),
        }
    }
}

/// One calibration or evaluation recording: canonical frames of one person, in order.
#[derive(Clone, Debug)]
pub struct Recording {
    pub source: String,
    pub sha256: String,
    pub frames: Vec<PoseFrame>,
}

pub use a4mer_runtime::digest::sha256_hex;

pub fn sha256_file(path: &Path) -> Result<String, QuantError> {
    a4mer_runtime::digest::sha256_file(path).map_err(|source| QuantError::Io {
        path: path.display().to_string(),
        cause: source,
    })
}

/// Activation scales per layer, and what calibration saw.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub scales: BTreeMap<String, f32>,
    /// Per layer: max |x| and the scale's clipping threshold.
    pub ranges: BTreeMap<String, (f32, f32)>,
    pub frames: u64,
    pub atoms: u64,
    pub dropped: u64,
}

/// Stream every recording through its own f32 engine with observers on, then derive one
/// scale per layer input.
pub fn calibrate(model: &Model, recordings: &[Recording], method: Method) -> Result<Calibration, QuantError> {
    if recordings.is_empty() {
        return Err(QuantError::NoCalibration);
    }
    if let Method::Percentile(p) = method
        && !(p > 50.0 && p <= 100.0)
    {
        return Err(QuantError::Percentile(p));
    }
    let (stream, observers) = a4mer_burn_model::observed_stream_model(model)?;
    let stream = Arc::new(stream);
    let (mut frames, mut atoms, mut dropped) = (0u64, 0u64, 0u64);
    for rec in recordings {
        let mut engine = Engine::new(stream.clone(), EngineConfig::default())?;
        for f in &rec.frames {
            // A rejected frame is counted by the engine; calibration keeps streaming, as
            // the node would.
            if let Ok(a) = engine.push_ref(f) {
                frames += a.model_frames as u64;
            }
        }
        atoms += engine.atoms_closed();
        dropped += engine.health().frames_dropped;
    }
    // The motif layers need a full context (n_atoms) at least twice to see steady state.
    let min_atoms = 2 * model.config.n_atoms as u64;
    if frames < MIN_CALIB_FRAMES || atoms < min_atoms {
        return Err(QuantError::TooSmall {
            frames,
            atoms,
            recordings: recordings.len(),
            min_atoms,
        });
    }
    let mut scales = BTreeMap::new();
    let mut ranges = BTreeMap::new();
    for (layer, o) in &observers {
        let h = o.snapshot();
        if h.non_finite > 0 {
            return Err(QuantError::NonFinite {
                layer: layer.clone(),
                non_finite: h.non_finite,
            });
        }
        let clip = match method {
            Method::MinMax => h.max,
            Method::Percentile(p) => h.quantile(p / 100.0),
        };
        if clip.is_nan() || clip <= 0.0 {
            return Err(QuantError::DeadLayer {
                layer: layer.clone(),
                count: h.count,
            });
        }
        scales.insert(layer.clone(), clip / QMAX);
        ranges.insert(layer.clone(), (h.max, clip));
    }
    Ok(Calibration {
        scales,
        ranges,
        frames,
        atoms,
        dropped,
    })
}

/// Everything `a4mer quantize` needs.
pub struct Request {
    pub model: PathBuf,
    pub calibration: Vec<Recording>,
    pub calibration_split: String,
    pub activations: Activations,
    /// Engine layers to keep in f32, with the reason.
    pub keep_f32: BTreeMap<String, String>,
    pub out: PathBuf,
    pub report: ReportOptions,
}

pub struct Outcome {
    pub report: Report,
    pub calibration: Calibration,
}

/// Quantize, measure, then write `out` (temporary file, renamed). On any error nothing is
/// written.
pub fn run(req: &Request) -> Result<Outcome, QuantError> {
    let origin = req.model.display().to_string();
    let f32_bytes = std::fs::read(&req.model).map_err(|source| QuantError::Io {
        path: origin.clone(),
        cause: source,
    })?;
    let f32_art = Artifact::from_bytes(&f32_bytes, &origin)?;
    if let Some((name, _)) = f32_art.payload.tensors.iter().find(|(_, t)| t.is_int8()) {
        return Err(QuantError::AlreadyInt8 { name: name.clone() });
    }
    let device = inference_device();
    // The engine's layer names from the config alone: the tensors are checked against the
    // scheme before the loader can reject one as merely "unexpected".
    let engine_layers: Vec<String> =
        a4mer_burn_model::stream_model(&fresh_model(f32_art.payload.config.clone(), 0, &device))?
            .net()
            .layers()
            .iter()
            .map(|d| d.name.clone())
            .collect();
    for (name, rec) in &f32_art.payload.tensors {
        scheme::classify(name, &rec.shape, &engine_layers, &req.keep_f32)?;
    }
    for layer in req.keep_f32.keys() {
        if !engine_layers.contains(layer) {
            return Err(QuantError::KeepUnknown {
                layer: layer.clone(),
                known: engine_layers.join(", "),
            });
        }
    }
    let f32_model = f32_art.clone().into_model(&device, &origin)?;
    // Dynamic scales need no calibration, but streaming real data through the f32 engine
    // still refuses a model that is non-finite or has a dead layer on it.
    let method = match req.activations {
        Activations::Static(m) => m,
        Activations::Dynamic => Method::MinMax,
    };
    let calibration = calibrate(&f32_model, &req.calibration, method)?;
    let section = Quantization {
        scheme: match req.activations {
            Activations::Dynamic => {
                "int8 symmetric: weights per output channel, activations per vector (scale max|x|/127 at run time), i32 accumulation"
            }
            Activations::Static(_) => {
                "int8 symmetric: weights per output channel, activations per tensor (calibrated), i32 accumulation"
            }
        }
        .into(),
        activations: req.activations.artifact_name().into(),
        method: req.activations.method_name().into(),
        percentile: match req.activations {
            Activations::Static(Method::Percentile(p)) => Some(p),
            _ => None,
        },
        int8_layers: Vec::new(),
        activation_scales: BTreeMap::new(),
        kept_f32: req.keep_f32.clone(),
        source_sha256: sha256_hex(&f32_bytes),
        calibration: req
            .calibration
            .iter()
            .map(|r| DataFile {
                path: r.source.clone(),
                sha256: r.sha256.clone(),
                frames: r.frames.len() as u64,
            })
            .collect(),
        calibration_split: req.calibration_split.clone(),
        calibration_frames: calibration.frames,
        report_json: None,
    };
    let scales = match req.activations {
        Activations::Static(_) => Some(&calibration.scales),
        Activations::Dynamic => None,
    };
    let mut int8_art = scheme::quantize_artifact(&f32_art, &engine_layers, scales, section)?;
    // The int8 model runs with the f32 model's damped-velocity τ; a model from before τ was
    // stored gets the documented default written down, and says where it came from.
    let tau = f32_art.damping_tau();
    int8_art.payload.provenance.damping_tau_s = Some(tau.seconds());
    if tau.note().is_some() {
        int8_art.payload.provenance.created_by +=
            "; damped-velocity tau: the documented default (the f32 model predates a fitted one)";
    }
    let out_origin = req.out.display().to_string();
    // Measured on the artifact as the runtime loads it (bytes, checks, one load API).
    let int8_bytes = int8_art.to_bytes()?;
    let int8_model = Artifact::from_bytes(&int8_bytes, &out_origin)?.into_model(&device, &out_origin)?;
    let mut report = report::measure(
        &f32_model,
        &int8_model,
        tau,
        f32_bytes.len() as u64,
        int8_bytes.len() as u64,
        &req.report,
    )?;
    report.activations = req.activations.artifact_name().into();
    report.method = req.activations.method_name().into();
    report.calibration_frames = calibration.frames;
    report.kept_f32 = req.keep_f32.keys().cloned().collect();
    let json = serde_json::to_string(&report).map_err(|e| QuantError::Json(e.to_string()))?;
    if let Some(q) = int8_art.payload.quantization.as_mut() {
        q.report_json = Some(json);
    }
    int8_art.save(&req.out)?;
    // The table shows the file as written (the embedded report says the size before it
    // was embedded: a few hundred bytes less).
    report.int8.size_bytes = std::fs::metadata(&req.out)
        .map_err(|source| QuantError::Io {
            path: out_origin,
            cause: source,
        })?
        .len();
    report.finish();
    Ok(Outcome { report, calibration })
}
