//! The model as burn modules with everything the artifact carries, and the offline (batch)
//! path over whole windows and clips: the reference the streaming engine is tested against.

use burn::tensor::{Device, Tensor, TensorData};

use crate::batch::{self, Batch, WindowInput};
use crate::nn::{A4mer, A4merConfig};
use a4mer_runtime::model::features::{self, CONT_DIM, FEAT_DIM, FrameFeatures, KIN_DIM, NormStats, POSE_DIM};
use a4mer_runtime::model::interp::FillChoice;
use a4mer_runtime::model::prior::Kinematics;
use a4mer_runtime::model::{
    AtomSpan, Forecast, ForecastStep, ModelError, MotifVocab, interp_base, interp_extra, motif_embeddings, quant,
    segment, surprise_mask,
};
use a4mer_runtime::pose::{FPS, Joints, NUM_JOINTS, PoseFrame};
use a4mer_runtime::skeleton::Skeleton;

/// A loaded model: network, configuration and everything the artifact carries.
#[derive(Clone, Debug)]
pub struct Model {
    pub net: A4mer,
    pub config: A4merConfig,
    pub norm: NormStats,
    pub vocab: MotifVocab,
    pub skeleton: Skeleton,
    pub device: Device,
    /// Set for an int8 artifact: the streaming engine then runs these layers in int8. The
    /// burn modules above hold the dequantized weights (the offline reference).
    pub quant: Option<std::sync::Arc<quant::Int8Weights>>,
    /// The next-motif prior (artifact format 3); `None` for a model from before it, whose
    /// motifs are then published as "it stays".
    pub anticipation: Option<a4mer_runtime::model::AnticipationPrior>,
    /// How gaps are filled at each length; `None` for a model from before it, which fills
    /// with the head as trained.
    pub interpolation: Option<a4mer_runtime::model::interp::InterpCalibration>,
}

/// Surprise of each frame under the frame predictor (0 for the first two frames).
/// `norm_feats`: normalized model inputs of consecutive frames.
pub fn surprise(net: &A4mer, norm_feats: &[[f32; FEAT_DIM]], device: &Device) -> Vec<f32> {
    let n = norm_feats.len();
    let mut out = vec![0.0f32; n];
    if n < 3 {
        return out;
    }
    let m = n - 2;
    let mut p1 = Vec::with_capacity(m * CONT_DIM);
    let mut p2 = Vec::with_capacity(m * CONT_DIM);
    let mut tg = Vec::with_capacity(m * CONT_DIM);
    let mut mask = Vec::with_capacity(m * CONT_DIM);
    for t in 2..n {
        p1.extend_from_slice(&norm_feats[t - 1][..CONT_DIM]);
        p2.extend_from_slice(&norm_feats[t - 2][..CONT_DIM]);
        tg.extend_from_slice(&norm_feats[t][..CONT_DIM]);
        mask.extend(surprise_mask(&norm_feats[t - 2], &norm_feats[t - 1], &norm_feats[t]));
    }
    let ten = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [m, CONT_DIM]), device);
    let pred = net.predict_frame(ten(p1), ten(p2));
    let mask_t = ten(mask.clone());
    let err = ((pred - ten(tg)).powi_scalar(2) * mask_t).sum_dim(1);
    let err: Vec<f32> = err
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    for (i, e) in err.iter().enumerate() {
        let cnt: f32 = mask[i * CONT_DIM..(i + 1) * CONT_DIM].iter().sum();
        out[i + 2] = if cnt > 0.0 { e / cnt } else { 0.0 };
    }
    out
}

/// Normalized features and segmentation of a contiguous clip.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub raw: Vec<FrameFeatures>,
    pub input: WindowInput,
    pub surprise: Vec<f32>,
}

impl Model {
    /// Features, surprise and segmentation of a clip (the segmenter starts fresh at its first frame).
    pub fn prepare(&self, frames: &[PoseFrame]) -> Result<Prepared, ModelError> {
        prepare(&self.net, &self.norm, &self.config, frames, &self.device)
    }

    fn heads_input(&self, preps: &[Prepared], max_atoms: usize) -> (Batch, Tensor<2>, batch::Encoded) {
        let inputs: Vec<WindowInput> = preps.iter().map(|p| p.input.clone()).collect();
        let batch = Batch::build(&inputs, max_atoms, &self.device);
        let enc = self.net.encode(&batch);
        let x = enc.head_input(&batch);
        (batch, x, enc)
    }

    /// Forecast the next `horizon` frames after each window (each window is the full history
    /// the model gets, e.g. the 2 s of the evaluation protocol).
    pub fn forecast_batch(&self, windows: &[&[PoseFrame]]) -> Result<Vec<Forecast>, ModelError> {
        self.forecast_batch_with(windows, self.config.n_atoms)
    }

    /// Like [`Model::forecast`], but every closed atom of the window reaches the motif
    /// level (each layer still sees `n_atoms` atoms back, so the receptive field reaches
    /// further than one window of atoms). This is what the streaming engine computes from
    /// the stream's start: its reference in parity tests.
    pub fn forecast_history(&self, frames: &[PoseFrame]) -> Result<Forecast, ModelError> {
        let mut v = self.forecast_batch_with(&[frames], usize::MAX)?;
        v.pop().ok_or(ModelError::TooFewFrames {
            need: 2,
            got: frames.len(),
        })
    }

    fn forecast_batch_with(&self, windows: &[&[PoseFrame]], max_atoms: usize) -> Result<Vec<Forecast>, ModelError> {
        let mut preps = Vec::with_capacity(windows.len());
        for w in windows {
            if w.len() < 2 {
                return Err(ModelError::TooFewFrames { need: 2, got: w.len() });
            }
            preps.push(self.prepare(w)?);
        }
        if preps.is_empty() {
            return Ok(Vec::new());
        }
        let (batch, x, enc) = self.heads_input(&preps, max_atoms);
        let (mean, log_spread) = self.net.forecast.forward(x.clone());
        let mean = host(mean);
        let spread = host(log_spread);
        let next = host(burn::tensor::activation::softmax(
            self.net
                .next_motif
                .forward(Tensor::cat(vec![enc.last_state.clone(), enc.open_token.clone()], 1)),
            1,
        ));
        let states = host(enc.states);
        let h = self.config.horizon;
        let d = self.config.d_model;
        let k = self.config.n_motifs;
        let mut out = Vec::with_capacity(windows.len());
        for (b, w) in windows.iter().enumerate() {
            let last = w[w.len() - 1];
            let raw = &preps[b].raw;
            if raw.is_empty() {
                return Err(ModelError::TooFewFrames { need: 2, got: w.len() });
            }
            let disp = &mean[b * h * POSE_DIM..(b + 1) * h * POSE_DIM];
            let steps = self.decode_steps(&last, raw, disp, &spread[b * h..(b + 1) * h]);
            let n = batch.n_atoms[b];
            let motif_now = (n > 0).then(|| {
                let s = &states[b * batch.a * d..(b * batch.a + n) * d];
                let e = motif_embeddings(s, n, d, self.config.motif_span);
                self.vocab.assign(&e[(n - 1) * d..n * d])
            });
            out.push(Forecast {
                steps,
                valid: last.valid,
                motif_now,
                motif_next: next[b * k..(b + 1) * k].to_vec(),
            });
        }
        Ok(out)
    }

    pub fn forecast(&self, window: &[PoseFrame]) -> Result<Forecast, ModelError> {
        let mut v = self.forecast_batch(&[window])?;
        v.pop().ok_or(ModelError::TooFewFrames {
            need: 2,
            got: window.len(),
        })
    }

    /// The forecast steps after `last`, whose features end `raw` (the whole window's, oldest
    /// first; not empty).
    fn decode_steps(
        &self,
        last: &PoseFrame,
        raw: &[FrameFeatures],
        disp_norm: &[f32],
        log_spread: &[f32],
    ) -> Vec<ForecastStep> {
        let sources = self.norm.forecast_sources();
        let Some(raw_last) = raw.last() else {
            return Vec::new();
        };
        let scale = self.norm.body_scale(raw_last);
        let kin = Kinematics::observe(raw.iter().rev(), scale);
        let regime = self.norm.regime(&kin);
        (0..self.config.horizon)
            .map(|s| ForecastStep {
                dt_s: (s + 1) as f32 / FPS as f32,
                joints_in_world: self.norm.decode_forecast_step(
                    &last.joints_in_world,
                    &sources,
                    disp_norm,
                    s,
                    &kin,
                    regime,
                    raw_last.yaw_rad,
                    scale,
                ),
                spread_m: log_spread[s].exp() * scale * self.norm.spread_gain(regime, s),
            })
            .collect()
    }

    /// Closed atoms of a whole clip and the motif embedding at each. The motif level sees
    /// each atom's previous `n_atoms - 1` atoms, exactly as the streaming cache does.
    pub fn clip_motif_embeddings(
        &self,
        frames: &[PoseFrame],
    ) -> Result<(Vec<std::ops::Range<usize>>, Vec<f32>), ModelError> {
        if frames.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let prep = self.prepare(frames)?;
        let closed = prep.input.closed.clone();
        if closed.is_empty() {
            return Ok((closed, Vec::new()));
        }
        let batch = Batch::build(std::slice::from_ref(&prep.input), usize::MAX, &self.device);
        let enc = self.net.encode(&batch);
        let d = self.config.d_model;
        let n = closed.len();
        let states = host(enc.states);
        let e = motif_embeddings(&states[..n * d], n, d, self.config.motif_span);
        Ok((closed, e))
    }

    /// Atoms over a whole clip with the motif current at each atom's close.
    pub fn motifs(&self, frames: &[PoseFrame]) -> Result<Vec<AtomSpan>, ModelError> {
        let (closed, e) = self.clip_motif_embeddings(frames)?;
        let d = self.config.d_model;
        Ok(closed
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (motif, confidence) = self.vocab.assign(&e[i * d..(i + 1) * d]);
                AtomSpan {
                    start_frame: r.start,
                    end_frame: r.end,
                    motif,
                    confidence,
                }
            })
            .collect())
    }

    /// Fill a gap of `gap` frames between `before` (history, last frame just before the gap)
    /// and `after` (the first frame after it). Offline use only.
    pub fn interpolate(&self, before: &[PoseFrame], after: &PoseFrame, gap: usize) -> Result<Vec<Joints>, ModelError> {
        let h = self.config.horizon;
        if gap == 0 || gap >= h {
            return Err(ModelError::Gap { gap, max: h - 1 });
        }
        if before.len() < 2 {
            return Err(ModelError::TooFewFrames {
                need: 2,
                got: before.len(),
            });
        }
        features::frame_features(after, None)?;
        let prep = self.prepare(before)?;
        let (_, x, _) = self.heads_input(std::slice::from_ref(&prep), self.config.n_atoms);
        let last = before[before.len() - 1];
        let yaw = prep.raw.last().map(|f| f.yaw_rad).unwrap_or(0.0);
        let extra = interp_extra(&last, yaw, after, gap, h);
        let extra = Tensor::<2>::from_data(TensorData::new(extra.to_vec(), [1, extra.len()]), &self.device);
        let (mean, _) = self.net.interp.forward(Tensor::cat(vec![x, extra], 1));
        let mean = host(mean);
        let base = interp_base(&last, after, gap);
        // Every joint takes its own residual here (the interpolation head's convention).
        let own: [usize; NUM_JOINTS] = std::array::from_fn(|j| j);
        Ok((0..gap)
            .map(|s| self.norm.decode_step(&base[s], &own, &mean, s, yaw))
            .collect())
    }

    /// Fill the `gap` frames between `before`'s last frame and `after` as the model's
    /// calibration says for that length: the Hermite curve (velocities from `before`'s last
    /// two frames and from `after` to `after_next`) plus its share of the head's residual;
    /// the head as trained for a model without a calibration. A curve that would have done
    /// worse than the line on the same gap in `before` gives way to the line, and a head that
    /// refuses the window (too little history, a frame it cannot read) to the curve alone.
    /// Returns the fill and the choice made; an error only for an empty `before`.
    pub fn fill_gap(
        &self,
        before: &[PoseFrame],
        after: &PoseFrame,
        after_next: Option<&PoseFrame>,
        gap: usize,
    ) -> Result<(Vec<Joints>, FillChoice), ModelError> {
        let Some(last) = before.last() else {
            return Err(ModelError::TooFewFrames { need: 2, got: 0 });
        };
        let choice = self
            .interpolation
            .as_ref()
            .map_or(FillChoice::HEAD_AS_TRAINED, |c| c.choice(gap))
            .checked_against(before, gap);
        let head = (choice.head_scale > 0.0)
            .then(|| self.interpolate(before, after, gap).ok())
            .flatten();
        let choice = if head.is_some() {
            choice
        } else {
            FillChoice {
                head_scale: 0.0,
                ..choice
            }
        };
        let prev = before.len().checked_sub(2).map(|i| &before[i]);
        Ok((choice.fill(prev, last, after, after_next, gap, head.as_deref()), choice))
    }
}

/// Features, normalized inputs, surprise and segmentation of a clip.
pub fn prepare(
    net: &A4mer,
    norm: &NormStats,
    cfg: &A4merConfig,
    frames: &[PoseFrame],
    device: &Device,
) -> Result<Prepared, ModelError> {
    let raw = features::sequence_features(frames)?;
    let mut feats = vec![[0.0f32; FEAT_DIM]; raw.len()];
    for (f, o) in raw.iter().zip(feats.iter_mut()) {
        norm.normalize_feat(f, o);
    }
    let mut kin_last = [0.0f32; KIN_DIM];
    if let Some(l) = raw.last() {
        norm.normalize_kin(l, &mut kin_last);
    }
    let s = surprise(net, &feats, device);
    let (closed, open) = segment::segment(&s, &cfg.segmenter);
    Ok(Prepared {
        raw,
        input: WindowInput {
            feats,
            kin_last,
            closed,
            open,
        },
        surprise: s,
    })
}

/// Copy a tensor to host memory.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}
