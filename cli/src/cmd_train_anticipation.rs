//! The anticipation prior of `a4mer train`: fitted after training on the training
//! recordings, or refitted alone onto a trained model (`--anticipation-from`), which gives a
//! model from before the prior one without retraining its network.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use a4mer_burn_model::Model;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::artifact::Artifact;
use a4mer_runtime::model::AnticipationPrior;
use a4mer_runtime::stream::StreamModel;
use a4mer_train::anticipation::{AnticipationFitReport, fit_anticipation};

use crate::args::print_json;

fn fit(
    stream: StreamModel,
    train_frames: &[Vec<PoseFrame>],
    calibration_frames: &[Vec<PoseFrame>],
) -> Result<(AnticipationPrior, AnticipationFitReport)> {
    let streams: Vec<&[PoseFrame]> = train_frames.iter().map(Vec::as_slice).collect();
    let calibration: Vec<&[PoseFrame]> = calibration_frames.iter().map(Vec::as_slice).collect();
    fit_anticipation(&Arc::new(stream), &streams, &calibration)
        .context("fitting the anticipation prior on the training recordings")
}

/// The prior of a freshly trained model: durations and transitions from `train_frames`,
/// the change model from `calibration_frames` (the training recordings' last 20 %).
pub fn fit_for(
    model: &Model,
    train_frames: &[Vec<PoseFrame>],
    calibration_frames: &[Vec<PoseFrame>],
) -> Result<(AnticipationPrior, AnticipationFitReport)> {
    fit(
        a4mer_burn_model::stream_model(model).context("preparing the model for the streaming engine")?,
        train_frames,
        calibration_frames,
    )
}

/// Refit the prior of the model at `from` (f32 or int8) and write it to `out`; the network,
/// vocabulary, normalisation and everything else are kept as they are ([`save_refit`]).
pub fn refit(
    from: &Path,
    out: &Path,
    train_frames: &[Vec<PoseFrame>],
    calibration_frames: &[Vec<PoseFrame>],
    damping_tau_s: f32,
    json: bool,
) -> Result<()> {
    let origin = from.display().to_string();
    let mut art = Artifact::load(from).with_context(|| format!("loading {origin}"))?;
    let stream = StreamModel::from_artifact(&art, &origin).with_context(|| format!("loading {origin}"))?;
    let (prior, report) = fit(stream, train_frames, calibration_frames)?;
    art.payload.anticipation = Some(prior);
    let what = format!(
        "anticipation prior refitted from {origin} on {} training recordings",
        train_frames.len()
    );
    let tau_given = save_refit(&mut art, out, damping_tau_s, &what)?;
    print_refit(
        serde_json::json!({
            "out": out.display().to_string(),
            "anticipation_from": origin,
            "anticipation_fit": report,
            "damping_tau_s_fitted": tau_given,
        }),
        json,
    )
}

/// Write a refitted artifact to `out`, saying `what` was refitted in its provenance. A model
/// from before the fitted damping τ (format 1) is given `damping_tau_s`, fitted on the same
/// recordings, since every format this build writes stores one; returns it when given.
pub(crate) fn save_refit(art: &mut Artifact, out: &Path, damping_tau_s: f32, what: &str) -> Result<Option<f32>> {
    let prov = &mut art.payload.provenance;
    let tau_given = prov.damping_tau_s.is_none().then_some(damping_tau_s);
    if tau_given.is_some() {
        prov.damping_tau_s = tau_given;
        prov.created_by += "; damping tau fitted on the training recordings";
    }
    prov.created_by += &format!("; {what}");
    art.save(out).with_context(|| format!("writing {}", out.display()))?;
    Ok(tau_given)
}

pub(crate) fn print_refit(summary: serde_json::Value, json: bool) -> Result<()> {
    if json {
        return print_json(&summary);
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
